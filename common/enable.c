/*
 * The management commands turned on and off: put, get, sh and shell ship
 * in a directory of available commands that no daemon looks in, and --enable
 * links one of them into the commands directory, where the policy of
 * negotiator-commands(7) applies to it as to any command.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "enable.h"
#include "policy.h"

static const char *const enable_known[] = { "put", "get", "sh", "shell" };

/* 1 if path is a link to target. */
static int
enable_is_ours(const char *path, const char *target)
{
	char	 buf[PATH_MAX];
	ssize_t	 n;

	if ((n = readlink(path, buf, sizeof(buf) - 1)) == -1)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, target) == 0;
}

static int
enable_one(const char *prog, const struct runner_config *rc,
    const char *available, const char *name, int enable)
{
	char		 link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
	char		 why[256];
	struct stat	 st;
	int		 made, fd;

	if ((size_t)snprintf(link, sizeof(link), "%s/%s", rc->rc_user_dir,
	    name) >= sizeof(link) || (size_t)snprintf(target, sizeof(target),
	    "%s/%s", available, name) >= sizeof(target)) {
		fprintf(stderr, "%s: %s: path too long\n", prog, name);
		return 1;
	}
	if (lstat(link, &st) == 0 && !enable_is_ours(link, target)) {
		fprintf(stderr, "%s: %s is there and is not a link to %s: left "
		    "alone\n", prog, link, target);
		return 1;
	}
	if (!enable) {
		if (unlink(link) == -1 && errno != ENOENT) {
			fprintf(stderr, "%s: %s: %s\n", prog, link,
			    strerror(errno));
			return 1;
		}
		return 0;
	}
	if (access(target, X_OK) == -1) {
		fprintf(stderr, "%s: %s: %s (is it installed?)\n", prog, target,
		    strerror(errno));
		return 1;
	}
	if ((made = symlink(target, link) == 0) == 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s: %s\n", prog, link, strerror(errno));
		return 1;
	}
	if (policy_lookup(rc, name, &fd, path, sizeof(path), why,
	    sizeof(why)) != EXIT_EXITED) {
		fprintf(stderr, "%s: %s refused by the commands policy "
		    "(%s: %s): %s\n", prog, name, path, why, made ?
		    "not enabled" : "the daemon will refuse it");
		if (made)
			unlink(link);
		return 1;
	}
	close(fd);
	return 0;
}

int
enable_main(const char *prog, const struct runner_config *rc,
    const char *available, char **names, int n, int enable, int on_host,
    int giving_root)
{
	struct runner_config	 only = *rc;
	size_t			 k;
	int			 i, rv = 0;

	only.rc_builtin_dir = NULL;	/* the link itself is what is checked */
	for (i = 0; i < n; i++) {
		for (k = 0; k < sizeof(enable_known) /
		    sizeof(enable_known[0]); k++)
			if (strcmp(names[i], enable_known[k]) == 0)
				break;
		if (k == sizeof(enable_known) / sizeof(enable_known[0])) {
			fprintf(stderr, "%s: %s: not one of %s\n", prog,
			    names[i], ENABLE_NAMES);
			rv = 1;
			continue;
		}
		if (enable && on_host && !giving_root) {
			fprintf(stderr, "%s: refusing to enable %s on the host: "
			    "it gives every guest root here (give "
			    "--enable-giving-guests-root if that is meant)\n",
			    prog, names[i]);
			rv = 1;
			continue;
		}
		rv |= enable_one(prog, &only, available, names[i], enable);
	}
	return rv;
}
