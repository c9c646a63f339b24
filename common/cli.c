/*
 * The options both programs take, CLI and daemon alike, in one place: their
 * defaults, their values checked, their help, and the one verb a command
 * line asks for.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "output.h"
#include "status.h"

#ifndef BUILTIN_DIR
#define BUILTIN_DIR	"/usr/local/lib/negotiator/builtin"
#endif
#ifndef COMMANDS_DIR
#define COMMANDS_DIR	"/usr/lib/negotiator/commands"
#endif
#ifndef AVAILABLE_DIR
#define AVAILABLE_DIR	"/usr/local/lib/negotiator/available"
#endif
#ifndef VERSION
#define VERSION		"0.0"
#endif

void
cli_usage_error(const char *progname, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s -h)\n", progname);
	exit(STATUS_FAILURE);
}

void
cli_usage_paths(FILE *f, const char *more, const char *control)
{
	fprintf(f,
"      --commands-dir DIR     user commands (%s)\n"
"      --builtin-dir DIR      built-in commands (%s)\n"
"%s"
"      --control PATH         daemon control socket (%s)\n"
"      --syslog               daemon logs to syslog instead of stderr\n",
	    COMMANDS_DIR, BUILTIN_DIR, more, control);
}

void
cli_usage_copy(FILE *f, const char *other)
{
	fprintf(f,
"      --copy SRC DST         copy a file (with -r, a tree) to or from %s;\n"
"                             the remote one is written %s:PATH\n"
"  -r, --recursive            --copy: a directory and what it holds\n"
"  -p, --preserve             --copy: keep the times too (the mode always)\n"
"      --enable NAME...       link put, get or sh into the commands\n"
"                             directory (none is enabled by default)\n"
"      --disable NAME...      remove the links again\n"
"      --available-dir DIR    where put, get and sh are (%s)\n",
	    strcmp(other, "GUEST") == 0 ? "a guest" : "the host", other,
	    AVAILABLE_DIR);
}

void
cli_usage_end(FILE *f)
{
	fputs(
"      --version              print the version\n"
"  -h, --help                 this help\n"
"\n"
"Exit status of -e: the command's own; 128+N if killed by signal N;\n"
"124 timeout; 126 not executable; 127 no such command; 125 negotiator "
"failed;\n"
"killed by SIGPIPE (141 in sh) when the reader of our output is gone.\n", f);
}

void
cli_settings_init(struct cli_settings *cs, const char *progname,
    void (*usage)(FILE *), const char *verbs, const struct cli_verb *table,
    size_t n, const char **control, struct runner_config *rc)
{
	*cs = (struct cli_settings){
		.cs_progname = progname,
		.cs_usage = usage,
		.cs_verbs = verbs,
		.cs_verb_table = table,
		.cs_nverbs = n,
		.cs_timeout_ms = 10000,
		.cs_verbosity = LOG_LEVEL_INFO,
		.cs_ping_count = 1,
		.cs_control = control,
		.cs_available = AVAILABLE_DIR,
		.cs_runner = rc,
	};
	rc->rc_user_dir = COMMANDS_DIR;
	rc->rc_builtin_dir = BUILTIN_DIR;
	rc->rc_max_timeout_ms = 0;
	rc->rc_max_jobs = RUNNER_MAX_JOBS;
	rc->rc_max_peer_jobs = RUNNER_MAX_PEER_JOBS;
}

/* 1 and the verb set if ch asks for one; a usage error if another was. */
static int
cli_verb(struct cli_settings *cs, int ch, const char *argument)
{
	const struct cli_verb	*v;
	size_t			 i;

	for (i = 0; i < cs->cs_nverbs; i++) {
		v = &cs->cs_verb_table[i];
		if (v->cv_option != ch)
			continue;
		if (cs->cs_verb != NULL && cs->cs_verb != v)
			cli_usage_error(cs->cs_progname, "%s: choose one of %s",
			    v->cv_name, cs->cs_verbs);
		cs->cs_verb = v;
		cs->cs_argument = argument;
		return 1;
	}
	return 0;
}

int
cli_verb_is(const struct cli_settings *cs, const char *verb)
{
	return cs->cs_verb != NULL && strcmp(cs->cs_verb->cv_name, verb) == 0;
}

int
cli_verb_run(const struct cli_settings *cs, void *arg)
{
	return cs->cs_verb->cv_run(arg);
}

void
cli_setting(struct cli_settings *cs, int ch, const char *arg)
{
	const char	*errstr;
	uint32_t	 ms;
	int		 n;

	if (cli_verb(cs, ch, arg))
		return;
	switch (ch) {
	case 't':
		if (cli_parse_timeout(arg, &cs->cs_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid timeout: %s",
			    arg);
		cs->cs_timeout_given = 1;
		break;
	case 'r':
		cs->cs_recursive = 1;
		break;
	case 'p':
		cs->cs_preserve = 1;
		break;
	case OPT_AVAILABLE:
		cs->cs_available = runner_dir(arg);
		break;
	case OPT_COUNT:
		cs->cs_ping_count = (int)strtonum(arg, 1, 100000, &errstr);
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid count: %s",
			    arg);
		break;
	case 'n':
		cs->cs_no_stdin = 1;
		break;
	case OPT_JSON:
		cs->cs_json = 1;
		break;
	case 'v':
		cs->cs_verbosity = LOG_LEVEL_DEBUG;
		break;
	case 'q':
		cs->cs_verbosity = LOG_LEVEL_QUIET;
		break;
	case OPT_COMMANDS:
		cs->cs_runner->rc_user_dir = runner_dir(arg);
		break;
	case OPT_BUILTIN:
		cs->cs_runner->rc_builtin_dir = runner_dir(arg);
		break;
	case OPT_CONTROL:
		*cs->cs_control = arg;
		break;
	case OPT_SYSLOG:
		cs->cs_syslog = 1;
		break;
	case OPT_LOG_RATE:
		log_set_rate((unsigned)strtonum(arg, 0, 1000000, &errstr));
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid log rate "
			    "(lines a second per peer, 0 = no limit): %s", arg);
		break;
	case OPT_PEER_TIMEOUT:
		if (cli_parse_timeout(arg, &ms) == -1 || ms < 100)
			cli_usage_error(cs->cs_progname, "invalid peer timeout "
			    "(seconds, at least 0.1): %s", arg);
		conn_set_peer_timeout(ms / 1000.);
		break;
	case OPT_MAX_TIMEOUT:
		if (cli_parse_timeout(arg,
		    &cs->cs_runner->rc_max_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid maximum "
			    "timeout: %s", arg);
		break;
	case OPT_MAX_JOBS:
	case OPT_MAX_PEER_JOBS:
		n = (int)strtonum(arg, 1, 100000, &errstr);
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid number of "
			    "commands (1 to 100000): %s", arg);
		if (ch == OPT_MAX_JOBS)
			cs->cs_runner->rc_max_jobs = n;
		else
			cs->cs_runner->rc_max_peer_jobs = n;
		break;
	case OPT_VERSION:
		output_init();
		printf("%s %s (protocol %d)\n", cs->cs_progname, VERSION,
		    PROTO_VERSION);
		exit(0);
	case 'h':
		output_init();
		cs->cs_usage(stdout);
		exit(0);
	default:
		cs->cs_usage(stderr);
		exit(STATUS_FAILURE);
	}
}

int
cli_parse_timeout(const char *s, uint32_t *ms)
{
	char	*end;
	double	 t;

	errno = 0;
	t = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(t >= 0) || t > 86400 * 7)
		return -1;
	*ms = (uint32_t)(t * 1000 + 0.5);
	return 0;
}

