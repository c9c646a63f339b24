/*
 * libFuzzer target for the session layer (common/conn.c over
 * common/channel.c): whatever a peer sends, a conn must neither crash nor
 * hold memory without bound (channel.h's rules).
 *
 * The input is a program, one operation a step, so that mutations reach
 * the session's logic instead of stopping at a checksum: each step builds
 * a message from the input's bytes (tagged with the conn's nonce or not,
 * ids from a small range so they meet real requests), packs it with
 * proto.c and feeds it to the conn through channel_input(); or feeds raw
 * bytes (garbage, cut frames, and framing made to cost: headers that pass
 * their own check around anything, requests to refuse, a candidate header
 * repeated); or acts on our side (answer, cancel or
 * issue a request, reset the session, read what the conn sent, run the
 * loop).  The conn serves and issues requests, greets and keeps alive; its
 * fd is one end of a socketpair whose other end is read only when the
 * input says so, so its send queue fills.
 *
 * Checked after every step: the send queue within the bound of rule 4 plus
 * what our own side queued, the input buffer within one read and one
 * frame, the request tables within their caps.  Everything is freed at
 * the end, for the leak checker.
 */
#include <sys/endian.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "checksum.h"
#include "fuzz.h"

#define MAX_OURS	16		/* requests we issue at once */

struct ours {
	struct req	 o_req;
	int		 o_live;
};

struct served {
	LIST_ENTRY(served) sv_entry;
	struct req	 sv_req;
};

static struct ev_loop		*loop;
static struct conn		 conn;
static int			 other = -1;	/* the peer's end */
static struct ours		 ours[MAX_OURS];
static LIST_HEAD(, served)	 served = LIST_HEAD_INITIALIZER(served);
static int			 nserved;
static size_t			 queued_by_us;	/* our own frames, bytes */

/* The input, read as a stream of small integers. */
struct input {
	const uint8_t	*in_p;
	size_t		 in_left;
};

static uint32_t
take(struct input *in, int bytes)
{
	uint32_t	 v = 0;

	while (bytes-- > 0) {
		v = v << 8;
		if (in->in_left > 0) {
			v |= *in->in_p++;
			in->in_left--;
		}
	}
	return v;
}

/* --- our side of requests ---------------------------------------------- */

static void
served_free(struct served *sv)
{
	conn_unlink(&sv->sv_req);
	LIST_REMOVE(sv, sv_entry);
	nserved--;
	free(sv);
}

/*
 * Data for a request, served or ours: consumed at once, its credit given
 * back, as a job's pipe would take it.
 */
static void
req_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	(void)p;
	if (n > 0) {
		conn_send_credit(rq, stream, (uint32_t)n);
		queued_by_us += PROTO_HDR_LEN + 20;
	}
}

/* Credit for a request, served or ours: we send nothing that needs it. */
static void
req_credit(struct req *rq, int stream, uint32_t n)
{
	(void)rq;
	(void)stream;
	(void)n;
}

static void
sv_cancel(struct req *rq)
{
	struct served	*sv = rq->rq_arg;

	conn_fail(rq, EXIT_SIGNALED, 15, "Terminated");
	served_free(sv);
}

static void
sv_reply(struct req *rq, struct proto_msg *m)
{
	(void)rq;
	(void)m;
	abort();	/* conn.c never routes a reply to a served request */
}

static void
sv_lost(struct req *rq, const char *why)
{
	(void)why;
	served_free(rq->rq_arg);
}

static const struct req_ops served_ops = {
	req_data, req_credit, sv_cancel, sv_reply, sv_lost, NULL, NULL,
};

static void
our_reply(struct req *rq, struct proto_msg *m)
{
	struct ours	*o = rq->rq_arg;

	(void)m;
	CHECK(o->o_live);
	CHECK(rq->rq_conn == NULL);
	o->o_live = 0;
}

static void
our_lost(struct req *rq, const char *why)
{
	struct ours	*o = rq->rq_arg;

	(void)why;
	CHECK(o->o_live);
	o->o_live = 0;
}

static void
our_cancel(struct req *rq)
{
	(void)rq;
	abort();	/* conn.c never cancels an issued request */
}

static const struct req_ops ours_ops = {
	req_data, req_credit, our_cancel, our_reply, our_lost, NULL, NULL,
};

static void
issue(uint16_t type)
{
	static char		*argv[] = { "cmd", "arg", NULL };
	struct proto_msg	 m;
	int			 i;

	if (!conn_ready(&conn))
		return;
	for (i = 0; i < MAX_OURS && ours[i].o_live; i++)
		;
	if (i == MAX_OURS)
		return;
	memset(&m, 0, sizeof(m));
	m.m_type = type;
	if (type == MSG_OPEN) {
		m.m.open.op_argc = 2;
		m.m.open.op_argv = argv;
		m.m.open.op_flags = OPEN_STDIN;
	}
	ours[i].o_live = 1;
	conn_request(&conn, &ours[i].o_req, &m, &ours_ops, &ours[i]);
}

/* --- the conn's callbacks ------------------------------------------------ */

static void
fz_request(struct conn *c, struct proto_msg *m)
{
	struct served	*sv = calloc(1, sizeof(*sv));

	CHECK(sv != NULL);
	LIST_INSERT_HEAD(&served, sv, sv_entry);
	nserved++;
	if (conn_accept(c, &sv->sv_req, m, &served_ops, sv) == -1) {
		LIST_REMOVE(sv, sv_entry);
		nserved--;
		free(sv);
		return;
	}
	if (m->m_type == MSG_PING) {
		struct proto_msg	 r;

		memset(&r, 0, sizeof(r));
		r.m_type = MSG_PONG;
		conn_reply(&sv->sv_req, &r);
		served_free(sv);
	}
}

static void
fz_eof(struct conn *c, int error)
{
	(void)c;
	(void)error;
}

static const struct conn_ops fz_ops = {
	fz_request, NULL, fz_eof,
};

/* --- one step of the program --------------------------------------------- */

static void
feed(struct proto_msg *m, int valid_tag, uint32_t tag)
{
	struct buf	 b = { 0 };

	m->m_tag = valid_tag ? conn.c_nonce : tag;
	proto_pack(&b, m);
	channel_input(&conn.c_ch, b.b_data, b.b_len);
	buf_free(&b);
}

/*
 * Framing made to cost (proto.h): headers that pass their own check
 * around raw bytes (any type and length, flags, a request that cannot be
 * decoded but has an id to answer), or the 8 bytes of a candidate header
 * repeated.  raw holds n >= PROTO_HDR_LEN + 2 bytes from the input.
 */
static void
adversarial(uint32_t flags, uint8_t *raw, uint32_t n, uint32_t id)
{
	static const uint8_t	 fake[8] = { 'N', 'E', 'G', 'O', 0, 1, 0, 0 };
	static const uint16_t	 requests[] = { MSG_OPEN, MSG_PING, MSG_LIST,
				    MSG_GUESTS };
	uint8_t			*p = raw;
	uint32_t		 plen = n - PROTO_HDR_LEN, k;

	switch (flags & 3) {
	case 1:
		for (k = 0; k < n * 8; k++)
			channel_input(&conn.c_ch, fake, sizeof(fake));
		return;
	case 2:
		/* The header's own fields come from the input. */
		p[0] = 'N'; p[1] = 'E'; p[2] = 'G'; p[3] = 'O';
		if (flags & 0x10)
			p[6] = p[7] = 0;
		if (flags & 0x20)	/* the largest length it may claim */
			plen = PROTO_MAX_PAYLOAD;
		break;
	case 3:
		/* A request whose payload is the input's: mostly refused. */
		p[0] = 'N'; p[1] = 'E'; p[2] = 'G'; p[3] = 'O';
		p[4] = 0;
		p[5] = (uint8_t)requests[(flags >> 4) % 4];
		p[6] = p[7] = 0;
		p[PROTO_HDR_LEN] = 0x95;	/* array of 5, then the id */
		p[PROTO_HDR_LEN + 1] = (uint8_t)id;
		if (flags & 0x40)
			plen = PROTO_MAX_PAYLOAD + 1 + raw[8];
		break;
	}
	be32enc(p + 8, conn.c_nonce);
	be32enc(p + 12, plen);
	be32enc(p + 16, checksum_frame(p, p + PROTO_HDR_LEN,
	    n - PROTO_HDR_LEN));
	be32enc(p + PROTO_HDR_CHECKED, checksum_header(p));
	channel_input(&conn.c_ch, raw, n);
}

static void
step(struct input *in)
{
	static uint8_t		 bytes[PROTO_MAX_DATA];
	static char		 s1[] = "cmd", s2[] = "arg";
	char			*argv[] = { s1, s2, NULL };
	struct proto_msg	 m;
	struct served		*sv;
	uint8_t			 raw[256];
	uint32_t		 op = take(in, 1), flags = take(in, 1), n;
	uint32_t		 id = take(in, 1) % 24;
	int			 valid = !(flags & 0x80);

	memset(&m, 0, sizeof(m));
	switch (op % 16) {
	case 0:
	case 1:
		m.m_type = op % 16 == 0 ? MSG_HELLO : MSG_HELLO_ACK;
		m.m.hello.he_version = flags & 0x40 ? take(in, 1) :
		    PROTO_VERSION;
		/* A few peers: new nonces restart the session. */
		m.m.hello.he_nonce = 1 + (flags & 3);
		m.m.hello.he_echo = valid ? conn.c_nonce : take(in, 4);
		strlcpy(m.m.hello.he_name, "fuzz", sizeof(m.m.hello.he_name));
		feed(&m, 1, 0);
		break;
	case 2:
	case 3:
		m.m_type = op % 16 == 2 ? MSG_PING : MSG_LIST;
		m.m.query.qu_id = id;
		feed(&m, valid, take(in, 4));
		break;
	case 4:
		m.m_type = MSG_OPEN;
		m.m.open.op_id = id;
		m.m.open.op_flags = flags & OPEN_STDIN;
		m.m.open.op_timeout_ms = take(in, 2);
		m.m.open.op_argc = 1 + (flags & 1);
		m.m.open.op_argv = argv;
		feed(&m, valid, take(in, 4));
		break;
	case 5:
		m.m_type = MSG_DATA;
		m.m.data.da_id = id;
		m.m.data.da_stream = (flags >> 2) % STREAM_COUNT;
		m.m.data.da_len = take(in, 2) % (PROTO_MAX_DATA + 1);
		m.m.data.da_bytes = bytes;
		feed(&m, valid, take(in, 4));
		break;
	case 6:
		m.m_type = MSG_CREDIT;
		m.m.credit.cr_id = id;
		m.m.credit.cr_stream = (flags >> 2) % STREAM_COUNT;
		m.m.credit.cr_bytes = take(in, 4) % (PROTO_MAX_CREDIT + 1);
		feed(&m, valid, take(in, 4));
		break;
	case 7:
	case 8:
		m.m_type = op % 16 == 7 ? MSG_CANCEL : MSG_PONG;
		m.m.ref.re_id = id;
		feed(&m, valid, take(in, 4));
		break;
	case 9:
		m.m_type = MSG_EXIT;
		m.m.exit.ex_id = id;
		m.m.exit.ex_kind = flags % EXIT_KIND_COUNT;
		m.m.exit.ex_code = (int32_t)take(in, 1);
		feed(&m, valid, take(in, 4));
		break;
	case 10:
		/* Raw bytes: garbage, or the start of a frame cut short. */
		n = take(in, 1);
		for (op = 0; op < n; op++)
			raw[op] = (uint8_t)take(in, 1);
		if ((flags & 3) == 0 || n < PROTO_HDR_LEN + 2) {
			channel_input(&conn.c_ch, raw, n);
			break;
		}
		adversarial(flags, raw, n, id);
		break;
	case 11:
		/* We answer, or fail, one of the requests we serve. */
		if ((sv = LIST_FIRST(&served)) != NULL) {
			conn_fail(&sv->sv_req, flags % EXIT_KIND_COUNT, 0,
			    "done");
			served_free(sv);
			queued_by_us += PROTO_HDR_LEN + 300;
		}
		break;
	case 12:
		/* We cancel one of ours, or send it some stdin. */
		if (ours[id % MAX_OURS].o_live) {
			struct req	*rq = &ours[id % MAX_OURS].o_req;

			if (flags & 1)
				conn_cancel(rq);
			else if (rq->rq_type == MSG_OPEN &&
			    rq->rq_can_send[STREAM_STDIN] > 0 &&
			    !conn_congested(rq)) {
				n = rq->rq_can_send[STREAM_STDIN];
				if (n > 1000)
					n = 1000;
				conn_send_data(rq, STREAM_STDIN, bytes, n);
				queued_by_us += PROTO_HDR_LEN + 16 + n;
			}
		}
		break;
	case 13:
		issue(flags & 1 ? MSG_OPEN : MSG_PING);
		queued_by_us += PROTO_HDR_LEN + 64;
		break;
	case 14:
		/* The peer reads what we sent, or we start over. */
		if (flags & 1)
			while (read(other, raw, sizeof(raw)) > 0)
				;
		else if (flags & 2)
			conn_reset(&conn, "fuzz");
		break;
	case 15:
		ev_run(loop, EVRUN_NOWAIT);
		break;
	}
}

static void
check_bounds(void)
{
	struct ours	*o;
	int		 issued = 0, i;

	/* Rule 4: answers stop at the bound; the rest is our own doing. */
	CHECK(buf_pending(&conn.c_ch.ch_out) <= CHANNEL_MAX_QUEUE +
	    (PROTO_HDR_LEN + PROTO_MAX_PAYLOAD) + queued_by_us +
	    (CONN_MAX_SERVED + MAX_OURS) * (PROTO_HDR_LEN + 32));
	/* Rule 1: input is decoded as it comes; at most one frame waits. */
	CHECK(buf_pending(&conn.c_ch.ch_in) <= PROTO_HDR_LEN +
	    PROTO_MAX_PAYLOAD);
	CHECK(nserved <= CONN_MAX_SERVED);
	for (i = 0; i < MAX_OURS; i++) {
		o = &ours[i];
		if (o->o_live)
			issued++;
		/* Credit we grant never passes the protocol's limit. */
		CHECK(!o->o_live || o->o_req.rq_conn == NULL ||
		    o->o_req.rq_can_recv[STREAM_STDOUT] <= PROTO_MAX_CREDIT);
	}
	CHECK(issued <= MAX_OURS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct input	 in = { data, len };
	struct served	*sv;
	int		 fds[2], i;

	if (loop == NULL) {
		loop = ev_loop_new(EVFLAG_AUTO);
		CHECK(loop != NULL);
	}
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, fds) == 0);
	other = fds[1];
	memset(ours, 0, sizeof(ours));
	queued_by_us = 0;
	conn_init(&conn, loop, CONN_SERVES | CONN_ISSUES | CONN_GREETS |
	    CONN_KEEPALIVE, "fuzz", &fz_ops, NULL);
	conn_start(&conn, fds[0]);
	/* A handshake first, so that most programs reach the requests. */
	{
		struct proto_msg	 m;

		memset(&m, 0, sizeof(m));
		m.m_type = MSG_HELLO;
		m.m.hello.he_version = PROTO_VERSION;
		m.m.hello.he_nonce = 1;
		feed(&m, 1, 0);
	}
	issue(MSG_OPEN);
	issue(MSG_PING);
	while (in.in_left > 0) {
		step(&in);
		check_bounds();
	}
	conn_stop(&conn, "end of input");
	for (i = 0; i < MAX_OURS; i++)
		CHECK(!ours[i].o_live);
	CHECK(LIST_EMPTY(&served));
	while ((sv = LIST_FIRST(&served)) != NULL)
		served_free(sv);
	close(other);
	return 0;
}
