/*
 * The session on a channel: HELLO/HELLO_ACK with fresh nonces, tags that
 * keep frames of an earlier session out, the tables of served and issued
 * requests, credit accounting, and the keepalive that tells a live peer
 * from a silent one.  Every message from the peer is checked here before it
 * reaches a request's owner; a message that breaks the rules costs that
 * message (or that request), never the session.
 *
 * One timer per conn (c_timer) does all the waiting: repeating an
 * unanswered HELLO, probing a quiet peer, and marking a silent one.  It is
 * armed for the next of those deadlines from the times they depend on
 * (conn_timer_arm); a frame from the peer only notes the time.
 */
#include <sys/random.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"

static void	conn_msg(struct channel *, struct proto_msg *);
static void	conn_bad(struct channel *, const char *);
static void	conn_eof(struct channel *, int);
static void	conn_drain(struct channel *);
static void	conn_refused(struct channel *, const struct proto_msg *,
		    const char *);
static void	conn_timer_cb(struct ev_loop *, ev_timer *, int);

static const struct channel_ops conn_channel_ops = {
	conn_msg, conn_bad, conn_eof, conn_drain, conn_refused,
};

static double	 conn_peer_timeout = CONN_PEER_TIMEOUT;

void
conn_set_peer_timeout(double seconds)
{
	conn_peer_timeout = seconds;
}

void
conn_init(struct conn *c, struct ev_loop *loop, int flags, const char *label,
    const struct conn_ops *ops, void *arg)
{
	memset(c, 0, sizeof(*c));
	channel_init(&c->c_ch, loop, &conn_channel_ops, c);
	c->c_flags = flags;
	c->c_ops = ops;
	c->c_arg = arg;
	c->c_next_id = 1;
	c->c_peer_timeout = conn_peer_timeout;
	c->c_max_queue = CHANNEL_MAX_QUEUE;
	strlcpy(c->c_label, label, sizeof(c->c_label));
	LIST_INIT(&c->c_served);
	LIST_INIT(&c->c_issued);
	ev_init(&c->c_timer, conn_timer_cb);
	c->c_timer.data = c;
	if (flags & CONN_BUDGET)
		channel_set_budget(&c->c_ch, &c->c_budget);
}

int
conn_ready(const struct conn *c)
{
	return c->c_state == CONN_READY;
}

double
conn_silence(const struct conn *c)
{
	if (c->c_heard == 0)
		return -1;
	return ev_now(c->c_ch.ch_loop) - c->c_heard;
}

/*
 * A session's nonce: any value but 0 that an earlier session of this
 * channel is unlikely to have had.  The peer is told it, so it need not be
 * secret: getrandom(2), and arc4random(3) only where that fails (no entropy
 * yet so early in a boot, or an old kernel).  Not arc4random first: in a
 * CLI, its one call seeded a ChaCha20 state (two mmaps and their faults,
 * and 20,500 instructions: a fifth of a whole `negotiator-guest -e` call's,
 * by callgrind).
 */
static uint32_t
conn_new_nonce(void)
{
	uint32_t	 n = 0;

	while (n == 0)
		if (getrandom(&n, sizeof(n), GRND_NONBLOCK) !=
		    (ssize_t)sizeof(n))
			n = arc4random();
	return n;
}

/* 1 while the peer gets nothing new from us (channel.h, rule 4). */
static int
conn_full(const struct conn *c)
{
	return buf_pending(&c->c_ch.ch_out) >= c->c_max_queue;
}

/*
 * A HELLO counts as said even when a full queue keeps it back: the timer
 * tries again on its own schedule (conn_timer_arm), never at once.
 */
static void
conn_send_hello(struct conn *c, uint16_t type)
{
	struct proto_msg	 m;

	if (type == MSG_HELLO)
		c->c_hello_sent = ev_now(c->c_ch.ch_loop);
	/* Answers, too, wait for a peer that reads them (channel.h, rule 4). */
	if (conn_full(c))
		return;
	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m.hello.he_version = PROTO_VERSION;
	m.m.hello.he_nonce = c->c_nonce;
	m.m.hello.he_echo = c->c_peer_nonce;
	if (gethostname(m.m.hello.he_name, PROTO_MAX_NAME) == -1)
		m.m.hello.he_name[0] = '\0';
	m.m.hello.he_name[PROTO_MAX_NAME] = '\0';
	channel_send(&c->c_ch, &m);
}

/* Arms c_timer for the next thing to do, or stops it if there is none. */
static void
conn_timer_arm(struct conn *c)
{
	struct ev_loop	*loop = c->c_ch.ch_loop;
	ev_tstamp	 due = 0, t, grid, now = ev_now(loop);
	int		 alive = c->c_flags & CONN_KEEPALIVE;

	ev_timer_stop(loop, &c->c_timer);
	if (c->c_ch.ch_fd == -1 || c->c_ch.ch_paused)
		return;
	switch (c->c_state) {
	case CONN_DOWN:
		return;
	case CONN_READY:
		if (!alive)
			return;
		t = c->c_quiet_since > c->c_hello_sent ? c->c_quiet_since :
		    c->c_hello_sent;
		due = t + c->c_peer_timeout / 3;
		break;
	case CONN_HELLO:
	case CONN_SILENT:
		due = c->c_hello_sent + CONN_HELLO_INTERVAL;
		break;
	}
	if (alive && c->c_state != CONN_SILENT &&
	    c->c_quiet_since + c->c_peer_timeout < due)
		due = c->c_quiet_since + c->c_peer_timeout;
	/* Up to the next point of the grid (CONN_TIMER_GRID). */
	grid = c->c_peer_timeout / 10 < CONN_TIMER_GRID ?
	    c->c_peer_timeout / 10 : CONN_TIMER_GRID;
	due = ((int64_t)(due / grid) + 1) * grid;
	ev_timer_set(&c->c_timer, due > now ? due - now : 0., 0.);
	ev_timer_start(loop, &c->c_timer);
}

/* Nothing heard from the peer for c_peer_timeout: see CONN_KEEPALIVE. */
static void
conn_silent(struct conn *c)
{
	char	 why[256];

	snprintf(why, sizeof(why), "%s is not answering (nothing heard for "
	    "%.0f s)", c->c_label, c->c_peer_timeout);
	log_info("%s: not answering for %.1f s; its calls fail until it "
	    "speaks again", c->c_label,
	    ev_now(c->c_ch.ch_loop) - c->c_quiet_since);
	conn_reset(c, why);
	c->c_state = CONN_SILENT;
	conn_send_hello(c, MSG_HELLO);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn	*c = w->data;
	ev_tstamp	 now = ev_now(loop);
	int		 alive = c->c_flags & CONN_KEEPALIVE;

	(void)revents;
	if (c->c_ch.ch_fd == -1 || c->c_ch.ch_paused)
		return;
	if (alive && (c->c_state == CONN_HELLO || c->c_state == CONN_READY) &&
	    now - c->c_quiet_since >= c->c_peer_timeout) {
		/*
		 * libev runs the callbacks of one iteration last queued first,
		 * so after a stall of our own (SIGSTOP, an overloaded host)
		 * this timer runs before the read of what the peer sent
		 * meanwhile.  Judge once that read has been done, and once
		 * the frames read that wait for their turn (channel.h, rule
		 * 5) have been decoded: a window later, at the most.
		 */
		if (ev_is_pending(&c->c_ch.ch_read) || c->c_ch.ch_backlog) {
			ev_timer_set(&c->c_timer, c->c_ch.ch_backlog ?
			    CHANNEL_SHARE_WINDOW : 0., 0.);
			ev_timer_start(loop, &c->c_timer);
			return;
		}
		conn_silent(c);
	} else if (c->c_state == CONN_READY) {
		if (now - c->c_quiet_since >= c->c_peer_timeout / 3 &&
		    now - c->c_hello_sent >= c->c_peer_timeout / 3) {
			log_debug("%s: quiet for %.1f s, HELLO", c->c_label,
			    now - c->c_quiet_since);
			conn_send_hello(c, MSG_HELLO);
		}
	} else if (now - c->c_hello_sent >= CONN_HELLO_INTERVAL) {
		log_debug("%s: no answer yet, HELLO again", c->c_label);
		conn_greet(c);
		return;
	}
	conn_timer_arm(c);
}

void
conn_greet(struct conn *c)
{
	if (c->c_ch.ch_fd == -1)
		return;
	if (c->c_state == CONN_DOWN) {
		c->c_state = CONN_HELLO;
		/* The peer has the whole timeout to answer. */
		c->c_quiet_since = ev_now(c->c_ch.ch_loop);
	}
	/* Don't pile HELLOs up behind an end that isn't reading. */
	if (buf_pending(&c->c_ch.ch_out) < PROTO_HDR_LEN * 64)
		conn_send_hello(c, MSG_HELLO);
	else
		c->c_hello_sent = ev_now(c->c_ch.ch_loop);
	conn_timer_arm(c);
}

void
conn_start(struct conn *c, int fd)
{
	conn_reset(c, "new connection");
	channel_attach(&c->c_ch, fd);
	c->c_heard = 0;
	c->c_quiet_since = ev_now(c->c_ch.ch_loop);
	if (c->c_flags & CONN_GREETS)
		conn_greet(c);
}

static void
conn_drop_all(struct req_list *list, const char *why)
{
	struct req	*rq;

	while ((rq = LIST_FIRST(list)) != NULL) {
		conn_unlink(rq);
		rq->rq_ops->on_lost(rq, why);
	}
}

/* Ends the session; a new nonce unless the peer ended it (conn_hello). */
static void
conn_end(struct conn *c, const char *why, int renew)
{
	if (c->c_state == CONN_READY)
		log_debug("%s: session ended: %s", c->c_label, why);
	c->c_state = CONN_DOWN;
	if (renew || c->c_nonce == 0)
		c->c_nonce = conn_new_nonce();
	c->c_peer_nonce = 0;
	ev_timer_stop(c->c_ch.ch_loop, &c->c_timer);
	/*
	 * The send queue stays: cutting it could cut a frame half-written,
	 * and what it holds of the old session the peer drops by its tag.
	 */
	conn_drop_all(&c->c_served, why);
	conn_drop_all(&c->c_issued, why);
}

void
conn_reset(struct conn *c, const char *why)
{
	conn_end(c, why, 1);
}

void
conn_stop(struct conn *c, const char *why)
{
	conn_reset(c, why);
	channel_detach(&c->c_ch);
}

/* --- handshake ------------------------------------------------------ */

static void
conn_hello(struct conn *c, const struct proto_hello *he, uint16_t type)
{
	char		 vis[LOG_VIS_SIZE(PROTO_MAX_NAME)];
	uint32_t	 nonce;

	if (he->he_version != PROTO_VERSION) {
		log_limited(c->c_label, "%s: peer speaks protocol version %u, "
		    "we speak %u; ignored", c->c_label, he->he_version,
		    PROTO_VERSION);
		c->c_peer_version = he->he_version;
		/*
		 * Our version, in the ACK a peer of any version reads: it says
		 * the same on its side instead of waiting in silence.
		 */
		if (type == MSG_HELLO) {
			nonce = c->c_peer_nonce;
			c->c_peer_nonce = he->he_nonce;
			conn_send_hello(c, MSG_HELLO_ACK);
			c->c_peer_nonce = nonce;
		}
		return;
	}
	c->c_peer_version = 0;
	if (type == MSG_HELLO_ACK && he->he_echo != c->c_nonce)
		return;		/* answers a HELLO of an earlier session */
	if (c->c_state == CONN_READY && he->he_nonce == c->c_peer_nonce) {
		if (type == MSG_HELLO)
			conn_send_hello(c, MSG_HELLO_ACK);
		return;
	}
	if (c->c_state == CONN_READY) {
		/*
		 * The peer started over: nothing of ours survives that, but
		 * our nonce does.  The peer has just learnt it (a HELLO_ACK
		 * echoes it) or is told it now (our ACK); a new one it would
		 * not know, and would take for our restart in turn.
		 */
		conn_end(c, "peer restarted", 0);
	}
	c->c_peer_nonce = he->he_nonce;
	strlcpy(c->c_peer_name, he->he_name, sizeof(c->c_peer_name));
	if (type == MSG_HELLO)
		conn_send_hello(c, MSG_HELLO_ACK);
	c->c_state = CONN_READY;
	conn_timer_arm(c);
	/* The peer's name is the peer's word: made visible, rate-limited. */
	log_limited_at(LOG_LEVEL_DEBUG, c->c_label, "%s: session ready (peer "
	    "%s)", c->c_label, log_vis(vis, sizeof(vis), c->c_peer_name));
	if (c->c_ops->on_ready != NULL)
		c->c_ops->on_ready(c);
}

/* --- requests ------------------------------------------------------- */

static void
req_link(struct conn *c, struct req *rq, struct req_list *list, uint32_t id,
    uint16_t type, const struct req_ops *ops, void *arg)
{
	int	 s;

	rq->rq_conn = c;
	rq->rq_id = id;
	rq->rq_type = type;
	rq->rq_ops = ops;
	rq->rq_arg = arg;
	rq->rq_open = 0;
	for (s = 0; s < STREAM_COUNT; s++) {
		rq->rq_can_send[s] = rq->rq_can_recv[s] = PROTO_WINDOW;
		rq->rq_credit_held[s] = 0;
	}
	LIST_INSERT_HEAD(list, rq, rq_entry);
}

void
conn_unlink(struct req *rq)
{
	if (rq->rq_conn == NULL)
		return;
	LIST_REMOVE(rq, rq_entry);
	rq->rq_conn = NULL;
}

static struct req *
req_find(struct req_list *list, uint32_t id)
{
	struct req	*rq;

	LIST_FOREACH(rq, list, rq_entry)
		if (rq->rq_id == id)
			return rq;
	return NULL;
}

static void
conn_send(struct conn *c, struct proto_msg *m)
{
	m->m_tag = c->c_peer_nonce;
	channel_send(&c->c_ch, m);
}

void
conn_request(struct conn *c, struct req *rq, struct proto_msg *m,
    const struct req_ops *ops, void *arg)
{
	uint32_t	 id = c->c_next_id++;

	if (c->c_next_id == 0)
		c->c_next_id = 1;
	proto_msg_set_id(m, id);
	req_link(c, rq, &c->c_issued, id, m->m_type, ops, arg);
	if (m->m_type == MSG_OPEN)
		rq->rq_open = 1 << STREAM_STDOUT | 1 << STREAM_STDERR;
	conn_send(c, m);
}

int
conn_accept(struct conn *c, struct req *rq, const struct proto_msg *m,
    const struct req_ops *ops, void *arg)
{
	uint32_t		 id = proto_msg_id(m);
	struct proto_msg	 busy;
	struct req		*r;
	int			 n = 0;

	LIST_FOREACH(r, &c->c_served, rq_entry) {
		if (r->rq_id == id) {
			log_limited(c->c_label, "%s: request id %u already "
			    "in use", c->c_label, id);
			return -1;
		}
		n++;
	}
	if (n >= CONN_MAX_SERVED) {
		log_limited(c->c_label, "%s: %d requests in flight; refused",
		    c->c_label, n);
		memset(&busy, 0, sizeof(busy));
		busy.m_type = MSG_EXIT;
		busy.m.exit.ex_id = id;
		busy.m.exit.ex_kind = EXIT_FAILED;
		strlcpy(busy.m.exit.ex_message, "too many requests in flight",
		    sizeof(busy.m.exit.ex_message));
		conn_send(c, &busy);
		return -1;
	}
	req_link(c, rq, &c->c_served, id, m->m_type, ops, arg);
	if (m->m_type == MSG_OPEN && (m->m.open.op_flags & OPEN_STDIN))
		rq->rq_open = 1 << STREAM_STDIN;
	return 0;
}

void
conn_send_data(struct req *rq, int stream, const void *p, size_t n)
{
	struct proto_msg	 m;

	if (rq->rq_conn == NULL)
		return;
	if (n > rq->rq_can_send[stream] || n > PROTO_MAX_DATA)
		fatalx("%s: %zu bytes beyond credit", __func__, n);
	rq->rq_can_send[stream] -= n;
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m.data.da_id = rq->rq_id;
	m.m.data.da_stream = stream;
	m.m.data.da_bytes = p;
	m.m.data.da_len = n;
	conn_send(rq->rq_conn, &m);
}

ssize_t
conn_send_data_from(struct req *rq, int stream, int pipe, size_t max)
{
	ssize_t	 n;

	if (rq->rq_conn == NULL) {
		errno = EPIPE;
		return -1;
	}
	if (max == 0 || max > rq->rq_can_send[stream] || max > PROTO_MAX_DATA)
		fatalx("%s: %zu bytes beyond credit", __func__, max);
	n = channel_send_data_from(&rq->rq_conn->c_ch,
	    rq->rq_conn->c_peer_nonce, rq->rq_id, (uint32_t)stream, pipe, max);
	if (n > 0)
		rq->rq_can_send[stream] -= (uint32_t)n;
	return n;
}

/*
 * Sends the credit held for the stream as one CREDIT, unless the peer is
 * past its bound (channel.h, rule 4): then it waits for conn_drain, and
 * what is granted meanwhile is added to it.
 */
static void
conn_credit_flush(struct req *rq, int stream)
{
	struct proto_msg	 m;
	uint32_t		 n = rq->rq_credit_held[stream];

	if (rq->rq_conn == NULL || n == 0 || conn_full(rq->rq_conn))
		return;
	rq->rq_credit_held[stream] = 0;
	rq->rq_can_recv[stream] += n;
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_CREDIT;
	m.m.credit.cr_id = rq->rq_id;
	m.m.credit.cr_stream = stream;
	m.m.credit.cr_bytes = n;
	conn_send(rq->rq_conn, &m);
}

void
conn_send_credit(struct req *rq, int stream, uint32_t n)
{
	if (rq->rq_conn == NULL || n == 0)
		return;
	rq->rq_credit_held[stream] += n;
	conn_credit_flush(rq, stream);
}

void
conn_cancel(struct req *rq)
{
	struct proto_msg	 m;

	if (rq->rq_conn == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_CANCEL;
	m.m.ref.re_id = rq->rq_id;
	conn_send(rq->rq_conn, &m);
}

void
conn_send_tty(struct req *rq, const struct proto_tty *ty)
{
	struct proto_msg	 m;

	if (rq->rq_conn == NULL)
		return;
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_TTY;
	m.m.tty = *ty;
	m.m.tty.ty_id = rq->rq_id;
	conn_send(rq->rq_conn, &m);
}

void
conn_reply(struct req *rq, struct proto_msg *m)
{
	if (rq->rq_conn == NULL)
		return;
	switch (m->m_type) {
	case MSG_PONG:
	case MSG_EXIT:
	case MSG_LIST_REPLY:
	case MSG_GUESTS_REPLY:
		proto_msg_set_id(m, rq->rq_id);
		break;
	default:
		fatalx("%s: %s is not a reply", __func__,
		    proto_type_name(m->m_type));
	}
	conn_send(rq->rq_conn, m);
	/* The caller waits for this: it goes before our bookkeeping. */
	channel_flush(&rq->rq_conn->c_ch);
	conn_unlink(rq);
}

void
conn_fail(struct req *rq, enum proto_exit_kind kind, int code,
    const char *fmt, ...)
{
	struct proto_msg	 m;
	va_list			 ap;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_EXIT;
	m.m.exit.ex_kind = kind;
	m.m.exit.ex_code = code;
	va_start(ap, fmt);
	vsnprintf(m.m.exit.ex_message, sizeof(m.m.exit.ex_message), fmt, ap);
	va_end(ap);
	conn_reply(rq, &m);
}

/* --- dispatch of the peer's messages -------------------------------- */

/*
 * The peer broke the rules of a request (data beyond its credit or on a
 * stream that is not open, credit beyond the limit): that request ends,
 * and the peer is told once, with the EXIT of a served request or the
 * CANCEL of an issued one.  Its later frames for it find no request and
 * are dropped.
 */
static void
conn_violation(struct conn *c, struct req *rq, const char *what)
{
	struct proto_msg	 m;

	log_limited(c->c_label, "%s: request %u: %s", c->c_label, rq->rq_id,
	    what);
	memset(&m, 0, sizeof(m));
	if (req_find(&c->c_served, rq->rq_id) == rq) {
		m.m_type = MSG_EXIT;
		m.m.exit.ex_id = rq->rq_id;
		m.m.exit.ex_kind = EXIT_FAILED;
		snprintf(m.m.exit.ex_message, sizeof(m.m.exit.ex_message),
		    "protocol error: %s", what);
	} else {
		m.m_type = MSG_CANCEL;
		m.m.ref.re_id = rq->rq_id;
	}
	conn_send(c, &m);
	conn_unlink(rq);
	rq->rq_ops->on_lost(rq, what);
}

static void
conn_data(struct conn *c, const struct proto_data *da)
{
	/* The requester sends stdin; the server sends stdout and stderr. */
	struct req	*rq = req_find(da->da_stream == STREAM_STDIN ?
			    &c->c_served : &c->c_issued, da->da_id);

	if (rq == NULL || rq->rq_type != MSG_OPEN) {
		log_limited_at(LOG_LEVEL_DEBUG, c->c_label, "%s: DATA for "
		    "unknown request %u", c->c_label, da->da_id);
		return;
	}
	if (!(rq->rq_open & 1U << da->da_stream)) {
		conn_violation(c, rq, da->da_stream == STREAM_STDIN ?
		    "stdin data, but no stdin was asked for or it had ended" :
		    "output data after the end of its stream");
		return;
	}
	if (da->da_len > rq->rq_can_recv[da->da_stream]) {
		conn_violation(c, rq, "peer sent data beyond its credit");
		return;
	}
	if (da->da_len == 0)
		rq->rq_open &= ~(1U << da->da_stream);
	rq->rq_can_recv[da->da_stream] -= da->da_len;
	rq->rq_ops->on_data(rq, da->da_stream, da->da_bytes, da->da_len);
}

static void
conn_credit(struct conn *c, const struct proto_credit *cr)
{
	struct req	*rq = req_find(cr->cr_stream == STREAM_STDIN ?
			    &c->c_issued : &c->c_served, cr->cr_id);

	if (rq == NULL || rq->rq_type != MSG_OPEN)
		return;
	if (rq->rq_can_send[cr->cr_stream] + (uint64_t)cr->cr_bytes >
	    PROTO_MAX_CREDIT) {
		conn_violation(c, rq, "peer granted too much credit");
		return;
	}
	rq->rq_can_send[cr->cr_stream] += cr->cr_bytes;
	rq->rq_ops->on_credit(rq, cr->cr_stream, cr->cr_bytes);
}

/* A frame arrived: the peer is alive, whatever session it speaks for. */
static void
conn_heard(struct conn *c)
{
	c->c_heard = c->c_quiet_since = ev_now(c->c_ch.ch_loop);
	if (c->c_state != CONN_SILENT)
		return;
	log_info("%s: answering again", c->c_label);
	c->c_state = CONN_HELLO;
	conn_send_hello(c, MSG_HELLO);
	conn_timer_arm(c);
}

/* 1 if a frame tagged tag belongs to this session (proto.h, CONN_EARLY). */
static int
conn_ours(const struct conn *c, uint32_t tag)
{
	return tag == c->c_nonce || (tag == 0 && (c->c_flags & CONN_EARLY));
}

static void
conn_msg(struct channel *ch, struct proto_msg *m)
{
	struct conn	*c = ch->ch_arg;
	struct req	*rq;

	conn_heard(c);
	if (m->m_type == MSG_HELLO || m->m_type == MSG_HELLO_ACK) {
		conn_hello(c, &m->m.hello, m->m_type);
		return;
	}
	if (c->c_state != CONN_READY || !conn_ours(c, m->m_tag)) {
		log_limited_at(LOG_LEVEL_DEBUG, c->c_label, "%s: %s of "
		    "another session dropped", c->c_label,
		    proto_type_name(m->m_type));
		return;
	}
	switch (m->m_type) {
	case MSG_OPEN:
	case MSG_PING:
	case MSG_LIST:
	case MSG_GUESTS:
		if (!(c->c_flags & CONN_SERVES)) {
			log_limited(c->c_label, "%s: %s refused: requests do "
			    "not flow this way", c->c_label,
			    proto_type_name(m->m_type));
			return;
		}
		if (conn_full(c)) {
			log_limited(c->c_label, "%s: %s dropped: %zu bytes of "
			    "answers wait for the peer to read them",
			    c->c_label, proto_type_name(m->m_type),
			    buf_pending(&ch->ch_out));
			return;
		}
		c->c_ops->on_request(c, m);
		break;
	case MSG_DATA:
		conn_data(c, &m->m.data);
		break;
	case MSG_CREDIT:
		conn_credit(c, &m->m.credit);
		break;
	case MSG_CANCEL:
		if ((rq = req_find(&c->c_served, proto_msg_id(m))) != NULL)
			rq->rq_ops->on_cancel(rq);
		break;
	case MSG_TTY:
		if ((rq = req_find(&c->c_served, proto_msg_id(m))) != NULL &&
		    rq->rq_type == MSG_OPEN && rq->rq_ops->on_tty != NULL)
			rq->rq_ops->on_tty(rq, &m->m.tty);
		break;
	default:	/* PONG, EXIT, LIST_REPLY, GUESTS_REPLY */
		if ((rq = req_find(&c->c_issued, proto_msg_id(m))) == NULL ||
		    (m->m_type != MSG_EXIT && m->m_type != rq->rq_type + 1)) {
			log_limited_at(LOG_LEVEL_DEBUG, c->c_label, "%s: %s "
			    "for unknown request", c->c_label,
			    proto_type_name(m->m_type));
			return;
		}
		conn_unlink(rq);
		rq->rq_ops->on_reply(rq, m);
		break;
	}
}

static void
conn_bad(struct channel *ch, const char *why)
{
	struct conn	*c = ch->ch_arg;

	log_limited(c->c_label, "%s: skipped bad input: %s", c->c_label, why);
}

/*
 * A request that could not be decoded but whose id could: it is answered
 * (EXIT_FAILED, which a CLI turns into 125) rather than left to time out,
 * on the terms of any other request of this session.
 */
static void
conn_refused(struct channel *ch, const struct proto_msg *m, const char *why)
{
	struct conn		*c = ch->ch_arg;
	struct proto_msg	 ex;
	uint32_t		 id = proto_msg_id(m);

	if (c->c_state != CONN_READY || !conn_ours(c, m->m_tag) ||
	    !(c->c_flags & CONN_SERVES) ||
	    conn_full(c) ||
	    req_find(&c->c_served, id) != NULL) {
		conn_bad(ch, why);
		return;
	}
	log_limited(c->c_label, "%s: %s %u refused: %s", c->c_label,
	    proto_type_name(m->m_type), id, why);
	memset(&ex, 0, sizeof(ex));
	ex.m_type = MSG_EXIT;
	ex.m.exit.ex_id = id;
	ex.m.exit.ex_kind = EXIT_FAILED;
	snprintf(ex.m.exit.ex_message, sizeof(ex.m.exit.ex_message),
	    "request refused: %s", why);
	conn_send(c, &ex);
}

static void
conn_eof(struct channel *ch, int error)
{
	struct conn	*c = ch->ch_arg;

	conn_reset(c, channel_eof_reason(error));
	c->c_ops->on_eof(c, error);
}

/*
 * The send queue has room again: the credit held back goes out, and every
 * producer on this conn may go on.
 */
static void
conn_drain(struct channel *ch)
{
	struct conn	*c = ch->ch_arg;
	struct req	*rq, *next;
	int		 s;

	LIST_FOREACH(rq, &c->c_served, rq_entry)
		for (s = 0; s < STREAM_COUNT; s++)
			conn_credit_flush(rq, s);
	LIST_FOREACH(rq, &c->c_issued, rq_entry)
		for (s = 0; s < STREAM_COUNT; s++)
			conn_credit_flush(rq, s);
	LIST_FOREACH_SAFE(rq, &c->c_served, rq_entry, next)
		if (rq->rq_ops->on_drain != NULL)
			rq->rq_ops->on_drain(rq);
	LIST_FOREACH_SAFE(rq, &c->c_issued, rq_entry, next)
		if (rq->rq_ops->on_drain != NULL)
			rq->rq_ops->on_drain(rq);
}

int
conn_congested(const struct req *rq)
{
	return rq->rq_conn != NULL && channel_congested(&rq->rq_conn->c_ch);
}
