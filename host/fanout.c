/*
 * Fan-out: one command (or ping) on many guests at once.
 *
 * Through the daemon, the requests share a few control connections
 * (FANOUT_PER_LINK requests each, under the daemon's CONN_MAX_SERVED);
 * without one, each guest's channel is opened directly.  Every guest has
 * its own deadline: one that has not answered by then counts as failed
 * (its request is cancelled) and holds nobody up.  Output is returned
 * credit as soon as it is taken, so a guest's output never waits on
 * another's.
 *
 * What it writes, text or JSON, is report.c's.
 *
 * Every guest asked is one guest that succeeded or failed: --all asks each
 * one found, answering or not.  The exit status is 0 when every guest
 * succeeded, 1 when some did not, 125 when nobody could be asked.
 *
 * --all takes its guests from the daemon's guest table (table.c).
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
#include "fanout.h"
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
	report_target(fo, t);
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
		report_flush(t, s, 0);
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
		table_free(&na);
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
	if (report_flushed() != 0)
		return STATUS_FAILURE;
	if (failed > 0 && !fo->fo_json)
		report_summary(fo, targets, ntargets, failed);
	return failed == 0 ? 0 : 1;
}
