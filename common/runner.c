/*
 * Running commands.  A command is a regular executable file, named by a
 * single path component, directly in the user directory or else in the
 * built-in directory.  It runs with argv (no shell), in its own process
 * group, in /, with a clean environment and only fds 0-2.  Its stdin comes
 * from the request's DATA, its stdout and stderr leave as DATA as soon as
 * they are produced and as far as the caller's credit allows; a timeout or
 * a cancel kills the whole process group.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>




#include "log.h"
#include "runner.h"

#define JOB_LINGER	2.0	/* seconds to wait for output after exit */
#define JOB_CREDIT_STEP	(16 * 1024)

int
runner_valid_name(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len == 0 || len > PROTO_MAX_NAME || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", name[i]) == NULL)
			return 0;
	return 1;
}

const char *
runner_dir(const char *dir)
{
	char	*abs;

	if (dir[0] == '/')
		return dir;
	if ((abs = realpath(dir, NULL)) == NULL)
		fatal("%s", dir);
	return abs;
}

int
runner_lookup(const struct runner_config *rc, const char *name, char *path,
    size_t pathlen, char *why, size_t whylen)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	struct stat	 st;
	int		 i;

	if (!runner_valid_name(name)) {
		snprintf(why, whylen, "invalid command name (allowed: "
		    "[A-Za-z0-9._-], at most %d, no leading dot)",
		    PROTO_MAX_NAME);
		return EXIT_NOTFOUND;
	}
	for (i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		snprintf(path, pathlen, "%s/%s", dirs[i], name);
		if (stat(path, &st) == -1)
			continue;
		if (!S_ISREG(st.st_mode) || access(path, X_OK) == -1) {
			snprintf(why, whylen, "%s is not an executable file",
			    path);
			return EXIT_NOTEXEC;
		}
		return EXIT_EXITED;
	}
	snprintf(why, whylen, "no such command: %s", name);
	return EXIT_NOTFOUND;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

char **
runner_list(const struct runner_config *rc, size_t *count)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	char		**names = NULL, path[4096], why[256];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0, i, j;
	int		 k;

	for (k = 0; k < 2; k++) {
		if (dirs[k] == NULL || (d = opendir(dirs[k])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL && n < PROTO_MAX_LIST) {
			if (!runner_valid_name(de->d_name) ||
			    runner_lookup(rc, de->d_name, path, sizeof(path),
			    why, sizeof(why)) != EXIT_EXITED)
				continue;
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(de->d_name);
		}
		closedir(d);
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	/* A user command shadows a built-in of the same name. */
	for (i = j = 0; i < n; i++) {
		if (j > 0 && strcmp(names[j - 1], names[i]) == 0)
			free(names[i]);
		else
			names[j++] = names[i];
	}
	*count = j;
	return names;
}


/* --- jobs ----------------------------------------------------------- */

struct job {
	LIST_ENTRY(job)	 j_entry;
	struct req	 j_req;
	struct ev_loop	*j_loop;
	pid_t		 j_pid;
	int		 j_status;
	int		 j_reaped;
	int		 j_timed_out;
	int		 j_killing;
	int		 j_fd[STREAM_COUNT];	/* our ends; -1 once closed */
	ev_io		 j_io[STREAM_COUNT];
	ev_child	 j_child;
	ev_timer	 j_timeout;
	ev_timer	 j_kill;
	ev_timer	 j_linger;
	struct buf	 j_stdin;	/* received, not yet written */
	int		 j_stdin_eof;	/* the caller ended stdin */
	uint32_t	 j_stdin_done;	/* written, credit not yet returned */
	uint64_t	 j_started;
	char		 j_what[256];	/* "caller: command args" for logs */
};

static LIST_HEAD(, job) jobs = LIST_HEAD_INITIALIZER(jobs);
static int	 jobs_running;

static void	job_update_events(struct job *);

int
job_count(void)
{
	return jobs_running;
}

/* Jobs of one peer, including the one being started. */
static int
job_count_for(const struct conn *c)
{
	struct job	*j;
	int		 n = 0;

	LIST_FOREACH(j, &jobs, j_entry)
		if (j->j_req.rq_conn == c)
			n++;
	return n;
}

static void
job_close_fd(struct job *j, int s)
{
	if (j->j_fd[s] == -1)
		return;
	ev_io_stop(j->j_loop, &j->j_io[s]);
	close(j->j_fd[s]);
	j->j_fd[s] = -1;
}

static void
job_signal(struct job *j, int sig)
{
	if (!j->j_reaped || j->j_fd[STREAM_STDOUT] != -1 ||
	    j->j_fd[STREAM_STDERR] != -1)
		killpg(j->j_pid, sig);
}

static void
job_kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;

	(void)loop;
	(void)revents;
	job_signal(j, SIGKILL);
}

/* TERM to the process group now, KILL after the grace period. */
static void
job_kill(struct job *j)
{
	if (j->j_killing)
		return;
	j->j_killing = 1;
	job_signal(j, SIGTERM);
	ev_timer_set(&j->j_kill, RUNNER_KILL_GRACE, 0.);
	ev_timer_start(j->j_loop, &j->j_kill);
}

static void
job_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;

	(void)loop;
	(void)revents;
	log_info("%s: timed out", j->j_what);
	j->j_timed_out = 1;
	job_kill(j);
}

static void
job_linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;

	(void)loop;
	(void)revents;
	/* The leader is gone but something still holds its output open. */
	job_signal(j, SIGKILL);
	job_close_fd(j, STREAM_STDOUT);
	job_close_fd(j, STREAM_STDERR);
	job_update_events(j);
}

static void
job_free(struct job *j)
{
	int	 s;

	for (s = 0; s < STREAM_COUNT; s++)
		job_close_fd(j, s);
	ev_timer_stop(j->j_loop, &j->j_timeout);
	ev_timer_stop(j->j_loop, &j->j_kill);
	ev_timer_stop(j->j_loop, &j->j_linger);
	ev_child_stop(j->j_loop, &j->j_child);
	conn_unlink(&j->j_req);
	buf_free(&j->j_stdin);
	LIST_REMOVE(j, j_entry);
	free(j);
}

/* Answers the request with how the command ended, and frees the job. */
static void
job_finish(struct job *j)
{
	int	 st = j->j_status;
	double	 ms = (double)(now_ms() - j->j_started);

	if (j->j_timed_out) {
		log_info("%s: killed after timeout (%.0f ms)", j->j_what, ms);
		conn_fail(&j->j_req, EXIT_TIMEOUT, 0, "timed out");
	} else if (WIFSIGNALED(st)) {
		log_info("%s: killed by signal %d (%.0f ms)", j->j_what,
		    WTERMSIG(st), ms);
		conn_fail(&j->j_req, EXIT_SIGNALED, WTERMSIG(st), "%s",
		    strsignal(WTERMSIG(st)));
	} else {
		log_info("%s: exit %d (%.0f ms)", j->j_what, WEXITSTATUS(st),
		    ms);
		conn_fail(&j->j_req, EXIT_EXITED, WEXITSTATUS(st), "%s", "");
	}
	job_free(j);
}

/* Decides which pipe watchers run, and finishes the job when all is done. */
static void
job_update_events(struct job *j)
{
	int	 s, want;

	for (s = 0; s < STREAM_COUNT; s++) {
		if (j->j_fd[s] == -1)
			continue;
		if (s == STREAM_STDIN)
			want = buf_pending(&j->j_stdin) > 0;
		else	/* with no caller left, drain so nothing blocks */
			want = j->j_req.rq_conn == NULL ||
			    (j->j_req.rq_can_send[s] > 0 &&
			    !conn_congested(&j->j_req));
		if (want && !ev_is_active(&j->j_io[s]))
			ev_io_start(j->j_loop, &j->j_io[s]);
		else if (!want && ev_is_active(&j->j_io[s]))
			ev_io_stop(j->j_loop, &j->j_io[s]);
	}
	if (j->j_fd[STREAM_STDIN] != -1 && j->j_stdin_eof &&
	    buf_pending(&j->j_stdin) == 0)
		job_close_fd(j, STREAM_STDIN);
	if (j->j_reaped && j->j_fd[STREAM_STDOUT] == -1 &&
	    j->j_fd[STREAM_STDERR] == -1)
		job_finish(j);
}

static void
job_output_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct job	*j = w->data;
	int		 s = w == &j->j_io[STREAM_STDOUT] ? STREAM_STDOUT :
			    STREAM_STDERR;
	uint8_t		 chunk[PROTO_MAX_DATA];
	size_t		 want = sizeof(chunk);
	ssize_t		 n;

	(void)loop;
	(void)revents;
	/* Another producer may have filled the queue since the last check. */
	if (conn_congested(&j->j_req)) {
		job_update_events(j);
		return;
	}
	if (j->j_req.rq_conn != NULL && j->j_req.rq_can_send[s] < want)
		want = j->j_req.rq_can_send[s];
	n = read(j->j_fd[s], chunk, want);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		job_close_fd(j, s);
	else
		conn_send_data(&j->j_req, s, chunk, (size_t)n);
	job_update_events(j);
}

static void
job_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct job	*j = w->data;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	n = write(j->j_fd[STREAM_STDIN], buf_head(&j->j_stdin),
	    buf_pending(&j->j_stdin));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		/* The command closed its stdin: discard the rest. */
		j->j_stdin_done += buf_pending(&j->j_stdin);
		buf_clear(&j->j_stdin);
		job_close_fd(j, STREAM_STDIN);
	} else {
		buf_consume(&j->j_stdin, (size_t)n);
		j->j_stdin_done += (uint32_t)n;
	}
	if (j->j_stdin_done >= JOB_CREDIT_STEP ||
	    buf_pending(&j->j_stdin) == 0) {
		conn_send_credit(&j->j_req, STREAM_STDIN, j->j_stdin_done);
		j->j_stdin_done = 0;
	}
	job_update_events(j);
}

static void
job_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct job	*j = w->data;

	(void)revents;
	ev_child_stop(loop, w);
	j->j_status = w->rstatus;
	j->j_reaped = 1;
	jobs_running--;
	ev_timer_stop(loop, &j->j_timeout);
	if (j->j_fd[STREAM_STDOUT] != -1 || j->j_fd[STREAM_STDERR] != -1) {
		ev_timer_set(&j->j_linger, JOB_LINGER, 0.);
		ev_timer_start(loop, &j->j_linger);
	}
	job_update_events(j);
}

/* --- the request's side ---------------------------------------------- */

static void
job_req_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct job	*j = rq->rq_arg;

	(void)stream;	/* conn.c routes only stdin to a served request */
	if (n == 0)
		j->j_stdin_eof = 1;
	else if (j->j_fd[STREAM_STDIN] == -1)
		conn_send_credit(rq, STREAM_STDIN, (uint32_t)n);
	else
		buf_append(&j->j_stdin, p, n);
	job_update_events(j);
}

static void
job_req_credit(struct req *rq, int stream, uint32_t n)
{
	(void)stream;
	(void)n;
	job_update_events(rq->rq_arg);
}

static void
job_req_drain(struct req *rq)
{
	job_update_events(rq->rq_arg);
}

static void
job_req_cancel(struct req *rq)
{
	struct job	*j = rq->rq_arg;

	log_info("%s: cancelled by the caller", j->j_what);
	job_kill(j);
}

static void
job_req_lost(struct req *rq, const char *why)
{
	struct job	*j = rq->rq_arg;

	log_info("%s: caller gone (%s), killing it", j->j_what, why);
	job_kill(j);
	job_update_events(j);
}

static void
job_req_reply(struct req *rq, struct proto_msg *m)
{
	(void)rq;
	(void)m;
	fatalx("%s: a served request got a reply", __func__);
}

static const struct req_ops job_req_ops = {
	job_req_data, job_req_credit, job_req_cancel, job_req_reply,
	job_req_lost, job_req_drain,
};

static void
job_describe(struct job *j, const struct conn *c, const struct proto_open *op)
{
	size_t	 i;

	snprintf(j->j_what, sizeof(j->j_what), "%s: %s", c->c_label,
	    op->op_argv[0]);
	for (i = 1; i < op->op_argc; i++) {
		strlcat(j->j_what, " ", sizeof(j->j_what));
		strlcat(j->j_what, op->op_argv[i], sizeof(j->j_what));
	}
}

/* In the child: never returns. */
static void
job_exec(const char *path, char **argv, int fds[STREAM_COUNT],
    const char *guest)
{
	char		 genv[PROTO_MAX_NAME + 32];
	char		*envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		    "/sbin:/bin",
		"LANG=C.UTF-8", "HOME=/", "SHELL=/bin/sh", NULL, NULL,
	};
	sigset_t	 none;
	int		 s;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	for (s = 0; s < STREAM_COUNT; s++)
		if (dup2(fds[s], s) == -1)
			_exit(125);
	closefrom(3);
	if (chdir("/") == -1)
		_exit(125);
	if (guest != NULL) {
		snprintf(genv, sizeof(genv), "NEGOTIATOR_GUEST=%s", guest);
		envp[4] = genv;
	}
	execve(path, argv, envp);
	dprintf(2, "negotiator: cannot run %s: %s\n", path, strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

static int
job_pipes(int ours[STREAM_COUNT], int theirs[STREAM_COUNT], int with_stdin)
{
	int	 p[2], s;

	for (s = 0; s < STREAM_COUNT; s++)
		ours[s] = theirs[s] = -1;
	if (!with_stdin &&
	    (theirs[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (s = with_stdin ? 0 : 1; s < STREAM_COUNT; s++) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return -1;
		ours[s] = s == 0 ? p[1] : p[0];
		theirs[s] = s == 0 ? p[0] : p[1];
		fcntl(ours[s], F_SETFL, O_NONBLOCK);
	}
	return 0;
}

static void
close_all(int fds[STREAM_COUNT])
{
	int	 s;

	for (s = 0; s < STREAM_COUNT; s++)
		if (fds[s] != -1)
			close(fds[s]);
}

int
job_start(struct conn *c, const struct runner_config *rc,
    const struct proto_msg *m)
{
	const struct proto_open	*op = &m->m.open;
	struct job		*j = xcalloc(1, sizeof(*j));
	struct ev_loop		*loop = c->c_ch.ch_loop;
	char			 path[4096], why[512];
	int			 theirs[STREAM_COUNT], kind, s;

	j->j_loop = loop;
	LIST_INSERT_HEAD(&jobs, j, j_entry);
	for (s = 0; s < STREAM_COUNT; s++) {
		j->j_fd[s] = -1;
		ev_init(&j->j_io[s], s == 0 ? (void (*)(struct ev_loop *,
		    ev_io *, int))job_stdin_cb : job_output_cb);
		j->j_io[s].data = j;
	}
	ev_init(&j->j_timeout, job_timeout_cb);
	ev_init(&j->j_kill, job_kill_cb);
	ev_init(&j->j_linger, job_linger_cb);
	ev_init(&j->j_child, job_child_cb);
	j->j_timeout.data = j->j_kill.data = j->j_linger.data = j;
	j->j_child.data = j;
	j->j_reaped = 1;	/* until there is a child */
	j->j_started = now_ms();
	job_describe(j, c, op);
	if (conn_accept(c, &j->j_req, m, &job_req_ops, j) == -1) {
		job_free(j);
		return -1;
	}

	kind = runner_lookup(rc, op->op_argv[0], path, sizeof(path), why,
	    sizeof(why));
	if (kind != EXIT_EXITED) {
		log_info("%s: refused: %s", j->j_what, why);
		conn_fail(&j->j_req, kind, 0, "%s", why);
		job_free(j);
		return -1;
	}
	if (jobs_running >= RUNNER_MAX_JOBS ||
	    job_count_for(c) > RUNNER_MAX_PEER_JOBS) {
		log_limited("jobs", "%s: refused: %d commands running",
		    j->j_what, jobs_running);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "too many commands "
		    "running (%d here, at most %d per caller)", jobs_running,
		    RUNNER_MAX_PEER_JOBS);
		job_free(j);
		return -1;
	}
	if (job_pipes(j->j_fd, theirs, op->op_flags & OPEN_STDIN) == -1 ||
	    (j->j_pid = fork()) == -1) {
		snprintf(why, sizeof(why), "cannot start: %s", strerror(errno));
		log_warnx("%s: %s", j->j_what, why);
		close_all(theirs);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "%s", why);
		job_free(j);
		return -1;
	}
	if (j->j_pid == 0)
		job_exec(path, op->op_argv, theirs, rc->rc_guest);
	setpgid(j->j_pid, j->j_pid);
	close_all(theirs);
	for (s = 0; s < STREAM_COUNT; s++)
		if (j->j_fd[s] != -1)
			ev_io_set(&j->j_io[s], j->j_fd[s],
			    s == STREAM_STDIN ? EV_WRITE : EV_READ);
	j->j_reaped = 0;
	jobs_running++;
	ev_child_set(&j->j_child, j->j_pid, 0);
	ev_child_start(loop, &j->j_child);
	if (op->op_timeout_ms > 0) {
		ev_timer_set(&j->j_timeout, op->op_timeout_ms / 1000., 0.);
		ev_timer_start(loop, &j->j_timeout);
	}
	log_debug("%s: started, pid %d", j->j_what, (int)j->j_pid);
	job_update_events(j);
	return 0;
}

void
job_kill_all(void)
{
	struct job	*j;

	LIST_FOREACH(j, &jobs, j_entry)
		if (!j->j_reaped)
			job_kill(j);
}
