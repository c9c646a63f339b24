/*
 * Unit tests for common/config.c: the forms of a line, what is refused
 * (with the file and line named), and that nothing after a bad line is
 * taken.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const struct option opts[] = {
	{ "syslog",	no_argument,		NULL, 1 },
	{ "max-jobs",	required_argument,	NULL, 2 },
	{ "control",	required_argument,	NULL, 3 },
	{ "daemon",	no_argument,		NULL, 4 },
	{ NULL, 0, NULL, 0 },
};
static const char *const allowed[] = { "syslog", "max-jobs", "control",
    NULL };

static char	 taken[1024];
static char	 where[256];

static void
take(int ch, const char *value, void *arg)
{
	(void)arg;
	snprintf(taken + strlen(taken), sizeof(taken) - strlen(taken),
	    "%d=%s;", ch, value ? value : "(none)");
	snprintf(where, sizeof(where), "%s", config_where());
	free((char *)value);	/* a copy of ours (config.h) */
}

/* Writes text to a new file; its path in a static buffer. */
static const char *
file_of(const char *text, size_t len)
{
	static char	 path[64];
	FILE		*f;
	int		 fd;

	strcpy(path, "/tmp/test_config.XXXXXX");
	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(f = fdopen(fd, "w"));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

static int
read_text(const char *text, size_t len, char *why, size_t whylen)
{
	const char	*path = file_of(text, len);
	int		 rv;

	taken[0] = '\0';
	rv = config_read(path, 1, opts, allowed, take, NULL, why, whylen);
	unlink(path);
	return rv;
}

Test(config, forms_of_a_line)
{
	const char	 text[] = "# a comment\n\n  syslog  \n"
	    "max-jobs = 40\nmax-jobs=41\nmax-jobs 42\n"
	    "control = /run/a b.sock  \n\t# another\ncontrol\t=\t/x";
	char		 why[256] = "";

	cr_assert_eq(read_text(text, sizeof(text) - 1, why, sizeof(why)), 0,
	    "%s", why);
	cr_assert_str_eq(taken, "1=(none);2=40;2=41;2=42;3=/run/a b.sock;3=/x;");
	cr_assert_null(config_where(), "outside config_read: the command line");
}

Test(config, where_names_file_and_line)
{
	const char	 text[] = "\n\nmax-jobs = 7\n";
	char		 why[256] = "";

	cr_assert_eq(read_text(text, sizeof(text) - 1, why, sizeof(why)), 0);
	cr_assert(strstr(where, ":3") != NULL && strncmp(where, "/tmp/", 5) == 0,
	    "%s", where);
}

static void
refused(const char *text, size_t len, int line, const char *reason)
{
	char	 why[256] = "", want[64];

	cr_assert_eq(read_text(text, len, why, sizeof(why)), -1, "%s", text);
	snprintf(want, sizeof(want), ":%d: %s", line, reason);
	cr_assert(strstr(why, want) != NULL, "'%s' lacks '%s'", why, want);
}

Test(config, bad_lines_named)
{
	refused("syslog\nnosuch = 1\n", 18, 2, "not an option of this file");
	refused("daemon\n", 7, 1, "not an option of this file");
	refused("--syslog\n", 9, 1, "write the option without its");
	refused("syslog = yes\n", 13, 1, "syslog takes no value");
	refused("max-jobs\n", 9, 1, "max-jobs needs a value");
	refused("max-jobs =   \n", 14, 1, "max-jobs needs a value");
	refused("syslog\ncontrol = a\0b\n", 21, 2, "a NUL byte");
	refused("\033]52;c;x\007 = 1\n", 14, 1, "not an option of this file: "
	    "\\033]52;c;x\\a");
}

Test(config, nothing_after_a_bad_line)
{
	char	 why[256];

	cr_assert_eq(read_text("max-jobs = 1\nbad\nmax-jobs = 2\n", 29, why,
	    sizeof(why)), -1);
	cr_assert_str_eq(taken, "2=1;");
}

Test(config, long_line_refused)
{
	char	*text = malloc(CONFIG_MAX_LINE + 20), why[256] = "";

	memset(text, 'x', CONFIG_MAX_LINE + 10);
	memcpy(text, "control = ", 10);
	text[CONFIG_MAX_LINE + 10] = '\n';
	cr_assert_eq(read_text(text, CONFIG_MAX_LINE + 11, why, sizeof(why)),
	    -1);
	cr_assert(strstr(why, ":1: longer than") != NULL, "%s", why);
	cr_assert_str_eq(taken, "");
	free(text);
}

Test(config, missing_file)
{
	char	 why[256] = "";

	cr_assert_eq(config_read("/nonexistent/negotiator.conf", 0, opts,
	    allowed, take, NULL, why, sizeof(why)), 0);
	cr_assert_eq(config_read("/nonexistent/negotiator.conf", 1, opts,
	    allowed, take, NULL, why, sizeof(why)), -1);
	cr_assert(strstr(why, "No such file") != NULL, "%s", why);
}
