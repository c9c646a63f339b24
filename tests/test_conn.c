/*
 * Unit tests of the session layer (common/conn.c) and of the channel under
 * it (common/channel.c): handshake, frames of another session dropped,
 * credit violations, cancel races, limits, back-pressure (channel.h's
 * rules), keepalive, and resynchronisation after a frame cut short.
 *
 * Each test runs its own libev loop (tests/evloop.c drives it).  Two conns
 * joined by a socketpair talk to each other, or one conn talks to the test
 * itself through the raw other end ("wire"), which packs and parses frames
 * with proto.c.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "channel.h"
#include "evloop.h"

#define MAX_REQS	300

/* One side: a conn and what happened to it. */
struct side {
	struct conn	 s_conn;
	struct req	 s_req[MAX_REQS];	/* served or issued here */
	int		 s_nreq;
	int		 s_requests;	/* on_request calls */
	int		 s_ready;	/* on_ready calls */
	int		 s_accept;	/* on_request accepts (else ignores) */
	int		 s_pong;	/* on_request answers PONG at once */
	double		 s_burn;	/* ... after this many seconds' work */
	int		 s_replies;
	uint16_t	 s_reply_type;
	char		 s_reply_msg[PROTO_MAX_MESSAGE + 1];
	int		 s_lost;
	char		 s_lost_why[256];
	int		 s_cancels;
	int		 s_drains;
	size_t		 s_data[STREAM_COUNT];
	uint32_t	 s_credit[STREAM_COUNT];
};

static struct ev_loop	*loop;

static void
on_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct side	*s = rq->rq_arg;

	(void)p;
	s->s_data[stream] += n;
}

static void
on_credit(struct req *rq, int stream, uint32_t n)
{
	struct side	*s = rq->rq_arg;

	s->s_credit[stream] += n;
}

static void
on_cancel(struct req *rq)
{
	struct side	*s = rq->rq_arg;

	s->s_cancels++;
}

static void
on_reply(struct req *rq, struct proto_msg *m)
{
	struct side	*s = rq->rq_arg;

	s->s_replies++;
	s->s_reply_type = m->m_type;
	if (m->m_type == MSG_EXIT)
		strlcpy(s->s_reply_msg, m->m.exit.ex_message,
		    sizeof(s->s_reply_msg));
}

static void
on_lost(struct req *rq, const char *why)
{
	struct side	*s = rq->rq_arg;

	s->s_lost++;
	strlcpy(s->s_lost_why, why, sizeof(s->s_lost_why));
}

static void
on_drain(struct req *rq)
{
	struct side	*s = rq->rq_arg;

	s->s_drains++;
}

static const struct req_ops req_ops = {
	on_data, on_credit, on_cancel, on_reply, on_lost, on_drain, NULL,
};

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keeps the loop busy for that long: a costly request. */
static void
burn(double seconds)
{
	double	 end = mono() + seconds;

	while (mono() < end)
		;
}

static void
side_request(struct conn *c, struct proto_msg *m)
{
	struct side	*s = c->c_arg;

	struct req	 rq;
	struct proto_msg r;

	s->s_requests++;
	if (s->s_burn > 0)
		burn(s->s_burn);
	if (s->s_pong) {
		memset(&rq, 0, sizeof(rq));
		memset(&r, 0, sizeof(r));
		r.m_type = MSG_PONG;
		if (conn_accept(c, &rq, m, &req_ops, s) == 0)
			conn_reply(&rq, &r);
		return;
	}
	if (s->s_accept && s->s_nreq < MAX_REQS &&
	    conn_accept(c, &s->s_req[s->s_nreq], m, &req_ops, s) == 0)
		s->s_nreq++;
}

static void
side_ready(struct conn *c)
{
	struct side	*s = c->c_arg;

	s->s_ready++;
}

static void
side_eof(struct conn *c, int error)
{
	(void)error;
	conn_stop(c, "end of file");
}

static const struct conn_ops side_ops = {
	side_request, side_ready, side_eof,
};

static void
side_init(struct side *s, int flags, const char *label)
{
	memset(s, 0, sizeof(*s));
	conn_init(&s->s_conn, loop, flags, label, &side_ops, s);
	s->s_accept = 1;
}

static void
pair(int fds[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    fds), 0);
}

/* Two conns on one socketpair, both greeting; both ready on return. */
static void
connect_pair(struct side *a, int aflags, struct side *b, int bflags)
{
	int	 fds[2];

	side_init(a, aflags | CONN_GREETS, "a");
	side_init(b, bflags | CONN_GREETS, "b");
	pair(fds);
	conn_start(&a->s_conn, fds[0]);
	conn_start(&b->s_conn, fds[1]);
	cr_assert(evloop_until(loop, &a->s_ready, 1, 2) &&
	    evloop_until(loop, &b->s_ready, 1, 2),
	    "no handshake");
}

/* Ends both sessions of a pair, with their fds and buffers. */
static void
stop_pair(struct side *a, struct side *b)
{
	conn_stop(&a->s_conn, "done");
	conn_stop(&b->s_conn, "done");
}

static void
setup(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	conn_set_peer_timeout(CONN_PEER_TIMEOUT);
}

static void
teardown(void)
{
	ev_loop_destroy(loop);
}

TestSuite(conn, .init = setup, .fini = teardown, .timeout = 30);

/* --- the test's own end of a wire ------------------------------------- */

struct wire {
	int		 w_fd;
	struct buf	 w_in;
	uint32_t	 w_nonce;	/* ours */
	uint32_t	 w_peer;	/* the conn's */
};

static void
wire_send(struct wire *w, struct proto_msg *m, uint32_t tag)
{
	struct buf	 b = { 0 };
	ssize_t		 n;
	size_t		 off = 0;

	m->m_tag = tag;
	proto_pack(&b, m);
	while (off < b.b_len) {
		n = write(w->w_fd, b.b_data + off, b.b_len - off);
		if (n == -1 && errno == EAGAIN) {
			evloop_for(loop, 0.01);
			continue;
		}
		cr_assert_gt(n, 0);
		off += (size_t)n;
	}
	buf_free(&b);
}

/* The next frame the conn sent, running the loop meanwhile; 0 if none. */
static int
wire_recv(struct wire *w, struct proto_msg *m, double seconds)
{
	const char	*why;
	size_t		 used;
	ssize_t		 n;
	ev_tstamp	 end;

	ev_now_update(loop);
	end = ev_now(loop) + seconds;
	for (;;) {
		if (proto_parse(buf_head(&w->w_in), buf_pending(&w->w_in), m,
		    &used, &why) == PARSE_OK) {
			cr_assert_neq(m->m_type, MSG_DATA, "DATA not expected");
			buf_consume(&w->w_in, used);
			return 1;
		}
		n = read(w->w_fd, buf_reserve(&w->w_in, 65536), 65536);
		if (n > 0) {
			buf_commit(&w->w_in, (size_t)n);
			continue;
		}
		if (ev_now(loop) >= end)
			return 0;
		evloop_for(loop, 0.01);
	}
}

/* A HELLO or HELLO_ACK of our version with nonce, echoing none. */
static void
hello_msg(struct proto_msg *m, uint16_t type, uint32_t nonce)
{
	memset(m, 0, sizeof(*m));
	m->m_type = type;
	m->m.hello.he_version = PROTO_VERSION;
	m->m.hello.he_nonce = nonce;
}

static void
wire_hello(struct wire *w, uint16_t type)
{
	struct proto_msg	 m;

	hello_msg(&m, type, w->w_nonce);
	m.m.hello.he_echo = w->w_peer;
	strlcpy(m.m.hello.he_name, "wire", sizeof(m.m.hello.he_name));
	wire_send(w, &m, 0);
}

/* Starts s's conn on a socketpair whose other end is w, and shakes hands. */
static void
wire_connect(struct wire *w, struct side *s, int flags)
{
	struct proto_msg	 m;
	int			 fds[2];

	memset(w, 0, sizeof(*w));
	side_init(s, flags, "s");
	pair(fds);
	w->w_fd = fds[1];
	w->w_nonce = 0x11223344;
	conn_start(&s->s_conn, fds[0]);
	wire_hello(w, MSG_HELLO);
	for (;;) {
		cr_assert(wire_recv(w, &m, 2), "no HELLO_ACK");
		if (m.m_type == MSG_HELLO_ACK && m.m.hello.he_echo ==
		    w->w_nonce)
			break;
	}
	w->w_peer = m.m.hello.he_nonce;
	cr_assert(conn_ready(&s->s_conn));
}

static void
wire_query(struct wire *w, uint16_t type, uint32_t id, uint32_t tag)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m.query.qu_id = id;
	wire_send(w, &m, tag);
}

/* Ends what wire_connect started: s's conn, then the wire. */
static void
wire_close(struct wire *w, struct side *s)
{
	conn_stop(&s->s_conn, "done");
	close(w->w_fd);
	buf_free(&w->w_in);
}

/* --- handshake and sessions ------------------------------------------ */

Test(conn, handshake_crosses_nonces)
{
	struct side	 a, b;

	connect_pair(&a, CONN_ISSUES, &b, CONN_SERVES);
	cr_assert(conn_ready(&a.s_conn) && conn_ready(&b.s_conn));
	cr_assert_eq(a.s_conn.c_peer_nonce, b.s_conn.c_nonce);
	cr_assert_eq(b.s_conn.c_peer_nonce, a.s_conn.c_nonce);
	cr_assert_neq(a.s_conn.c_nonce, 0);
	cr_assert_neq(a.s_conn.c_nonce, b.s_conn.c_nonce);
	cr_assert_str_neq(a.s_conn.c_peer_name, "");
	stop_pair(&a, &b);
}

Test(conn, handshake_with_a_silent_server)
{
	struct side	 a, b;
	int		 fds[2];

	/* A control socket's server never greets: it answers. */
	side_init(&a, CONN_ISSUES | CONN_GREETS, "cli");
	side_init(&b, CONN_SERVES, "daemon");
	pair(fds);
	conn_start(&a.s_conn, fds[0]);
	conn_start(&b.s_conn, fds[1]);
	cr_assert(evloop_until(loop, &a.s_ready, 1, 2));
	cr_assert(conn_ready(&b.s_conn));
	stop_pair(&a, &b);
}

/* It is told ours in a HELLO_ACK, which it can read, and nothing more. */
Test(conn, another_protocol_version_is_ignored)
{
	struct side		 s;
	struct wire		 w;
	struct proto_msg	 m;
	int			 fds[2];

	memset(&w, 0, sizeof(w));
	side_init(&s, CONN_SERVES, "s");
	pair(fds);
	w.w_fd = fds[1];
	w.w_nonce = 7;
	conn_start(&s.s_conn, fds[0]);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_HELLO;
	m.m.hello.he_version = PROTO_VERSION + 1;
	m.m.hello.he_nonce = 7;
	wire_send(&w, &m, 0);
	cr_assert(wire_recv(&w, &m, 1), "no answer to another version");
	cr_assert_eq(m.m_type, MSG_HELLO_ACK);
	cr_assert_eq(m.m.hello.he_version, PROTO_VERSION);
	cr_assert_eq(m.m.hello.he_echo, 7);
	cr_assert_not(wire_recv(&w, &m, 0.3), "more than one answer");
	cr_assert_not(conn_ready(&s.s_conn));
	wire_close(&w, &s);
}

Test(conn, frames_of_another_session_are_dropped)
{
	struct side	 s;
	struct wire	 w;

	wire_connect(&w, &s, CONN_SERVES);
	s.s_accept = 0;
	wire_query(&w, MSG_PING, 1, w.w_peer + 1);	/* wrong tag */
	wire_query(&w, MSG_PING, 2, 0);
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_requests, 0);
	wire_query(&w, MSG_PING, 3, w.w_peer);
	cr_assert(evloop_until(loop, &s.s_requests, 1, 1));
	wire_close(&w, &s);
}

/*
 * On a stream that began with the session (CONN_EARLY: a control
 * socket), tag 0 is the session's too, so a request can follow the HELLO
 * at once; a wrong non-zero tag is still dropped.
 */
Test(conn, an_early_stream_takes_tag_0_for_its_session)
{
	struct side	 s;
	struct wire	 w;

	wire_connect(&w, &s, CONN_SERVES | CONN_EARLY);
	s.s_accept = 0;
	wire_query(&w, MSG_PING, 1, w.w_peer + 1);	/* wrong tag */
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_requests, 0);
	wire_query(&w, MSG_PING, 2, 0);
	cr_assert(evloop_until(loop, &s.s_requests, 1, 1));
	wire_query(&w, MSG_PING, 3, w.w_peer);
	cr_assert(evloop_until(loop, &s.s_requests, 2, 1));
	wire_close(&w, &s);
}

/* A caller with CONN_EARLY sends its request behind its HELLO, unasked. */
Test(conn, an_early_caller_does_not_wait_for_the_answer)
{
	struct side		 a;
	struct proto_msg	 m;
	struct wire		 w;
	int			 fds[2], hello = 0, ping = 0;

	memset(&w, 0, sizeof(w));
	side_init(&a, CONN_ISSUES | CONN_GREETS | CONN_EARLY, "a");
	pair(fds);
	w.w_fd = fds[1];
	conn_start(&a.s_conn, fds[0]);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	conn_request(&a.s_conn, &a.s_req[0], &m, &req_ops, &a);
	while ((hello == 0 || ping == 0) && wire_recv(&w, &m, 1)) {
		if (m.m_type == MSG_HELLO)
			hello = 1;
		else if (m.m_type == MSG_PING) {
			cr_assert(hello, "PING before HELLO");
			cr_assert_eq(m.m_tag, 0);
			ping = 1;
		}
		proto_msg_free(&m);
	}
	cr_assert(hello && ping, "no HELLO and PING without an answer");
	cr_assert(!conn_ready(&a.s_conn));
	conn_unlink(&a.s_req[0]);
	wire_close(&w, &a);
}

Test(conn, a_stale_reply_never_reaches_a_new_caller)
{
	struct side		 s;
	struct wire		 w;
	struct proto_msg	 m;
	uint32_t		 old;

	wire_connect(&w, &s, CONN_ISSUES);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	conn_request(&s.s_conn, &s.s_req[0], &m, &req_ops, &s);
	cr_assert_eq(s.s_req[0].rq_id, 1);
	old = s.s_conn.c_nonce;
	/* Our side starts over; the request of the old session is lost. */
	conn_reset(&s.s_conn, "test");
	cr_assert_eq(s.s_lost, 1);
	cr_assert_neq(s.s_conn.c_nonce, old);
	wire_hello(&w, MSG_HELLO);
	while (!conn_ready(&s.s_conn))
		cr_assert(wire_recv(&w, &m, 2));
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	conn_request(&s.s_conn, &s.s_req[1], &m, &req_ops, &s);
	/* The old PONG, tagged for the old session, then one for id 1. */
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PONG;
	m.m.ref.re_id = s.s_req[1].rq_id;
	wire_send(&w, &m, old);
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_replies, 0);
	wire_send(&w, &m, s.s_conn.c_nonce);
	cr_assert(evloop_until(loop, &s.s_replies, 1, 1));
	wire_close(&w, &s);
}

Test(conn, a_restarted_peer_ends_the_session_but_not_our_nonce)
{
	struct side	 s;
	struct wire	 w;
	uint32_t	 ours;

	wire_connect(&w, &s, CONN_SERVES);
	wire_query(&w, MSG_PING, 5, w.w_peer);
	cr_assert(evloop_until(loop, &s.s_nreq, 1, 1));
	ours = s.s_conn.c_nonce;
	w.w_nonce++;
	wire_hello(&w, MSG_HELLO);
	cr_assert(evloop_until(loop, &s.s_lost, 1, 1),
	    "served request not dropped");
	cr_assert_eq(s.s_conn.c_nonce, ours);
	cr_assert_eq(s.s_conn.c_peer_nonce, w.w_nonce);
	cr_assert(conn_ready(&s.s_conn));
	wire_close(&w, &s);
}

/* --- requests, credit, cancel ------------------------------------------ */

static void
open_request(struct side *a, struct req *rq)
{
	static char		*argv[] = { "cmd", NULL };
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m.open.op_argc = 1;
	m.m.open.op_argv = argv;
	conn_request(&a->s_conn, rq, &m, &req_ops, a);
}

/* a issues, b serves; a's first request has reached b on return. */
static void
open_on_pair(struct side *a, struct side *b)
{
	connect_pair(a, CONN_ISSUES, b, CONN_SERVES);
	open_request(a, &a->s_req[0]);
	cr_assert(evloop_until(loop, &b->s_nreq, 1, 1), "no OPEN at b");
}

Test(conn, data_beyond_credit_ends_the_request)
{
	static uint8_t	 chunk[PROTO_MAX_DATA];
	struct side	 a, b;
	int		 i;

	open_on_pair(&a, &b);
	/* The server ignores our window: 9 chunks of 32 KiB > 256 KiB. */
	b.s_req[0].rq_can_send[STREAM_STDOUT] = 10 * PROTO_MAX_DATA;
	for (i = 0; i < 9; i++)
		conn_send_data(&b.s_req[0], STREAM_STDOUT, chunk,
		    sizeof(chunk));
	cr_assert(evloop_until(loop, &a.s_lost, 1, 2));
	cr_assert_str_eq(a.s_lost_why, "peer sent data beyond its credit");
	cr_assert_eq(a.s_data[STREAM_STDOUT], PROTO_WINDOW);
	cr_assert_null(a.s_req[0].rq_conn);
	stop_pair(&a, &b);
}

Test(conn, credit_past_the_protocol_limit_ends_the_request)
{
	struct side	 a, b;

	open_on_pair(&a, &b);
	conn_send_credit(&a.s_req[0], STREAM_STDOUT,
	    PROTO_MAX_CREDIT - PROTO_WINDOW);
	evloop_for(loop, 0.1);
	cr_assert_eq(b.s_lost, 0);
	cr_assert_eq(b.s_req[0].rq_can_send[STREAM_STDOUT], PROTO_MAX_CREDIT);
	conn_send_credit(&a.s_req[0], STREAM_STDOUT, 1);
	cr_assert(evloop_until(loop, &b.s_lost, 1, 2));
	cr_assert_str_eq(b.s_lost_why, "peer granted too much credit");
	stop_pair(&a, &b);
}

Test(conn, cancel_then_exit)
{
	struct side	 a, b;

	open_on_pair(&a, &b);
	conn_cancel(&a.s_req[0]);
	cr_assert(evloop_until(loop, &b.s_cancels, 1, 1));
	conn_fail(&b.s_req[0], EXIT_SIGNALED, 15, "Terminated");
	cr_assert(evloop_until(loop, &a.s_replies, 1, 1));
	cr_assert_eq(a.s_reply_type, MSG_EXIT);
	cr_assert_null(a.s_req[0].rq_conn);
	stop_pair(&a, &b);
}

Test(conn, cancel_crossing_the_exit)
{
	struct side	 a, b;

	open_on_pair(&a, &b);
	/* The EXIT is on its way when the caller cancels. */
	conn_fail(&b.s_req[0], EXIT_EXITED, 0, "%s", "");
	conn_cancel(&a.s_req[0]);
	cr_assert(evloop_until(loop, &a.s_replies, 1, 1));
	evloop_for(loop, 0.1);
	cr_assert_eq(b.s_cancels, 0, "CANCEL reached a finished request");
	/* Cancelling what is no longer linked does nothing. */
	conn_cancel(&a.s_req[0]);
	evloop_for(loop, 0.05);
	cr_assert_eq(b.s_cancels, 0);
	stop_pair(&a, &b);
}

/*
 * A reply is written when it is made, not after the loop's next poll: what
 * the server does next (a daemon logs and audits the call) does not delay
 * the caller.
 */
Test(conn, a_reply_is_written_at_once)
{
	struct side	 a, b;
	int		 n = 0;

	open_on_pair(&a, &b);
	evloop_for(loop, 0.05);	/* nothing else in flight */
	cr_assert_eq(ioctl(a.s_conn.c_ch.ch_fd, FIONREAD, &n), 0);
	cr_assert_eq(n, 0, "%d bytes already waiting at the caller", n);
	conn_fail(&b.s_req[0], EXIT_EXITED, 0, "%s", "");
	cr_assert_eq(ioctl(a.s_conn.c_ch.ch_fd, FIONREAD, &n), 0);
	cr_assert_gt(n, 0, "the EXIT waits in the server's queue");
	cr_assert(evloop_until(loop, &a.s_replies, 1, 1));
	cr_assert_eq(a.s_reply_type, MSG_EXIT);
	stop_pair(&a, &b);
}

Test(conn, a_session_reset_loses_every_request_once)
{
	struct side	 a, b;
	int		 i;

	connect_pair(&a, CONN_ISSUES, &b, CONN_SERVES);
	for (i = 0; i < 5; i++)
		open_request(&a, &a.s_req[i]);
	cr_assert(evloop_until(loop, &b.s_nreq, 1, 1));
	evloop_for(loop, 0.05);
	cr_assert_eq(b.s_nreq, 5);
	conn_stop(&a.s_conn, "gone");
	cr_assert_eq(a.s_lost, 5);
	cr_assert_str_eq(a.s_lost_why, "gone");
	cr_assert(evloop_until(loop, &b.s_lost, 1, 2));
	evloop_for(loop, 0.05);
	cr_assert_eq(b.s_lost, 5);
	conn_stop(&b.s_conn, "done");
}

/* --- limits -------------------------------------------------------------- */

Test(conn, requests_in_flight_are_capped)
{
	struct side		 s;
	struct wire		 w;
	struct proto_msg	 m;
	uint32_t		 i;

	wire_connect(&w, &s, CONN_SERVES);
	for (i = 1; i <= CONN_MAX_SERVED + 1; i++)
		wire_query(&w, MSG_PING, i, w.w_peer);
	do
		cr_assert(wire_recv(&w, &m, 2), "no refusal");
	while (m.m_type != MSG_EXIT);
	cr_assert_eq(m.m.exit.ex_id, CONN_MAX_SERVED + 1);
	cr_assert_eq(m.m.exit.ex_kind, EXIT_FAILED);
	cr_assert_eq(s.s_nreq, CONN_MAX_SERVED);
	/* An id already in use is refused too, and the first keeps it. */
	wire_query(&w, MSG_PING, 1, w.w_peer);
	evloop_for(loop, 0.05);
	cr_assert_eq(s.s_nreq, CONN_MAX_SERVED);
	wire_close(&w, &s);
}

/*
 * channel.h, rule 4: a peer that asks and never reads its answers gets no
 * more answers past CHANNEL_MAX_QUEUE, but is still read.
 */
Test(conn, a_peer_that_never_reads_its_answers_is_cut_off)
{
	struct side	 s;
	struct wire	 w;
	int		 before, i;
	uint32_t	 id = 1;

	wire_connect(&w, &s, CONN_SERVES);
	s.s_pong = 1;
	/* PINGs, answered at once; nobody reads the PONGs. */
	while (buf_pending(&s.s_conn.c_ch.ch_out) < CHANNEL_MAX_QUEUE) {
		for (i = 0; i < 1000; i++)
			wire_query(&w, MSG_PING, id++, w.w_peer);
		evloop_for(loop, 0.005);
		cr_assert_lt(id, 1000000, "the queue never filled");
	}
	evloop_for(loop, 0.05);
	before = s.s_requests;
	for (i = 0; i < 100; i++)
		wire_query(&w, MSG_PING, id++, w.w_peer);
	evloop_for(loop, 0.1);
	cr_assert_eq(s.s_requests, before, "requests served past the bound");
	cr_assert_lt(buf_pending(&s.s_conn.c_ch.ch_out),
	    CHANNEL_MAX_QUEUE + 64);
	/* Still read: nothing we sent waits undecoded. */
	cr_assert_eq(buf_pending(&s.s_conn.c_ch.ch_in), 0);
	wire_close(&w, &s);
}

/* Sends an OPEN of id from the wire, with or without stdin. */
static void
wire_open(struct wire *w, uint32_t id, int with_stdin)
{
	struct proto_msg	 m;
	char			*argv[] = { "cmd", NULL };

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m.open.op_id = id;
	m.m.open.op_argc = 1;
	m.m.open.op_argv = argv;
	m.m.open.op_flags = with_stdin ? OPEN_STDIN : 0;
	wire_send(w, &m, w->w_peer);
}

static void
wire_data(struct wire *w, uint32_t id, int stream, size_t n)
{
	struct proto_msg	 m;
	static const uint8_t	 bytes[16];

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m.data.da_id = id;
	m.m.data.da_stream = stream;
	m.m.data.da_bytes = bytes;
	m.m.data.da_len = n;
	wire_send(w, &m, w->w_peer);
}

/*
 * Counts what the conn sent the wire until nothing came for `quiet`
 * seconds: EXITs and CREDITs for id, and the credit those granted.
 */
static void
wire_count(struct wire *w, uint32_t id, double quiet, int *exits,
    int *credits, uint64_t *granted)
{
	struct proto_msg	 m;

	*exits = *credits = 0;
	*granted = 0;
	while (wire_recv(w, &m, quiet)) {
		if (m.m_type == MSG_EXIT && m.m.exit.ex_id == id)
			(*exits)++;
		if (m.m_type == MSG_CREDIT && m.m.credit.cr_id == id) {
			(*credits)++;
			*granted += m.m.credit.cr_bytes;
		}
		proto_msg_free(&m);
	}
}

/*
 * channel.h, rule 4: DATA on a stream that is not open (no stdin asked
 * for, or stdin ended) is a protocol error for that request: one EXIT,
 * no CREDIT, and what follows for it is dropped (issue 18: each frame was
 * answered with a CREDIT, queued without limit).
 */
Test(conn, data_on_a_stream_that_is_not_open_is_answered_once)
{
	struct side	 s;
	struct wire	 w;
	uint64_t	 granted;
	int		 exits, credits, i;

	wire_connect(&w, &s, CONN_SERVES);
	wire_open(&w, 9, 0);
	cr_assert(evloop_until(loop, &s.s_nreq, 1, 1));
	for (i = 0; i < 500; i++)
		wire_data(&w, 9, STREAM_STDIN, 1);
	wire_count(&w, 9, 0.3, &exits, &credits, &granted);
	cr_assert_eq(exits, 1, "%d EXITs for stdin that was not asked for",
	    exits);
	cr_assert_eq(credits, 0);
	cr_assert_eq(s.s_lost, 1);
	cr_assert_eq(s.s_data[STREAM_STDIN], 0, "data delivered");
	cr_assert_null(s.s_req[0].rq_conn);

	/* Stdin asked for: taken until its end, then the same. */
	wire_open(&w, 10, 1);
	cr_assert(evloop_until(loop, &s.s_nreq, 2, 1));
	wire_data(&w, 10, STREAM_STDIN, 5);
	wire_data(&w, 10, STREAM_STDIN, 0);
	for (i = 0; i < 500; i++)
		wire_data(&w, 10, STREAM_STDIN, 1);
	wire_count(&w, 10, 0.3, &exits, &credits, &granted);
	cr_assert_eq(exits, 1, "%d EXITs for stdin after its end", exits);
	cr_assert_eq(s.s_data[STREAM_STDIN], 5);
	cr_assert_eq(s.s_lost, 2);
	wire_close(&w, &s);
}

/* Fills s's send queue past CHANNEL_MAX_QUEUE with PONGs nobody reads. */
static uint32_t
fill_with_pongs(struct wire *w, struct side *s, uint32_t id)
{
	int	 i;

	s->s_pong = 1;
	while (buf_pending(&s->s_conn.c_ch.ch_out) < CHANNEL_MAX_QUEUE) {
		for (i = 0; i < 1000; i++)
			wire_query(w, MSG_PING, id++, w->w_peer);
		evloop_for(loop, 0.005);
		cr_assert_lt(id, 1000000, "the queue never filled");
	}
	evloop_for(loop, 0.05);
	s->s_pong = 0;
	return id;
}

/*
 * Past the bound, the credit we grant is held back and merged: one CREDIT
 * per stream once the peer reads again, however many grants were made;
 * and a HELLO of the running session gets no HELLO_ACK.
 */
Test(conn, credit_is_held_and_merged_while_the_peer_does_not_read)
{
	struct side		 s;
	struct wire		 w;
	struct proto_msg	 m;
	uint64_t		 granted;
	size_t			 queued;
	int			 exits, credits, i;

	wire_connect(&w, &s, CONN_SERVES);
	wire_open(&w, 1, 1);
	cr_assert(evloop_until(loop, &s.s_nreq, 1, 1));
	fill_with_pongs(&w, &s, 2);
	queued = buf_pending(&s.s_conn.c_ch.ch_out);
	for (i = 0; i < 1000; i++)
		conn_send_credit(&s.s_req[0], STREAM_STDIN, 100);
	hello_msg(&m, MSG_HELLO, w.w_nonce);
	wire_send(&w, &m, 0);
	evloop_for(loop, 0.05);
	cr_assert_eq(buf_pending(&s.s_conn.c_ch.ch_out), queued,
	    "%zu bytes queued past the bound",
	    buf_pending(&s.s_conn.c_ch.ch_out) - queued);
	cr_assert_eq(s.s_req[0].rq_can_recv[STREAM_STDIN], PROTO_WINDOW);
	/* The peer reads: the credit goes out, once. */
	wire_count(&w, 1, 0.5, &exits, &credits, &granted);
	cr_assert_eq(credits, 1, "%d CREDIT frames", credits);
	cr_assert_eq(granted, 100000);
	cr_assert_eq(s.s_req[0].rq_can_recv[STREAM_STDIN],
	    PROTO_WINDOW + 100000);
	wire_close(&w, &s);
}

/*
 * Keepalive with a full queue (issue 18): the probe that cannot be queued
 * counts as sent, and the next one waits a third of the timeout, where the
 * timer used to be re-armed at 0 s and the loop spun until the peer spoke.
 */
Test(conn, a_probe_kept_back_by_a_full_queue_waits_its_turn)
{
	struct side	 s;
	struct wire	 w;
	unsigned	 before, turns;
	ev_tstamp	 sent;

	conn_set_peer_timeout(1.2);
	wire_connect(&w, &s, CONN_SERVES | CONN_KEEPALIVE);
	fill_with_pongs(&w, &s, 1);
	sent = s.s_conn.c_hello_sent;
	before = ev_iteration(loop);
	/* Quiet for 0.9 s: the probe is due after 0.4 s, the end at 1.2. */
	evloop_for(loop, 0.9);
	turns = ev_iteration(loop) - before;
	/* 0.9 s of 20 ms ticks is 45 turns; spinning, tens of thousands. */
	cr_assert_lt(turns, 150, "%u loop turns in 0.9 s", turns);
	cr_assert_eq(s.s_conn.c_state, CONN_READY);
	cr_assert_gt(s.s_conn.c_hello_sent, sent, "no probe was due");
	wire_close(&w, &s);
}

/*
 * PINGs first..first+n-1 from the wire in one write: the conn sees them
 * all at once (small writes fill a socket's buffer with their overhead,
 * and wire_send runs the loop when it is full).
 */
static void
wire_pings(struct wire *w, uint32_t first, uint32_t n)
{
	struct proto_msg	 m;
	struct buf		 b = { 0 };
	uint32_t		 i;

	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = MSG_PING;
		m.m_tag = w->w_peer;
		m.m.query.qu_id = first + i;
		proto_pack(&b, &m);
	}
	cr_assert_eq(write(w->w_fd, b.b_data, b.b_len), (ssize_t)b.b_len);
	buf_free(&b);
}

/*
 * channel.h, rule 5: a peer with a budget is served in turns of at most
 * CHANNEL_TURN_FRAMES frames, and over time in its share of the loop
 * (issue 18: a LIST flood was answered 8,000 a turn, at 100 % of a core).
 */
Test(conn, a_peer_is_served_in_turns_and_within_its_share)
{
	struct side	 s;
	struct wire	 w;
	int		 served;

	wire_connect(&w, &s, CONN_SERVES | CONN_BUDGET);
	s.s_pong = 1;
	wire_pings(&w, 1, 1000);
	while (s.s_requests == 0)
		ev_run(loop, EVRUN_ONCE);
	cr_assert_leq(s.s_requests, CHANNEL_TURN_FRAMES,
	    "%d requests in one turn", s.s_requests);
	cr_assert(evloop_until(loop, &s.s_requests, 1000, 5),
	    "only %d of 1000 served in turns", s.s_requests);

	/* Requests of 2 ms each: 25 % of 1 s is 125 of them, not 400. */
	s.s_requests = 0;
	s.s_burn = 0.002;
	wire_pings(&w, 2000, 400);
	evloop_for(loop, 1.0);
	served = s.s_requests;
	/* 125 expected, plus a window's overshoot and the loop's ticks. */
	cr_assert_leq(served, 1.35 * CHANNEL_SHARE / 0.002,
	    "%d requests of 2 ms served in 1 s", served);
	cr_assert_geq(served, 25, "starved: %d served in 1 s", served);
	wire_close(&w, &s);
}

/*
 * What waits for a turn is decoded in later turns even when nothing more
 * arrives, and a peer without a budget gets everything at once.
 */
Test(conn, frames_left_for_the_next_turn_are_not_forgotten)
{
	struct side	 s, t;
	struct wire	 w, v;

	wire_connect(&w, &s, CONN_SERVES | CONN_BUDGET);
	wire_connect(&v, &t, CONN_SERVES);
	s.s_pong = t.s_pong = 1;
	wire_pings(&w, 1, 200);
	wire_pings(&v, 1, 200);
	cr_assert(evloop_until(loop, &s.s_requests, 200, 2),
	    "%d of 200", s.s_requests);
	cr_assert_eq(t.s_requests, 200);
	cr_assert_not(s.s_conn.c_ch.ch_backlog);
	wire_close(&w, &s);
	wire_close(&v, &t);
}

/* --- back-pressure ------------------------------------------------------ */

Test(conn, producers_stop_at_the_mark_and_drain_restarts_them)
{
	static uint8_t	 chunk[PROTO_MAX_DATA];
	struct side	 s;
	struct wire	 w;
	struct proto_msg m;
	char		*argv[] = { "cmd", NULL };
	ssize_t		 n;
	int		 chunks = 0;

	wire_connect(&w, &s, CONN_SERVES);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m.open.op_id = 9;
	m.m.open.op_argc = 1;
	m.m.open.op_argv = argv;
	wire_send(&w, &m, w.w_peer);
	cr_assert(evloop_until(loop, &s.s_nreq, 1, 1));
	/* The peer grants the most; we produce until told to stop. */
	s.s_req[0].rq_can_send[STREAM_STDOUT] = PROTO_MAX_CREDIT;
	while (!conn_congested(&s.s_req[0])) {
		conn_send_data(&s.s_req[0], STREAM_STDOUT, chunk,
		    sizeof(chunk));
		chunks++;
		evloop_for(loop, 0.001);
		cr_assert_lt(chunks, 10000);
	}
	cr_assert_geq(buf_pending(&s.s_conn.c_ch.ch_out), CHANNEL_HIGHWATER);
	cr_assert_lt(buf_pending(&s.s_conn.c_ch.ch_out),
	    CHANNEL_HIGHWATER + PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
	cr_assert_eq(s.s_drains, 0);
	/* The channel is still read while congested. */
	wire_query(&w, MSG_PING, 10, w.w_peer);
	cr_assert(evloop_until(loop, &s.s_nreq, 2, 2),
	    "not read while congested");
	/* The peer reads: the queue drains, the producer hears of it. */
	while (!s.s_drains) {
		n = read(w.w_fd, buf_reserve(&w.w_in, 65536), 65536);
		if (n > 0)
			buf_clear(&w.w_in);
		evloop_for(loop, 0.001);
	}
	cr_assert_not(conn_congested(&s.s_req[0]));
	cr_assert_lt(buf_pending(&s.s_conn.c_ch.ch_out), CHANNEL_LOWWATER);
	wire_close(&w, &s);
}

/* --- keepalive ------------------------------------------------------------ */

Test(conn, a_silent_peer_is_marked_and_comes_back)
{
	struct side	 a, b;
	double		 quiet;

	/*
	 * Both ends share this process: a stall of it (a loaded machine)
	 * silences both for real, so the timeout is well above such stalls.
	 */
	conn_set_peer_timeout(1.0);
	connect_pair(&a, CONN_ISSUES | CONN_KEEPALIVE, &b,
	    CONN_SERVES | CONN_KEEPALIVE);
	/* Idle, the probes keep the session: no one goes silent. */
	evloop_for(loop, 2.5);
	cr_assert(conn_ready(&a.s_conn) && conn_ready(&b.s_conn));
	cr_assert_eq(a.s_ready, 1);
	open_request(&a, &a.s_req[0]);
	cr_assert(evloop_until(loop, &b.s_nreq, 1, 1));
	/* b stops: no reading, no writing. */
	channel_pause(&b.s_conn.c_ch, 1);
	evloop_for(loop, 0.2);
	cr_assert(conn_ready(&a.s_conn));
	cr_assert(evloop_until(loop, &a.s_lost, 1, 3), "not marked");
	cr_assert_eq(a.s_conn.c_state, CONN_SILENT);
	cr_assert(strstr(a.s_lost_why, "not answering") != NULL,
	    "%s", a.s_lost_why);
	quiet = conn_silence(&a.s_conn);
	cr_assert(quiet >= 1.0 && quiet < 2.5, "quiet %.3f", quiet);
	/* b goes on: the session comes back by itself. */
	channel_pause(&b.s_conn.c_ch, 0);
	cr_assert(evloop_until(loop, &a.s_ready, 2, 2));
	cr_assert(evloop_until(loop, &b.s_lost, 1, 1),
	    "b's request of the old session");
	evloop_for(loop, 0.5);
	cr_assert(conn_ready(&a.s_conn) && conn_ready(&b.s_conn));
	cr_assert_eq(a.s_conn.c_peer_nonce, b.s_conn.c_nonce);
	cr_assert_eq(b.s_conn.c_peer_nonce, a.s_conn.c_nonce);
	stop_pair(&a, &b);
}

/*
 * This process stalls (SIGSTOP, an overloaded host) past the timeout while
 * the peer's frame waits in the socket: the peer is not silent.
 */
Test(conn, our_own_stall_is_not_the_peers_silence)
{
	struct side		 a, b;
	struct proto_msg	 m;

	/* Only a judges: b shares the stall, and would judge a for it. */
	conn_set_peer_timeout(1.0);
	connect_pair(&a, CONN_ISSUES | CONN_KEEPALIVE, &b, CONN_SERVES);
	open_request(&a, &a.s_req[0]);
	cr_assert(evloop_until(loop, &b.s_nreq, 1, 1));
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PONG;		/* for no request: only heard */
	m.m_tag = b.s_conn.c_peer_nonce;
	m.m.ref.re_id = 999;
	channel_send(&b.s_conn.c_ch, &m);
	channel_flush(&b.s_conn.c_ch);	/* b writes it; a has not read it */
	cr_assert_eq(buf_pending(&b.s_conn.c_ch.ch_out), 0);
	usleep(1300 * 1000);
	evloop_for(loop, 0.3);
	cr_assert_eq(a.s_lost, 0, "%s", a.s_lost_why);
	cr_assert_eq(a.s_conn.c_state, CONN_READY);
	stop_pair(&a, &b);
}

Test(conn, a_peer_that_never_answers_is_silent)
{
	struct side	 s;
	int		 fds[2];

	conn_set_peer_timeout(0.3);
	side_init(&s, CONN_ISSUES | CONN_GREETS | CONN_KEEPALIVE, "s");
	pair(fds);
	conn_start(&s.s_conn, fds[0]);
	evloop_for(loop, 0.5);
	cr_assert_eq(s.s_conn.c_state, CONN_SILENT);
	cr_assert_lt(conn_silence(&s.s_conn), 0, "heard something");
	/* Unanswered HELLOs do not pile up behind a peer that never reads. */
	evloop_for(loop, 1.5);
	cr_assert_lt(buf_pending(&s.s_conn.c_ch.ch_out), 2048);
	conn_stop(&s.s_conn, "done");
	close(fds[1]);
}

/* --- resynchronisation (channel.c) ----------------------------------------- */

struct catcher {
	struct channel	 k_ch;
	int		 k_msgs;
	uint16_t	 k_last;
	int		 k_cut;
};

static void
catch_msg(struct channel *ch, struct proto_msg *m)
{
	struct catcher	*k = ch->ch_arg;

	k->k_msgs++;
	k->k_last = m->m_type;
}

static void
catch_bad(struct channel *ch, const char *why)
{
	struct catcher	*k = ch->ch_arg;

	if (strstr(why, "cut short") != NULL)
		k->k_cut++;
}

static void
catch_eof(struct channel *ch, int error)
{
	(void)ch;
	(void)error;
}

static const struct channel_ops catch_ops = {
	catch_msg, catch_bad, catch_eof, NULL, NULL,
};

/* A catcher on a channel of its own (no fd: it is fed channel_input). */
static void
catcher_init(struct catcher *k)
{
	memset(k, 0, sizeof(*k));
	channel_init(&k->k_ch, loop, &catch_ops, k);
}

/* Asserts that k caught msgs messages, the last of type last; detaches. */
static void
catcher_end(struct catcher *k, int msgs, uint16_t last)
{
	cr_assert_eq(k->k_msgs, msgs, "%d messages, not %d", k->k_msgs, msgs);
	cr_assert_eq(k->k_last, last, "last %u, not %u", k->k_last, last);
	channel_detach(&k->k_ch);
}

static void
pack_hello(struct buf *b, uint32_t nonce)
{
	struct proto_msg	 m;

	hello_msg(&m, MSG_HELLO, nonce);
	proto_pack(b, &m);
}

/* A DATA frame of n bytes whose content holds a whole HELLO at byte at. */
static void
pack_data_with_hello(struct buf *b, size_t n, size_t at)
{
	struct proto_msg	 m;
	struct buf		 h = { 0 };
	uint8_t			*bytes = calloc(1, n);

	pack_hello(&h, 99);
	memcpy(bytes + at, h.b_data, h.b_len);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m.data.da_id = 1;
	m.m.data.da_stream = STREAM_STDOUT;
	m.m.data.da_bytes = bytes;
	m.m.data.da_len = n;
	proto_pack(b, &m);
	buf_free(&h);
	free(bytes);
}

static void
sleep_loop(double seconds)
{
	usleep((useconds_t)(seconds * 1e6));
	ev_now_update(loop);
}

Test(conn, a_frame_cut_short_is_skipped_at_the_next_writers_hello)
{
	struct catcher	 k;
	struct buf	 cut = { 0 }, hello = { 0 };

	catcher_init(&k);
	pack_data_with_hello(&cut, 30000, 5000);
	pack_hello(&hello, 42);
	/* A writer dies 100 bytes into a frame; the next one says HELLO. */
	channel_input(&k.k_ch, cut.b_data, PROTO_HDR_LEN + 100);
	sleep_loop(CHANNEL_GAP + 0.1);
	channel_input(&k.k_ch, hello.b_data, hello.b_len);
	cr_assert_eq(k.k_msgs, 0, "skipped before the stall");
	sleep_loop(CHANNEL_STALL);
	/* It repeats its HELLO a second later. */
	channel_input(&k.k_ch, hello.b_data, hello.b_len);
	cr_assert_eq(k.k_cut, 1);
	/* Taken from where input resumed last: the HELLO of a moment ago. */
	catcher_end(&k, 1, MSG_HELLO);
	buf_free(&cut);
	buf_free(&hello);
}

Test(conn, a_frame_inside_a_payload_under_way_is_never_taken)
{
	struct catcher	 k;
	struct buf	 data = { 0 };
	size_t		 part;

	catcher_init(&k);
	pack_data_with_hello(&data, 30000, 5000);
	/* Everything up to past the HELLO inside, then a long stall. */
	part = PROTO_HDR_LEN + 8000;
	channel_input(&k.k_ch, data.b_data, part);
	sleep_loop(CHANNEL_STALL + 0.2);
	channel_input(&k.k_ch, data.b_data + part, 100);
	sleep_loop(CHANNEL_GAP + 0.1);
	channel_input(&k.k_ch, data.b_data + part + 100, 100);
	cr_assert_eq(k.k_msgs, 0, "took a frame from inside the payload");
	cr_assert_eq(k.k_cut, 0);
	/* The writer goes on: the frame arrives whole. */
	channel_input(&k.k_ch, data.b_data + part + 200,
	    data.b_len - part - 200);
	catcher_end(&k, 1, MSG_DATA);
	buf_free(&data);
}

/*
 * A frame stuck past CHANNEL_STALL, fed a byte at a time after a gap: each
 * read looks at the frame's header and at most the one offset where input
 * resumed, never again at what was already rejected (issue 9: it used to
 * search the whole buffer on every read).
 */
Test(conn, a_stalled_frame_fed_a_byte_at_a_time_costs_a_header_a_read)
{
	struct catcher	 k;
	struct buf	 data = { 0 };
	uint64_t	 before, work;
	size_t		 i, n = 30000;

	catcher_init(&k);
	pack_data_with_hello(&data, PROTO_MAX_DATA, 20000);
	channel_input(&k.k_ch, data.b_data, PROTO_HDR_LEN);
	sleep_loop(CHANNEL_STALL + 0.1);
	before = proto_bytes_examined();
	for (i = 0; i < n; i++)
		channel_input(&k.k_ch, data.b_data + PROTO_HDR_LEN + i, 1);
	work = proto_bytes_examined() - before;
	cr_assert_leq(work, (uint64_t)n * (PROTO_HDR_LEN + 8),
	    "%llu bytes examined for %zu bytes fed a byte at a time",
	    (unsigned long long)work, n);
	cr_assert_eq(k.k_msgs, 0);
	channel_input(&k.k_ch, data.b_data + PROTO_HDR_LEN + n,
	    data.b_len - PROTO_HDR_LEN - n);
	catcher_end(&k, 1, MSG_DATA);
	buf_free(&data);
}

/*
 * A writer died inside a frame and the next one sent enough to fill the
 * claimed length before the stall: the frame fails its check, and the
 * skip ends where input resumed, so the next writer's HELLO is taken.
 */
Test(conn, a_cut_frame_completed_by_the_next_writer_ends_where_it_resumed)
{
	struct catcher	 k;
	struct buf	 cut = { 0 }, next = { 0 };

	catcher_init(&k);
	pack_data_with_hello(&cut, 3000, 1000);
	pack_hello(&next, 42);
	pack_data_with_hello(&next, 5000, 10);
	channel_input(&k.k_ch, cut.b_data, PROTO_HDR_LEN + 100);
	sleep_loop(CHANNEL_GAP + 0.1);
	channel_input(&k.k_ch, next.b_data, next.b_len);
	catcher_end(&k, 2, MSG_DATA);
	buf_free(&cut);
	buf_free(&next);
}

/* --- DATA from a pipe (channel_send_data_from) ------------------------ */

struct raw_channel {
	struct channel	 rc_ch;
	int		 rc_eof;
};

static void
raw_msg(struct channel *ch, struct proto_msg *m)
{
	(void)ch;
	(void)m;
}

static void
raw_bad(struct channel *ch, const char *why)
{
	(void)ch;
	cr_log_warn("skipped: %s", why);
}

static void
raw_eof(struct channel *ch, int error)
{
	((struct raw_channel *)ch->ch_arg)->rc_eof = error ? error : -1;
}

static const struct channel_ops raw_ops = { raw_msg, raw_bad, raw_eof,
    NULL, NULL };

/*
 * A channel on one end of a socketpair and a pipe holding n bytes of a
 * pattern; fds[1] is the raw other end, pfd[0] the pipe's read end.
 */
static void
data_from_setup(struct raw_channel *rc, int fds[2], int pfd[2], size_t n)
{
	uint8_t	 b[8192];
	size_t	 i;

	memset(rc, 0, sizeof(*rc));
	pair(fds);
	channel_init(&rc->rc_ch, loop, &raw_ops, rc);
	channel_attach(&rc->rc_ch, fds[0]);
	cr_assert_eq(pipe2(pfd, O_NONBLOCK), 0);
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 31 + 7);
	cr_assert_leq(n, sizeof(b));
	cr_assert_eq(write(pfd[1], b, n), (ssize_t)n);
}

/* Reads one DATA frame of n pattern bytes (id 3, stdout) from fd. */
static void
expect_data_frame(int fd, size_t n)
{
	static uint8_t		 in[PROTO_HDR_LEN + PROTO_MAX_PAYLOAD];
	struct proto_msg	 m;
	const char		*why;
	size_t			 got = 0, used, i;
	ssize_t			 k;

	while (got < PROTO_HDR_LEN + PROTO_DATA_HEAD + n + PROTO_DATA_TRAILER) {
		evloop_for(loop, 0.01);
		k = read(fd, in + got, sizeof(in) - got);
		if (k > 0)
			got += (size_t)k;
		else
			cr_assert(k == -1 && errno == EAGAIN, "read: %zd", k);
	}
	cr_assert_eq(proto_parse(in, got, &m, &used, &why), PARSE_OK,
	    "%s", why);
	cr_assert_eq(used, got);
	cr_assert_eq(m.m_type, MSG_DATA);
	cr_assert_eq(m.m_tag, 9);
	cr_assert_eq(m.m.data.da_id, 3);
	cr_assert_eq(m.m.data.da_stream, STREAM_STDOUT);
	cr_assert_eq(m.m.data.da_len, n);
	for (i = 0; i < n; i++)
		cr_assert_eq(m.m.data.da_bytes[i], (uint8_t)(i * 31 + 7));
	proto_msg_free(&m);
}

static void
data_from_teardown(struct raw_channel *rc, int fds[2], int pfd[2])
{
	int	 held = -1;

	cr_assert_eq(ioctl(pfd[0], FIONREAD, &held), 0);
	cr_assert_eq(held, 0, "the pipe still holds %d bytes", held);
	cr_assert_eq(rc->rc_eof, 0);
	channel_detach(&rc->rc_ch);
	close(fds[1]);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * With nothing queued, the bytes go to a socket by splice (which a socket
 * takes: the channel would stop trying after EINVAL): only the trailer
 * waits in the queue.
 */
Test(conn, data_from_a_pipe_is_spliced_when_nothing_waits)
{
	struct raw_channel	 rc;
	int			 fds[2], pfd[2];

	data_from_setup(&rc, fds, pfd, 5000);
	cr_assert(rc.rc_ch.ch_splice);
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 5000), 5000);
	cr_assert(rc.rc_ch.ch_splice, "splice(2) refused");
	cr_assert_eq(buf_pending(&rc.rc_ch.ch_out), PROTO_DATA_TRAILER);
	expect_data_frame(fds[1], 5000);
	cr_assert_eq(buf_pending(&rc.rc_ch.ch_out), 0);
	data_from_teardown(&rc, fds, pfd);
}

/* Behind queued bytes, the frame is read into the queue, whole. */
Test(conn, data_from_a_pipe_is_queued_behind_others)
{
	struct raw_channel	 rc;
	int			 fds[2], pfd[2];

	data_from_setup(&rc, fds, pfd, 7000);
	channel_pause(&rc.rc_ch, 1);
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 7000), 7000);
	cr_assert_eq(buf_pending(&rc.rc_ch.ch_out), PROTO_HDR_LEN +
	    PROTO_DATA_HEAD + 7000 + PROTO_DATA_TRAILER);
	channel_pause(&rc.rc_ch, 0);
	expect_data_frame(fds[1], 7000);
	data_from_teardown(&rc, fds, pfd);
}

/*
 * A pipe that gives nothing sends nothing, spliced or not: -1 and EAGAIN
 * while it is empty, 0 at its end.
 */
Test(conn, data_from_an_empty_pipe_sends_nothing)
{
	struct raw_channel	 rc;
	int			 fds[2], pfd[2];
	uint8_t			 b[64];

	data_from_setup(&rc, fds, pfd, 0);
	errno = 0;
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 100), -1);
	cr_assert_eq(errno, EAGAIN);
	channel_pause(&rc.rc_ch, 1);
	errno = 0;
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 100), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(buf_pending(&rc.rc_ch.ch_out), 0);
	close(pfd[1]);
	pfd[1] = dup(pfd[0]);	/* for data_from_teardown to close */
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 100), 0);
	channel_pause(&rc.rc_ch, 0);
	cr_assert_eq(channel_send_data_from(&rc.rc_ch, 9, 3, STREAM_STDOUT,
	    pfd[0], 100), 0);
	cr_assert_eq(buf_pending(&rc.rc_ch.ch_out), 0);
	evloop_for(loop, 0.05);
	cr_assert_eq(read(fds[1], b, sizeof(b)), -1);
	cr_assert_eq(errno, EAGAIN);
	data_from_teardown(&rc, fds, pfd);
}
