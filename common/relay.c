/*
 * A relay forwards one request of a local caller (a CLI on the control
 * socket) to the peer, and everything about it both ways: stdin out, output
 * and the final reply back, credit in both directions, cancel.
 *
 * Flow control (channel.h, rules 2 and 3): for each stream the relay passes
 * data from a source request (the caller's for stdin, the peer's for
 * output) to a sink request, at once, and holds none.  That needs one
 * invariant: the source may never send more than the sink may take,
 *
 *	src->rq_can_recv[s] + src->rq_credit_held[s]
 *	    <= min(dst->rq_can_send[s], RELAY_WINDOW(s)),
 *
 * kept by granting the source credit only from what the sink allows, up to
 * RELAY_WINDOW(s), and only while the sink's conn is not congested.  Credit
 * the sink grants beyond that is used later, never passed on: so a peer
 * (or a caller) that grants 16 MiB and reads nothing makes us hold at most
 * RELAY_WINDOW(s) per stream: 1 MiB of output, 256 KiB of stdin.  Before
 * the peer is ready, stdin is held in rl_stdin, bounded by the caller's
 * first window.
 *
 * A terminal's TTY (size and $TERM) is passed on as it comes, except that
 * while the peer's conn is congested only the latest one is kept, and sent
 * when it drains: a caller that resizes in a loop makes us hold one.
 *
 * A request waits for its peer to become ready (relay_peer_ready) for at
 * most RELAY_WAIT seconds; it fails at once if there is no such peer, or if
 * the peer is known not to answer (conn.c, CONN_SILENT).
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "relay.h"
#include "log.h"

/*
 * Per stream, see above: output PROTO_WIDE_WINDOW (what a host CLI grants),
 * stdin PROTO_WINDOW (what a daemon's command grants; a guest that grants
 * more makes us hold no more of its caller's stdin).
 */
#define RELAY_WINDOW(s)	((s) == STREAM_STDIN ? PROTO_WINDOW : PROTO_WIDE_WINDOW)
/*
 * Credit goes to the source in steps, not for every byte the sink takes:
 * each CREDIT frame costs the peer a wake-up, which under emulation is
 * much of the cost of a stream.  A step is a quarter of the most room the
 * sink has given the stream (its window: 256 KiB, or a host CLI's 1 MiB
 * for its output), and at least RELAY_CREDIT_STEP.  With half, less was
 * in flight and a TCG guest's streams were 10-15 % slower both ways; with
 * 64 KiB steps of a 1 MiB window, 64 MiB came out of the guest at 134
 * MB/s, with 256 KiB steps at 177 (docs/benchmarks.md).  A source that
 * has used all its credit is topped up once the sink's room reaches a
 * step, which it does when the sink has taken what it was sent.
 */
#define RELAY_CREDIT_STEP	(PROTO_WINDOW / 4)

struct relay {
	LIST_ENTRY(relay)	 rl_entry;	/* while waiting for the peer */
	struct req		 rl_client;	/* served, on the control conn */
	struct req		 rl_peer;	/* issued, once forwarded */
	struct proto_msg	 rl_msg;	/* the request, until forwarded */
	int			 rl_waiting;
	int			 rl_forwarded;
	struct buf		 rl_stdin;	/* stdin before forwarding */
	int			 rl_stdin_eof;
	uint32_t		 rl_room_max[STREAM_COUNT]; /* relay_grant */
	struct proto_tty	 rl_tty;	/* the caller's latest TTY */
	int			 rl_tty_pending; /* ... not yet passed on */
	ev_timer		 rl_wait;
	struct ev_loop		*rl_loop;
	relay_resolve_fn	*rl_resolve;
	void			*rl_resolve_arg;
	/* For the audit line (audit.c): who asked, where it went, the end. */
	char			 rl_caller[128];
	char			 rl_target[PROTO_MAX_NAME + 1];
	uint64_t		 rl_started;
	int			 rl_end_kind;
	int			 rl_end_code;
};

static LIST_HEAD(, relay) relays_waiting = LIST_HEAD_INITIALIZER(relays_waiting);

static const struct req_ops relay_client_ops, relay_peer_ops;

static const char *
relay_target(const struct relay *rl)
{
	return rl->rl_msg.m_type == MSG_OPEN ? rl->rl_msg.m.open.op_target :
	    rl->rl_msg.m.query.qu_target;
}

static void
relay_unwait(struct relay *rl)
{
	if (!rl->rl_waiting)
		return;
	LIST_REMOVE(rl, rl_entry);
	rl->rl_waiting = 0;
	ev_timer_stop(rl->rl_loop, &rl->rl_wait);
}

static void
relay_free(struct relay *rl)
{
	relay_unwait(rl);
	if (rl->rl_msg.m_type == MSG_OPEN)
		audit_call(rl->rl_caller, rl->rl_target,
		    rl->rl_msg.m.open.op_argv, rl->rl_msg.m.open.op_argc,
		    rl->rl_end_kind, rl->rl_end_code, now_ms() - rl->rl_started);
	conn_unlink(&rl->rl_client);
	conn_unlink(&rl->rl_peer);
	proto_msg_free(&rl->rl_msg);
	buf_free(&rl->rl_stdin);
	free(rl);
}

/* Tops up the source's credit for stream s from what the sink allows. */
static void
relay_grant(struct relay *rl, int s)
{
	struct req	*src, *dst;
	uint32_t	 room, granted, step;

	if (!rl->rl_forwarded)
		return;
	src = s == STREAM_STDIN ? &rl->rl_client : &rl->rl_peer;
	dst = s == STREAM_STDIN ? &rl->rl_peer : &rl->rl_client;
	if (src->rq_conn == NULL || dst->rq_conn == NULL ||
	    conn_congested(dst))
		return;
	room = dst->rq_can_send[s] < RELAY_WINDOW(s) ? dst->rq_can_send[s] :
	    RELAY_WINDOW(s);
	if (room > rl->rl_room_max[s])
		rl->rl_room_max[s] = room;
	step = rl->rl_room_max[s] / 4 > RELAY_CREDIT_STEP ?
	    rl->rl_room_max[s] / 4 : RELAY_CREDIT_STEP;
	/* Credit held back while the source's queue is full is granted. */
	granted = src->rq_can_recv[s] + src->rq_credit_held[s];
	if (room > granted && room - granted >= step)
		conn_send_credit(src, s, room - granted);
}

/* Passes the caller's latest TTY on, now if force, else unless congested. */
static void
relay_tty_flush(struct relay *rl, int force)
{
	if (!rl->rl_tty_pending || !rl->rl_forwarded ||
	    rl->rl_peer.rq_conn == NULL ||
	    (!force && conn_congested(&rl->rl_peer)))
		return;
	rl->rl_tty_pending = 0;
	conn_send_tty(&rl->rl_peer, &rl->rl_tty);
}

static void
relay_forward(struct relay *rl, struct conn *peer)
{
	size_t	 n;
	int	 s;

	relay_unwait(rl);
	if (rl->rl_msg.m_type == MSG_OPEN)
		rl->rl_msg.m.open.op_target[0] = '\0';
	else
		rl->rl_msg.m.query.qu_target[0] = '\0';
	conn_request(peer, &rl->rl_peer, &rl->rl_msg, &relay_peer_ops, rl);
	rl->rl_forwarded = 1;
	/* Right behind the OPEN: an OPEN_TTY waits for it. */
	relay_tty_flush(rl, 1);
	/* At most the caller's first window, which the peer's matches. */
	while (buf_pending(&rl->rl_stdin) > 0) {
		n = buf_pending(&rl->rl_stdin);
		if (n > PROTO_MAX_DATA)
			n = PROTO_MAX_DATA;
		conn_send_data(&rl->rl_peer, STREAM_STDIN,
		    buf_head(&rl->rl_stdin), n);
		buf_consume(&rl->rl_stdin, n);
	}
	buf_free(&rl->rl_stdin);
	if (rl->rl_stdin_eof)
		conn_send_data(&rl->rl_peer, STREAM_STDIN, "", 0);
	for (s = 0; s < STREAM_COUNT; s++)
		relay_grant(rl, s);
}

/*
 * Forwards now if the peer is ready, fails at once if there is no such
 * peer or it is not answering; else 0 and the caller waits.  1 if the
 * relay is done waiting (forwarded, or failed and freed).
 */
static int
relay_try(struct relay *rl)
{
	struct conn	*peer = rl->rl_resolve(relay_target(rl),
			    rl->rl_resolve_arg);
	double		 quiet;

	if (peer != NULL && conn_ready(peer)) {
		relay_forward(rl, peer);
		return 1;
	}
	/*
	 * The caller names the target before our words ("negotiator-host:
	 * guest web1: ..."): they do not name it again.
	 */
	if (peer == NULL)
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "no such guest "
		    "(see negotiator-host -g)");
	else if (peer->c_peer_version != 0)
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "speaks protocol "
		    "version %u, this daemon %u: upgrade one of them",
		    peer->c_peer_version, PROTO_VERSION);
	else if (peer->c_state == CONN_SILENT &&
	    (quiet = conn_silence(peer)) >= 0)
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "not answering "
		    "(last frame %.0f s ago): is its negotiator daemon "
		    "running?", quiet);
	else if (peer->c_state == CONN_SILENT)
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "not answering (no "
		    "frame yet): is its negotiator daemon running?");
	else
		return 0;
	relay_free(rl);
	return 1;
}

static void
relay_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay	*rl = w->data;

	(void)loop;
	(void)revents;
	if (relay_try(rl))
		return;
	conn_fail(&rl->rl_client, EXIT_FAILED, 0, "not answering: is its "
	    "negotiator daemon running?");
	relay_free(rl);
}

void
relay_peer_ready(struct conn *peer)
{
	struct relay	*rl, *next;

	(void)peer;	/* each relay resolves its own target */
	LIST_FOREACH_SAFE(rl, &relays_waiting, rl_entry, next)
		relay_try(rl);
}

void
relay_start(struct conn *client, struct proto_msg *m,
    relay_resolve_fn *resolve, void *arg)
{
	struct relay	*rl = xcalloc(1, sizeof(*rl));

	if (conn_accept(client, &rl->rl_client, m, &relay_client_ops,
	    rl) == -1) {
		free(rl);
		return;
	}
	/* Take the request over; the channel frees what is left in m. */
	rl->rl_msg = *m;
	if (m->m_type == MSG_OPEN)
		m->m.open.op_argv = m->m.open.op_envv = NULL;
	rl->rl_loop = client->c_ch.ch_loop;
	strlcpy(rl->rl_caller, client->c_who[0] != '\0' ? client->c_who :
	    client->c_label, sizeof(rl->rl_caller));
	strlcpy(rl->rl_target, relay_target(rl), sizeof(rl->rl_target));
	rl->rl_started = now_ms();
	rl->rl_end_kind = EXIT_FAILED;	/* until the peer answers */
	rl->rl_resolve = resolve;
	rl->rl_resolve_arg = arg;
	ev_timer_init(&rl->rl_wait, relay_wait_cb, RELAY_WAIT, 0.);
	rl->rl_wait.data = rl;
	if (relay_try(rl))
		return;
	LIST_INSERT_HEAD(&relays_waiting, rl, rl_entry);
	rl->rl_waiting = 1;
	ev_timer_start(rl->rl_loop, &rl->rl_wait);
}

/* --- the caller's side ---------------------------------------------- */

static void
relay_client_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct relay	*rl = rq->rq_arg;

	if (rl->rl_forwarded) {
		conn_send_data(&rl->rl_peer, stream, p, n);
		relay_grant(rl, stream);
	} else if (n == 0)
		rl->rl_stdin_eof = 1;
	else
		buf_append(&rl->rl_stdin, p, n);
}

static void
relay_client_credit(struct req *rq, int stream, uint32_t n)
{
	(void)n;	/* counted in rq_can_send by conn.c */
	relay_grant(rq->rq_arg, stream);
}

static void
relay_client_drain(struct req *rq)
{
	relay_grant(rq->rq_arg, STREAM_STDOUT);
	relay_grant(rq->rq_arg, STREAM_STDERR);
}

static void
relay_client_tty(struct req *rq, const struct proto_tty *ty)
{
	struct relay	*rl = rq->rq_arg;

	rl->rl_tty = *ty;
	rl->rl_tty_pending = 1;
	relay_tty_flush(rl, 0);
}

static void
relay_client_cancel(struct req *rq)
{
	struct relay	*rl = rq->rq_arg;

	/* The peer's EXIT for it comes back the usual way. */
	if (rl->rl_forwarded)
		conn_cancel(&rl->rl_peer);
	else {
		conn_fail(rq, EXIT_FAILED, 0, "cancelled");
		relay_free(rl);
	}
}

static void
relay_client_lost(struct req *rq, const char *why)
{
	struct relay	*rl = rq->rq_arg;

	(void)why;
	conn_cancel(&rl->rl_peer);
	relay_free(rl);
}

static void
relay_no_reply(struct req *rq, struct proto_msg *m)
{
	(void)rq;
	(void)m;
	fatalx("%s: a served request got a reply", __func__);
}

static const struct req_ops relay_client_ops = {
	relay_client_data, relay_client_credit, relay_client_cancel,
	relay_no_reply, relay_client_lost, relay_client_drain,
	relay_client_tty,
};

/* --- the peer's side ------------------------------------------------ */

static void
relay_peer_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct relay	*rl = rq->rq_arg;

	conn_send_data(&rl->rl_client, stream, p, n);
	relay_grant(rl, stream);
}

static void
relay_peer_credit(struct req *rq, int stream, uint32_t n)
{
	(void)n;	/* counted in rq_can_send by conn.c */
	relay_grant(rq->rq_arg, stream);
}

static void
relay_peer_drain(struct req *rq)
{
	relay_grant(rq->rq_arg, STREAM_STDIN);
	relay_tty_flush(rq->rq_arg, 0);
}

static void
relay_peer_reply(struct req *rq, struct proto_msg *m)
{
	struct relay	*rl = rq->rq_arg;

	if (m->m_type == MSG_EXIT) {
		rl->rl_end_kind = (int)m->m.exit.ex_kind;
		rl->rl_end_code = m->m.exit.ex_code;
	}
	conn_reply(&rl->rl_client, m);
	relay_free(rl);
}

static void
relay_peer_lost(struct req *rq, const char *why)
{
	struct relay	*rl = rq->rq_arg;

	conn_fail(&rl->rl_client, EXIT_FAILED, 0, "connection lost: %s", why);
	relay_free(rl);
}

static void
relay_no_cancel(struct req *rq)
{
	(void)rq;
	fatalx("%s: an issued request was cancelled", __func__);
}

static const struct req_ops relay_peer_ops = {
	relay_peer_data, relay_peer_credit, relay_no_cancel,
	relay_peer_reply, relay_peer_lost, relay_peer_drain, NULL,
};
