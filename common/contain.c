/*
 * Containing a call's processes.  A command may start children in
 * sessions and process groups of their own (setsid), out of reach of the
 * kill of its process group; they must still die when the call ends.
 *
 * With cgroups: each call gets a cgroup of its own, a child of the
 * daemon's cgroup v2 (under systemd, the unit needs Delegate=yes), which
 * the command enters before it runs (launch.c: it writes itself into
 * cgroup.procs between vfork and execveat), so nothing it starts is ever
 * outside.  When the call ends, cgroup.kill (Linux 5.14) kills all of it
 * at once; before 5.14 cgroup.procs is read and each process killed, until
 * it is empty.  The empty cgroup is then removed (rmdir), at once or, while
 * the killed processes are still dying, on a timer that backs off from 10
 * ms to 1 s.
 *
 * With the subreaper (PR_SET_CHILD_SUBREAPER): whatever a command leaves
 * behind, its parent gone, becomes the daemon's child instead of init's.
 * A process adopted that way does not say which call it came from, but a
 * call's processes all start after its command did: so an adopted
 * process is killed as soon as no call that started at or before it is
 * still running (start times from /proc/PID/stat, in clock ticks).  With
 * one call at a time, that is the end of its own call; with calls that
 * overlap, it may live on until the older ones end too, never longer.
 * The daemon looks at its children when a call ends and whenever an
 * adopted process dies (its own children are then the daemon's); libev
 * reaps them all.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contain.h"
#include "log.h"
#include "util.h"

#define CONTAIN_NONE		0
#define CONTAIN_CGROUP		1
#define CONTAIN_SUBREAPER	2

#define CONTAIN_RETRY_MIN	0.01	/* seconds: first rmdir retry */
#define CONTAIN_RETRY_MAX	1.0	/* ... and the longest wait */
#define CONTAIN_KILL_ROUNDS	64	/* cgroup.procs read and killed */

/* A call's cgroup, killed, waiting to be empty to be removed. */
struct dying {
	LIST_ENTRY(dying) dy_entry;
	char		 dy_name[32];
};

static struct {
	int		 cn_kind;
	int		 cn_base;	/* our cgroup directory for calls */
	char		 cn_path[PATH_MAX];
	int		 cn_has_kill;	/* cgroup.kill is there */
	unsigned	 cn_seq;
	struct ev_loop	*cn_loop;
	ev_child	 cn_reaped;	/* any child of ours reaped */
	ev_timer	 cn_retry;
	double		 cn_backoff;
} cn = { .cn_base = -1 };

static LIST_HEAD(, contain) active = LIST_HEAD_INITIALIZER(active);
static LIST_HEAD(, dying) dying = LIST_HEAD_INITIALIZER(dying);

/* --- cgroups -------------------------------------------------------- */

/* The mount point of cgroup v2 (the first), from /proc/self/mountinfo. */
static int
contain_cgroup_mount(char *out, size_t outlen)
{
	char	*line = NULL, *p, *mnt, *dash;
	size_t	 cap = 0;
	FILE	*f;
	int	 i, rv = -1;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (rv == -1 && getline(&line, &cap, f) != -1) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - FSTYPE SOURCE ... */
		if ((dash = strstr(line, " - ")) == NULL ||
		    strncmp(dash + 3, "cgroup2 ", 8) != 0)
			continue;
		for (p = line, i = 0; i < 4 && p != NULL; i++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (mnt = strsep(&p, " ")) == NULL ||
		    strchr(mnt, '\\') != NULL)
			continue;	/* octal escapes: not ours to undo */
		if (strlcpy(out, mnt, outlen) < outlen)
			rv = 0;
	}
	free(line);
	fclose(f);
	return rv;
}

/* Our own cgroup v2 ("0::PATH" in /proc/self/cgroup). */
static int
contain_cgroup_own(char *out, size_t outlen)
{
	char	*line = NULL;
	size_t	 cap = 0, len;
	FILE	*f;
	int	 rv = -1;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (rv == -1 && getline(&line, &cap, f) != -1) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		len = strcspn(line + 3, "\n");
		line[3 + len] = '\0';
		if (strlcpy(out, line + 3, outlen) < outlen)
			rv = 0;
	}
	free(line);
	fclose(f);
	return rv;
}

/* Writes s to the file name of the cgroup dir; 0 or -1. */
static int
contain_cgroup_write(int dir, const char *name, const char *s)
{
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = openat(dir, name, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	n = write(fd, s, strlen(s));
	saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/*
 * Calls each(pid, arg) for each pid in the list fd reads (cgroup.procs, a
 * task's children: decimal numbers apart by spaces or newlines, whole
 * records in each read), and closes fd.
 */
static void
contain_pids(int fd, void (*each)(pid_t, void *), void *arg)
{
	char	 buf[4096], *p, *end;
	ssize_t	 n;
	long	 pid;

	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		for (p = buf; *p != '\0'; p = end) {
			pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0)
				each((pid_t)pid, arg);
			while (*end == ' ' || *end == '\n')
				end++;
		}
	}
	close(fd);
}

struct contain_kills {
	int	 ck_sig;
	int	 ck_sent;
};

static void
contain_kill_one(pid_t pid, void *arg)
{
	struct contain_kills	*ck = arg;

	if (kill(pid, ck->ck_sig) == 0)
		ck->ck_sent++;
}

/* sig to each process in the cgroup dir; the number signalled. */
static int
contain_cgroup_each(int dir, int sig)
{
	struct contain_kills	 ck = { sig, 0 };
	int			 fd;

	if ((fd = openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	contain_pids(fd, contain_kill_one, &ck);
	return ck.ck_sent;
}

/*
 * Kills everything in the cgroup dir: by cgroup.kill, else round by round
 * until a read of cgroup.procs finds no one (a process forking meanwhile
 * is found in the next round).
 */
static void
contain_cgroup_kill(int dir)
{
	int	 i;

	if (cn.cn_has_kill && contain_cgroup_write(dir, "cgroup.kill",
	    "1") == 0)
		return;
	for (i = 0; i < CONTAIN_KILL_ROUNDS; i++)
		if (contain_cgroup_each(dir, SIGKILL) == 0)
			break;
}

/*
 * The cgroups of daemons that are gone (killed before they could remove
 * them), in parent: what is left in them is killed, and they are removed.
 * A pid in use again keeps its name's cgroups: they are not ours to judge.
 */
static void
contain_cgroup_stale(const char *parent)
{
	char		 path[PATH_MAX];
	struct dirent	*de, *ce;
	const char	*errstr;
	DIR		*d, *c;
	pid_t		 pid;
	int		 fd, n = 0;

	if ((d = opendir(parent)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "negotiator.", 11) != 0)
			continue;
		pid = (pid_t)strtonum(de->d_name + 11, 1, INT32_MAX, &errstr);
		if (errstr != NULL || kill(pid, 0) == 0 || errno != ESRCH ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", parent,
		    de->d_name) >= sizeof(path) || (c = opendir(path)) == NULL)
			continue;
		while ((ce = readdir(c)) != NULL) {
			if (strncmp(ce->d_name, "call.", 5) != 0 &&
			    strcmp(ce->d_name, "probe") != 0)
				continue;
			if ((fd = openat(dirfd(c), ce->d_name, O_RDONLY |
			    O_DIRECTORY | O_CLOEXEC)) != -1) {
				contain_cgroup_kill(fd);
				close(fd);
			}
			unlinkat(dirfd(c), ce->d_name, AT_REMOVEDIR);
		}
		closedir(c);
		if (rmdir(path) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("%s: removed the cgroups of %d daemons gone", parent,
		    n);
}

/*
 * 0 if a child can write itself into the cgroup.procs at fd, as a
 * command does (launch.c); else -1 and errno.
 */
static int
contain_cgroup_enter(int fd)
{
	pid_t	 pid;
	int	 st;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		_exit(write(fd, "0", 1) == 1 ? 0 : 1);
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * Makes our directory for calls, MOUNT/OWN/negotiator.PID, and tries a
 * call's cgroup in it, with a process in it.  0, or -1 and why.
 */
static int
contain_cgroup_setup(char *why, size_t whylen)
{
	char	 mnt[PATH_MAX], own[PATH_MAX];
	int	 probe;

	if (contain_cgroup_mount(mnt, sizeof(mnt)) == -1) {
		snprintf(why, whylen, "no cgroup v2 mounted");
		return -1;
	}
	if (contain_cgroup_own(own, sizeof(own)) == -1) {
		snprintf(why, whylen, "no cgroup v2 in /proc/self/cgroup");
		return -1;
	}
	if ((size_t)snprintf(cn.cn_path, sizeof(cn.cn_path),
	    "%s%s/negotiator.%d", mnt, strcmp(own, "/") == 0 ? "" : own,
	    (int)getpid()) >= sizeof(cn.cn_path)) {
		snprintf(why, whylen, "path too long");
		return -1;
	}
	*strrchr(cn.cn_path, '/') = '\0';
	contain_cgroup_stale(cn.cn_path);
	cn.cn_path[strlen(cn.cn_path)] = '/';
	if ((mkdir(cn.cn_path, 0755) == -1 && errno != EEXIST) ||
	    (cn.cn_base = open(cn.cn_path, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: %s", cn.cn_path, strerror(errno));
		return -1;
	}
	probe = -1;
	if (mkdirat(cn.cn_base, "probe", 0755) == -1 ||
	    (probe = openat(cn.cn_base, "probe/cgroup.procs",
	    O_WRONLY | O_CLOEXEC)) == -1 || contain_cgroup_enter(probe) == -1) {
		snprintf(why, whylen, "%s/probe: %s", cn.cn_path,
		    strerror(errno));
		if (probe != -1)
			close(probe);
		unlinkat(cn.cn_base, "probe", AT_REMOVEDIR);
		close(cn.cn_base);
		cn.cn_base = -1;
		rmdir(cn.cn_path);
		return -1;
	}
	close(probe);
	unlinkat(cn.cn_base, "probe", AT_REMOVEDIR);
	cn.cn_has_kill = faccessat(cn.cn_base, "cgroup.kill", W_OK, 0) == 0;
	return 0;
}

static void
contain_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dying	*dy, *next;

	(void)revents;
	LIST_FOREACH_SAFE(dy, &dying, dy_entry, next) {
		if (unlinkat(cn.cn_base, dy->dy_name, AT_REMOVEDIR) == -1 &&
		    errno == EBUSY)
			continue;
		LIST_REMOVE(dy, dy_entry);
		free(dy);
	}
	if (LIST_EMPTY(&dying))
		return;
	cn.cn_backoff = cn.cn_backoff * 2 > CONTAIN_RETRY_MAX ?
	    CONTAIN_RETRY_MAX : cn.cn_backoff * 2;
	ev_timer_set(w, cn.cn_backoff, 0.);
	ev_timer_start(loop, w);
}

/* Removes the call's cgroup, now or once its processes are gone. */
static void
contain_cgroup_release(struct contain *ct)
{
	struct dying	*dy;

	if (unlinkat(cn.cn_base, ct->ct_name, AT_REMOVEDIR) == 0 ||
	    errno != EBUSY)
		return;
	dy = xcalloc(1, sizeof(*dy));
	strlcpy(dy->dy_name, ct->ct_name, sizeof(dy->dy_name));
	LIST_INSERT_HEAD(&dying, dy, dy_entry);
	if (!ev_is_active(&cn.cn_retry)) {
		cn.cn_backoff = CONTAIN_RETRY_MIN;
		ev_timer_set(&cn.cn_retry, cn.cn_backoff, 0.);
		ev_timer_start(cn.cn_loop, &cn.cn_retry);
	}
}

/* --- the subreaper -------------------------------------------------- */

/* When pid started, in clock ticks since boot; 0 if it cannot be read. */
static unsigned long long
contain_start_time(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 t;
	ssize_t			 n;
	int			 fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold anything, ')' too. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* Field 3 (state) follows; starttime is field 22. */
	for (field = 2; field < 22 && p != NULL; field++)
		if ((p = strchr(p + 1, ' ')) == NULL)
			return 0;
	t = strtoull(p + 1, NULL, 10);
	return t;
}

struct contain_orphans {
	int			 sw_everything;
	unsigned long long	 sw_oldest;
};

static void
contain_sweep_one(pid_t pid, void *arg)
{
	struct contain_orphans	*sw = arg;
	struct contain		*ct;
	unsigned long long	 t;

	LIST_FOREACH(ct, &active, ct_entry)
		if (ct->ct_pid == pid)
			break;
	if (!sw->sw_everything && ct != NULL)
		return;		/* a running command */
	t = contain_start_time(pid);
	if (sw->sw_everything || (t != 0 && t < sw->sw_oldest))
		kill(pid, SIGKILL);
}

/*
 * Kills each child of ours that no running call can have started: not a
 * command we started, and started before the oldest running call (or no
 * call running at all); everything, at exit.  A running call whose start
 * could not be read saves them all.
 */
static void
contain_sweep(int everything)
{
	struct contain_orphans	 sw = { everything, ~0ULL };
	char			 path[64];
	struct contain		*ct;
	struct dirent		*de;
	DIR			*d;
	int			 fd;

	/* A start of 0 (unknown) leaves nothing older. */
	LIST_FOREACH(ct, &active, ct_entry)
		if (ct->ct_start < sw.sw_oldest)
			sw.sw_oldest = ct->ct_start;
	/* Our threads' children: an orphan goes to one of our threads. */
	if ((d = opendir("/proc/self/task")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || (size_t)snprintf(path,
		    sizeof(path), "/proc/self/task/%s/children", de->d_name) >=
		    sizeof(path) || (fd = open(path, O_RDONLY | O_CLOEXEC)) ==
		    -1)
			continue;
		contain_pids(fd, contain_sweep_one, &sw);
	}
	closedir(d);
}

/* A child of ours was reaped: an adopted one leaves its children to us. */
static void
contain_reaped_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct contain	*ct;

	(void)loop;
	(void)revents;
	LIST_FOREACH(ct, &active, ct_entry)
		if (ct->ct_pid == w->rpid)
			return;	/* a command: its call's end sweeps */
	contain_sweep(0);
}

/* --- the interface -------------------------------------------------- */

void
contain_init(struct ev_loop *loop)
{
	const char	*want = getenv("NEGOTIATOR_CONTAIN");
	char		 why[PATH_MAX + 64];

	cn.cn_loop = loop;
	ev_init(&cn.cn_retry, contain_retry_cb);
	if (want != NULL && *want != '\0' && strcmp(want, "cgroup") != 0 &&
	    strcmp(want, "subreaper") != 0)
		fatalx("NEGOTIATOR_CONTAIN=%s: cgroup or subreaper, or unset "
		    "for the first that works", want);
	if (want == NULL || strcmp(want, "subreaper") != 0) {
		if (contain_cgroup_setup(why, sizeof(why)) == 0) {
			cn.cn_kind = CONTAIN_CGROUP;
			log_info("calls contained by cgroup: one per call in "
			    "%s (%s)", cn.cn_path, cn.cn_has_kill ?
			    "cgroup.kill" : "killed one by one");
			return;
		}
		if (want != NULL && strcmp(want, "cgroup") == 0)
			fatalx("NEGOTIATOR_CONTAIN=cgroup: %s", why);
	} else
		snprintf(why, sizeof(why), "NEGOTIATOR_CONTAIN=subreaper");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_CHILD_SUBREAPER)");
	cn.cn_kind = CONTAIN_SUBREAPER;
	ev_child_init(&cn.cn_reaped, contain_reaped_cb, 0, 0);
	ev_child_start(loop, &cn.cn_reaped);
	ev_unref(loop);		/* it alone keeps no loop running */
	log_info("calls contained by subreaper: what a command leaves behind "
	    "is adopted and killed when its call ends (no cgroup: %s)", why);
}

int
contain_prepare(struct contain *ct, char *why, size_t whylen)
{
	ct->ct_dir = ct->ct_procs = -1;
	if (cn.cn_kind == CONTAIN_NONE)
		return -1;
	if (cn.cn_kind == CONTAIN_CGROUP) {
		snprintf(ct->ct_name, sizeof(ct->ct_name), "call.%u",
		    ++cn.cn_seq);
		if (mkdirat(cn.cn_base, ct->ct_name, 0755) == -1 ||
		    (ct->ct_dir = openat(cn.cn_base, ct->ct_name,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    (ct->ct_procs = openat(ct->ct_dir, "cgroup.procs",
		    O_WRONLY | O_CLOEXEC)) == -1) {
			snprintf(why, whylen, "cgroup %s/%s: %s", cn.cn_path,
			    ct->ct_name, strerror(errno));
			if (ct->ct_dir != -1)
				close(ct->ct_dir);
			ct->ct_dir = -1;
			unlinkat(cn.cn_base, ct->ct_name, AT_REMOVEDIR);
			return -2;
		}
	}
	ct->ct_active = 1;
	LIST_INSERT_HEAD(&active, ct, ct_entry);
	return ct->ct_procs;
}

void
contain_started(struct contain *ct, pid_t pid)
{
	if (!ct->ct_active)
		return;
	ct->ct_pid = pid;
	ct->ct_start = contain_start_time(pid);
	if (ct->ct_procs != -1) {
		close(ct->ct_procs);
		ct->ct_procs = -1;
	}
}

void
contain_signal(struct contain *ct, int sig)
{
	if (!ct->ct_active || ct->ct_dir == -1)
		return;
	if (sig == SIGKILL)
		contain_cgroup_kill(ct->ct_dir);
	else
		contain_cgroup_each(ct->ct_dir, sig);
}

void
contain_end(struct contain *ct)
{
	if (!ct->ct_active)
		return;
	ct->ct_active = 0;
	LIST_REMOVE(ct, ct_entry);
	if (ct->ct_procs != -1)
		close(ct->ct_procs);
	if (ct->ct_dir != -1) {
		contain_cgroup_kill(ct->ct_dir);
		close(ct->ct_dir);
		contain_cgroup_release(ct);
	}
	ct->ct_dir = ct->ct_procs = -1;
	if (cn.cn_kind == CONTAIN_SUBREAPER)
		contain_sweep(0);
}

void
contain_fini(void)
{
	struct dying	*dy;
	int		 i;

	while (!LIST_EMPTY(&active))
		contain_end(LIST_FIRST(&active));
	if (cn.cn_kind == CONTAIN_SUBREAPER)
		contain_sweep(1);
	if (cn.cn_kind != CONTAIN_CGROUP)
		return;
	ev_timer_stop(cn.cn_loop, &cn.cn_retry);
	/* The killed need a moment to go: at most a second. */
	for (i = 0; i < 100 && !LIST_EMPTY(&dying); i++) {
		while ((dy = LIST_FIRST(&dying)) != NULL &&
		    (unlinkat(cn.cn_base, dy->dy_name, AT_REMOVEDIR) == 0 ||
		    errno != EBUSY)) {
			LIST_REMOVE(dy, dy_entry);
			free(dy);
		}
		if (!LIST_EMPTY(&dying))
			usleep(10000);
	}
	if (!LIST_EMPTY(&dying))
		log_warnx("%s: cgroups of calls not empty at exit", cn.cn_path);
	close(cn.cn_base);
	if (rmdir(cn.cn_path) == -1 && errno != ENOENT)
		log_warn("rmdir %s", cn.cn_path);
}
