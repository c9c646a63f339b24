/*
 * Unit tests of the relay (common/relay.c): a caller's request forwarded
 * to the peer and everything about it both ways, in one libev loop:
 *
 *	cli (X) <-socketpair-> control (C) --relay--> peer (P) <-socketpair-> server (S)
 *
 * X issues requests; C serves them with relay_start(); the relay forwards
 * them on P, resolved by target name ("vm"); S plays the peer's daemon and
 * records what reaches it.  Checked: forwarding, failing at once (no such
 * peer, a silent peer), waiting for the peer, stdin held until then,
 * credit bounded by ours whatever either side grants (channel.h, rule 3),
 * a wide window passed on in wide steps and a narrow one in narrow ones,
 * a congested caller stopping the peer (rule 2), cancel races, and a lost
 * caller or peer.
 */
#include <sys/socket.h>

#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "evloop.h"
#include "relay.h"

#define MAX_REQS	8

struct side {
	struct conn	 s_conn;
	struct req	 s_req[MAX_REQS];
	int		 s_nreq;
	int		 s_pong;	/* answer PINGs at once */
	int		 s_ready;
	int		 s_replies;
	uint16_t	 s_reply_type;
	char		 s_reply_msg[PROTO_MAX_MESSAGE + 1];
	int		 s_lost;
	int		 s_cancels;
	int		 s_eofs[STREAM_COUNT];
	size_t		 s_data[STREAM_COUNT];
	uint32_t	 s_most_credit[STREAM_COUNT];	/* rq_can_send seen */
	int		 s_credits[STREAM_COUNT];	/* CREDIT frames */
	uint32_t	 s_least_step[STREAM_COUNT];	/* ... the smallest */
};

static struct ev_loop	*loop;
static struct side	 x, c, p, s;

static void
note_credit(struct side *sd, struct req *rq)
{
	int	 i;

	for (i = 0; i < STREAM_COUNT; i++)
		if (rq->rq_can_send[i] > sd->s_most_credit[i])
			sd->s_most_credit[i] = rq->rq_can_send[i];
}

static void
on_data(struct req *rq, int stream, const uint8_t *b, size_t n)
{
	struct side	*sd = rq->rq_arg;

	(void)b;
	sd->s_data[stream] += n;
	if (n == 0)
		sd->s_eofs[stream]++;
}

static void
on_credit(struct req *rq, int stream, uint32_t n)
{
	struct side	*sd = rq->rq_arg;

	if (sd->s_credits[stream]++ == 0 || n < sd->s_least_step[stream])
		sd->s_least_step[stream] = n;
	note_credit(sd, rq);
}

static void
on_cancel(struct req *rq)
{
	struct side	*sd = rq->rq_arg;

	sd->s_cancels++;
}

static void
on_reply(struct req *rq, struct proto_msg *m)
{
	struct side	*sd = rq->rq_arg;

	sd->s_replies++;
	sd->s_reply_type = m->m_type;
	if (m->m_type == MSG_EXIT)
		strlcpy(sd->s_reply_msg, m->m.exit.ex_message,
		    sizeof(sd->s_reply_msg));
}

static void
on_lost(struct req *rq, const char *why)
{
	struct side	*sd = rq->rq_arg;

	(void)why;
	sd->s_lost++;
}

static const struct req_ops req_ops = {
	on_data, on_credit, on_cancel, on_reply, on_lost, NULL, NULL,
};

static struct conn *
resolve(const char *target, void *arg)
{
	(void)arg;
	return strcmp(target, "vm") == 0 ? &p.s_conn : NULL;
}

static void
side_request(struct conn *cn, struct proto_msg *m)
{
	struct side		*sd = cn->c_arg;
	struct proto_msg	 r;
	struct req		 rq;

	if (sd == &c) {
		relay_start(cn, m, resolve, NULL);
		return;
	}
	if (sd->s_pong) {
		memset(&rq, 0, sizeof(rq));
		memset(&r, 0, sizeof(r));
		r.m_type = MSG_PONG;
		if (conn_accept(cn, &rq, m, &req_ops, sd) == 0)
			conn_reply(&rq, &r);
		return;
	}
	if (sd->s_nreq < MAX_REQS &&
	    conn_accept(cn, &sd->s_req[sd->s_nreq], m, &req_ops, sd) == 0)
		note_credit(sd, &sd->s_req[sd->s_nreq++]);
}

static void
side_ready(struct conn *cn)
{
	struct side	*sd = cn->c_arg;

	sd->s_ready++;
	if (sd == &p)
		relay_peer_ready(cn);
}

static void
side_eof(struct conn *cn, int error)
{
	(void)error;
	conn_stop(cn, "end of file");
}

static const struct conn_ops side_ops = {
	side_request, side_ready, side_eof,
};

static void
join(struct side *a, struct side *b)
{
	int	 fds[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    fds), 0);
	conn_start(&a->s_conn, fds[0]);
	conn_start(&b->s_conn, fds[1]);
}

/* The peer's pair, joined and ready. */
static void
peer_up(void)
{
	join(&p, &s);
	cr_assert(evloop_until(loop, &p.s_ready, 1, 2), "peer not ready");
}

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	conn_set_peer_timeout(0.3);
	memset(&x, 0, sizeof(x));
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	conn_init(&x.s_conn, loop, CONN_ISSUES | CONN_GREETS, "x", &side_ops,
	    &x);
	conn_init(&c.s_conn, loop, CONN_SERVES, "c", &side_ops, &c);
	conn_init(&p.s_conn, loop, CONN_ISSUES | CONN_GREETS | CONN_KEEPALIVE,
	    "p", &side_ops, &p);
	conn_init(&s.s_conn, loop, CONN_SERVES | CONN_GREETS | CONN_KEEPALIVE,
	    "s", &side_ops, &s);
	join(&x, &c);
	cr_assert(evloop_until(loop, &x.s_ready, 1, 2), "caller not ready");
}

static void
teardown(void)
{
	conn_stop(&x.s_conn, "done");
	conn_stop(&c.s_conn, "done");
	conn_stop(&p.s_conn, "done");
	conn_stop(&s.s_conn, "done");
	ev_loop_destroy(loop);
}

TestSuite(relay, .init = setup, .fini = teardown, .timeout = 30);

static void
call(uint16_t type, const char *target, int with_stdin)
{
	static char		*argv[] = { "cmd", NULL };
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	if (type == MSG_OPEN) {
		strlcpy(m.m.open.op_target, target,
		    sizeof(m.m.open.op_target));
		m.m.open.op_argc = 1;
		m.m.open.op_argv = argv;
		m.m.open.op_flags = with_stdin ? OPEN_STDIN : 0;
	} else
		strlcpy(m.m.query.qu_target, target,
		    sizeof(m.m.query.qu_target));
	conn_request(&x.s_conn, &x.s_req[0], &m, &req_ops, &x);
}

/* S sends what its credit allows, up to total, in whole chunks. */
static size_t
server_sends(int stream, size_t total)
{
	static uint8_t	 chunk[PROTO_MAX_DATA];
	struct req	*rq = &s.s_req[0];
	size_t		 sent = 0, n;

	while (sent < total && rq->rq_conn != NULL &&
	    rq->rq_can_send[stream] > 0) {
		n = rq->rq_can_send[stream];
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if (n > total - sent)
			n = total - sent;
		conn_send_data(rq, stream, chunk, n);
		sent += n;
	}
	return sent;
}

/* X opens a command on "vm"; its OPEN has reached S on return. */
static void
open_on_peer(int with_stdin)
{
	peer_up();
	call(MSG_OPEN, "vm", with_stdin);
	cr_assert(evloop_until(loop, &s.s_nreq, 1, 2), "no OPEN at the peer");
}

/* X grants all the stdout credit it may, far beyond one window. */
static void
caller_grants_the_most(void)
{
	conn_send_credit(&x.s_req[0], STREAM_STDOUT,
	    PROTO_MAX_CREDIT - PROTO_WINDOW);
	evloop_for(loop, 0.1);
}

Test(relay, forwards_a_ping)
{
	peer_up();
	s.s_pong = 1;
	call(MSG_PING, "vm", 0);
	cr_assert(evloop_until(loop, &x.s_replies, 1, 2));
	cr_assert_eq(x.s_reply_type, MSG_PONG);
}

Test(relay, no_such_peer_fails_at_once)
{
	call(MSG_PING, "elsewhere", 0);
	cr_assert(evloop_until(loop, &x.s_replies, 1, 0.5));
	cr_assert_eq(x.s_reply_type, MSG_EXIT);
	cr_assert(strstr(x.s_reply_msg, "no such guest") != NULL);
}

Test(relay, a_silent_peer_fails_new_calls_at_once)
{
	peer_up();
	channel_pause(&s.s_conn.c_ch, 1);
	evloop_for(loop, 0.6);
	cr_assert_eq(p.s_conn.c_state, CONN_SILENT);
	call(MSG_PING, "vm", 0);
	cr_assert(evloop_until(loop, &x.s_replies, 1, 0.2), "not at once");
	cr_assert_eq(x.s_reply_type, MSG_EXIT);
	cr_assert(strstr(x.s_reply_msg, "not answering") != NULL, "%s",
	    x.s_reply_msg);
}

Test(relay, waits_for_the_peer_with_stdin_held)
{
	static uint8_t	 bytes[1000];

	call(MSG_OPEN, "vm", 1);
	evloop_for(loop, 0.1);
	conn_send_data(&x.s_req[0], STREAM_STDIN, bytes, sizeof(bytes));
	conn_send_data(&x.s_req[0], STREAM_STDIN, "", 0);
	evloop_for(loop, 0.1);
	cr_assert_eq(x.s_replies, 0);
	peer_up();
	cr_assert(evloop_until(loop, &s.s_eofs[STREAM_STDIN], 1, 2));
	cr_assert_eq(s.s_nreq, 1);
	cr_assert_eq(s.s_data[STREAM_STDIN], sizeof(bytes));
	conn_fail(&s.s_req[0], EXIT_EXITED, 3, "%s", "");
	cr_assert(evloop_until(loop, &x.s_replies, 1, 2));
	cr_assert_eq(x.s_reply_type, MSG_EXIT);
}

/* Rule 3: the caller grants the most; the peer still gets one window. */
Test(relay, output_credit_is_bounded_by_ours)
{
	size_t	 sent = 0;
	int	 i;

	open_on_peer(0);
	caller_grants_the_most();
	for (i = 0; i < 200 && sent < 4 * 1024 * 1024; i++) {
		sent += server_sends(STREAM_STDOUT, 4 * 1024 * 1024 - sent);
		evloop_for(loop, 0.005);
	}
	cr_assert_eq(sent, 4 * 1024 * 1024, "only %zu sent", sent);
	while (x.s_data[STREAM_STDOUT] < sent)
		cr_assert(evloop_until(loop, &x.s_eofs[0], 1, 0.01) ||
		    i++ < 1000);
	cr_assert_eq(x.s_data[STREAM_STDOUT], sent);
	cr_assert_leq(s.s_most_credit[STREAM_STDOUT], PROTO_WIDE_WINDOW,
	    "the peer was granted %u", s.s_most_credit[STREAM_STDOUT]);
}

/*
 * S sends its output in whole frames as its credit allows and X gives the
 * credit back for each frame it gets, as a CLI writing at once does, until
 * total bytes have reached X.
 */
static void
stream_to_caller(size_t total)
{
	size_t	 sent = 0, got = 0;
	int	 i;

	for (i = 0; i < 2000 && got < total; i++) {
		sent += server_sends(STREAM_STDOUT, total - sent);
		evloop_for(loop, 0.002);
		if (x.s_data[STREAM_STDOUT] > got) {
			conn_send_credit(&x.s_req[0], STREAM_STDOUT,
			    (uint32_t)(x.s_data[STREAM_STDOUT] - got));
			got = x.s_data[STREAM_STDOUT];
		}
	}
	cr_assert_eq(got, total, "only %zu of %zu reached the caller", got,
	    total);
}

/*
 * With the caller's window of its output already granted, S streams 8
 * windows: the relay grants S credit in steps of a quarter of that window
 * at least, and never more than the window.
 */
static void
credit_goes_in_quarters_of(uint32_t window)
{
	stream_to_caller(8 * (size_t)window);
	cr_assert_geq(s.s_least_step[STREAM_STDOUT], window / 4,
	    "a CREDIT of %u bytes", s.s_least_step[STREAM_STDOUT]);
	cr_assert_leq(s.s_most_credit[STREAM_STDOUT], window,
	    "the peer was granted %u", s.s_most_credit[STREAM_STDOUT]);
}

/*
 * A host CLI grants its output PROTO_WIDE_WINDOW (proto.h): the peer gets
 * all of it, and its credit back in steps of a quarter of it, not of
 * PROTO_WINDOW (each CREDIT wakes the guest: with 64 KiB steps of a
 * 1 MiB window 64 MiB came out of a TCG guest at 134 MB/s, not 177).
 */
Test(relay, a_wide_caller_window_reaches_the_peer_in_wide_steps)
{
	open_on_peer(0);
	conn_send_credit(&x.s_req[0], STREAM_STDOUT,
	    PROTO_WIDE_WINDOW - PROTO_WINDOW);
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_req[0].rq_can_send[STREAM_STDOUT], PROTO_WIDE_WINDOW,
	    "the peer has %u of the caller's %u",
	    s.s_req[0].rq_can_send[STREAM_STDOUT], PROTO_WIDE_WINDOW);
	credit_goes_in_quarters_of(PROTO_WIDE_WINDOW);
}

/* A caller that grants only PROTO_WINDOW: a quarter of that a step. */
Test(relay, a_narrow_caller_window_stays_narrow)
{
	open_on_peer(0);
	credit_goes_in_quarters_of(PROTO_WINDOW);
}

Test(relay, stdin_credit_is_bounded_by_ours)
{
	open_on_peer(1);
	conn_send_credit(&s.s_req[0], STREAM_STDIN,
	    PROTO_MAX_CREDIT - PROTO_WINDOW);
	evloop_for(loop, 0.2);
	cr_assert_leq(x.s_req[0].rq_can_send[STREAM_STDIN], PROTO_WINDOW,
	    "the caller was granted %u",
	    x.s_req[0].rq_can_send[STREAM_STDIN]);
}

/*
 * Credit held back while the source's queue is full (rule 4) counts as
 * granted: the relay granted again from what the caller allowed each time
 * output arrived, and once the queue had room the peer was given more
 * than the caller allows; the peer's output beyond it killed the daemon
 * ("conn_send_data: 65536 bytes beyond credit", tests/load.sh beside
 * make check's other lanes).
 */
Test(relay, credit_held_back_counts_as_granted)
{
	size_t	 got = 0;
	int	 i;

	/* Its HELLOs wait in the full queue: no timeout meanwhile. */
	p.s_conn.c_peer_timeout = s.s_conn.c_peer_timeout = 10;
	open_on_peer(0);
	p.s_conn.c_max_queue = 0;	/* the peer's queue is always full */
	for (i = 0; i < 4; i++) {
		server_sends(STREAM_STDOUT, PROTO_MAX_DATA);
		evloop_for(loop, 0.05);
		/* The caller reads it and gives the credit back. */
		conn_send_credit(&x.s_req[0], STREAM_STDOUT,
		    (uint32_t)(x.s_data[STREAM_STDOUT] - got));
		got = x.s_data[STREAM_STDOUT];
		evloop_for(loop, 0.05);
	}
	cr_assert_eq(got, 4 * PROTO_MAX_DATA, "got %zu", got);
	p.s_conn.c_max_queue = CHANNEL_MAX_QUEUE;
	/* The next grant sends what was held. */
	server_sends(STREAM_STDOUT, PROTO_MAX_DATA);
	evloop_for(loop, 0.05);
	conn_send_credit(&x.s_req[0], STREAM_STDOUT, PROTO_MAX_DATA);
	evloop_for(loop, 0.1);
	cr_assert_leq(s.s_most_credit[STREAM_STDOUT], PROTO_WINDOW,
	    "the peer was granted %u", s.s_most_credit[STREAM_STDOUT]);
	/* All of it: the relay passes on no more than the caller allows. */
	server_sends(STREAM_STDOUT, 16 * 1024 * 1024);
	evloop_for(loop, 0.2);
	cr_assert_leq(x.s_data[STREAM_STDOUT] - got, PROTO_WINDOW +
	    PROTO_MAX_DATA);
}

/* Rule 2: a caller that does not read stops the peer's output. */
Test(relay, a_congested_caller_stops_the_peer)
{
	size_t	 sent = 0, more;
	int	 i;

	open_on_peer(0);
	caller_grants_the_most();
	/* The caller stops reading (and writing: its credit went out). */
	channel_pause(&x.s_conn.c_ch, 1);
	for (i = 0; i < 400; i++) {
		sent += server_sends(STREAM_STDOUT, 16 * 1024 * 1024);
		evloop_for(loop, 0.005);
	}
	more = server_sends(STREAM_STDOUT, 16 * 1024 * 1024);
	evloop_for(loop, 0.2);
	more += server_sends(STREAM_STDOUT, 16 * 1024 * 1024);
	cr_assert_eq(more, 0, "the peer was still given credit");
	cr_assert(channel_congested(&c.s_conn.c_ch));
	/* What the peer had been granted before: the caller's window. */
	cr_assert_lt(buf_pending(&c.s_conn.c_ch.ch_out),
	    CHANNEL_HIGHWATER + PROTO_WIDE_WINDOW + PROTO_HDR_LEN +
	    PROTO_MAX_PAYLOAD);
	cr_assert_lt(sent, 8 * 1024 * 1024, "%zu bytes let through", sent);
	/* The caller reads again: everything arrives. */
	channel_pause(&x.s_conn.c_ch, 0);
	for (i = 0; i < 400 && x.s_data[STREAM_STDOUT] < sent; i++)
		evloop_for(loop, 0.005);
	cr_assert_eq(x.s_data[STREAM_STDOUT], sent);
	cr_assert_gt(server_sends(STREAM_STDOUT, 1024), 0, "no credit again");
}

Test(relay, cancel_before_forwarding)
{
	call(MSG_OPEN, "vm", 0);
	evloop_for(loop, 0.05);
	conn_cancel(&x.s_req[0]);
	cr_assert(evloop_until(loop, &x.s_replies, 1, 1));
	cr_assert_str_eq(x.s_reply_msg, "cancelled");
	peer_up();
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_nreq, 0, "a cancelled call was forwarded");
}

Test(relay, cancel_after_forwarding)
{
	open_on_peer(0);
	conn_cancel(&x.s_req[0]);
	cr_assert(evloop_until(loop, &s.s_cancels, 1, 1));
	conn_fail(&s.s_req[0], EXIT_SIGNALED, 15, "Terminated");
	cr_assert(evloop_until(loop, &x.s_replies, 1, 1));
	cr_assert_eq(x.s_reply_type, MSG_EXIT);
}

Test(relay, a_caller_gone_cancels_the_peers_command)
{
	open_on_peer(0);
	conn_stop(&x.s_conn, "caller killed");
	cr_assert(evloop_until(loop, &s.s_cancels, 1, 1));
	/* Its EXIT then finds nobody, and harms nobody. */
	conn_fail(&s.s_req[0], EXIT_SIGNALED, 15, "Terminated");
	evloop_for(loop, 0.1);
	cr_assert(conn_ready(&p.s_conn));
}

Test(relay, a_peer_lost_fails_the_call)
{
	open_on_peer(0);
	conn_stop(&s.s_conn, "peer died");
	cr_assert(evloop_until(loop, &x.s_replies, 1, 1));
	cr_assert_eq(x.s_reply_type, MSG_EXIT);
	cr_assert(strstr(x.s_reply_msg, "connection lost") != NULL, "%s",
	    x.s_reply_msg);
}
