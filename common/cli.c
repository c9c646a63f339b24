/*
 * The CLI's side of one call, over a daemon's control socket or over the
 * channel itself: say HELLO, send the request, stream our stdin out and the
 * remote stdout and stderr to ours as they arrive, and turn the reply into
 * an exit status.  Output credit is returned once the bytes are written, so
 * a slow reader of our stdout slows the remote command, never our memory;
 * a stdout that would block (O_NONBLOCK) is waited for, and one that fails
 * ends the call with an error, never with output silently lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "status.h"
#include "words.h"

#ifndef BUILTIN_DIR
#define BUILTIN_DIR	"/usr/local/lib/negotiator/builtin"
#endif
#ifndef COMMANDS_DIR
#define COMMANDS_DIR	"/usr/lib/negotiator/commands"
#endif
#ifndef VERSION
#define VERSION		"0.0"
#endif

#define CLI_SLACK	5.0	/* seconds past the remote timeout */

struct cli {
	struct conn		 cc_conn;
	struct req		 cc_req;
	struct proto_msg	*cc_msg;
	const struct cli_options *cc_opt;
	struct ev_loop		*cc_loop;
	ev_io			 cc_stdin;
	ev_timer		 cc_deadline;
	int			 cc_stdin_open;
	/* Output received, not yet written (at most the credit we gave). */
	struct buf		 cc_out[STREAM_COUNT];
	ev_io			 cc_out_io[STREAM_COUNT];
	int			 cc_replied;	/* done once cc_out is written */
	int			 cc_status;
	int			 cc_pings_left;
	uint64_t		 cc_sent_ns;
};

static const struct req_ops cli_req_ops;

static void
cli_done(struct cli *cc, int status)
{
	cc->cc_status = status;
	ev_break(cc->cc_loop, EVBREAK_ALL);
}

static void __attribute__((format(printf, 2, 3)))
cli_failx(struct cli *cc, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", cc->cc_opt->co_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_done(cc, STATUS_FAILURE);
}

/*
 * Decides what we wait for: stdin while the request has credit for it and
 * the conn is not congested (channel.h, rule 2), stdout and stderr while
 * output waits for them.  Ends the call once it is answered and all its
 * output written.
 */
static void
cli_update_events(struct cli *cc)
{
	int	 want = cc->cc_stdin_open && cc->cc_req.rq_conn != NULL &&
		    cc->cc_req.rq_can_send[STREAM_STDIN] > 0 &&
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
 * fd would block, and returns the credit for what was written.  Any error
 * but EAGAIN and EINTR ends the call (exit 125): output that cannot be
 * delivered is not silently dropped.  -1 then.
 */
static int
cli_flush(struct cli *cc, int s)
{
	struct buf	*b = &cc->cc_out[s];
	size_t		 done = 0;
	ssize_t		 n;

	while (buf_pending(b) > 0) {
		n = write(s, buf_head(b), buf_pending(b));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n == -1) {
			cli_failx(cc, "cannot write %s: %s; the remote command "
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
cli_output_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cli	*cc = w->data;

	(void)loop;
	(void)revents;
	if (cli_flush(cc, w == &cc->cc_out_io[STREAM_STDOUT] ?
	    STREAM_STDOUT : STREAM_STDERR) == 0)
		cli_update_events(cc);
}

static void
cli_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cli	*cc = w->data;
	uint8_t		 chunk[PROTO_MAX_DATA];
	size_t		 want = sizeof(chunk);
	ssize_t		 n;

	(void)loop;
	(void)revents;
	if (conn_congested(&cc->cc_req)) {
		cli_update_events(cc);
		return;
	}
	if (cc->cc_req.rq_can_send[STREAM_STDIN] < want)
		want = cc->cc_req.rq_can_send[STREAM_STDIN];
	n = read(STDIN_FILENO, chunk, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cc->cc_stdin_open = 0;
		n = 0;
	}
	conn_send_data(&cc->cc_req, STREAM_STDIN, chunk, (size_t)n);
	cli_update_events(cc);
}

static void
cli_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cli	*cc = w->data;

	(void)loop;
	(void)revents;
	if (!conn_ready(&cc->cc_conn))
		cli_failx(cc, "no answer from %s: is its negotiator daemon "
		    "running?", cc->cc_opt->co_peer);
	else
		cli_failx(cc, "no reply from %s in time; giving up",
		    cc->cc_opt->co_peer);
}

static void
cli_send(struct cli *cc)
{
	conn_request(&cc->cc_conn, &cc->cc_req, cc->cc_msg, &cli_req_ops, cc);
	cc->cc_sent_ns = now_ns();
	ev_timer_stop(cc->cc_loop, &cc->cc_deadline);
	if (cc->cc_msg->m_type == MSG_OPEN) {
		if (cc->cc_msg->m.open.op_timeout_ms > 0) {
			ev_timer_set(&cc->cc_deadline,
			    cc->cc_msg->m.open.op_timeout_ms / 1000. +
			    CLI_SLACK + RELAY_WAIT, 0.);
			ev_timer_start(cc->cc_loop, &cc->cc_deadline);
		}
	} else {
		ev_timer_set(&cc->cc_deadline, HELLO_WAIT + RELAY_WAIT, 0.);
		ev_timer_start(cc->cc_loop, &cc->cc_deadline);
	}
	cli_update_events(cc);
}

static void
cli_ready(struct conn *c)
{
	cli_send(c->c_arg);
}

static void
cli_eof(struct conn *c, int error)
{
	struct cli	*cc = c->c_arg;

	cli_failx(cc, "lost the connection to %s: %s", cc->cc_opt->co_peer,
	    error ? strerror(error) : "end of file");
}

static void
cli_request(struct conn *c, struct proto_msg *m)
{
	(void)c;
	(void)m;	/* conn.c refuses requests on a conn that only issues */
}

static const struct conn_ops cli_conn_ops = {
	cli_request, cli_ready, cli_eof,
};

/* --- the request ---------------------------------------------------- */

/* Output is written in order; its credit goes back once it is written. */
static void
cli_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct cli	*cc = rq->rq_arg;
	int		 waiting = buf_pending(&cc->cc_out[stream]) > 0;

	buf_append(&cc->cc_out[stream], p, n);
	if (!waiting && cli_flush(cc, stream) == -1)
		return;
	cli_update_events(cc);
}

static void
cli_credit(struct req *rq, int stream, uint32_t n)
{
	(void)stream;
	(void)n;
	cli_update_events(rq->rq_arg);
}

static void
cli_drain(struct req *rq)
{
	cli_update_events(rq->rq_arg);
}

/* With -v, GUESTS_REPLY's state of each guest, and when it was last heard. */
void
cli_print_names(const struct proto_names *na, int with_state)
{
	struct tm	 tm;
	time_t		 at;
	char		 when[64];
	size_t		 i;

	for (i = 0; i < na->na_count; i++) {
		if (!with_state)
			printf("%s\n", na->na_names[i]);
		else if (na->na_state[i] == PEER_READY)
			printf("%s\tconnected\n", na->na_names[i]);
		else if (na->na_state[i] == PEER_DOWN)
			printf("%s\tnot connected\n", na->na_names[i]);
		else if (na->na_quiet[i] == PROTO_QUIET_NEVER)
			printf("%s\tnot answering (no frame yet)\n",
			    na->na_names[i]);
		else {
			at = time(NULL) - (time_t)na->na_quiet[i];
			if (localtime_r(&at, &tm) == NULL ||
			    strftime(when, sizeof(when), "%F %T", &tm) == 0)
				strlcpy(when, "?", sizeof(when));
			printf("%s\tnot answering (last frame %s, %u s ago)\n",
			    na->na_names[i], when, na->na_quiet[i]);
		}
	}
}

static void
cli_reply(struct req *rq, struct proto_msg *m)
{
	struct cli	*cc = rq->rq_arg;
	const struct proto_exit *ex = &m->m.exit;
	char		 vis[LOG_VIS_SIZE(PROTO_MAX_MESSAGE)];
	double		 ms = (double)(now_ns() - cc->cc_sent_ns) / 1e6;

	switch (m->m_type) {
	case MSG_PONG:
		printf("reply from %s: time=%.3f ms\n", cc->cc_opt->co_peer, ms);
		fflush(stdout);
		if (--cc->cc_pings_left > 0) {
			cli_send(cc);
			return;
		}
		cli_done(cc, 0);
		return;
	case MSG_LIST_REPLY:
		cli_print_names(&m->m.names, 0);
		cli_done(cc, 0);
		return;
	case MSG_GUESTS_REPLY:
		cli_print_names(&m->m.names, cc->cc_opt->co_verbose);
		cli_done(cc, 0);
		return;
	}
	/* The peer's words reach a terminal: no escapes, no newlines. */
	if (ex->ex_kind != EXIT_EXITED && ex->ex_kind != EXIT_SIGNALED)
		fprintf(stderr, "%s: %s: %s\n", cc->cc_opt->co_progname,
		    cc->cc_opt->co_peer, log_vis(vis, sizeof(vis),
		    ex->ex_message));
	/* Done once the output still waiting is written. */
	ev_timer_stop(cc->cc_loop, &cc->cc_deadline);
	cc->cc_status = status_from_exit(ex);
	cc->cc_replied = 1;
	cli_update_events(cc);
}

static void
cli_lost(struct req *rq, const char *why)
{
	cli_failx(rq->rq_arg, "call failed: %s", why);
}

static void
cli_no_cancel(struct req *rq)
{
	(void)rq;
}

static const struct req_ops cli_req_ops = {
	cli_data, cli_credit, cli_no_cancel, cli_reply, cli_lost, cli_drain,
};

int
cli_call(int fd, struct proto_msg *m, const struct cli_options *opt)
{
	struct cli	 cc;
	char		 label[128];
	int		 s;

	signal(SIGPIPE, SIG_IGN);
	memset(&cc, 0, sizeof(cc));
	cc.cc_loop = EV_DEFAULT;
	cc.cc_msg = m;
	cc.cc_opt = opt;
	cc.cc_status = STATUS_FAILURE;
	cc.cc_pings_left = opt->co_ping_count > 0 ? opt->co_ping_count : 1;
	cc.cc_stdin_open = m->m_type == MSG_OPEN &&
	    (m->m.open.op_flags & OPEN_STDIN);
	ev_io_init(&cc.cc_stdin, cli_stdin_cb, STDIN_FILENO, EV_READ);
	cc.cc_stdin.data = &cc;
	for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
		ev_io_init(&cc.cc_out_io[s], cli_output_cb, s, EV_WRITE);
		cc.cc_out_io[s].data = &cc;
	}
	ev_timer_init(&cc.cc_deadline, cli_deadline_cb, HELLO_WAIT, 0.);
	cc.cc_deadline.data = &cc;
	ev_timer_start(cc.cc_loop, &cc.cc_deadline);
	snprintf(label, sizeof(label), "%s", opt->co_peer);
	conn_init(&cc.cc_conn, cc.cc_loop, CONN_ISSUES | CONN_GREETS, label,
	    &cli_conn_ops, &cc);
	conn_start(&cc.cc_conn, fd);
	ev_run(cc.cc_loop, 0);
	conn_unlink(&cc.cc_req);
	conn_stop(&cc.cc_conn, "done");
	ev_io_stop(cc.cc_loop, &cc.cc_stdin);
	ev_timer_stop(cc.cc_loop, &cc.cc_deadline);
	for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
		ev_io_stop(cc.cc_loop, &cc.cc_out_io[s]);
		buf_free(&cc.cc_out[s]);
	}
	return cc.cc_status;
}

/* --- building requests from the command line ------------------------- */

void
cli_usage_error(const char *progname, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s -h)\n", progname);
	exit(STATUS_FAILURE);
}

void
cli_settings_init(struct cli_settings *cs, const char *progname,
    const char **control, struct runner_config *rc)
{
	memset(cs, 0, sizeof(*cs));
	cs->cs_progname = progname;
	cs->cs_timeout_ms = 10000;
	cs->cs_verbosity = LOG_LEVEL_INFO;
	cs->cs_ping_count = 1;
	cs->cs_control = control;
	cs->cs_runner = rc;
	rc->rc_user_dir = COMMANDS_DIR;
	rc->rc_builtin_dir = BUILTIN_DIR;
	rc->rc_max_timeout_ms = 0;
	rc->rc_max_jobs = RUNNER_MAX_JOBS;
	rc->rc_max_peer_jobs = RUNNER_MAX_PEER_JOBS;
}

int
cli_setting(struct cli_settings *cs, int ch, const char *arg)
{
	const char	*errstr;
	uint32_t	 ms;
	int		 n;

	switch (ch) {
	case 't':
		if (cli_parse_timeout(arg, &cs->cs_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid timeout: %s",
			    arg);
		break;
	case OPT_COUNT:
		cs->cs_ping_count = (int)strtonum(arg, 1, 100000, &errstr);
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid count: %s",
			    arg);
		break;
	case 'v':
		cs->cs_verbosity = LOG_LEVEL_DEBUG;
		break;
	case 'q':
		cs->cs_verbosity = LOG_LEVEL_QUIET;
		break;
	case OPT_COMMANDS:
		cs->cs_runner->rc_user_dir = runner_dir(arg);
		break;
	case OPT_BUILTIN:
		cs->cs_runner->rc_builtin_dir = runner_dir(arg);
		break;
	case OPT_CONTROL:
		*cs->cs_control = arg;
		break;
	case OPT_SYSLOG:
		cs->cs_syslog = 1;
		break;
	case OPT_LOG_RATE:
		log_set_rate((unsigned)strtonum(arg, 0, 1000000, &errstr));
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid log rate "
			    "(lines a second per peer, 0 = no limit): %s", arg);
		break;
	case OPT_PEER_TIMEOUT:
		if (cli_parse_timeout(arg, &ms) == -1 || ms < 100)
			cli_usage_error(cs->cs_progname, "invalid peer timeout "
			    "(seconds, at least 0.1): %s", arg);
		conn_set_peer_timeout(ms / 1000.);
		break;
	case OPT_MAX_TIMEOUT:
		if (cli_parse_timeout(arg,
		    &cs->cs_runner->rc_max_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid maximum "
			    "timeout: %s", arg);
		break;
	case OPT_MAX_JOBS:
	case OPT_MAX_PEER_JOBS:
		n = (int)strtonum(arg, 1, 100000, &errstr);
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid number of "
			    "commands (1 to 100000): %s", arg);
		if (ch == OPT_MAX_JOBS)
			cs->cs_runner->rc_max_jobs = n;
		else
			cs->cs_runner->rc_max_peer_jobs = n;
		break;
	case OPT_VERSION:
		printf("%s %s (protocol %d)\n", cs->cs_progname, VERSION,
		    PROTO_VERSION);
		exit(0);
	default:
		return 0;
	}
	return 1;
}

int
cli_parse_timeout(const char *s, uint32_t *ms)
{
	char	*end;
	double	 t;

	errno = 0;
	t = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(t >= 0) || t > 86400 * 7)
		return -1;
	*ms = (uint32_t)(t * 1000 + 0.5);
	return 0;
}

int
cli_make_request(struct proto_msg *m, uint16_t type, const char *target,
    const char *cmdline, uint32_t timeout_ms, const char **error)
{
	size_t	 i, total = 0;

	memset(m, 0, sizeof(*m));
	m->m_type = type;
	if (strlen(target) > PROTO_MAX_NAME) {
		*error = "guest name too long";
		return -1;
	}
	if (type != MSG_OPEN) {
		strlcpy(m->m.query.qu_target, target,
		    sizeof(m->m.query.qu_target));
		return 0;
	}
	strlcpy(m->m.open.op_target, target, sizeof(m->m.open.op_target));
	m->m.open.op_timeout_ms = timeout_ms;
	if (!isatty(STDIN_FILENO))
		m->m.open.op_flags |= OPEN_STDIN;
	m->m.open.op_argv = words_split(cmdline, &m->m.open.op_argc, error);
	if (m->m.open.op_argv == NULL)
		return -1;
	for (i = 0; i < m->m.open.op_argc; i++)
		total += strlen(m->m.open.op_argv[i]) + 5;
	if (m->m.open.op_argc > PROTO_MAX_ARGS ||
	    total > PROTO_MAX_PAYLOAD - 1024) {
		*error = "arguments too long";
		proto_msg_free(m);
		return -1;
	}
	return 0;
}
