/*
 * A relay forwards one request of a local caller (a CLI on the control
 * socket) to the peer, and everything about it both ways: stdin out, output
 * and the final reply back, credits in both directions, cancel.  It holds
 * no data of its own beyond what arrives before the peer is ready, and that
 * is bounded by the caller's initial credit.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

struct relay {
	struct req		 rl_client;	/* served, on the control conn */
	struct req		 rl_peer;	/* issued, once forwarded */
	struct proto_msg	 rl_msg;	/* the request, until forwarded */
	int			 rl_forwarded;
	struct buf		 rl_stdin;	/* stdin before forwarding */
	int			 rl_stdin_eof;
	uint32_t		 rl_credit[STREAM_COUNT];
	ev_timer		 rl_wait;
	struct ev_loop		*rl_loop;
	relay_resolve_fn	*rl_resolve;
	void			*rl_resolve_arg;
	uint64_t		 rl_started;
};

static const struct req_ops relay_client_ops, relay_peer_ops;

static const char *
relay_target(const struct relay *rl)
{
	return rl->rl_msg.m_type == MSG_OPEN ? rl->rl_msg.m.open.op_target :
	    rl->rl_msg.m.query.qu_target;
}

static void
relay_free(struct relay *rl)
{
	conn_unlink(&rl->rl_client);
	conn_unlink(&rl->rl_peer);
	ev_timer_stop(rl->rl_loop, &rl->rl_wait);
	proto_msg_free(&rl->rl_msg);
	buf_free(&rl->rl_stdin);
	free(rl);
}

static void
relay_forward(struct relay *rl, struct conn *peer)
{
	size_t	 n;
	int	 s;

	ev_timer_stop(rl->rl_loop, &rl->rl_wait);
	if (rl->rl_msg.m_type == MSG_OPEN)
		rl->rl_msg.m.open.op_target[0] = '\0';
	else
		rl->rl_msg.m.query.qu_target[0] = '\0';
	conn_request(peer, &rl->rl_peer, &rl->rl_msg, &relay_peer_ops, rl);
	rl->rl_forwarded = 1;
	while (buf_pending(&rl->rl_stdin) > 0) {
		n = buf_pending(&rl->rl_stdin);
		if (n > PROTO_MAX_DATA)
			n = PROTO_MAX_DATA;
		conn_send_data(&rl->rl_peer, STREAM_STDIN,
		    buf_head(&rl->rl_stdin), n);
		buf_consume(&rl->rl_stdin, n);
	}
	if (rl->rl_stdin_eof)
		conn_send_data(&rl->rl_peer, STREAM_STDIN, "", 0);
	for (s = 0; s < STREAM_COUNT; s++)
		conn_send_credit(&rl->rl_peer, s, rl->rl_credit[s]);
}

/*
 * Forwards now if the peer is ready; fails at once if there is no such
 * peer, and after RELAY_WAIT seconds if it does not become ready.
 */
static void
relay_try(struct relay *rl)
{
	struct conn	*peer = rl->rl_resolve(relay_target(rl),
			    rl->rl_resolve_arg);

	if (peer != NULL && conn_ready(peer)) {
		relay_forward(rl, peer);
		return;
	}
	if (peer == NULL)
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "no such guest: %s "
		    "(see negotiator-host -g)", relay_target(rl));
	else if ((double)(now_ms() - rl->rl_started) < RELAY_WAIT * 1000)
		return;
	else
		conn_fail(&rl->rl_client, EXIT_FAILED, 0, "%s%s is not "
		    "answering: is its negotiator daemon running?",
		    relay_target(rl)[0] ? "guest " : "the host",
		    relay_target(rl));
	relay_free(rl);
}

static void
relay_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	relay_try(w->data);
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
		m->m.open.op_argv = NULL;
	rl->rl_loop = client->c_ch.ch_loop;
	rl->rl_resolve = resolve;
	rl->rl_resolve_arg = arg;
	rl->rl_started = now_ms();
	ev_timer_init(&rl->rl_wait, relay_wait_cb, 0.1, 0.1);
	rl->rl_wait.data = rl;
	ev_timer_start(rl->rl_loop, &rl->rl_wait);
	relay_try(rl);
}

/* --- the caller's side ---------------------------------------------- */

static void
relay_client_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct relay	*rl = rq->rq_arg;

	if (rl->rl_forwarded)
		conn_send_data(&rl->rl_peer, stream, p, n);
	else if (n == 0)
		rl->rl_stdin_eof = 1;
	else
		buf_append(&rl->rl_stdin, p, n);
}

static void
relay_client_credit(struct req *rq, int stream, uint32_t n)
{
	struct relay	*rl = rq->rq_arg;

	if (rl->rl_forwarded)
		conn_send_credit(&rl->rl_peer, stream, n);
	else
		rl->rl_credit[stream] += n;
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
	relay_no_reply, relay_client_lost,
};

/* --- the peer's side ------------------------------------------------ */

static void
relay_peer_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct relay	*rl = rq->rq_arg;

	conn_send_data(&rl->rl_client, stream, p, n);
}

static void
relay_peer_credit(struct req *rq, int stream, uint32_t n)
{
	struct relay	*rl = rq->rq_arg;

	conn_send_credit(&rl->rl_client, stream, n);
}

static void
relay_peer_reply(struct req *rq, struct proto_msg *m)
{
	struct relay	*rl = rq->rq_arg;

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
	relay_peer_reply, relay_peer_lost,
};
