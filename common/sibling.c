/*
 * A CLI's sibling program, run in the CLI's place (sibling.h).
 */
#include <err.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sibling.h"
#include "status.h"
#include "util.h"

static char	**saved_argv;

void
sibling_save_argv(int argc, char *argv[])
{
	saved_argv = xcalloc((size_t)argc + 1, sizeof(*saved_argv));
	memcpy(saved_argv, argv, (size_t)argc * sizeof(*saved_argv));
}

void
sibling_exec(const char *name, const char *dir)
{
	char		 self[PATH_MAX], path[PATH_MAX];
	ssize_t		 n;

	if (saved_argv == NULL)
		errx(STATUS_FAILURE, "%s: no arguments saved", __func__);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    dirname(self), name) < sizeof(path) &&
		    access(path, X_OK) == 0)
			execv(path, saved_argv);
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		errx(STATUS_FAILURE, "cannot run %s/%s: path too long", dir,
		    name);
	execv(path, saved_argv);
	err(STATUS_FAILURE, "cannot run %s", path);
}
