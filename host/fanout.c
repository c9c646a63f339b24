/*
 * Fan-out: one command (or ping) on many guests at once, and the guest
 * table page by page.
 *
 * Through the daemon, the requests share a few control connections
 * (FANOUT_PER_LINK requests each, under the daemon's CONN_MAX_SERVED);
 * without one, each guest's channel is opened directly.  Every guest has
 * its own deadline: one that has not answered by then counts as failed
 * (its request is cancelled) and holds nobody up.  Output is returned
 * credit as soon as it is taken, so a guest's output never waits on
 * another's.
 *
 * Output, as it comes: each line of a guest's stdout on our stdout and of
 * its stderr on our stderr, prefixed "GUEST: ", made visible by
 * escape_text (controls, C1 and bytes that are not UTF-8 as \ooo, tabs
 * kept), so that a guest cannot forge another's line or act on the
 * terminal; at the end, on stderr, one line per guest that failed and how.
 * With --json, one object per guest once it is done:
 *
 *	{"guest":"web1","exit":0,"signal":null,"stdout":"...","stderr":"...",
 *	 "ms":12.3}
 *
 * "exit" is the status -e would exit with for that guest (128+N when
 * killed by signal N), "signal" N then, else null; plus "error" when the
 * command did not run to its end (negotiator's failure, a timeout) and
 * "truncated":true when output went beyond FANOUT_JSON_MAX per stream.
 * Strings are JSON, lossless for bytes that are not UTF-8 (escape_json).
 * Every guest asked is one guest that succeeded or failed: --all asks each
 * one found, answering or not.  The exit status is 0 when every guest
 * succeeded, 1 when some did not, 125 when nobody could be asked.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "call.h"
#include "callenv.h"
#include "cli.h"
#include "clock.h"
#include "escape.h"
#include "host.h"
#include "log.h"
#include "output.h"
#include "relay.h"
#include "request.h"
#include "status.h"
#include "unix.h"
#include "words.h"

#define FANOUT_PER_LINK		200	/* requests on one control connection */
#define FANOUT_SLACK		1.0	/* s past -t for the remote's own EXIT */
#define FANOUT_LINE_MAX		(64 * 1024)	/* a longer line is cut */
#define FANOUT_JSON_MAX		(1024 * 1024)	/* per stream and guest */
#define FANOUT_TABLE_WAIT	(CALL_HELLO_WAIT + RELAY_WAIT)

struct link;

/* One guest asked. */
struct target {
	char			 t_name[PROTO_MAX_NAME + 1];
	struct link		*t_link;
	struct req		 t_req;
	ev_timer		 t_deadline;
	double			 t_wait;	/* seconds; 0 = none */
	uint64_t		 t_start_ns;
	double			 t_ms;
	int			 t_done;
	int			 t_status;
	int			 t_signal;	/* killed by it; 0: not */
	char			 t_error[PROTO_MAX_MESSAGE + 64];
	struct buf		 t_out[STREAM_COUNT];
	int			 t_truncated;
};

/* One conn: to the daemon's control socket, or to one guest's channel. */
struct link {
	struct conn		 l_conn;
	struct target		**l_targets;
	size_t			 l_count;
};

static const struct fanout	*fo;
static int			 direct;	/* no daemon: own channels */
static struct target		*targets;
static size_t			 ntargets, nleft;
static const struct req_ops	 target_ops;

long
host_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}

/* --- output ---------------------------------------------------------- */

/* One line of a guest's output, prefixed, control characters made visible. */
static void
text_line(const struct target *t, int s, const uint8_t *p, size_t n)
{
	FILE	*f = s == STREAM_STDOUT ? stdout : stderr;

	escape_text_str(f, t->t_name, 0);
	fputs(": ", f);
	escape_text(f, p, n, ESCAPE_TAB);
	fputc('\n', f);
}

/* Writes the whole lines waiting for stream s; all of it if final. */
static void
text_flush(struct target *t, int s, int final)
{
	struct buf	*b = &t->t_out[s];
	const uint8_t	*nl;
	size_t		 n;

	while (buf_pending(b) > 0) {
		nl = memchr(buf_head(b), '\n', buf_pending(b));
		if (nl != NULL)
			n = (size_t)(nl - buf_head(b));
		else if (final || buf_pending(b) >= FANOUT_LINE_MAX)
			n = buf_pending(b);
		else
			break;
		text_line(t, s, buf_head(b), n);
		buf_consume(b, n + (nl != NULL));
	}
	if (buf_pending(b) == 0)
		buf_free(b);
}

static void
target_report(struct target *t)
{
	int	 s;

	if (!fo->fo_json) {
		for (s = STREAM_STDOUT; s < STREAM_COUNT; s++)
			text_flush(t, s, 1);
		if (fo->fo_type == MSG_PING && t->t_status == 0)
			printf("%s: time=%.3f ms\n", t->t_name, t->t_ms);
		if (t->t_error[0] != '\0') {
			escape_text_str(stderr, t->t_name, 0);
			fputs(": ", stderr);
			escape_text_str(stderr, t->t_error, 0);
			fputc('\n', stderr);
		}
		fflush(stdout);
		return;
	}
	fputs("{\"guest\":", stdout);
	escape_json_str(stdout, t->t_name);
	printf(",\"exit\":%d", t->t_status);
	if (t->t_signal > 0)
		printf(",\"signal\":%d", t->t_signal);
	else
		fputs(",\"signal\":null", stdout);
	if (fo->fo_type == MSG_OPEN)
		for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
			printf(",\"%s\":\"", s == STREAM_STDOUT ? "stdout" :
			    "stderr");
			escape_json(stdout, buf_head(&t->t_out[s]),
			    buf_pending(&t->t_out[s]));
			fputc('"', stdout);
		}
	printf(",\"ms\":%.3f", t->t_ms);
	if (t->t_error[0] != '\0') {
		fputs(",\"error\":", stdout);
		escape_json_str(stdout, t->t_error);
	}
	if (t->t_truncated)
		fputs(",\"truncated\":true", stdout);
	fputs("}\n", stdout);
	fflush(stdout);
}

/* --- one guest's request ---------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
target_done(struct target *t, int status, const char *fmt, ...)
{
	va_list	 ap;
	int	 s;

	if (t->t_done)
		return;
	t->t_done = 1;
	t->t_status = status;
	t->t_ms = (double)(now_ns() - t->t_start_ns) / 1e6;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(t->t_error, sizeof(t->t_error), fmt, ap);
		va_end(ap);
	}
	ev_timer_stop(EV_DEFAULT, &t->t_deadline);
	conn_unlink(&t->t_req);
	target_report(t);
	for (s = 0; s < STREAM_COUNT; s++)
		buf_free(&t->t_out[s]);
	if (--nleft == 0)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void
target_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct target	*t = w->data;

	(void)loop;
	(void)revents;
	if (t->t_req.rq_conn == NULL) {
		target_done(t, STATUS_FAILURE, "not answering: no session "
		    "with %s in %.1f s", direct ? "its daemon" :
		    "the host daemon", (double)(now_ns() - t->t_start_ns) / 1e9);
		return;
	}
	conn_cancel(&t->t_req);
	target_done(t, STATUS_TIMEOUT, "no answer within %.1f s; counted as "
	    "failed", t->t_wait);
}

static void
target_send(struct target *t)
{
	struct proto_msg	 m;
	const char		*error;

	if (t->t_done)
		return;
	memset(&m, 0, sizeof(m));
	if (fo->fo_type == MSG_PING) {
		m.m_type = MSG_PING;
		strlcpy(m.m.query.qu_target, t->t_name,
		    sizeof(m.m.query.qu_target));
	} else {
		if (request_make(&m, MSG_OPEN, t->t_name, fo->fo_cmdline,
		    fo->fo_timeout_ms, &error) == -1) {
			target_done(t, STATUS_FAILURE, "%s", error);
			return;
		}
		m.m.open.op_flags &= ~OPEN_STDIN;	/* /dev/null */
		if (callenv_attach(&m, fo->fo_env, fo->fo_envc) == -1) {
			proto_msg_free(&m);
			target_done(t, STATUS_FAILURE, "arguments and --env too "
			    "long (at most %d bytes in all)", CALLENV_MAX_BYTES);
			return;
		}
	}
	conn_request(&t->t_link->l_conn, &t->t_req, &m, &target_ops, t);
	proto_msg_free(&m);
	/* From now on the deadline is -t's, from the start. */
	ev_timer_stop(EV_DEFAULT, &t->t_deadline);
	if (t->t_wait > 0) {
		ev_timer_set(&t->t_deadline, t->t_wait - (double)(now_ns() -
		    t->t_start_ns) / 1e9, 0.);
		ev_timer_start(EV_DEFAULT, &t->t_deadline);
	}
}

static void
target_data(struct req *rq, int s, const uint8_t *p, size_t n)
{
	struct target	*t = rq->rq_arg;
	size_t		 room;

	if (s == STREAM_STDIN)
		return;
	if (fo->fo_json) {
		room = FANOUT_JSON_MAX - buf_pending(&t->t_out[s]);
		if (n > room) {
			t->t_truncated = 1;
			buf_append(&t->t_out[s], p, room);
		} else
			buf_append(&t->t_out[s], p, n);
	} else {
		buf_append(&t->t_out[s], p, n);
		text_flush(t, s, 0);
		fflush(s == STREAM_STDOUT ? stdout : stderr);
	}
	conn_send_credit(rq, s, (uint32_t)n);
}

static void
target_credit(struct req *rq, int s, uint32_t n)
{
	(void)rq;
	(void)s;
	(void)n;	/* we send no stdin */
}

static void
target_no_cancel(struct req *rq)
{
	(void)rq;
}

static void
target_reply(struct req *rq, struct proto_msg *m)
{
	struct target		*t = rq->rq_arg;
	const struct proto_exit	*ex = &m->m.exit;

	if (m->m_type == MSG_PONG) {
		target_done(t, 0, NULL);
		return;
	}
	if (m->m_type != MSG_EXIT) {
		target_done(t, STATUS_FAILURE, "unexpected %s",
		    proto_type_name(m->m_type));
		return;
	}
	if (ex->ex_kind == EXIT_SIGNALED &&
	    status_from_exit(ex) != STATUS_FAILURE)
		t->t_signal = ex->ex_code;
	if (ex->ex_kind != EXIT_EXITED && ex->ex_kind != EXIT_SIGNALED)
		target_done(t, status_from_exit(ex), "%s", ex->ex_message);
	else
		target_done(t, status_from_exit(ex), NULL);
}

static void
target_lost(struct req *rq, const char *why)
{
	target_done(rq->rq_arg, STATUS_FAILURE, "call failed: %s", why);
}

static const struct req_ops target_ops = {
	target_data, target_credit, target_no_cancel, target_reply,
	target_lost, NULL, NULL,
};

/* --- links ------------------------------------------------------------ */

static void
link_ready(struct conn *c)
{
	struct link	*l = c->c_arg;
	size_t		 i;

	for (i = 0; i < l->l_count; i++)
		if (l->l_targets[i]->t_req.rq_conn == NULL)
			target_send(l->l_targets[i]);
}

static void
link_eof(struct conn *c, int error)
{
	struct link	*l = c->c_arg;
	size_t		 i;

	for (i = 0; i < l->l_count; i++)
		target_done(l->l_targets[i], STATUS_FAILURE, "lost the "
		    "connection to %s: %s", direct ? "the guest" :
		    "the daemon", channel_eof_reason(error));
	conn_stop(c, "gone");
}

static const struct conn_ops link_ops = {
	NULL, link_ready, link_eof,	/* it only issues: no requests */
};

static struct link *
link_new(int fd, const char *label)
{
	struct link	*l = xcalloc(1, sizeof(*l));

	conn_init(&l->l_conn, EV_DEFAULT, CONN_ISSUES | CONN_GREETS, label,
	    &link_ops, l);
	conn_start(&l->l_conn, fd);
	return l;
}

/* --- the guest table -------------------------------------------------- */

struct table {
	struct conn		 tb_conn;
	struct req		 tb_req;
	ev_timer		 tb_deadline;
	struct proto_names	 tb_all;	/* pages appended */
	int			 tb_status;	/* -1 while under way */
	char			 tb_error[256];
};

static const struct req_ops table_req_ops;

static void
table_end(struct table *tb, int status, const char *why)
{
	if (tb->tb_status != -1)
		return;
	tb->tb_status = status;
	if (why != NULL)
		strlcpy(tb->tb_error, why, sizeof(tb->tb_error));
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void
table_ask(struct table *tb)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_GUESTS;
	m.m.query.qu_start = (uint32_t)tb->tb_all.na_count;
	conn_request(&tb->tb_conn, &tb->tb_req, &m, &table_req_ops, tb);
}

static void
table_ready(struct conn *c)
{
	table_ask(c->c_arg);
}

static void
table_eof(struct conn *c, int error)
{
	table_end(c->c_arg, STATUS_FAILURE, error ? strerror(error) :
	    "the daemon hung up");
}

static const struct conn_ops table_conn_ops = {
	NULL, table_ready, table_eof,	/* it only issues: no requests */
};

static void
table_reply(struct req *rq, struct proto_msg *m)
{
	struct table		*tb = rq->rq_arg;
	struct proto_names	*all = &tb->tb_all, *na = &m->m.names;
	size_t			 n = all->na_count, k = na->na_count, total;

	if (m->m_type != MSG_GUESTS_REPLY) {
		table_end(tb, STATUS_FAILURE, m->m_type == MSG_EXIT ?
		    "the daemon refused" : "unexpected reply");
		return;
	}
	total = n + k;
	all->na_names = xreallocarray(all->na_names, total + 1,
	    sizeof(char *));
	all->na_state = xreallocarray(all->na_state, total + 1, 1);
	all->na_quiet = xreallocarray(all->na_quiet, total + 1,
	    sizeof(uint32_t));
	all->na_version = xreallocarray(all->na_version, total + 1,
	    sizeof(uint32_t));
	all->na_calls = xreallocarray(all->na_calls, total + 1,
	    sizeof(uint32_t));
	memcpy(all->na_names + n, na->na_names, k * sizeof(char *));
	memcpy(all->na_state + n, na->na_state, k);
	memcpy(all->na_quiet + n, na->na_quiet, k * sizeof(uint32_t));
	memcpy(all->na_version + n, na->na_version, k * sizeof(uint32_t));
	memcpy(all->na_calls + n, na->na_calls, k * sizeof(uint32_t));
	all->na_names[total] = NULL;
	all->na_count = total;
	all->na_total = na->na_total;
	/* The names are ours now. */
	free(na->na_names);
	na->na_names = NULL;
	na->na_count = 0;
	if (k > 0 && total < na->na_total && total < HOST_MAX_GUESTS)
		table_ask(tb);
	else
		table_end(tb, 0, NULL);
}

static void
table_lost(struct req *rq, const char *why)
{
	table_end(rq->rq_arg, STATUS_FAILURE, why);
}

static const struct req_ops table_req_ops = {
	target_data, target_credit, target_no_cancel, table_reply,
	table_lost, NULL, NULL,
};

static void
table_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	table_end(w->data, STATUS_FAILURE, "no answer in time");
}

/*
 * The daemon's guest table, all pages, into *na (proto_msg_free-able as a
 * GUESTS_REPLY).  0, -1 if no daemon listens, or exits on failure.
 */
static int
table_fetch(const struct host_config *hc, struct proto_names *na)
{
	struct proto_msg	 m;
	struct table		 tb;
	int			 fd;

	if ((fd = unix_connect(hc->hc_control, SOCK_NONBLOCK)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return -1;
		err(STATUS_FAILURE, "cannot reach the daemon at %s",
		    hc->hc_control);
	}
	memset(&tb, 0, sizeof(tb));
	tb.tb_status = -1;
	conn_init(&tb.tb_conn, EV_DEFAULT, CONN_ISSUES | CONN_GREETS,
	    "the host daemon", &table_conn_ops, &tb);
	ev_timer_init(&tb.tb_deadline, table_deadline_cb, FANOUT_TABLE_WAIT,
	    0.);
	tb.tb_deadline.data = &tb;
	ev_timer_start(EV_DEFAULT, &tb.tb_deadline);
	conn_start(&tb.tb_conn, fd);
	ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &tb.tb_deadline);
	conn_unlink(&tb.tb_req);
	conn_stop(&tb.tb_conn, "done");
	if (tb.tb_status != 0) {
		memset(&m, 0, sizeof(m));
		m.m_type = MSG_GUESTS_REPLY;
		m.m.names = tb.tb_all;
		proto_msg_free(&m);
		errx(STATUS_FAILURE, "the daemon at %s did not list its guests:"
		    " %s", hc->hc_control, tb.tb_error);
	}
	*na = tb.tb_all;
	return 0;
}

static void
names_free(struct proto_names *na)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_GUESTS_REPLY;
	m.m.names = *na;
	proto_msg_free(&m);
}

static const char *
state_name(uint8_t state)
{
	switch (state) {
	case PEER_READY:
		return "connected";
	case PEER_SILENT:
		return "not answering";
	default:
		return "not connected";
	}
}

/* 0 once stdout is written; 125 and why if it cannot be (not EPIPE). */
static int
fanout_flushed(void)
{
	int	 error;

	if ((error = output_flush(stdout)) == 0)
		return 0;
	warnx("cannot write stdout: %s", strerror(error));
	return STATUS_FAILURE;
}

int
fanout_list_guests(const struct fanout *f)
{
	struct found_guest	*found;
	struct proto_names	 na;
	struct tm		 tm;
	time_t			 at;
	char			 when[64];
	size_t			 n, i;

	if (table_fetch(f->fo_hc, &na) == -1) {
		/* No daemon: what the channel directory (and libvirt) shows. */
		n = discover_all(f->fo_hc->hc_channel_dir, &found);
		for (i = 0; i < n; i++) {
			if (!f->fo_json) {
				escape_text_str(stdout, found[i].fg_name, 0);
				/* -v: the state, as the JSON says it. */
				fputs(f->fo_verbose ? "\tfound, no daemon\n" :
				    "\n", stdout);
				continue;
			}
			fputs("{\"guest\":", stdout);
			escape_json_str(stdout, found[i].fg_name);
			fputs(",\"state\":\"found, no daemon\","
			    "\"last_frame\":null,\"protocol\":null,"
			    "\"commands\":null}\n", stdout);
		}
		free(found);
		return fanout_flushed();
	}
	if (!f->fo_json)
		call_print_names(&na, f->fo_verbose, 0);
	for (i = 0; f->fo_json && i < na.na_count; i++) {
		fputs("{\"guest\":", stdout);
		escape_json_str(stdout, na.na_names[i]);
		printf(",\"state\":\"%s\"", state_name(na.na_state[i]));
		if (na.na_quiet[i] == PROTO_QUIET_NEVER)
			fputs(",\"last_frame\":null,\"last_frame_age_s\":null",
			    stdout);
		else {
			at = time(NULL) - (time_t)na.na_quiet[i];
			if (gmtime_r(&at, &tm) == NULL ||
			    strftime(when, sizeof(when), "%FT%TZ", &tm) == 0)
				strlcpy(when, "?", sizeof(when));
			printf(",\"last_frame\":\"%s\",\"last_frame_age_s\":%u",
			    when, na.na_quiet[i]);
		}
		if (na.na_version[i] == 0)
			fputs(",\"protocol\":null", stdout);
		else
			printf(",\"protocol\":%u", na.na_version[i]);
		printf(",\"commands\":%u}\n", na.na_calls[i]);
	}
	names_free(&na);
	return fanout_flushed();
}

/* --- fan-out ---------------------------------------------------------- */

static void
targets_add(const char *name)
{
	size_t	 i;

	for (i = 0; i < ntargets; i++)
		if (strcmp(targets[i].t_name, name) == 0)
			return;
	targets = xreallocarray(targets, ntargets + 1, sizeof(*targets));
	memset(&targets[ntargets], 0, sizeof(*targets));
	strlcpy(targets[ntargets].t_name, name, sizeof(targets[0].t_name));
	ntargets++;
}

/* --guests a,b,c: each a valid guest name; exits on a bad one. */
static void
targets_parse(const char *list)
{
	char	*copy = xstrdup(list), *p = copy, *name;

	while ((name = strsep(&p, ",")) != NULL) {
		if (!discover_valid_name(name, strlen(name)))
			cli_usage_error(fo->fo_progname, "--guests: not a "
			    "guest name: \"%.*s\"", PROTO_MAX_NAME, name);
		if (ntargets >= HOST_MAX_GUESTS)
			cli_usage_error(fo->fo_progname, "--guests: more than "
			    "%d guests", HOST_MAX_GUESTS);
		targets_add(name);
	}
	free(copy);
}

static void
targets_start(void)
{
	struct target	*t;
	double		 wait;
	size_t		 i;

	wait = fo->fo_timeout_ms / 1000.;
	if (fo->fo_type == MSG_OPEN && wait > 0)
		wait += FANOUT_SLACK;
	/*
	 * Until its request is sent, a guest waits for a session (with the
	 * daemon, or without one with the guest's own daemon) as a call
	 * does, even with -t 0: one that never answers is failed, not waited
	 * for forever.  Then -t's deadline counts (target_send).
	 */
	for (i = 0; i < ntargets; i++) {
		t = &targets[i];
		t->t_start_ns = now_ns();
		t->t_wait = wait;
		ev_timer_init(&t->t_deadline, target_deadline_cb,
		    wait > 0 && wait < FANOUT_TABLE_WAIT ? wait :
		    FANOUT_TABLE_WAIT, 0.);
		t->t_deadline.data = t;
		ev_timer_start(EV_DEFAULT, &t->t_deadline);
	}
}

/* Through the daemon: the targets spread over a few control connections. */
static void
links_daemon(void)
{
	struct link	*l = NULL;
	char		 label[64];
	size_t		 i;
	int		 fd;

	for (i = 0; i < ntargets; i++) {
		if (i % FANOUT_PER_LINK == 0) {
			if ((fd = unix_connect(fo->fo_hc->hc_control,
			    SOCK_NONBLOCK)) == -1)
				err(STATUS_FAILURE, "cannot reach the daemon "
				    "at %s", fo->fo_hc->hc_control);
			snprintf(label, sizeof(label), "the host daemon (%zu)",
			    i / FANOUT_PER_LINK);
			l = link_new(fd, label);
			l->l_targets = xcalloc(FANOUT_PER_LINK,
			    sizeof(*l->l_targets));
		}
		l->l_targets[l->l_count++] = &targets[i];
		targets[i].t_link = l;
	}
}

/* No daemon: each guest's own channel. */
static void
links_direct(void)
{
	struct found_guest	*found, *fg;
	struct target		*t;
	struct link		*l;
	char			 label[PROTO_MAX_NAME + 16];
	size_t			 n, i, j;
	int			 fd;

	n = discover_all(fo->fo_hc->hc_channel_dir, &found);
	for (i = 0; i < ntargets; i++) {
		t = &targets[i];
		for (j = 0, fg = NULL; j < n && fg == NULL; j++)
			if (strcmp(found[j].fg_name, t->t_name) == 0)
				fg = &found[j];
		if (fg == NULL) {
			target_done(t, STATUS_FAILURE, "no such guest (no "
			    "daemon at %s, and no channel in %s)",
			    fo->fo_hc->hc_control, fo->fo_hc->hc_channel_dir);
			continue;
		}
		if ((fd = unix_connect(fg->fg_h2g, SOCK_NONBLOCK)) == -1) {
			target_done(t, STATUS_FAILURE, "cannot connect to %s:"
			    " %s", fg->fg_h2g, strerror(errno));
			continue;
		}
		snprintf(label, sizeof(label), "guest %s", t->t_name);
		l = link_new(fd, label);
		l->l_targets = xcalloc(1, sizeof(*l->l_targets));
		l->l_targets[l->l_count++] = t;
		t->t_link = l;
	}
	free(found);
}

/*
 * The end of text mode, on stderr: one line per guest that failed, in the
 * order asked, with its status and why (the exit code, the signal, or the
 * reason already shown as it happened), then the count.
 */
static void
targets_summary(size_t failed)
{
	struct target	*t;
	size_t		 i;

	for (i = 0; i < ntargets; i++) {
		t = &targets[i];
		if (t->t_status == 0)
			continue;
		fprintf(stderr, "%s: failed: ", fo->fo_progname);
		escape_text_str(stderr, t->t_name, 0);
		if (t->t_signal > 0)
			fprintf(stderr, ": killed by signal %d (status %d)\n",
			    t->t_signal, t->t_status);
		else if (t->t_error[0] == '\0')
			fprintf(stderr, ": exit %d\n", t->t_status);
		else {
			fprintf(stderr, ": status %d: ", t->t_status);
			escape_text_str(stderr, t->t_error, 0);
			fputc('\n', stderr);
		}
	}
	if (!fo->fo_quiet)
		warnx("%zu of %zu guests failed", failed, ntargets);
}

int
fanout_main(const struct fanout *f)
{
	struct found_guest	*found;
	struct proto_names	 na;
	size_t			 i, n, failed = 0;
	int			 daemon;

	fo = f;
	if (fo->fo_guests != NULL)
		targets_parse(fo->fo_guests);
	host_raise_nofile();
	daemon = table_fetch(fo->fo_hc, &na) == 0;
	/* --all: every guest found, answering or not (those fail). */
	if (fo->fo_all && daemon) {
		for (i = 0; i < na.na_count; i++)
			targets_add(na.na_names[i]);
	} else if (fo->fo_all) {
		n = discover_all(fo->fo_hc->hc_channel_dir, &found);
		for (i = 0; i < n; i++)
			targets_add(found[i].fg_name);
		free(found);
	}
	if (daemon)
		names_free(&na);
	if (ntargets == 0) {
		if (daemon)
			warnx("--all: no guests to ask (the daemon at %s has "
			    "none)", fo->fo_hc->hc_control);
		else
			warnx("--all: no guests to ask (no daemon at %s, and "
			    "no guest channel in %s)", fo->fo_hc->hc_control,
			    fo->fo_hc->hc_channel_dir);
		return STATUS_FAILURE;
	}
	nleft = ntargets;
	targets_start();
	direct = !daemon;
	if (daemon)
		links_daemon();
	else
		links_direct();
	if (nleft > 0)
		ev_run(EV_DEFAULT, 0);
	for (i = 0; i < ntargets; i++)
		if (targets[i].t_status != 0)
			failed++;
	if (fanout_flushed() != 0)
		return STATUS_FAILURE;
	if (failed > 0 && !fo->fo_json)
		targets_summary(failed);
	return failed == 0 ? 0 : 1;
}
