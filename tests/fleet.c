/*
 * fleet: many simulated guests in one process, for make bench-scale.
 *
 * Usage: fleet DIR COUNT [--prefix NAME] [--pidfile FILE] [--commands FILE]
 *
 * Guest i (NAME0001, NAME0002, ...; NAME defaults to "g") is, to a host
 * daemon with --channel-dir DIR, what QEMU and a guest daemon are: two
 * listening UNIX sockets in the older channel-directory layout,
 * DIR/<guest>.negotiator-host-to-guest.0 and ...guest-to-host.0, one
 * client each (another is accepted and closed, as QEMU does), and on them
 * the guest's side of the real protocol (common/conn.c): it greets, answers
 * HELLO, PING and LIST as a guest daemon does (common/serve.c).  OPEN is
 * answered in-process, as by a guest whose command takes no time:
 * "true" exits 0, "echo-args A B" prints "[A][B]" and exits 0, "guest-name"
 * prints the guest's name; anything else is "no such command".  (The real
 * runner allows RUNNER_MAX_JOBS at once per process, and 1,000 forks would
 * measure this machine's fork(), not the host daemon.)  With --commands,
 * LIST is answered with the names in FILE, each ended by a NUL byte, as
 * they are, as a hostile guest could (tests/cli.sh).
 *
 * No keepalive on our side: idle, fleet sleeps in epoll.  The pid file is
 * written once every socket listens; SIGTERM or SIGINT removes the sockets
 * and the pid file and exits 0.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "serve.h"

struct sim_port {
	struct sim_guest	*sp_guest;
	char			 sp_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 sp_listen;
	ev_io			 sp_accept;
	struct conn		 sp_conn;
};

struct sim_guest {
	char			 sg_name[PROTO_MAX_NAME + 1];
	struct sim_port		 sg_port[2];	/* host-to-guest, guest-to-host */
	struct runner_config	 sg_runner;
};

static struct sim_guest	*fleet;
static size_t		 nfleet;
static char		**list_names;	/* --commands */
static size_t		 list_count;

static void
reply_open(struct conn *c, struct proto_msg *m)
{
	static const struct req_ops	 none;
	struct sim_port			*sp = c->c_arg;
	struct req			 rq;
	char				 out[PROTO_MAX_DATA];
	const char			*cmd = m->m.open.op_argv[0];
	size_t				 i, n = 0;
	int				 k;

	memset(&rq, 0, sizeof(rq));
	if (conn_accept(c, &rq, m, &none, NULL) == -1)
		return;
	if (strcmp(cmd, "guest-name") == 0)
		n = (size_t)snprintf(out, sizeof(out), "%s\n",
		    sp->sp_guest->sg_name);
	else if (strcmp(cmd, "echo-args") == 0) {
		for (i = 1; i < m->m.open.op_argc; i++) {
			k = snprintf(out + n, sizeof(out) - n, "[%s]",
			    m->m.open.op_argv[i]);
			if (k < 0 || (size_t)k >= sizeof(out) - n) {
				n = sizeof(out) - 1;
				break;
			}
			n += (size_t)k;
		}
		out[n++] = '\n';
	} else if (strcmp(cmd, "true") != 0) {
		conn_fail(&rq, EXIT_NOTFOUND, 0, "no such command: %s", cmd);
		return;
	}
	if (n > 0)
		conn_send_data(&rq, STREAM_STDOUT, out, n);
	conn_send_data(&rq, STREAM_STDOUT, "", 0);
	conn_send_data(&rq, STREAM_STDERR, "", 0);
	conn_fail(&rq, EXIT_EXITED, 0, "%s", "");
}

static void
sim_request(struct conn *c, struct proto_msg *m)
{
	struct sim_port	*sp = c->c_arg;

	static const struct req_ops	 none;
	struct proto_msg		 reply;
	struct req			 rq;

	if (m->m_type == MSG_OPEN)
		reply_open(c, m);
	else if (m->m_type == MSG_LIST && list_names != NULL) {
		memset(&rq, 0, sizeof(rq));
		memset(&reply, 0, sizeof(reply));
		reply.m_type = MSG_LIST_REPLY;
		reply.m.names.na_names = list_names;
		reply.m.names.na_count = list_count;
		if (conn_accept(c, &rq, m, &none, NULL) == 0)
			conn_reply(&rq, &reply);
	} else
		serve_request(c, m, &sp->sp_guest->sg_runner);
}

static void
sim_eof(struct conn *c, int error)
{
	(void)error;
	conn_stop(c, "host went away");
}

static const struct conn_ops sim_ops = {
	sim_request, NULL, sim_eof,
};

static void
sim_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sim_port	*sp = w->data;
	int		 fd;

	(void)loop;
	(void)revents;
	if ((fd = accept4(sp->sp_listen, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) == -1)
		return;
	if (sp->sp_conn.c_ch.ch_fd != -1) {
		close(fd);	/* one client, as QEMU */
		return;
	}
	conn_start(&sp->sp_conn, fd);
}

static int
sim_listen(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(1, "%s: path too long", path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 4) == -1)
		err(1, "%s", path);
	return fd;
}

static void
stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* --commands FILE: names ended by NUL bytes, into list_names. */
static void
read_names(const char *path)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 size = 0;
	ssize_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		err(2, "%s", path);
	while ((n = getdelim(&line, &size, '\0', f)) > 1) {
		list_names = xreallocarray(list_names, list_count + 2,
		    sizeof(*list_names));
		list_names[list_count++] = xstrdup(line);
		list_names[list_count] = NULL;
	}
	free(line);
	fclose(f);
}

int
main(int argc, char *argv[])
{
	struct sim_guest	*sg;
	struct sim_port		*sp;
	struct rlimit		 rl;
	ev_signal		 term, intr;
	const char		*dir, *prefix = "g", *pidfile = NULL, *errstr;
	char			 label[128], tmp[4096];
	size_t			 i, p;
	FILE			*f;
	int			 a;

	if (argc < 3)
		errx(2, "usage: fleet DIR COUNT [--prefix NAME] "
		    "[--pidfile FILE] [--commands FILE]");
	dir = argv[1];
	nfleet = (size_t)strtonum(argv[2], 1, 100000, &errstr);
	if (errstr != NULL)
		errx(2, "COUNT %s: %s", argv[2], errstr);
	for (a = 3; a + 1 < argc; a += 2) {
		if (strcmp(argv[a], "--prefix") == 0)
			prefix = argv[a + 1];
		else if (strcmp(argv[a], "--pidfile") == 0)
			pidfile = argv[a + 1];
		else if (strcmp(argv[a], "--commands") == 0)
			read_names(argv[a + 1]);
		else
			errx(2, "unknown option %s", argv[a]);
	}
	if (a != argc)
		errx(2, "%s needs a value", argv[a]);
	log_init("fleet", LOG_LEVEL_QUIET, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Two listening sockets and two clients per guest. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fleet = xcalloc(nfleet, sizeof(*fleet));
	for (i = 0; i < nfleet; i++) {
		sg = &fleet[i];
		snprintf(sg->sg_name, sizeof(sg->sg_name), "%s%04zu", prefix,
		    i + 1);
		sg->sg_runner.rc_user_dir = "/nonexistent";
		sg->sg_runner.rc_builtin_dir = "/nonexistent";
		for (p = 0; p < 2; p++) {
			sp = &sg->sg_port[p];
			sp->sp_guest = sg;
			snprintf(sp->sp_path, sizeof(sp->sp_path), "%s/%s.%s",
			    dir, sg->sg_name, p == 0 ? PORT_H2G : PORT_G2H);
			snprintf(label, sizeof(label), "%s %s", sg->sg_name,
			    p == 0 ? PORT_H2G : PORT_G2H);
			conn_init(&sp->sp_conn, EV_DEFAULT, (p == 0 ?
			    CONN_SERVES : CONN_ISSUES) | CONN_GREETS, label,
			    &sim_ops, sp);
			sp->sp_listen = sim_listen(sp->sp_path);
			ev_io_init(&sp->sp_accept, sim_accept_cb,
			    sp->sp_listen, EV_READ);
			sp->sp_accept.data = sp;
			ev_io_start(EV_DEFAULT, &sp->sp_accept);
		}
	}
	if (pidfile != NULL) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
		if ((f = fopen(tmp, "w")) == NULL ||
		    fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
		    rename(tmp, pidfile) == -1)
			err(1, "%s", pidfile);
	}
	ev_signal_init(&term, stop_cb, SIGTERM);
	ev_signal_init(&intr, stop_cb, SIGINT);
	ev_signal_start(EV_DEFAULT, &term);
	ev_signal_start(EV_DEFAULT, &intr);
	ev_run(EV_DEFAULT, 0);
	for (i = 0; i < nfleet; i++)
		for (p = 0; p < 2; p++) {
			sp = &fleet[i].sg_port[p];
			conn_stop(&sp->sp_conn, "exit");
			close(sp->sp_listen);
			unlink(sp->sp_path);
		}
	if (pidfile != NULL)
		unlink(pidfile);
	return 0;
}
