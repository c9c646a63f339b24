/*
 * A daemon's configuration file (config.h says its form): parsed a line at
 * a time, each option found in the program's own getopt_long() table and
 * handed to the code that takes the same option from the command line.
 * The file belongs to root; still, no line is trusted: a line too long, a
 * NUL, an unknown or forbidden name, a value where none belongs or none
 * where one is needed stops the start with the file and line named.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "util.h"

static char	 config_place[PATH_MAX + 32];
static int	 config_reading;

const char *
config_where(void)
{
	return config_reading ? config_place : NULL;
}

/* The option named name in longopts, if allowed; NULL otherwise. */
static const struct option *
config_option(const char *name, const struct option *longopts,
    const char *const *allowed)
{
	const struct option	*o;
	size_t			 i;

	for (i = 0; allowed[i] != NULL; i++)
		if (strcmp(allowed[i], name) == 0)
			break;
	if (allowed[i] == NULL)
		return NULL;
	for (o = longopts; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* s without the spaces at its end (in place). */
static char *
config_trim(char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* One line (no newline): 0, or -1 with why (the place prefixed later). */
static int
config_line(char *line, const struct option *longopts,
    const char *const *allowed, void (*take)(int, const char *, void *),
    void *arg, char *why, size_t whylen)
{
	const struct option	*o;
	char			*name, *value, vname[LOG_VIS_SIZE(64)], delim;
	size_t			 n;

	name = line + strspn(line, " \t");
	config_trim(name);
	if (*name == '\0' || *name == '#')
		return 0;
	n = strcspn(name, " \t=");
	delim = name[n];
	name[n] = '\0';
	value = name + n + (delim != '\0');
	value += strspn(value, " \t");
	if (delim != '=' && *value == '=') {
		value++;
		value += strspn(value, " \t");
	}
	if (name[0] == '-') {
		snprintf(why, whylen, "write the option without its "
		    "\"--\": %s", log_vis(vname, sizeof(vname), name));
		return -1;
	}
	if ((o = config_option(name, longopts, allowed)) == NULL) {
		snprintf(why, whylen, "not an option of this file: %s",
		    log_vis(vname, sizeof(vname), name));
		return -1;
	}
	if (o->has_arg == no_argument && *value != '\0') {
		snprintf(why, whylen, "%s takes no value", name);
		return -1;
	}
	if (o->has_arg == required_argument && *value == '\0') {
		snprintf(why, whylen, "%s needs a value (%s = VALUE)", name,
		    name);
		return -1;
	}
	/* A value outlives the file: the options keep pointers to theirs. */
	take(o->val, *value == '\0' ? NULL : xstrdup(value), arg);
	return 0;
}

int
config_read(const char *path, int required, const struct option *longopts,
    const char *const *allowed, void (*take)(int, const char *, void *),
    void *arg, char *why, size_t whylen)
{
	char	*line = NULL, reason[256];
	FILE	*f;
	size_t	 size = 0;
	ssize_t	 len;
	int	 lineno = 0, rv = 0;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	config_reading = 1;
	while ((len = getline(&line, &size, f)) != -1) {
		lineno++;
		snprintf(config_place, sizeof(config_place), "%s:%d", path,
		    lineno);
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len >= CONFIG_MAX_LINE) {
			snprintf(why, whylen, "%s: longer than %d bytes",
			    config_place, CONFIG_MAX_LINE - 1);
			rv = -1;
			break;
		}
		if ((size_t)len != strlen(line)) {
			snprintf(why, whylen, "%s: a NUL byte", config_place);
			rv = -1;
			break;
		}
		if (config_line(line, longopts, allowed, take, arg, reason,
		    sizeof(reason)) == -1) {
			snprintf(why, whylen, "%s: %s", config_place, reason);
			rv = -1;
			break;
		}
	}
	if (rv == 0 && ferror(f)) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		rv = -1;
	}
	config_reading = 0;
	free(line);
	fclose(f);
	return rv;
}
