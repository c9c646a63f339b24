/*
 * Running commands: a job's lifecycle, from the OPEN that asks for it to
 * the EXIT that answers it.  The command is found and checked by the
 * policy of negotiator-commands(7) (policy.c), and run through the
 * descriptor it was checked by.  It runs with argv (no shell), in its own
 * process group and containment (contain.c), in /, with a clean
 * environment and only fds 0-2 (and 3 for a script: launch.c).  Its stdin
 * comes from the request's DATA, its stdout and stderr leave as DATA as
 * soon as they are produced and as far as the caller's credit allows.  A
 * timeout (held to the daemon's ceiling) or a cancel kills the whole
 * process group, and the end of the call whatever it left behind.
 * Over 500 lines because a job is one state machine: its pipes, credit,
 * timers, queue slot and reaping all move the same struct job.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "callenv.h"
#include "clock.h"
#include "contain.h"
#include "jobqueue.h"
#include "launch.h"
#include "log.h"
#include "policy.h"
#include "pty.h"
#include "runner.h"
#include "words.h"

#define JOB_LINGER	2.0	/* seconds to wait for output after exit */
/*
 * Stdin credit goes back in steps of half the window (job_stdin_written).
 * Into the bench's TCG guest, 128 MiB into a command, 3 interleaved rounds
 * on 2026-12-03: 140-142 MB/s with steps of 64 KiB, 159-163 with 128 KiB,
 * 147-151 with 192 KiB; the guest busy 94-97, 77-80 and 88-89 ticks, and
 * 2,290-2,310, 1,460-1,510 and 2,300-2,370 interrupts.  Each CREDIT is a
 * write to the port and the host's answer to it a burst of DATA: in 64
 * KiB steps every frame was its own burst, a CREDIT and a run of
 * interrupts; in steps of 192 KiB the host was left 64 KiB to send.
 */
#define JOB_CREDIT_STEP	(PROTO_WINDOW / 2)
#define JOB_TTY_WAIT	5.0	/* seconds an OPEN_TTY waits for its TTY */

uint32_t
runner_timeout(const struct runner_config *rc, uint32_t requested_ms)
{
	if (rc->rc_max_timeout_ms > 0 && (requested_ms == 0 ||
	    requested_ms > rc->rc_max_timeout_ms))
		return rc->rc_max_timeout_ms;
	return requested_ms;
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
	uint32_t	 j_ceiling_ms;	/* the ceiling cut its timeout to this */
	int		 j_killing;
	int		 j_fd[STREAM_COUNT];	/* our ends; -1 once closed */
	ev_io		 j_io[STREAM_COUNT];
	ev_child	 j_child;
	ev_timer	 j_timeout;
	ev_timer	 j_kill;
	ev_timer	 j_linger;
	struct contain	 j_contain;	/* what the command starts */
	struct buf	 j_stdin;	/* received, not yet written */
	int		 j_stdin_eof;	/* the caller ended stdin */
	uint32_t	 j_stdin_done;	/* written, credit not yet returned */
	uint64_t	 j_started;	/* when it was asked for */
	struct jobqueue_entry j_wait;	/* while it waits for a slot */
	const struct runner_config *j_rc;
	char		*j_path;	/* what to run, once looked up */
	int		 j_exec_fd;	/* ... checked and held (-1: none) */
	char		**j_argv;	/* a copy of OPEN's, NULL-terminated */
	size_t		 j_argc;
	char		**j_envv;	/* OPEN's, checked (callenv.h) */
	size_t		 j_envc;
	uint32_t	 j_flags;	/* OPEN's */
	/*
	 * OPEN_TTY: j_fd[STREAM_STDIN] and j_fd[STREAM_STDOUT] are the
	 * pty's master (two descriptors of it), and there is no stderr.  The
	 * job waits for the caller's first TTY (j_tty_wait) before it is
	 * admitted, at most JOB_TTY_WAIT.
	 */
	int		 j_tty_wait;
	struct proto_tty j_tty;
	ev_timer	 j_tty_timer;
	int		 j_end_kind;	/* how it was answered, for audit.c */
	int		 j_end_code;
	char		 j_key[128];	/* the caller, for log_limited() */
	char		 j_what[256];	/* "caller: command args", log_vis()ed */
};

static LIST_HEAD(, job) jobs = LIST_HEAD_INITIALIZER(jobs);
static int	 jobs_running;
static const struct runner_config *jobs_rc;	/* the caps of job_room() */

static void	job_update_events(struct job *);
static int	job_room(const char *);
static int	job_admit(struct job *);

/* 1 while the job has not started: queued, or waiting for its TTY. */
static int
job_waiting(struct job *j)
{
	return jobqueue_queued(&j->j_wait) || j->j_tty_wait;
}

int
job_count(void)
{
	return jobs_running;
}

/*
 * Processes not yet reaped that were started for the peer known as key:
 * its sessions come and go, its label stays (runner.h).
 */
static int
job_count_for(const char *key)
{
	struct job	*j;
	int		 n = 0;

	LIST_FOREACH(j, &jobs, j_entry)
		if (!j->j_reaped && strcmp(j->j_key, key) == 0)
			n++;
	return n;
}

/* "caller: command args: message", within the caller's share of the log. */
static void __attribute__((format(printf, 3, 4)))
job_log(struct job *j, int level, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_limited_at(level, j->j_key, "%s: %s", j->j_what, msg);
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

/*
 * sig to the command's process group, and to its containment.  The group
 * only while its leader, the command, is not reaped: its pid is ours until
 * then.  Once it is, the group may be empty (what holds the pipes open may
 * have left it with setsid), and its number free for another process to
 * take and lead a group of its own: on a busy host the number comes round
 * again within a minute (32,768 pids), and a killpg then would signal a
 * stranger.  What is left of the call is the containment's (contain.h).
 */
static void
job_signal(struct job *j, int sig)
{
	if (!j->j_reaped)
		killpg(j->j_pid, sig);
	contain_signal(&j->j_contain, sig);
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
	if (job_waiting(j)) {
		/* Never started: it ends as if killed by TERM at once. */
		jobqueue_remove(&j->j_wait);
		j->j_tty_wait = 0;
		ev_timer_stop(j->j_loop, &j->j_tty_timer);
		j->j_status = SIGTERM;
		return;
	}
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
	job_log(j, LOG_LEVEL_INFO, "timed out");
	j->j_timed_out = 1;
	job_kill(j);
	job_update_events(j);
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
	ev_timer_stop(j->j_loop, &j->j_tty_timer);
	ev_child_stop(j->j_loop, &j->j_child);
	/* The call is over: nothing it started outlives it. */
	contain_end(&j->j_contain);
	audit_call(j->j_key, NULL, j->j_argv, j->j_argc, j->j_end_kind,
	    j->j_end_code, now_ms() - j->j_started);
	conn_unlink(&j->j_req);
	buf_free(&j->j_stdin);
	jobqueue_remove(&j->j_wait);
	if (j->j_argv != NULL)
		strv_free(j->j_argv, j->j_argc);
	if (j->j_envv != NULL)
		strv_free(j->j_envv, j->j_envc);
	free(j->j_path);
	if (j->j_exec_fd != -1)
		close(j->j_exec_fd);
	LIST_REMOVE(j, j_entry);
	free(j);
}

/* Answers the request with how the command ended, and frees the job. */
static void
job_finish(struct job *j)
{
	int	 st = j->j_status;
	double	 ms = (double)(now_ms() - j->j_started);

	j->j_end_kind = j->j_timed_out ? EXIT_TIMEOUT : WIFSIGNALED(st) ?
	    EXIT_SIGNALED : EXIT_EXITED;
	j->j_end_code = j->j_timed_out ? 0 : WIFSIGNALED(st) ? WTERMSIG(st) :
	    WEXITSTATUS(st);

	/* The reply first (conn_reply writes it at once), then the logs. */
	if (j->j_timed_out) {
		if (j->j_ceiling_ms > 0)
			conn_fail(&j->j_req, EXIT_TIMEOUT, 0, "timed out (at "
			    "the limit of %.0f s this side puts on timeouts)",
			    j->j_ceiling_ms / 1000.);
		else
			conn_fail(&j->j_req, EXIT_TIMEOUT, 0, "timed out");
		job_log(j, LOG_LEVEL_INFO, "killed after timeout (%.0f ms)",
		    ms);
	} else if (WIFSIGNALED(st)) {
		conn_fail(&j->j_req, EXIT_SIGNALED, WTERMSIG(st), "%s",
		    strsignal(WTERMSIG(st)));
		job_log(j, LOG_LEVEL_INFO, "killed by signal %d (%.0f ms)",
		    WTERMSIG(st), ms);
	} else {
		conn_fail(&j->j_req, EXIT_EXITED, WEXITSTATUS(st), "%s", "");
		job_log(j, LOG_LEVEL_INFO, "exit %d (%.0f ms)",
		    WEXITSTATUS(st), ms);
	}
	job_free(j);
}

/* Decides which pipe watchers run, and finishes the job when all is done. */
static void
job_update_events(struct job *j)
{
	int	 s, want;

	if (job_waiting(j))
		return;		/* nothing runs, nothing is read */
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
	uint8_t		 sink[PROTO_MAX_DATA];
	size_t		 want = PROTO_MAX_DATA;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	/* Another producer may have filled the queue since the last check. */
	if (conn_congested(&j->j_req)) {
		job_update_events(j);
		return;
	}
	if (j->j_req.rq_conn != NULL && (j->j_flags & OPEN_TTY)) {
		/*
		 * A pty master is no pipe: it cannot be spliced, and a read
		 * after the last holder of the slave is gone fails with EIO,
		 * its end of file.
		 */
		if (j->j_req.rq_can_send[s] < want)
			want = j->j_req.rq_can_send[s];
		if ((n = read(j->j_fd[s], sink, want)) > 0)
			conn_send_data(&j->j_req, s, sink, (size_t)n);
	} else if (j->j_req.rq_conn != NULL) {
		/*
		 * Read straight into the channel's queue as one DATA frame, or
		 * spliced to its fd: the bytes are not copied through us
		 * (proto.h, DATA).
		 */
		if (j->j_req.rq_can_send[s] < want)
			want = j->j_req.rq_can_send[s];
		n = conn_send_data_from(&j->j_req, s, j->j_fd[s], want);
	} else	/* with no caller left, drain so nothing blocks */
		n = read(j->j_fd[s], sink, sizeof(sink));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		job_close_fd(j, s);
	job_update_events(j);
}

/*
 * n more bytes of stdin reached the command, or were dropped after the
 * command closed its stdin: credit goes back in steps of JOB_CREDIT_STEP,
 * less than the window, so the caller always has credit for the rest of
 * its window while nothing waits here; and all of it once the caller has
 * ended stdin.  One CREDIT per step, never one per DATA frame, however
 * small the frames (channel.h, rule 4).
 */
static void
job_stdin_written(struct job *j, size_t n)
{
	j->j_stdin_done += (uint32_t)n;
	if (j->j_stdin_done >= JOB_CREDIT_STEP ||
	    (j->j_stdin_done > 0 && j->j_stdin_eof)) {
		conn_send_credit(&j->j_req, STREAM_STDIN, j->j_stdin_done);
		j->j_stdin_done = 0;
	}
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
	job_stdin_written(j, 0);
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
	jobqueue_run(job_room);	/* a slot is free */
}

/* --- the request's side ---------------------------------------------- */

static void
job_req_data(struct req *rq, int stream, const uint8_t *p, size_t n)
{
	struct job	*j = rq->rq_arg;
	ssize_t		 k;

	/*
	 * conn.c routes only stdin to a served request, and only while it is
	 * open: asked for by the OPEN, and not yet ended.
	 */
	(void)stream;
	if (n == 0)
		j->j_stdin_eof = 1;
	else if (job_waiting(j))
		buf_append(&j->j_stdin, p, n);	/* no credit back until it runs */
	else if (j->j_fd[STREAM_STDIN] == -1)
		job_stdin_written(j, n);	/* the command closed it */
	else {
		/*
		 * A terminal whose command does not read what was typed: an
		 * interrupt in the new bytes jumps what waits (pty.h), and
		 * what was typed before it is dropped, as the line
		 * discipline drops its input on an interrupt.
		 */
		if ((j->j_flags & OPEN_TTY) && buf_pending(&j->j_stdin) > 0 &&
		    (k = (ssize_t)pty_interrupt(j->j_fd[STREAM_STDIN], p,
		    n)) > 0) {
			job_stdin_written(j, buf_pending(&j->j_stdin) +
			    (size_t)k);
			buf_clear(&j->j_stdin);
			p += k;
			n -= (size_t)k;
		}
		/*
		 * Straight from the frame into the pipe while nothing waits
		 * before it; what the pipe does not take waits in j_stdin.
		 */
		if (buf_pending(&j->j_stdin) == 0 &&
		    (k = write(j->j_fd[STREAM_STDIN], p, n)) > 0) {
			p += k;
			n -= (size_t)k;
			job_stdin_written(j, (size_t)k);
		}
		buf_append(&j->j_stdin, p, n);
	}
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

	job_log(j, LOG_LEVEL_INFO, "cancelled by the caller");
	job_kill(j);
	job_update_events(j);
}

static void
job_req_lost(struct req *rq, const char *why)
{
	struct job	*j = rq->rq_arg;

	job_log(j, LOG_LEVEL_INFO, "caller gone (%s), killing it", why);
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

/*
 * The caller's terminal: the first TTY starts a job that waits for it,
 * with its size and $TERM; later ones resize.
 */
static void
job_req_tty(struct req *rq, const struct proto_tty *ty)
{
	struct job	*j = rq->rq_arg;

	if (!(j->j_flags & OPEN_TTY))
		return;
	j->j_tty.ty_rows = ty->ty_rows;
	j->j_tty.ty_cols = ty->ty_cols;
	if (j->j_tty_wait) {
		strlcpy(j->j_tty.ty_term, ty->ty_term,
		    sizeof(j->j_tty.ty_term));
		j->j_tty_wait = 0;
		ev_timer_stop(j->j_loop, &j->j_tty_timer);
		job_admit(j);	/* may free j */
		return;
	}
	if (j->j_fd[STREAM_STDOUT] != -1)
		pty_resize(j->j_fd[STREAM_STDOUT], ty->ty_rows, ty->ty_cols);
	else if (j->j_fd[STREAM_STDIN] != -1)
		pty_resize(j->j_fd[STREAM_STDIN], ty->ty_rows, ty->ty_cols);
}

static void
job_tty_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct job	*j = w->data;

	(void)loop;
	(void)revents;
	job_log(j, LOG_LEVEL_INFO, "refused: no terminal size from the "
	    "caller in %.0f s", JOB_TTY_WAIT);
	conn_fail(&j->j_req, EXIT_FAILED, 0, "no terminal size came with "
	    "the --tty request");
	job_free(j);
}

static const struct req_ops job_req_ops = {
	job_req_data, job_req_credit, job_req_cancel, job_req_reply,
	job_req_lost, job_req_drain, job_req_tty,
};

static void
job_describe(struct job *j, const struct conn *c, const struct proto_open *op)
{
	char	 vis[sizeof(j->j_what)];
	size_t	 i;

	strlcpy(j->j_key, c->c_label, sizeof(j->j_key));
	log_vis(j->j_what, sizeof(j->j_what), c->c_label);
	for (i = 0; i < op->op_argc; i++) {
		strlcat(j->j_what, i == 0 ? ": " : " ", sizeof(j->j_what));
		strlcat(j->j_what, log_vis(vis, sizeof(vis), op->op_argv[i]),
		    sizeof(j->j_what));
	}
}

/*
 * Starts the command: a clean environment (PATH, LANG, HOME, SHELL and, on
 * the host, NEGOTIATOR_GUEST), then the caller's variables (checked: none
 * of them is one of ours), the rest as launch_command says.
 */
static pid_t
job_spawn(int exec_fd, char **argv, int fds[STREAM_COUNT],
    const char *guest, char **env, size_t envc, int cgroup_fd,
    const char *term)
{
	char		 genv[PROTO_MAX_NAME + 32];
	char		 tenv[PROTO_MAX_TERM + 8];
	char		*envp[6 + PROTO_MAX_ENV + 1] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		    "/sbin:/bin",
		"LANG=C.UTF-8", "HOME=/", "SHELL=/bin/sh",
	};
	size_t		 n = 4, i;

	if (guest != NULL) {
		snprintf(genv, sizeof(genv), "NEGOTIATOR_GUEST=%s", guest);
		envp[n++] = genv;
	}
	/* A terminal's $TERM is the caller's terminal's, or vt100 (pty.h). */
	if (term != NULL) {
		snprintf(tenv, sizeof(tenv), "TERM=%s", pty_term(term));
		envp[n++] = tenv;
	}
	for (i = 0; i < envc && i < PROTO_MAX_ENV; i++)
		if (term == NULL || strncmp(env[i], "TERM=", 5) != 0)
			envp[n++] = env[i];
	envp[n] = NULL;
	return launch_command(exec_fd, argv, envp, fds, cgroup_fd,
	    term != NULL ? LAUNCH_TTY : 0);
}

/*
 * A terminal's descriptors: ours are the master, twice (stdin and stdout,
 * each closed on its own), theirs the slave, thrice.
 */
static int
job_pty(int ours[STREAM_COUNT], int theirs[STREAM_COUNT],
    const struct proto_tty *ty)
{
	int	 s;

	for (s = 0; s < STREAM_COUNT; s++)
		ours[s] = theirs[s] = -1;
	if (pty_open(&ours[STREAM_STDIN], &theirs[0], ty->ty_rows,
	    ty->ty_cols) == -1)
		return -1;
	if ((ours[STREAM_STDOUT] = fcntl(ours[STREAM_STDIN], F_DUPFD_CLOEXEC,
	    0)) == -1 ||
	    (theirs[1] = fcntl(theirs[0], F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (theirs[2] = fcntl(theirs[0], F_DUPFD_CLOEXEC, 0)) == -1)
		return -1;
	return 0;
}

/*
 * A command's pipes: ours (the daemon's ends, non-blocking) and theirs;
 * its stdin pipe holds stdin_pipe bytes where that is set and the kernel
 * lets it (else the default: no less correct, only slower).
 */
static int
job_pipes(int ours[STREAM_COUNT], int theirs[STREAM_COUNT], int with_stdin,
    int stdin_pipe)
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
		if (s == STREAM_STDIN && stdin_pipe > 0)
			(void)fcntl(ours[s], F_SETPIPE_SZ, stdin_pipe);
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

/* 1 if a command of the peer known as key may start now (the caps). */
static int
job_room(const char *key)
{
	const struct runner_config	*rc = jobs_rc;
	int				 max, max_peer;

	max = rc->rc_max_jobs > 0 ? rc->rc_max_jobs : RUNNER_MAX_JOBS;
	max_peer = rc->rc_max_peer_jobs > 0 ? rc->rc_max_peer_jobs :
	    RUNNER_MAX_PEER_JOBS;
	return jobs_running < max && job_count_for(key) < max_peer;
}

/* Starts the command of a job that has its slot; -1 (answered) if not. */
static int
job_run(struct job *j)
{
	int	 theirs[STREAM_COUNT], s, cgroup_fd;
	char	 why[512];

	if ((cgroup_fd = contain_prepare(&j->j_contain, why,
	    sizeof(why))) == -2) {
		job_log(j, LOG_LEVEL_QUIET, "cannot start: cannot contain it: "
		    "%s", why);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "cannot start: cannot "
		    "contain it");
		job_free(j);
		return -1;
	}
	if (((j->j_flags & OPEN_TTY) ? job_pty(j->j_fd, theirs, &j->j_tty) :
	    job_pipes(j->j_fd, theirs, j->j_flags & OPEN_STDIN,
	    j->j_rc->rc_stdin_pipe)) == -1 ||
	    (j->j_pid = job_spawn(j->j_exec_fd, j->j_argv, theirs,
	    j->j_rc->rc_guest, j->j_envv, j->j_envc, cgroup_fd,
	    (j->j_flags & OPEN_TTY) ? j->j_tty.ty_term : NULL)) == -1) {
		snprintf(why, sizeof(why), "cannot start: %s", strerror(errno));
		job_log(j, LOG_LEVEL_QUIET, "%s", why);
		close_all(theirs);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "%s", why);
		job_free(j);
		return -1;
	}
	close(j->j_exec_fd);
	j->j_exec_fd = -1;
	contain_started(&j->j_contain, j->j_pid);
	setpgid(j->j_pid, j->j_pid);
	close_all(theirs);
	for (s = 0; s < STREAM_COUNT; s++)
		if (j->j_fd[s] != -1)
			ev_io_set(&j->j_io[s], j->j_fd[s],
			    s == STREAM_STDIN ? EV_WRITE : EV_READ);
	j->j_reaped = 0;
	jobs_running++;
	ev_child_set(&j->j_child, j->j_pid, 0);
	ev_child_start(j->j_loop, &j->j_child);
	job_log(j, LOG_LEVEL_DEBUG, "started, pid %d", (int)j->j_pid);
	job_update_events(j);
	return 0;
}

static void
job_dequeued(struct jobqueue_entry *e)
{
	job_run(e->jq_arg);
}

/*
 * A call beyond the caps waits (jobqueue.h), its timeout running from now;
 * only a full queue refuses it.  -1 (answered) if refused.
 */
static int
job_admit(struct job *j)
{
	const struct runner_config	*rc = j->j_rc;
	size_t				 max_peer, max_total;
	int				 max;

	if (jobqueue_count(j->j_key) == 0 && job_room(j->j_key))
		return job_run(j);
	max = rc->rc_max_jobs > 0 ? rc->rc_max_jobs : RUNNER_MAX_JOBS;
	max_peer = (size_t)(rc->rc_max_peer_jobs > 0 ? rc->rc_max_peer_jobs :
	    RUNNER_MAX_PEER_JOBS) * RUNNER_QUEUE_PER_PEER;
	max_total = (size_t)max * RUNNER_QUEUE_ALL;
	j->j_wait.jq_start = job_dequeued;
	j->j_wait.jq_arg = j;
	if (jobqueue_add(&j->j_wait, j->j_key, max_peer, max_total) == 0) {
		job_log(j, LOG_LEVEL_DEBUG, "queued (%zu calls of this peer "
		    "waiting)", jobqueue_count(j->j_key));
		return 0;
	}
	if (jobqueue_count(j->j_key) >= max_peer) {
		job_log(j, LOG_LEVEL_QUIET, "refused: %zu calls of this peer "
		    "queued (at most %zu calls per peer)",
		    jobqueue_count(j->j_key), max_peer);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "queue full: %zu calls "
		    "of yours wait already, behind %d running (at most %zu "
		    "calls wait per caller)", jobqueue_count(j->j_key),
		    job_count_for(j->j_key), max_peer);
	} else {
		job_log(j, LOG_LEVEL_QUIET, "refused: %zu calls queued (at "
		    "most %zu calls in all)", jobqueue_total(), max_total);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "queue full: %zu calls "
		    "wait here already, behind %d running (at most %zu calls "
		    "wait in all)", jobqueue_total(), jobs_running, max_total);
	}
	job_free(j);
	return -1;
}

int
job_start(struct conn *c, const struct runner_config *rc,
    const struct proto_msg *m)
{
	const struct proto_open	*op = &m->m.open;
	struct job		*j = xcalloc(1, sizeof(*j));
	struct ev_loop		*loop = c->c_ch.ch_loop;
	char			 path[PATH_MAX], why[512];
	char			 vis[LOG_VIS_SIZE(PATH_MAX / 4)];
	int			 kind, s, exec_fd;
	size_t			 i;
	uint32_t		 timeout_ms;

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
	ev_init(&j->j_tty_timer, job_tty_timer_cb);
	j->j_tty_timer.data = j;
	j->j_timeout.data = j->j_kill.data = j->j_linger.data = j;
	j->j_child.data = j;
	j->j_reaped = 1;	/* until there is a child */
	j->j_exec_fd = -1;
	j->j_started = now_ms();
	j->j_rc = jobs_rc = rc;
	job_describe(j, c, op);
	j->j_end_kind = EXIT_FAILED;	/* until answered otherwise */
	j->j_argc = op->op_argc;
	j->j_argv = xcalloc(op->op_argc + 1, sizeof(*j->j_argv));
	for (i = 0; i < op->op_argc; i++)
		j->j_argv[i] = xstrdup(op->op_argv[i]);
	if (conn_accept(c, &j->j_req, m, &job_req_ops, j) == -1) {
		job_free(j);
		return -1;
	}

	/* The caller's environment is the caller's word: checked here. */
	if (callenv_check_all(op->op_envv, op->op_envc, why,
	    sizeof(why)) == -1) {
		job_log(j, LOG_LEVEL_QUIET, "refused: %s", why);
		conn_fail(&j->j_req, EXIT_FAILED, 0, "%s", why);
		job_free(j);
		return -1;
	}
	kind = policy_lookup(rc, op->op_argv[0], &exec_fd, path, sizeof(path),
	    why, sizeof(why));
	if (kind == EXIT_NOTEXEC) {
		/* Where and why are for the log; the peer learns no path. */
		job_log(j, LOG_LEVEL_QUIET, "refused: %s: %s", log_vis(vis,
		    sizeof(vis), path), why);
		conn_fail(&j->j_req, kind, 0, "%s: permission denied",
		    op->op_argv[0]);
		j->j_end_kind = kind;
		job_free(j);
		return -1;
	}
	if (kind != EXIT_EXITED) {
		job_log(j, LOG_LEVEL_INFO, "refused: %s", log_vis(vis,
		    sizeof(vis), why));
		conn_fail(&j->j_req, kind, 0, "%s", why);
		j->j_end_kind = kind;
		job_free(j);
		return -1;
	}
	/* The descriptor checked now is what runs, queued or not. */
	j->j_exec_fd = exec_fd;
	j->j_path = xstrdup(path);
	j->j_flags = op->op_flags;
	j->j_envc = op->op_envc;
	j->j_envv = xcalloc(op->op_envc + 1, sizeof(*j->j_envv));
	for (i = 0; i < op->op_envc; i++)
		j->j_envv[i] = xstrdup(op->op_envv[i]);
	/* The timeout counts from now, queued or not. */
	if ((timeout_ms = runner_timeout(rc, op->op_timeout_ms)) !=
	    op->op_timeout_ms) {
		j->j_ceiling_ms = timeout_ms;
		job_log(j, LOG_LEVEL_INFO, "timeout %s cut to the limit of "
		    "%.0f s", op->op_timeout_ms == 0 ? "\"none\"" : "asked",
		    timeout_ms / 1000.);
	}
	if (timeout_ms > 0) {
		ev_timer_set(&j->j_timeout, timeout_ms / 1000., 0.);
		ev_timer_start(loop, &j->j_timeout);
	}
	if (j->j_flags & OPEN_TTY) {
		/* Admitted once the caller's terminal is known (proto.h). */
		j->j_tty_wait = 1;
		ev_timer_set(&j->j_tty_timer, JOB_TTY_WAIT, 0.);
		ev_timer_start(loop, &j->j_tty_timer);
		return 0;
	}
	return job_admit(j);
}

void
job_kill_all(void)
{
	struct job	*j, *next;

	LIST_FOREACH_SAFE(j, &jobs, j_entry, next) {
		if (job_waiting(j)) {
			job_kill(j);	/* answered now, never started */
			job_update_events(j);
		} else if (!j->j_reaped)
			job_kill(j);
	}
}
