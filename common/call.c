/*
 * One call of a CLI, over a daemon's control socket or over the
 * channel itself: say HELLO, send the request, stream our stdin out and the
 * remote stdout and stderr to ours as they arrive, and turn the reply into
 * an exit status.  Output credit is returned once the bytes are written, so
 * a slow reader of our stdout slows the remote command, never our memory;
 * a stdout that would block (O_NONBLOCK) is waited for.  A stdout or stderr
 * whose reader is gone ends us as SIGPIPE would (output.c), which cancels
 * the remote command; one that fails otherwise ends the call with an
 * error, never with output silently lost.
 *
 * With --tty (ca_tty), our terminal is in raw mode for the length of the
 * call (tty.c), its size goes out right behind the OPEN and again on every
 * SIGWINCH, what we type passes the "~." escape on its way out, and the
 * signals that would end us (TERM, HUP, INT, QUIT: from elsewhere, since
 * the keys no longer make them) put the terminal's mode back first, then
 * end us as they would have.
 */
#include <err.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "callenv.h"
#include "clock.h"
#include "escape.h"
#include "log.h"
#include "output.h"
#include "relay.h"
#include "request.h"
#include "status.h"
#include "tty.h"
#include "unix.h"

#define CALL_SLACK	5.0	/* seconds past the remote timeout */

struct call {
	struct conn		 cc_conn;
	struct req		 cc_req;
	struct proto_msg	*cc_msg;
	const struct call_options *cc_opt;
	struct ev_loop		*cc_loop;
	ev_io			 cc_stdin;
	ev_timer		 cc_deadline;
	int			 cc_stdin_open;
	/* Output received, not yet written (at most the credit we gave). */
	struct buf		 cc_out[STREAM_COUNT];
	ev_io			 cc_out_io[STREAM_COUNT];
	int			 cc_replied;	/* done once cc_out is written */
	int			 cc_status;
	int			 cc_done;	/* call_done: no more */
	int			 cc_pings_left;
	uint64_t		 cc_sent_ns;
	/* --tty: */
	struct tty_escape	 cc_escape;
	ev_signal		 cc_winch;
	ev_signal		 cc_ends[4];	/* TERM, HUP, INT, QUIT */
};

static const int call_end_signals[4] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT };

static const struct req_ops call_req_ops;

/* The call's end: its status is the first one given. */
static void
call_done(struct call *cc, int status)
{
	if (cc->cc_done)
		return;
	cc->cc_done = 1;
	cc->cc_status = status;
	ev_break(cc->cc_loop, EVBREAK_ALL);
}

static void __attribute__((format(printf, 2, 3)))
call_failx(struct call *cc, const char *fmt, ...)
{
	va_list	 ap;

	if (cc->cc_done)
		return;
	tty_restore();	/* the message on a terminal in its own mode */
	fprintf(stderr, "%s: ", cc->cc_opt->ca_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	call_done(cc, STATUS_FAILURE);
}

/*
 * Decides what we wait for: stdin while the request has credit for it and
 * the conn is not congested (channel.h, rule 2), stdout and stderr while
 * output waits for them.  Ends the call once it is answered and all its
 * output written.
 */
static void
call_update_events(struct call *cc)
{
	/* A terminal's read may send one byte more: a '~' held (tty.h). */
	int	 want = cc->cc_stdin_open && cc->cc_req.rq_conn != NULL &&
		    cc->cc_req.rq_can_send[STREAM_STDIN] >
		    (cc->cc_opt->ca_tty ? 1U : 0U) &&
		    !conn_congested(&cc->cc_req);
	int	 s, pending = 0;

	if (want && !ev_is_active(&cc->cc_stdin))
		ev_io_start(cc->cc_loop, &cc->cc_stdin);
	else if (!want && ev_is_active(&cc->cc_stdin))
		ev_io_stop(cc->cc_loop, &cc->cc_stdin);
	for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
		want = buf_pending(&cc->cc_out[s]) > 0;
		pending |= want;
		if (want && !ev_is_active(&cc->cc_out_io[s]))
			ev_io_start(cc->cc_loop, &cc->cc_out_io[s]);
		else if (!want && ev_is_active(&cc->cc_out_io[s]))
			ev_io_stop(cc->cc_loop, &cc->cc_out_io[s]);
	}
	if (cc->cc_replied && !pending)
		ev_break(cc->cc_loop, EVBREAK_ALL);
}

/*
 * Writes what waits for stream s (our fd s) until it is all written or the
 * fd would block, and returns the credit for what was written.  A reader
 * gone ends us (output_write); any other error ends the call (exit 125):
 * output that cannot be delivered is not silently dropped.  -1 then.
 */
static int
call_flush(struct call *cc, int s)
{
	struct buf	*b = &cc->cc_out[s];
	size_t		 done = 0;
	ssize_t		 n;

	while (buf_pending(b) > 0) {
		n = output_write(s, buf_head(b), buf_pending(b));
		if (n == 0)
			break;
		if (n == -1) {
			call_failx(cc, "cannot write %s: %s; the remote command "
			    "is cancelled", s == STREAM_STDOUT ? "stdout" :
			    "stderr", strerror(errno));
			buf_clear(b);
			cc->cc_replied = 0;
			return -1;
		}
		buf_consume(b, (size_t)n);
		done += (size_t)n;
	}
	if (buf_pending(b) == 0)
		buf_free(b);
	conn_send_credit(&cc->cc_req, s, (uint32_t)done);
	return 0;
}

static void
call_output_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct call	*cc = w->data;

	(void)loop;
	(void)revents;
	if (call_flush(cc, w == &cc->cc_out_io[STREAM_STDOUT] ?
	    STREAM_STDOUT : STREAM_STDERR) == 0)
		call_update_events(cc);
}

static void
call_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct call	*cc = w->data;
	uint8_t		 chunk[PROTO_MAX_DATA], typed[PROTO_MAX_DATA];
	size_t		 want = sizeof(chunk);
	ssize_t		 n;
	int		 quit;

	(void)loop;
	(void)revents;
	if (conn_congested(&cc->cc_req)) {
		call_update_events(cc);
		return;
	}
	if (cc->cc_req.rq_can_send[STREAM_STDIN] < want)
		want = cc->cc_req.rq_can_send[STREAM_STDIN];
	if (cc->cc_opt->ca_tty)
		want--;		/* room for a held '~' (call_update_events) */
	n = read(STDIN_FILENO, cc->cc_opt->ca_tty ? typed : chunk, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cc->cc_stdin_open = 0;
		n = 0;
	} else if (cc->cc_opt->ca_tty) {
		n = (ssize_t)tty_escape(&cc->cc_escape, typed, (size_t)n,
		    chunk, &quit);
		if (quit) {
			conn_cancel(&cc->cc_req);
			call_failx(cc, "session ended by ~.; the remote command "
			    "is cancelled");
			return;
		}
		if (n == 0)
			return;		/* a '~' held */
	}
	conn_send_data(&cc->cc_req, STREAM_STDIN, chunk, (size_t)n);
	call_update_events(cc);
}

/*
 * What stdin already holds goes out with the request: its end, for a call
 * from a script whose stdin is /dev/null or spent, or its first bytes.
 * The queue is written before the loop first polls, which would otherwise
 * send the request alone and stdin's end in a second write, waking the
 * daemon twice.  A stdin with nothing yet (a terminal) is left to the loop.
 */
static void
call_stdin_early(struct call *cc)
{
	struct pollfd	 p = { .fd = STDIN_FILENO, .events = POLLIN };

	if (ev_is_active(&cc->cc_stdin) && poll(&p, 1, 0) == 1)
		call_stdin_cb(cc->cc_loop, &cc->cc_stdin, EV_READ);
}

static void
call_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct call	*cc = w->data;

	(void)loop;
	(void)revents;
	if (!conn_ready(&cc->cc_conn))
		call_failx(cc, "no answer from %s: is its negotiator daemon "
		    "running?", cc->cc_opt->ca_peer);
	else
		call_failx(cc, "no reply from %s in time; giving up",
		    cc->cc_opt->ca_peer);
}

/* Our terminal's size and $TERM to the peer (proto.h, OPEN_TTY). */
static void
call_send_tty(struct call *cc)
{
	struct proto_tty	 ty;

	tty_describe(STDIN_FILENO, &ty);
	conn_send_tty(&cc->cc_req, &ty);
}

static void
call_winch_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	call_send_tty(w->data);
}

/* A signal that ends us: the terminal's mode back, then its default. */
static void
call_end_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	tty_restore();
	signal(w->signum, SIG_DFL);
	raise(w->signum);
}

/* Sends the request (and each further ping). */
static void
call_issue(struct call *cc)
{
	conn_request(&cc->cc_conn, &cc->cc_req, cc->cc_msg, &call_req_ops, cc);
	cc->cc_sent_ns = now_ns();
	if (cc->cc_msg->m_type == MSG_OPEN &&
	    cc->cc_opt->ca_output_window > PROTO_WINDOW) {
		conn_send_credit(&cc->cc_req, STREAM_STDOUT,
		    cc->cc_opt->ca_output_window - PROTO_WINDOW);
		conn_send_credit(&cc->cc_req, STREAM_STDERR,
		    cc->cc_opt->ca_output_window - PROTO_WINDOW);
	}
	if (cc->cc_opt->ca_tty)
		call_send_tty(cc);	/* right behind the OPEN */
	call_update_events(cc);
}

/* The deadline of a request the peer has taken up: its own timeout. */
static void
call_arm(struct call *cc)
{
	ev_timer_stop(cc->cc_loop, &cc->cc_deadline);
	if (cc->cc_msg->m_type == MSG_OPEN) {
		if (cc->cc_msg->m.open.op_timeout_ms > 0) {
			ev_timer_set(&cc->cc_deadline,
			    cc->cc_msg->m.open.op_timeout_ms / 1000. +
			    CALL_SLACK + RELAY_WAIT, 0.);
			ev_timer_start(cc->cc_loop, &cc->cc_deadline);
		}
	} else {
		ev_timer_set(&cc->cc_deadline, CALL_HELLO_WAIT + RELAY_WAIT,
		    0.);
		ev_timer_start(cc->cc_loop, &cc->cc_deadline);
	}
}

static void
call_send(struct call *cc)
{
	call_issue(cc);
	call_arm(cc);
}

static void
call_ready(struct conn *c)
{
	struct call	*cc = c->c_arg;

	if (cc->cc_req.rq_conn != NULL)	/* sent with our HELLO */
		call_arm(cc);
	else
		call_send(cc);
}

static void
call_eof(struct conn *c, int error)
{
	struct call	*cc = c->c_arg;

	call_failx(cc, "lost the connection to %s: %s", cc->cc_opt->ca_peer,
	    channel_eof_reason(error));
}

static const struct conn_ops call_conn_ops = {
	NULL, call_ready, call_eof,	/* it only issues: no requests */
};

/* --- the request ---------------------------------------------------- */

/* Output is written in order; its credit goes back once it is written. */
static void
call_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct call	*cc = rq->rq_arg;
	int		 waiting = buf_pending(&cc->cc_out[stream]) > 0;

	if (cc->cc_done)
		return;	/* its output could not be written */
	buf_append(&cc->cc_out[stream], p, n);
	if (!waiting && call_flush(cc, stream) == -1)
		return;
	call_update_events(cc);
}

static void
call_credit(struct req *rq, int stream, uint32_t n)
{
	(void)stream;
	(void)n;
	call_update_events(rq->rq_arg);
}

static void
call_drain(struct req *rq)
{
	call_update_events(rq->rq_arg);
}

/*
 * Names a peer sent, one a line, made visible (escape.c); with json, one
 * {"command":NAME} object a line; with_state (-g -v), GUESTS_REPLY's state
 * of each guest, and when it was last heard.
 */
void
call_print_names(const struct proto_names *na, int with_state, int json)
{
	struct tm	 tm;
	time_t		 at;
	char		 when[64];
	size_t		 i;

	for (i = 0; i < na->na_count; i++) {
		if (json) {
			fputs("{\"command\":", stdout);
			escape_json_str(stdout, na->na_names[i]);
			fputs("}\n", stdout);
			continue;
		}
		escape_text_str(stdout, na->na_names[i], 0);
		if (!with_state)
			putchar('\n');
		else if (na->na_state[i] == PEER_READY)
			puts("\tconnected");
		else if (na->na_state[i] == PEER_DOWN)
			puts("\tnot connected");
		else if (na->na_quiet[i] == PROTO_QUIET_NEVER)
			puts("\tnot answering (no frame yet)");
		else {
			at = time(NULL) - (time_t)na->na_quiet[i];
			if (gmtime_r(&at, &tm) == NULL ||
			    strftime(when, sizeof(when), "%FT%TZ", &tm) == 0)
				strlcpy(when, "?", sizeof(when));
			printf("\tnot answering (last frame %s, %u s ago)\n",
			    when, na->na_quiet[i]);
		}
	}
}

/* Done, once what was printed is written; a failure (not EPIPE) is said. */
static void
call_printed(struct call *cc)
{
	int	 error;

	if ((error = output_flush(stdout)) != 0)
		call_failx(cc, "cannot write stdout: %s", strerror(error));
	else
		call_done(cc, 0);
}

static void
call_reply(struct req *rq, struct proto_msg *m)
{
	struct call	*cc = rq->rq_arg;
	const struct proto_exit *ex = &m->m.exit;
	double		 ms = (double)(now_ns() - cc->cc_sent_ns) / 1e6;

	if (cc->cc_done)
		return;	/* failed meanwhile, in the same read (call_flush) */
	switch (m->m_type) {
	case MSG_PONG:
		printf("reply from %s: time=%.3f ms\n", cc->cc_opt->ca_peer, ms);
		if (output_flush(stdout) != 0) {
			call_printed(cc);
			return;
		}
		if (--cc->cc_pings_left > 0) {
			call_send(cc);
			return;
		}
		call_done(cc, 0);
		return;
	case MSG_LIST_REPLY:
		call_print_names(&m->m.names, 0, cc->cc_opt->ca_json);
		call_printed(cc);
		return;
	case MSG_GUESTS_REPLY:
		call_print_names(&m->m.names, cc->cc_opt->ca_verbose, 0);
		call_printed(cc);
		return;
	}
	/* The peer's words reach a terminal: no escapes, no newlines. */
	if (ex->ex_kind != EXIT_EXITED && ex->ex_kind != EXIT_SIGNALED) {
		tty_restore();
		fprintf(stderr, "%s: %s: ", cc->cc_opt->ca_progname,
		    cc->cc_opt->ca_peer);
		escape_text_str(stderr, ex->ex_message, 0);
		fputc('\n', stderr);
	}
	/* Done once the output still waiting is written. */
	ev_timer_stop(cc->cc_loop, &cc->cc_deadline);
	cc->cc_status = status_from_exit(ex);
	cc->cc_replied = 1;
	call_update_events(cc);
}

static void
call_lost(struct req *rq, const char *why)
{
	call_failx(rq->rq_arg, "call failed: %s", why);
}

static void
call_no_cancel(struct req *rq)
{
	(void)rq;
}

static const struct req_ops call_req_ops = {
	call_data, call_credit, call_no_cancel, call_reply, call_lost, call_drain,
	NULL,
};

int
call_run(int fd, struct proto_msg *m, const struct call_options *opt)
{
	struct call	 cc;
	char		 label[128];
	int		 s;

	/*
	 * The session's two buffers (a frame each, 64 KiB) from the heap,
	 * grown once and not given back before exit, rather than a mapping
	 * each that exit then unmaps: 3 system calls a call, which a TCG
	 * guest's CLI pays dearly for.
	 */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TOP_PAD, 512 * 1024);
	memset(&cc, 0, sizeof(cc));
	/*
	 * A loop of the call's own, not libev's default one, which watches
	 * SIGCHLD (an eventfd, its flags, a handler) and reads LIBEV_FLAGS
	 * (four id calls first) for a call that starts no child: 9 system
	 * calls.
	 */
	if ((cc.cc_loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV)) == NULL)
		errx(STATUS_FAILURE, "cannot make an event loop");
	cc.cc_msg = m;
	cc.cc_opt = opt;
	cc.cc_status = STATUS_FAILURE;
	cc.cc_pings_left = opt->ca_ping_count > 0 ? opt->ca_ping_count : 1;
	cc.cc_stdin_open = m->m_type == MSG_OPEN &&
	    (m->m.open.op_flags & OPEN_STDIN);
	ev_io_init(&cc.cc_stdin, call_stdin_cb, STDIN_FILENO, EV_READ);
	cc.cc_stdin.data = &cc;
	for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
		ev_io_init(&cc.cc_out_io[s], call_output_cb, s, EV_WRITE);
		cc.cc_out_io[s].data = &cc;
	}
	ev_timer_init(&cc.cc_deadline, call_deadline_cb, CALL_HELLO_WAIT, 0.);
	cc.cc_deadline.data = &cc;
	ev_timer_start(cc.cc_loop, &cc.cc_deadline);
	if (opt->ca_tty) {
		tty_escape_init(&cc.cc_escape);
		ev_signal_init(&cc.cc_winch, call_winch_cb, SIGWINCH);
		cc.cc_winch.data = &cc;
		ev_signal_start(cc.cc_loop, &cc.cc_winch);
		for (s = 0; s < 4; s++) {
			ev_signal_init(&cc.cc_ends[s], call_end_cb,
			    call_end_signals[s]);
			ev_signal_start(cc.cc_loop, &cc.cc_ends[s]);
		}
		if (tty_raw(STDIN_FILENO) == -1)
			call_failx(&cc, "--tty: cannot set the terminal's mode: "
			    "%s", strerror(errno));
	}
	snprintf(label, sizeof(label), "%s", opt->ca_peer);
	conn_init(&cc.cc_conn, cc.cc_loop, CONN_ISSUES | CONN_GREETS |
	    (opt->ca_to_daemon ? CONN_EARLY : 0), label, &call_conn_ops, &cc);
	conn_start(&cc.cc_conn, fd);
	/*
	 * To a daemon, a command goes out with our HELLO, not after the
	 * daemon's answer (CONN_EARLY): one local round trip less.  Until
	 * that answer, the HELLO deadline stands.  A ping waits, so that it
	 * times the round trip alone.  Over a channel, whose stream outlives
	 * sessions, the request waits for the session.
	 */
	if (opt->ca_to_daemon && m->m_type == MSG_OPEN) {
		call_issue(&cc);
		call_stdin_early(&cc);
	}
	ev_run(cc.cc_loop, 0);
	conn_unlink(&cc.cc_req);
	conn_stop(&cc.cc_conn, "done");
	ev_io_stop(cc.cc_loop, &cc.cc_stdin);
	ev_timer_stop(cc.cc_loop, &cc.cc_deadline);
	for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
		ev_io_stop(cc.cc_loop, &cc.cc_out_io[s]);
		buf_free(&cc.cc_out[s]);
	}
	if (opt->ca_tty) {
		tty_restore();
		ev_signal_stop(cc.cc_loop, &cc.cc_winch);
		for (s = 0; s < 4; s++)
			ev_signal_stop(cc.cc_loop, &cc.cc_ends[s]);
	}
	ev_loop_destroy(cc.cc_loop);
	return cc.cc_status;
}

int
call_connect_daemon(const char *path)
{
	int	 fd;

	if ((fd = unix_connect(path, 0)) != -1)
		return fd;
	if (errno != ENOENT && errno != ECONNREFUSED)
		err(STATUS_FAILURE, "cannot reach the daemon at %s", path);
	return -1;
}

int
call_main(const struct cli_settings *cs, uint16_t type, const char *target,
    const char *peer, int (*open_fd)(const void *, int *), const void *arg)
{
	struct call_options	 opt;
	struct proto_msg	 m;
	const char		*error;
	int			 fd, to_daemon = 0, rv = -1;

	/* A terminal session has no timeout unless -t gives one. */
	if (request_make(&m, type, target, cs->cs_argument, cs->cs_tty &&
	    !cs->cs_timeout_given ? 0 : cs->cs_timeout_ms, &error) == -1)
		cli_usage_error(cs->cs_progname, "%s", error);
	if (type == MSG_OPEN && cs->cs_no_stdin)
		m.m.open.op_flags &= ~OPEN_STDIN;	/* -n: /dev/null */
	if (type == MSG_OPEN && cs->cs_tty)
		m.m.open.op_flags |= OPEN_STDIN | OPEN_TTY;
	if (type == MSG_OPEN &&
	    callenv_attach(&m, cs->cs_env, cs->cs_envc) == -1)
		cli_usage_error(cs->cs_progname, "arguments and --env too long "
		    "(at most %d bytes in all)", CALLENV_MAX_BYTES);
	if ((fd = open_fd(arg, &to_daemon)) != -1) {
		memset(&opt, 0, sizeof(opt));
		opt.ca_to_daemon = to_daemon;
		opt.ca_progname = cs->cs_progname;
		opt.ca_peer = peer;
		opt.ca_verbose = cs->cs_verbosity > LOG_LEVEL_INFO;
		opt.ca_ping_count = cs->cs_ping_count;
		opt.ca_json = cs->cs_json;
		opt.ca_tty = type == MSG_OPEN && cs->cs_tty;
		/* A terminal's output is not widened: Ctrl-C stops less. */
		opt.ca_output_window = cs->cs_output_window > PROTO_WINDOW &&
		    !opt.ca_tty ? cs->cs_output_window : PROTO_WINDOW;
		rv = call_run(fd, &m, &opt);
	}
	proto_msg_free(&m);
	return rv;
}
