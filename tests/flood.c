/*
 * flood: a hostile caller for the tests.  It connects to a daemon's control
 * socket and sends COUNT requests to run one command line, WINDOW of them
 * in flight at once, as fast as the daemon answers, and counts the answers
 * by kind.  Pointed at the guest daemon with an unknown command, it is the
 * "10,000 requests for unknown commands" attack on the host's log.
 *
 *	flood [-t TARGET] [-w WINDOW] [-T SECONDS] [-m MS] SOCKET COUNT CMD [ARG ...]
 *
 * -m sets the timeout each request asks for, in milliseconds (default
 * 10000; 0 = none), any 32-bit value, beyond what a CLI would send.
 *
 * Prints one line: "replies N exited N signaled N timeout N notexec N
 * notfound N failed N seconds S".  Exits 0 when every request got its
 * answer, 1 when the connection was lost or the time limit (default 60 s)
 * passed first, 2 on a usage error.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "clock.h"
#include "log.h"
#include "unix.h"

#define FLOOD_MAX_WINDOW	256

struct flood {
	struct conn		 f_conn;
	struct req		 f_req[FLOOD_MAX_WINDOW];
	int			 f_busy[FLOOD_MAX_WINDOW];
	struct proto_msg	 f_msg;
	struct ev_loop		*f_loop;
	ev_timer		 f_limit;
	long			 f_count, f_sent, f_replies;
	long			 f_kinds[EXIT_KIND_COUNT];
	int			 f_window;
	int			 f_status;
};

static void	flood_fill(struct flood *);

static void
flood_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	(void)p;	/* output is counted as credit and dropped */
	conn_send_credit(rq, stream, (uint32_t)n);
}

static void
flood_credit(struct req *rq, int stream, uint32_t n)
{
	(void)rq;
	(void)stream;
	(void)n;
}

static void
flood_cancel(struct req *rq)
{
	(void)rq;
}

static void
flood_slot_done(struct flood *f, struct req *rq)
{
	f->f_busy[rq - f->f_req] = 0;
	f->f_replies++;
	if (f->f_replies == f->f_count) {
		f->f_status = 0;
		ev_break(f->f_loop, EVBREAK_ALL);
		return;
	}
	flood_fill(f);
}

static void
flood_reply(struct req *rq, struct proto_msg *m)
{
	struct flood	*f = rq->rq_arg;

	if (m->m_type == MSG_EXIT && m->m.exit.ex_kind < EXIT_KIND_COUNT)
		f->f_kinds[m->m.exit.ex_kind]++;
	flood_slot_done(f, rq);
}

static void
flood_lost(struct req *rq, const char *why)
{
	struct flood	*f = rq->rq_arg;

	warnx("request lost: %s", why);
	ev_break(f->f_loop, EVBREAK_ALL);
}

static const struct req_ops flood_req_ops = {
	flood_data, flood_credit, flood_cancel, flood_reply, flood_lost,
	NULL,	/* at most WINDOW small requests queued: no need to wait */
	NULL,
};

/* Keeps f_window requests in flight until f_count are sent. */
static void
flood_fill(struct flood *f)
{
	int	 i;

	for (i = 0; i < f->f_window && f->f_sent < f->f_count; i++) {
		if (f->f_busy[i])
			continue;
		f->f_busy[i] = 1;
		f->f_sent++;
		conn_request(&f->f_conn, &f->f_req[i], &f->f_msg,
		    &flood_req_ops, f);
	}
}

static void
flood_request(struct conn *c, struct proto_msg *m)
{
	(void)c;
	(void)m;
}

static void
flood_ready(struct conn *c)
{
	flood_fill(c->c_arg);
}

static void
flood_eof(struct conn *c, int error)
{
	struct flood	*f = c->c_arg;

	warnx("connection lost: %s", channel_eof_reason(error));
	ev_break(f->f_loop, EVBREAK_ALL);
}

static const struct conn_ops flood_conn_ops = {
	flood_request, flood_ready, flood_eof,
};

static void
flood_limit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	warnx("time limit reached");
	ev_break(loop, EVBREAK_ALL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: flood [-t target] [-w window] [-T seconds] "
	    "[-m ms] socket count cmd [arg ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct flood	 f;
	const char	*errstr, *target = "";
	uint64_t	 start;
	double		 limit = 60;
	uint32_t	 timeout_ms = 10000;
	int		 ch, fd, i;

	memset(&f, 0, sizeof(f));
	f.f_window = 64;
	while ((ch = getopt(argc, argv, "t:w:T:m:")) != -1) {
		switch (ch) {
		case 't':
			target = optarg;
			break;
		case 'w':
			f.f_window = (int)strtonum(optarg, 1, FLOOD_MAX_WINDOW,
			    &errstr);
			if (errstr != NULL)
				errx(2, "window %s: %s", optarg, errstr);
			break;
		case 'm':
			timeout_ms = (uint32_t)strtonum(optarg, 0, UINT32_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "timeout %s: %s", optarg, errstr);
			break;
		case 'T':
			limit = (double)strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(2, "time limit %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 3 || argc - 2 > PROTO_MAX_ARGS)
		usage();
	f.f_count = (long)strtonum(argv[1], 1, 10000000, &errstr);
	if (errstr != NULL)
		errx(2, "count %s: %s", argv[1], errstr);
	log_init("flood", LOG_LEVEL_QUIET, 0);

	f.f_msg.m_type = MSG_OPEN;
	strlcpy(f.f_msg.m.open.op_target, target,
	    sizeof(f.f_msg.m.open.op_target));
	f.f_msg.m.open.op_timeout_ms = timeout_ms;
	f.f_msg.m.open.op_argc = (size_t)(argc - 2);
	f.f_msg.m.open.op_argv = argv + 2;
	f.f_status = 1;
	f.f_loop = EV_DEFAULT;

	if ((fd = unix_connect(argv[0], 0)) == -1)
		err(1, "%s", argv[0]);
	conn_init(&f.f_conn, f.f_loop, CONN_ISSUES | CONN_GREETS, "flood",
	    &flood_conn_ops, &f);
	ev_timer_init(&f.f_limit, flood_limit_cb, limit, 0.);
	ev_timer_start(f.f_loop, &f.f_limit);
	start = now_ms();
	conn_start(&f.f_conn, fd);
	ev_run(f.f_loop, 0);
	for (i = 0; i < f.f_window; i++)
		conn_unlink(&f.f_req[i]);
	conn_stop(&f.f_conn, "done");
	printf("replies %ld exited %ld signaled %ld timeout %ld notexec %ld "
	    "notfound %ld failed %ld seconds %.2f\n", f.f_replies,
	    f.f_kinds[EXIT_EXITED], f.f_kinds[EXIT_SIGNALED],
	    f.f_kinds[EXIT_TIMEOUT], f.f_kinds[EXIT_NOTEXEC],
	    f.f_kinds[EXIT_NOTFOUND], f.f_kinds[EXIT_FAILED],
	    (double)(now_ms() - start) / 1000.);
	return f.f_status;
}
