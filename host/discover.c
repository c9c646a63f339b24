/*
 * Finding guests in the channel directory.  Two layouts are recognised:
 * libvirt's DIR/domain-<id>-<name>/<port> and the older DIR/<name>.<port>.
 * A guest counts once both of its sockets exist.  In libvirt's own
 * directory, libvirt is asked first (libvirt_scan).
 *
 * A daemon watches the directory with inotify (discover_watch) rather than
 * scanning it on a timer: DIR itself and each domain-* subdirectory, for
 * entries created, removed or renamed, and modes or owners changed.  Idle,
 * it costs nothing.
 *
 * The name of a guest found by scanning comes from an entry's name, so the
 * directory is trusted as much as the sockets: a channel directory (or a
 * domain-* directory) that someone else could write, where the sockets of
 * one guest could be renamed to another's name, serves no guest at all.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

int
discover_is_socket(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * A guest name reaches commands as NEGOTIATOR_GUEST, logs and terminals
 * as it is: so it is a plain word that no script or terminal can take for
 * anything else, letters, digits and "._+:@-", not starting with "-" or
 * "." (no option, no "." or ".."), at most PROTO_MAX_NAME bytes.  A
 * domain of another name is not served (negotiator-host(8)).
 */
int
discover_valid_name(const char *name, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PROTO_MAX_NAME || name[0] == '-' ||
	    name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '\0' || strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+:@-", name[i]) ==
		    NULL)
			return 0;
	return 1;
}

/*
 * The uid of DISCOVER_QEMU_USER, read from /etc/passwd itself: the CLI is
 * a static binary and does no NSS look-ups.  -1 if there is none.
 */
static uid_t
discover_qemu_uid(void)
{
	static int	 done;
	static uid_t	 uid = (uid_t)-1;
	char		 line[1024], *p, *q;
	const char	*errstr;
	long long	 n;
	FILE		*f;

	if (done)
		return uid;
	done = 1;
	if ((f = fopen("/etc/passwd", "re")) == NULL)
		return uid;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, DISCOVER_QEMU_USER ":",
		    sizeof(DISCOVER_QEMU_USER)) != 0)
			continue;
		/* name:password:uid:... */
		if ((p = strchr(line + sizeof(DISCOVER_QEMU_USER), ':')) ==
		    NULL || (q = strchr(p + 1, ':')) == NULL)
			break;
		*q = '\0';
		n = strtonum(p + 1, 1, UINT32_MAX - 1, &errstr);
		if (errstr == NULL)
			uid = (uid_t)n;
		break;
	}
	fclose(f);
	return uid;
}

/* 1 if uid is root, our own user or the user QEMU runs as. */
static int
discover_trusted_uid(uid_t uid)
{
	uid_t	 qemu;

	return uid == 0 || uid == geteuid() ||
	    ((qemu = discover_qemu_uid()) != (uid_t)-1 && uid == qemu);
}

/*
 * The rule for a directory that names guests (the channel directory, a
 * domain-* directory in it) and for each directory above the channel
 * directory: owned by a trusted user, writable by nobody else; a directory
 * above (last = 0) may be sticky, like /tmp, since others can then neither
 * rename nor remove what is ours.  NULL if dir passes, else why not.
 */
static const char *
discover_dir_rule(const struct stat *st, int last, char *why, size_t whylen)
{
	if (!S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode))
		snprintf(why, whylen, "not a directory");
	else if (!discover_trusted_uid(st->st_uid))
		snprintf(why, whylen, "owned by uid %u, not by root, %s or us",
		    (unsigned)st->st_uid, DISCOVER_QEMU_USER);
	else if (S_ISDIR(st->st_mode) && (st->st_mode & (S_IWGRP | S_IWOTH)) &&
	    (last || !(st->st_mode & S_ISVTX)))
		snprintf(why, whylen, "writable by %s (mode %04o)",
		    st->st_mode & S_IWOTH ? "others" : "its group",
		    (unsigned)(st->st_mode & 07777));
	else
		return NULL;
	return why;
}

/*
 * Each directory from / down to path, as written and with its links
 * resolved, against discover_dir_rule; the last strictly.  NULL if all
 * pass, else why not, with what failed in bad.
 */
static const char *
discover_dir_chain(const char *path, char *bad, size_t badlen, char *why,
    size_t whylen)
{
	char		 copy[PATH_MAX], *real = NULL, *slash;
	const char	*paths[2], *no = NULL;
	struct stat	 st;
	int		 k;

	paths[0] = path;
	paths[1] = real = realpath(path, NULL);
	for (k = 0; k < 2 && no == NULL && paths[k] != NULL; k++) {
		if (paths[k][0] != '/' ||
		    strlcpy(copy, paths[k], sizeof(copy)) >= sizeof(copy))
			continue;
		/* Each prefix in turn: "/", "/a", "/a/b", ... */
		for (slash = copy; no == NULL && slash != NULL;
		    slash = strchr(slash + 1, '/')) {
			if (slash == copy && copy[1] != '\0')
				snprintf(bad, badlen, "/");
			else {
				*slash = '\0';
				snprintf(bad, badlen, "%s", copy);
				*slash = '/';
			}
			if (lstat(bad, &st) == 0)
				no = discover_dir_rule(&st, 0, why, whylen);
		}
		if (no == NULL && lstat(copy, &st) == 0) {
			snprintf(bad, badlen, "%s", copy);
			no = discover_dir_rule(&st, 1, why, whylen);
		}
	}
	free(real);
	return no;
}

/*
 * 1 if path, found by scanning the channel directory, is a socket (not a
 * link to one) owned by root, by our own user or by the user QEMU runs as:
 * anyone else who can create entries in the directory must not be served
 * as the guest the entry names (negotiator-host(8)).  The directories it
 * is in passed discover_dir_chain already: no one else can rename it.
 */
static int
discover_trusted_socket(const char *path)
{
	struct stat	 st;
	char		 vis[LOG_VIS_SIZE(PATH_MAX / 4)];

	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
		return 0;
	if (discover_trusted_uid(st.st_uid))
		return 1;
	log_limited(path, "%s: owned by uid %u, not by root, %s or us; "
	    "ignored", log_vis(vis, sizeof(vis), path), (unsigned)st.st_uid,
	    DISCOVER_QEMU_USER);
	return 0;
}

/* Fills fg from one directory entry if it names a complete guest. */
static int
discover_entry(const char *dir, const char *entry, struct found_guest *fg)
{
	const char	*name, *dot;
	char		 sub[PATH_MAX], why[128];
	char		 vis[LOG_VIS_SIZE(PATH_MAX / 4)];
	struct stat	 st;
	size_t		 len;

	if (strncmp(entry, "domain-", 7) == 0 &&
	    (name = strchr(entry + 7, '-')) != NULL) {
		/* The directory names the guest: it must be as trusted. */
		snprintf(sub, sizeof(sub), "%s/%s", dir, entry);
		if (lstat(sub, &st) == -1 || !S_ISDIR(st.st_mode))
			return 0;
		if (discover_dir_rule(&st, 1, why, sizeof(why)) != NULL) {
			log_limited(sub, "%s: %s; its guest is not served",
			    log_vis(vis, sizeof(vis), sub), why);
			return 0;
		}
		name++;
		len = strlen(name);
		snprintf(fg->fg_h2g, sizeof(fg->fg_h2g), "%s/%s/%s", dir,
		    entry, PORT_H2G);
		snprintf(fg->fg_g2h, sizeof(fg->fg_g2h), "%s/%s/%s", dir,
		    entry, PORT_G2H);
	} else if ((dot = strstr(entry, "." PORT_H2G)) != NULL &&
	    dot[sizeof(PORT_H2G)] == '\0') {
		name = entry;
		len = (size_t)(dot - entry);
		snprintf(fg->fg_h2g, sizeof(fg->fg_h2g), "%s/%s", dir, entry);
		snprintf(fg->fg_g2h, sizeof(fg->fg_g2h), "%s/%.*s.%s", dir,
		    (int)len, entry, PORT_G2H);
	} else
		return 0;
	if (!discover_valid_name(name, len) ||
	    !discover_trusted_socket(fg->fg_h2g) ||
	    !discover_trusted_socket(fg->fg_g2h))
		return 0;
	memcpy(fg->fg_name, name, len);
	fg->fg_name[len] = '\0';
	return 1;
}

/*
 * 1 if dir, the channel directory, passes discover_dir_chain: whoever else
 * could create or rename entries in it could give one guest's sockets
 * another guest's name, so none of its guests is served.  Said in the log
 * when that changes.
 */
static int
discover_trusted_dir(const char *dir)
{
	static char	 said[PATH_MAX + 256];
	char		 bad[PATH_MAX], why[128], line[sizeof(said)];
	char		 vis[LOG_VIS_SIZE(PATH_MAX / 4)];
	char		 bvis[LOG_VIS_SIZE(PATH_MAX / 4)];
	struct stat	 st;

	if (stat(dir, &st) == -1)
		return 1;	/* not there: nothing to trust */
	if (discover_dir_chain(dir, bad, sizeof(bad), why,
	    sizeof(why)) == NULL) {
		if (said[0] != '\0')
			log_info("%s: trusted again", log_vis(vis, sizeof(vis),
			    dir));
		said[0] = '\0';
		return 1;
	}
	snprintf(line, sizeof(line), "%s: %s", bad, why);
	if (strcmp(line, said) != 0) {
		log_warnx("channel directory %s: %s: %s; no guest in it is "
		    "served", log_vis(vis, sizeof(vis), dir),
		    log_vis(bvis, sizeof(bvis), bad), why);
		strlcpy(said, line, sizeof(said));
	}
	return 0;
}

static int
found_cmp(const void *a, const void *b)
{
	return strcmp(((const struct found_guest *)a)->fg_name,
	    ((const struct found_guest *)b)->fg_name);
}

void
discover_sort(struct found_guest *all, size_t n)
{
	if (n > 0)
		qsort(all, n, sizeof(*all), found_cmp);
}

/*
 * The entries are read in sorted order (scandir, alphasort), so the cap
 * and the choice between two entries of one name are the same from one
 * scan to the next: the first HOST_MAX_GUESTS guests in that order, and of
 * two entries naming one guest, the first.
 */
size_t
discover_scan(const char *dir, struct found_guest **out)
{
	struct found_guest	*all = NULL, fg;
	struct dirent		**ents;
	size_t			 n = 0, i;
	int			 e, nents;

	*out = NULL;
	if (!discover_trusted_dir(dir) ||
	    (nents = scandir(dir, &ents, NULL, alphasort)) == -1)
		return 0;
	for (e = 0; e < nents && n < HOST_MAX_GUESTS; e++) {
		if (!discover_entry(dir, ents[e]->d_name, &fg))
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(all[i].fg_name, fg.fg_name) == 0)
				break;
		if (i < n) {
			log_limited(fg.fg_name, "%s: two guests of the name %s;"
			    " using %s", dir, fg.fg_name, all[i].fg_h2g);
			continue;
		}
		all = xreallocarray(all, n + 1, sizeof(*all));
		all[n++] = fg;
	}
	for (e = 0; e < nents; e++)
		free(ents[e]);
	free(ents);
	discover_sort(all, n);
	*out = all;
	return n;
}

/*
 * libvirt knows every domain whose channels are in its own directory, by its
 * full name; the directory is only the fallback for when it cannot be asked.
 */
size_t
discover_all(const char *dir, struct found_guest **out)
{
	size_t	 n;
	int	 answered;

	if (strcmp(dir, DEFAULT_CHANNEL_DIR) != 0)
		return discover_scan(dir, out);
	n = libvirt_scan(out, &answered);
	if (answered)
		return n;
	free(*out);
	return discover_scan(dir, out);
}

int
discover_find(const char *dir, const char *name, struct found_guest *out)
{
	struct found_guest	*all;
	size_t			 n, i;
	int			 rv = -1;

	n = discover_all(dir, &all);
	for (i = 0; i < n; i++)
		if (strcmp(all[i].fg_name, name) == 0) {
			*out = all[i];
			rv = 0;
		}
	free(all);
	return rv;
}

/* --- watching ------------------------------------------------------- */

/* IN_ATTRIB: a mode or owner changed is a trust that changed. */
#define WATCH_TOP	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | \
			    IN_ONLYDIR)
#define WATCH_SUB	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
			    IN_ATTRIB | IN_ONLYDIR)
#define WATCH_UP	(IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | \
			    IN_MOVE_SELF | IN_ONLYDIR)

static struct {
	struct ev_loop	*dw_loop;
	const char	*dw_dir;
	int		 dw_fd;		/* inotify */
	int		 dw_top;	/* watch of dw_dir; -1: none */
	int		 dw_up;		/* of its nearest ancestor; -1: none */
	ev_io		 dw_io;
	ev_timer	 dw_settle;	/* changed() once events stop coming */
	void		(*dw_changed)(void);
} dw = { .dw_fd = -1, .dw_top = -1, .dw_up = -1 };

static void
discover_watch_sub(const char *entry)
{
	char	 path[PATH_MAX];

	if (strncmp(entry, "domain-", 7) != 0 ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dw.dw_dir, entry) >=
	    sizeof(path))
		return;
	if (inotify_add_watch(dw.dw_fd, path, WATCH_SUB) == -1 &&
	    errno != ENOENT && errno != ENOTDIR)
		log_limited_warn("inotify", "inotify: cannot watch %s", path);
}

/*
 * Watches dw_dir and its subdirectories or, while dw_dir does not exist,
 * its nearest ancestor that does, for dw_dir (or the next directory on the
 * way to it) to appear.
 */
static void
discover_watch_top(void)
{
	struct dirent	**ents;
	char		 up[PATH_MAX], *slash;
	int		 e, nents;

	if (dw.dw_up != -1) {
		inotify_rm_watch(dw.dw_fd, dw.dw_up);
		dw.dw_up = -1;
	}
	if ((dw.dw_top = inotify_add_watch(dw.dw_fd, dw.dw_dir,
	    WATCH_TOP)) != -1) {
		if ((nents = scandir(dw.dw_dir, &ents, NULL, NULL)) != -1) {
			for (e = 0; e < nents; e++) {
				discover_watch_sub(ents[e]->d_name);
				free(ents[e]);
			}
			free(ents);
		}
		return;
	}
	if (errno != ENOENT)
		log_limited_warn("inotify", "inotify: cannot watch %s",
		    dw.dw_dir);
	strlcpy(up, dw.dw_dir, sizeof(up));
	while ((slash = strrchr(up, '/')) != NULL) {
		slash[slash == up ? 1 : 0] = '\0';
		if ((dw.dw_up = inotify_add_watch(dw.dw_fd, up,
		    WATCH_UP)) != -1 || slash == up)
			break;
	}
	log_info("%s: not there; waiting for it", dw.dw_dir);
}

static void
discover_settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	dw.dw_changed();
}

static void
discover_inotify_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char			 buf[16384] __attribute__((aligned(
				    __alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t			 n;
	char			*p;
	int			 again = 0;

	(void)w;
	(void)revents;
	while ((n = read(dw.dw_fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				log_limited("inotify", "inotify: %s: events "
				    "lost; scanning again", dw.dw_dir);
			if (ev->wd == -1)
				continue;
			if (ev->wd == dw.dw_up)
				again = 1;	/* a step closer, maybe */
			else if (ev->wd == dw.dw_top &&
			    (ev->mask & IN_IGNORED)) {
				dw.dw_top = -1;
				again = 1;
			} else if (ev->wd == dw.dw_top && ev->len > 0 &&
			    (ev->mask & IN_ISDIR) &&
			    (ev->mask & (IN_CREATE | IN_MOVED_TO)))
				discover_watch_sub(ev->name);
		}
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_limited_warn("inotify", "inotify: read");
	if (again && dw.dw_top == -1)
		discover_watch_top();
	if (!ev_is_active(&dw.dw_settle))
		ev_timer_start(loop, &dw.dw_settle);
}

void
discover_watch(struct ev_loop *loop, const char *dir, void (*changed)(void))
{
	dw.dw_loop = loop;
	dw.dw_dir = dir;
	dw.dw_changed = changed;
	ev_timer_init(&dw.dw_settle, discover_settle_cb, DISCOVER_SETTLE, 0.);
	if ((dw.dw_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		fatal("inotify_init1");
	ev_io_init(&dw.dw_io, discover_inotify_cb, dw.dw_fd, EV_READ);
	ev_io_start(loop, &dw.dw_io);
	discover_watch_top();
}
