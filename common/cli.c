/*
 * The options both programs take, CLI and daemon alike, in one place: their
 * defaults, their values checked, their help, and the one verb a command
 * line asks for.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "callenv.h"
#include "cli.h"
#include "config.h"
#include "control.h"
#include "journal.h"
#include "log.h"
#include "output.h"
#include "policy.h"
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
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#ifndef VERSION
#define VERSION		"0.0"
#endif

void
cli_tty_check(const struct cli_settings *cs, int fanned)
{
	if (!cs->cs_tty)
		return;
	if (!cli_verb_is(cs, "execute"))
		cli_usage_error(cs->cs_progname, "%s", "--tty goes with -e");
	if (fanned)
		cli_usage_error(cs->cs_progname, "%s", "--tty goes with one "
		    "GUEST, not --all or --guests");
	if (cs->cs_no_stdin)
		cli_usage_error(cs->cs_progname, "%s", "give -n or --tty, not "
		    "both");
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "%s: --tty: stdin is not a terminal (run it "
		    "from one, or leave --tty out)\n", cs->cs_progname);
		exit(STATUS_FAILURE);
	}
}

void
cli_usage_error(const char *progname, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", progname);
	if (config_where() != NULL)
		fprintf(stderr, "%s: ", config_where());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (config_where() != NULL)
		fputc('\n', stderr);
	else
		fprintf(stderr, " (see %s -h)\n", progname);
	exit(STATUS_FAILURE);
}

void
cli_config(struct cli_settings *cs, int argc, char *argv[],
    const char *shortopts, const struct option *longopts,
    const char *const *allowed, const char *default_path,
    void (*take)(int, const char *, void *), void *arg)
{
	const char	*path = NULL;
	char		 why[PATH_MAX + 300];
	int		 ch, daemon = 0;

	/* A first pass, quiet: the second one reports the command line. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if (ch == 'd')
			daemon = 1;
		else if (ch == OPT_CONFIG)
			path = optarg;
	opterr = 1;
	optind = 0;
	if (path != NULL && !daemon)
		cli_usage_error(cs->cs_progname, "%s", "--config goes with -d");
	if (!daemon)
		return;
	if (config_read(path != NULL ? path : default_path, path != NULL,
	    longopts, allowed, take, arg, why, sizeof(why)) == -1) {
		fprintf(stderr, "%s: %s\n", cs->cs_progname, why);
		exit(STATUS_FAILURE);
	}
}

void
cli_usage_paths(FILE *f, const char *more, const char *control)
{
	fprintf(f,
"      --commands-dir DIR     user commands (%s)\n"
"      --builtin-dir DIR      built-in commands (%s)\n"
"%s"
"      --control PATH         daemon control socket (%s)\n"
"      --control-group GROUP  daemon: the socket's group, whose members\n"
"                             may call (default: the daemon's own)\n"
"      --config FILE          daemon: read options from FILE, not\n"
"                             " SYSCONFDIR "/negotiator/*.conf\n"
"      --syslog               daemon logs to syslog instead of stderr\n"
"      --journal[=SOCKET]     daemon: audit entries with fields to the\n"
"                             journal (default when stderr is the journal)\n",
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
"      --enable NAME...       link put, get, sh or shell into the commands\n"
"                             directory (none is enabled by default)\n"
"      --disable NAME...      remove the links again\n"
"      --available-dir DIR    where put, get, sh and shell are (%s)\n",
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
		if (cs->cs_verb == v)
			cli_usage_error(cs->cs_progname, "--%s given twice: "
			    "give it once", v->cv_name);
		if (cs->cs_verb != NULL)
			cli_usage_error(cs->cs_progname, "--%s and --%s: "
			    "choose one of %s", cs->cs_verb->cv_name, v->cv_name,
			    cs->cs_verbs);
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

/*
 * A group by name, read from /etc/group with fgetgrent(3) (no NSS: the
 * guest's program is static), or by number.  0, or -1 if there is none.
 */
static int
cli_group(const char *name, gid_t *gid)
{
	struct group	*gr;
	const char	*errstr;
	FILE		*f;
	int		 found = 0;

	if ((f = fopen("/etc/group", "re")) != NULL) {
		while (!found && (gr = fgetgrent(f)) != NULL)
			if (strcmp(gr->gr_name, name) == 0) {
				*gid = gr->gr_gid;
				found = 1;
			}
		fclose(f);
	}
	if (found)
		return 0;
	*gid = (gid_t)strtonum(name, 0, INT_MAX, &errstr);
	return errstr == NULL ? 0 : -1;
}

void
cli_setting(struct cli_settings *cs, int ch, const char *arg)
{
	gid_t		 gid;
	const char	*errstr;
	char		 why[256];
	uint32_t	 ms;
	int		 n;

	if (cli_verb(cs, ch, arg))
		return;
	switch (ch) {
	case 't':
		if (cli_parse_timeout(arg, &cs->cs_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid timeout "
			    "(seconds, 0 to %d; 0 = none): %s", CLI_MAX_SECONDS,
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
		cs->cs_available = policy_dir(arg);
		break;
	case OPT_COUNT:
		cs->cs_ping_count = (int)strtonum(arg, 1, 100000, &errstr);
		if (errstr != NULL)
			cli_usage_error(cs->cs_progname, "invalid count (round "
			    "trips, 1 to 100000): %s", arg);
		break;
	case 'n':
		cs->cs_no_stdin = 1;
		break;
	case OPT_TTY:
		cs->cs_tty = 1;
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
		cs->cs_runner->rc_user_dir = policy_dir(arg);
		break;
	case OPT_BUILTIN:
		cs->cs_runner->rc_builtin_dir = policy_dir(arg);
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
	case OPT_IDLE_TIMEOUT:
		if (cli_parse_timeout(arg, &ms) == -1 || ms < 100)
			cli_usage_error(cs->cs_progname, "invalid %s timeout "
			    "(seconds, 0.1 to %d): %s",
			    ch == OPT_PEER_TIMEOUT ? "peer" : "idle",
			    CLI_MAX_SECONDS, arg);
		if (ch == OPT_PEER_TIMEOUT)
			conn_set_peer_timeout(ms / 1000.);
		else
			control_set_idle_timeout(ms / 1000.);
		break;
	case OPT_CONFIG:	/* read by cli_config() */
		break;
	case OPT_CONTROL_GROUP:
		if (cli_group(arg, &gid) == -1)
			cli_usage_error(cs->cs_progname, "no such group (a "
			    "name in /etc/group, or a number): %s", arg);
		control_set_group(gid);
		break;
	case OPT_MAX_TIMEOUT:
		if (cli_parse_timeout(arg,
		    &cs->cs_runner->rc_max_timeout_ms) == -1)
			cli_usage_error(cs->cs_progname, "invalid maximum "
			    "timeout (seconds, 0 to %d; 0 = none): %s",
			    CLI_MAX_SECONDS, arg);
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
	case OPT_ENV:
		/* Checked here too, for an early word; the daemon decides. */
		if (cs->cs_envc == PROTO_MAX_ENV)
			cli_usage_error(cs->cs_progname, "--env: more than %d "
			    "variables", PROTO_MAX_ENV);
		cs->cs_env[cs->cs_envc++] = (char *)arg;
		if (callenv_check_all(cs->cs_env, cs->cs_envc, why,
		    sizeof(why)) == -1)
			cli_usage_error(cs->cs_progname, "%s", why);
		break;
	case OPT_JOURNAL:
		audit_journal(arg != NULL ? arg : JOURNAL_SOCKET);
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
		/* getopt_long() has said which option: one line more. */
		fprintf(stderr, "try '%s -h' for the options\n",
		    cs->cs_progname);
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
	if (errno != 0 || end == s || *end != '\0' || !(t >= 0) ||
	    t > CLI_MAX_SECONDS)
		return -1;
	*ms = (uint32_t)(t * 1000 + 0.5);
	return 0;
}

