/*
 * Running commands.  A command is a regular executable file, named by a
 * single path component, directly in the user directory or else in the
 * built-in directory, that passes the policy of negotiator-commands(7):
 * every directory from / down to it and down each symbolic link's target,
 * each link, and the file belong to root (or our user) and are writable by
 * nobody else; the file is not set-user-ID or set-group-ID.  The path is
 * walked by descriptors (runner_walk), and the file is run through the
 * descriptor it was checked by.  It runs with argv (no shell), in its own
 * process group and containment (contain.c), in /, with a clean
 * environment and only fds 0-2 (and 3 for a script: launch.c).  Its stdin
 * comes from the request's DATA, its stdout and stderr leave as DATA as
 * soon as they are produced and as far as the caller's credit allows.  A
 * timeout (held to the daemon's ceiling) or a cancel kills the whole
 * process group, and the end of the call whatever it left behind.
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
#include "pty.h"
#include "runner.h"
#include "words.h"

#define JOB_LINGER	2.0	/* seconds to wait for output after exit */
#define JOB_CREDIT_STEP	(64 * 1024)	/* stdin credit returned in steps */
#define JOB_TTY_WAIT	5.0	/* seconds an OPEN_TTY waits for its TTY */

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

uint32_t
runner_timeout(const struct runner_config *rc, uint32_t requested_ms)
{
	if (rc->rc_max_timeout_ms > 0 && (requested_ms == 0 ||
	    requested_ms > rc->rc_max_timeout_ms))
		return rc->rc_max_timeout_ms;
	return requested_ms;
}

/*
 * The owner and mode rules for whatever the policy opens: owned by root or
 * by our user, and writable by nobody else.
 */
static int
runner_check_owner(const struct stat *st, char *why, size_t whylen)
{
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, whylen, "owned by uid %u, not by root or uid %u",
		    (unsigned)st->st_uid, (unsigned)geteuid());
		return -1;
	}
	if (!S_ISLNK(st->st_mode) && st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, whylen, "writable by %s (mode %04o)",
		    st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

/* path, the physical path of what the walk holds, after one step to comp. */
static int
runner_step_path(char *path, size_t len, const char *comp)
{
	char	*slash;

	if (strcmp(comp, "..") == 0) {
		if ((slash = strrchr(path, '/')) != NULL)
			slash[slash == path ? 1 : 0] = '\0';
		return 0;
	}
	if (strcmp(path, "/") != 0 && strlcat(path, "/", len) >= len)
		return -1;
	return strlcat(path, comp, len) >= len ? -1 : 0;
}

/*
 * Opens path the way nothing can redirect: from / (path is absolute, or
 * relative to the checked directory at, named at_path), one component at a
 * time, each opened relative to the directory before it with O_PATH and
 * O_NOFOLLOW and checked with fstat on what was opened before the next
 * step.  Every directory passed through and every symbolic link is owned
 * by root or by us, and a directory passed through is writable by nobody
 * else unless it is sticky (like /tmp: others may add entries there but
 * not rename or remove ours).  The directory that holds the end, and the
 * end if it is a directory, must not be writable by others at all, sticky
 * or not.  Links are followed by hand (readlinkat), at most
 * RUNNER_MAX_LINKS of them, their targets walked the same way; ".." is
 * the parent of what is held, checked like the rest.  A swap of any
 * component after its check cannot redirect the walk: the next step is
 * taken from the descriptor checked, not from a path.
 *
 * Returns an O_PATH, close-on-exec descriptor of the end, with its
 * physical path in out; -2 if something on the way does not exist (out
 * unspecified); -1 if refused, out naming what and why saying why.
 */
static int
runner_walk(int at, const char *at_path, const char *path, char *out,
    size_t outlen, char *why, size_t whylen)
{
	char		 rest[PATH_MAX], next_rest[PATH_MAX], comp[NAME_MAX + 1];
	char		 target[PATH_MAX];
	const char	*p;
	struct stat	 st;
	size_t		 len;
	ssize_t		 n;
	int		 cur = -1, next, hops = 0, loose = 0;

	if (strlcpy(rest, path, sizeof(rest)) >= sizeof(rest))
		goto toolong;
	if (rest[0] != '/' && at != -1) {
		if ((cur = fcntl(at, F_DUPFD_CLOEXEC, 0)) == -1)
			goto fail;
		if (strlcpy(out, at_path, outlen) >= outlen)
			goto toolong;
	}
	p = rest;
	for (;;) {
		if (cur == -1) {
			/* The start, or an absolute link: from the root. */
			if (strlcpy(out, "/", outlen) >= outlen)
				goto toolong;
			if ((cur = open("/", O_PATH | O_DIRECTORY |
			    O_CLOEXEC)) == -1 || fstat(cur, &st) == -1)
				goto fail;
			if (runner_check_owner(&st, why, whylen) == -1)
				goto refused;
			loose = 0;
		}
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if ((len = strcspn(p, "/")) > NAME_MAX)
			goto toolong;
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		if (strcmp(comp, ".") == 0)
			continue;
		if ((next = openat(cur, comp, O_PATH | O_NOFOLLOW |
		    O_CLOEXEC)) == -1) {
			if (errno == ENOENT || errno == ENOTDIR) {
				close(cur);
				return -2;
			}
			runner_step_path(out, outlen, comp);
			goto fail;
		}
		if (runner_step_path(out, outlen, comp) == -1) {
			close(next);
			goto toolong;
		}
		if (fstat(next, &st) == -1) {
			close(next);
			goto fail;
		}
		if (runner_check_owner(&st, why, whylen) == -1 &&
		    (!S_ISDIR(st.st_mode) || !(st.st_mode & S_ISVTX) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()))) {
			close(next);
			goto refused;
		}
		if (S_ISLNK(st.st_mode)) {
			n = -1;
			if (++hops > RUNNER_MAX_LINKS)
				snprintf(why, whylen, "more than %d symbolic "
				    "links", RUNNER_MAX_LINKS);
			else if ((n = readlinkat(next, "", target,
			    sizeof(target) - 1)) == -1)
				snprintf(why, whylen, "readlink: %s",
				    strerror(errno));
			close(next);
			if (n == -1)
				goto refused;
			target[n] = '\0';
			/*
			 * Walk the target, then what was left, from the
			 * link's directory (still held, still checked) or
			 * from the root.
			 */
			if ((size_t)snprintf(next_rest, sizeof(next_rest),
			    "%s/%s", target, p) >= sizeof(next_rest))
				goto toolong;
			memcpy(rest, next_rest, sizeof(rest));
			p = rest;
			runner_step_path(out, outlen, "..");
			if (rest[0] == '/') {
				close(cur);
				cur = -1;
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode) && loose) {
			/* What holds the end: not writable by others at all. */
			close(next);
			runner_step_path(out, outlen, "..");
			snprintf(why, whylen, "holds it and is writable by "
			    "others: sticky is not enough there");
			goto refused;
		}
		close(cur);
		cur = next;
		/* Sticky and writable: passed through, never the end. */
		loose = S_ISDIR(st.st_mode) &&
		    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	}
	if (loose) {
		snprintf(why, whylen, "writable by %s (mode %04o): sticky "
		    "is not enough here", st.st_mode & S_IWOTH ? "others" :
		    "its group", (unsigned)(st.st_mode & 07777));
		goto refused;
	}
	return cur;
toolong:
	snprintf(why, whylen, "path too long");
	goto refused;
fail:
	snprintf(why, whylen, "%s", strerror(errno));
refused:
	if (cur != -1)
		close(cur);
	return -1;
}

int
runner_check_dir(const char *dir, char *why, size_t whylen)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	int		 fd;

	if ((fd = runner_walk(-1, NULL, dir, path, sizeof(path), why,
	    whylen)) == -2) {
		snprintf(why, whylen, "%s", strerror(ENOENT));
		return -1;
	}
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "not a directory");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * The file at fd, found by runner_walk: a regular file we may execute,
 * neither set-user-ID nor set-group-ID.
 */
static int
runner_check_file(int fd, char *why, size_t whylen)
{
	struct stat	 st;

	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return -1;
	}
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		snprintf(why, whylen, "set-user-ID or set-group-ID "
		    "(mode %04o)", (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (faccessat(fd, "", X_OK, AT_EMPTY_PATH | AT_EACCESS) == -1) {
		snprintf(why, whylen, "not executable");
		return -1;
	}
	return 0;
}

/* The two command directories, walked and checked once for many names. */
struct runner_dirs {
	int	 rd_fd[2];	/* checked; -1 refused, -2 not there */
	char	 rd_path[2][PATH_MAX];	/* where, or what was refused */
	char	 rd_why[2][256];	/* why it was refused */
};

static void
runner_open_dirs(const struct runner_config *rc, struct runner_dirs *rd)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	struct stat	 st;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (dirs[i] == NULL) {
			rd->rd_fd[i] = -2;
			continue;
		}
		rd->rd_fd[i] = runner_walk(-1, NULL, dirs[i], rd->rd_path[i],
		    sizeof(rd->rd_path[i]), rd->rd_why[i],
		    sizeof(rd->rd_why[i]));
		if (rd->rd_fd[i] >= 0 && (fstat(rd->rd_fd[i], &st) == -1 ||
		    !S_ISDIR(st.st_mode))) {
			close(rd->rd_fd[i]);
			rd->rd_fd[i] = -2;
		}
	}
}

static void
runner_close_dirs(struct runner_dirs *rd)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (rd->rd_fd[i] >= 0)
			close(rd->rd_fd[i]);
}

/* runner_lookup, in the directories rd. */
static int
runner_find(const struct runner_config *rc, const struct runner_dirs *rd,
    const char *name, int *fdp, char *path, size_t pathlen, char *why,
    size_t whylen)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	char		 entry[PATH_MAX];
	struct stat	 st;
	int		 i, fd;

	*fdp = -1;
	if (!runner_valid_name(name)) {
		snprintf(why, whylen, "invalid command name (allowed: "
		    "[A-Za-z0-9._-], at most %d, no leading dot)",
		    PROTO_MAX_NAME);
		return EXIT_NOTFOUND;
	}
	for (i = 0; i < 2; i++) {
		if (rd->rd_fd[i] == -2)
			continue;
		if (rd->rd_fd[i] == -1) {
			/*
			 * Whatever is there shadows a built-in, runnable or
			 * not: a refused directory is reported when it has
			 * the name, and passed over when it has not.
			 */
			if ((size_t)snprintf(entry, sizeof(entry), "%s/%s",
			    dirs[i], name) >= sizeof(entry) ||
			    lstat(entry, &st) == -1)
				continue;
			strlcpy(path, rd->rd_path[i], pathlen);
			strlcpy(why, rd->rd_why[i], whylen);
			return EXIT_NOTEXEC;
		}
		if (fstatat(rd->rd_fd[i], name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		fd = runner_walk(rd->rd_fd[i], rd->rd_path[i], name, path,
		    pathlen, why, whylen);
		if (fd == -2)
			continue;	/* a dangling link: not there */
		if (fd == -1)
			return EXIT_NOTEXEC;
		if (runner_check_file(fd, why, whylen) == -1) {
			close(fd);
			return EXIT_NOTEXEC;
		}
		*fdp = fd;
		return EXIT_EXITED;
	}
	snprintf(why, whylen, "no such command: %s", name);
	return EXIT_NOTFOUND;
}

int
runner_lookup(const struct runner_config *rc, const char *name, int *fdp,
    char *path, size_t pathlen, char *why, size_t whylen)
{
	struct runner_dirs	 rd;
	int			 kind;

	rd.rd_fd[0] = rd.rd_fd[1] = -2;
	if (runner_valid_name(name))	/* else runner_find says why */
		runner_open_dirs(rc, &rd);
	kind = runner_find(rc, &rd, name, fdp, path, pathlen, why, whylen);
	runner_close_dirs(&rd);
	return kind;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* scandir(3) filter: names a command could have (runner_valid_name). */
static int
runner_list_entry(const struct dirent *de)
{
	return runner_valid_name(de->d_name);
}

/*
 * The cap: the reply holds the first PROTO_MAX_LIST names in sorted order,
 * after the filters (a valid name that runner_lookup finds runnable) and
 * after a user command has shadowed its built-in; whatever the directories
 * hold, the same names come back.  Each directory is read sorted
 * (alphasort: strcmp's order, since nothing here calls setlocale(3)), so
 * no more than its first PROTO_MAX_LIST runnable names can make the cut,
 * and none past them is looked up.
 */
char **
runner_list(const struct runner_config *rc, size_t *count)
{
	struct runner_dirs	 rd;
	char			**names = NULL, path[4096], why[256];
	struct dirent		**ents;
	size_t			 n = 0, i, j, taken;
	int			 k, e, nents, fd, dfd;

	runner_open_dirs(rc, &rd);
	for (k = 0; k < 2; k++) {
		/* Read through the checked descriptor, not the path. */
		if (rd.rd_fd[k] < 0 || (dfd = openat(rd.rd_fd[k], ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		nents = scandirat(dfd, ".", &ents, runner_list_entry,
		    alphasort);
		close(dfd);
		if (nents == -1)
			continue;
		for (e = 0, taken = 0; e < nents && taken < PROTO_MAX_LIST;
		    e++) {
			if (runner_find(rc, &rd, ents[e]->d_name, &fd, path,
			    sizeof(path), why, sizeof(why)) != EXIT_EXITED)
				continue;
			close(fd);
			names = xreallocarray(names, n + 1, sizeof(*names));
			names[n++] = xstrdup(ents[e]->d_name);
			taken++;
		}
		for (e = 0; e < nents; e++)
			free(ents[e]);
		free(ents);
	}
	runner_close_dirs(&rd);
	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	/* A user command shadows a built-in of the same name; then the cap. */
	for (i = j = 0; i < n; i++) {
		if (j == PROTO_MAX_LIST ||
		    (j > 0 && strcmp(names[j - 1], names[i]) == 0))
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

/* sig to the command's process group, and to its containment. */
static void
job_signal(struct job *j, int sig)
{
	if (!j->j_reaped || j->j_fd[STREAM_STDOUT] != -1 ||
	    j->j_fd[STREAM_STDERR] != -1)
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

	if (j->j_timed_out) {
		job_log(j, LOG_LEVEL_INFO, "killed after timeout (%.0f ms)",
		    ms);
		if (j->j_ceiling_ms > 0)
			conn_fail(&j->j_req, EXIT_TIMEOUT, 0, "timed out (at "
			    "the limit of %.0f s this side puts on timeouts)",
			    j->j_ceiling_ms / 1000.);
		else
			conn_fail(&j->j_req, EXIT_TIMEOUT, 0, "timed out");
	} else if (WIFSIGNALED(st)) {
		job_log(j, LOG_LEVEL_INFO, "killed by signal %d (%.0f ms)",
		    WTERMSIG(st), ms);
		conn_fail(&j->j_req, EXIT_SIGNALED, WTERMSIG(st), "%s",
		    strsignal(WTERMSIG(st)));
	} else {
		job_log(j, LOG_LEVEL_INFO, "exit %d (%.0f ms)",
		    WEXITSTATUS(st), ms);
		conn_fail(&j->j_req, EXIT_EXITED, WEXITSTATUS(st), "%s", "");
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
	    job_pipes(j->j_fd, theirs, j->j_flags & OPEN_STDIN)) == -1 ||
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
	kind = runner_lookup(rc, op->op_argv[0], &exec_fd, path, sizeof(path),
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
