/*
 * The commands-directory policy of negotiator-commands(7): which names are
 * commands, where a command is looked up (the user directory, then the
 * built-ins), and what it must be to run.  A command is a regular
 * executable file, named by a single path component, directly in one of
 * the two directories; every directory from / down to it and down each
 * symbolic link's target, each link, and the file belong to root (or our
 * user) and are writable by nobody else; the file is not set-user-ID or
 * set-group-ID.  The path is walked by descriptors (policy_walk), and the
 * caller runs the file through the descriptor it was checked by
 * (runner.c).  Nothing here runs anything.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "runner.h"
#include "util.h"

int
policy_valid_name(const char *name)
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
policy_dir(const char *dir)
{
	char	*abs;

	if (dir[0] == '/')
		return dir;
	if ((abs = realpath(dir, NULL)) == NULL)
		fatal("%s", dir);
	return abs;
}

/*
 * The owner and mode rules for whatever the policy opens: owned by root or
 * by our user, and writable by nobody else.
 */
static int
policy_check_owner(const struct stat *st, char *why, size_t whylen)
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
policy_step_path(char *path, size_t len, const char *comp)
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
 * POLICY_MAX_LINKS of them, their targets walked the same way; ".." is
 * the parent of what is held, checked like the rest.  A swap of any
 * component after its check cannot redirect the walk: the next step is
 * taken from the descriptor checked, not from a path.
 *
 * Returns an O_PATH, close-on-exec descriptor of the end, with its
 * physical path in out; -2 if something on the way does not exist (out
 * unspecified); -1 if refused, out naming what and why saying why.
 */
static int
policy_walk(int at, const char *at_path, const char *path, char *out,
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
			if (policy_check_owner(&st, why, whylen) == -1)
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
			policy_step_path(out, outlen, comp);
			goto fail;
		}
		if (policy_step_path(out, outlen, comp) == -1) {
			close(next);
			goto toolong;
		}
		if (fstat(next, &st) == -1) {
			close(next);
			goto fail;
		}
		if (policy_check_owner(&st, why, whylen) == -1 &&
		    (!S_ISDIR(st.st_mode) || !(st.st_mode & S_ISVTX) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()))) {
			close(next);
			goto refused;
		}
		if (S_ISLNK(st.st_mode)) {
			n = -1;
			if (++hops > POLICY_MAX_LINKS)
				snprintf(why, whylen, "more than %d symbolic "
				    "links", POLICY_MAX_LINKS);
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
			policy_step_path(out, outlen, "..");
			if (rest[0] == '/') {
				close(cur);
				cur = -1;
			}
			continue;
		}
		if (!S_ISDIR(st.st_mode) && loose) {
			/* What holds the end: not writable by others at all. */
			close(next);
			policy_step_path(out, outlen, "..");
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
policy_check_dir(const char *dir, char *why, size_t whylen)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	int		 fd;

	if ((fd = policy_walk(-1, NULL, dir, path, sizeof(path), why,
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
 * The file at fd, found by policy_walk: a regular file we may execute,
 * neither set-user-ID nor set-group-ID.
 */
static int
policy_check_file(int fd, char *why, size_t whylen)
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
struct policy_dirs {
	int	 rd_fd[2];	/* checked; -1 refused, -2 not there */
	char	 rd_path[2][PATH_MAX];	/* where, or what was refused */
	char	 rd_why[2][256];	/* why it was refused */
};

static void
policy_open_dirs(const struct runner_config *rc, struct policy_dirs *rd)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	struct stat	 st;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (dirs[i] == NULL) {
			rd->rd_fd[i] = -2;
			continue;
		}
		rd->rd_fd[i] = policy_walk(-1, NULL, dirs[i], rd->rd_path[i],
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
policy_close_dirs(struct policy_dirs *rd)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (rd->rd_fd[i] >= 0)
			close(rd->rd_fd[i]);
}

/* policy_lookup, in the directories rd. */
static int
policy_find(const struct runner_config *rc, const struct policy_dirs *rd,
    const char *name, int *fdp, char *path, size_t pathlen, char *why,
    size_t whylen)
{
	const char	*dirs[2] = { rc->rc_user_dir, rc->rc_builtin_dir };
	char		 entry[PATH_MAX];
	struct stat	 st;
	int		 i, fd;

	*fdp = -1;
	if (!policy_valid_name(name)) {
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
		fd = policy_walk(rd->rd_fd[i], rd->rd_path[i], name, path,
		    pathlen, why, whylen);
		if (fd == -2)
			continue;	/* a dangling link: not there */
		if (fd == -1)
			return EXIT_NOTEXEC;
		if (policy_check_file(fd, why, whylen) == -1) {
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
policy_lookup(const struct runner_config *rc, const char *name, int *fdp,
    char *path, size_t pathlen, char *why, size_t whylen)
{
	struct policy_dirs	 rd;
	int			 kind;

	rd.rd_fd[0] = rd.rd_fd[1] = -2;
	if (policy_valid_name(name))	/* else policy_find says why */
		policy_open_dirs(rc, &rd);
	kind = policy_find(rc, &rd, name, fdp, path, pathlen, why, whylen);
	policy_close_dirs(&rd);
	return kind;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* scandir(3) filter: names a command could have (policy_valid_name). */
static int
policy_list_entry(const struct dirent *de)
{
	return policy_valid_name(de->d_name);
}

/*
 * The cap: the reply holds the first PROTO_MAX_LIST names in sorted order,
 * after the filters (a valid name that policy_lookup finds runnable) and
 * after a user command has shadowed its built-in; whatever the directories
 * hold, the same names come back.  Each directory is read sorted
 * (alphasort: strcmp's order, since nothing here calls setlocale(3)), so
 * no more than its first PROTO_MAX_LIST runnable names can make the cut,
 * and none past them is looked up.
 */
char **
policy_list(const struct runner_config *rc, size_t *count)
{
	struct policy_dirs	 rd;
	char			**names = NULL, path[4096], why[256];
	struct dirent		**ents;
	size_t			 n = 0, i, j, taken;
	int			 k, e, nents, fd, dfd;

	policy_open_dirs(rc, &rd);
	for (k = 0; k < 2; k++) {
		/* Read through the checked descriptor, not the path. */
		if (rd.rd_fd[k] < 0 || (dfd = openat(rd.rd_fd[k], ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		nents = scandirat(dfd, ".", &ents, policy_list_entry,
		    alphasort);
		close(dfd);
		if (nents == -1)
			continue;
		for (e = 0, taken = 0; e < nents && taken < PROTO_MAX_LIST;
		    e++) {
			if (policy_find(rc, &rd, ents[e]->d_name, &fd, path,
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
	policy_close_dirs(&rd);
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
