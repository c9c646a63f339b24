/*
 * cli.c: the options both programs take (CLI and daemon alike), their
 * help, and the verb a command line asks for.
 */
#ifndef CLI_H
#define CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runner.h"

/* A verb: the option that asks for it, its name, and what runs it. */
struct cli_verb {
	int		 cv_option;	/* as getopt_long returns it */
	const char	*cv_name;
	int		(*cv_run)(void *);	/* the program's options; status */
};

struct cli_settings {
	const char		*cs_progname;
	void			(*cs_usage)(FILE *);	/* the full help */
	const char		*cs_verbs;	/* "-e, -l, --ping, -d" */
	const struct cli_verb	*cs_verb_table;
	size_t			 cs_nverbs;
	const struct cli_verb	*cs_verb;	/* the one given; NULL: none */
	const char		*cs_argument;	/* the verb's option argument */
	uint32_t		 cs_timeout_ms;
	int			 cs_verbosity;
	int			 cs_syslog;
	int			 cs_ping_count;
	int			 cs_no_stdin;	/* -n: stdin is /dev/null */
	int			 cs_json;	/* --json */
	int			 cs_timeout_given;	/* -t given */
	int			 cs_recursive;	/* --copy -r */
	int			 cs_preserve;	/* --copy -p */
	int			 cs_tty;	/* --tty */
	/* The credit a call grants its output (0: PROTO_WINDOW). */
	uint32_t		 cs_output_window;
	const char		*cs_available;	/* --enable's put, get, sh */
	/* --env NAME=VALUE, checked; the strings are argv's. */
	char			*cs_env[PROTO_MAX_ENV + 1];
	size_t			 cs_envc;
	const char		**cs_control;
	struct runner_config	*cs_runner;
};

enum cli_option {
	OPT_COMMANDS = 256, OPT_BUILTIN, OPT_CONTROL, OPT_SYSLOG, OPT_VERSION,
	OPT_COUNT, OPT_LOG_RATE, OPT_MAX_TIMEOUT, OPT_PEER_TIMEOUT,
	OPT_MAX_JOBS, OPT_MAX_PEER_JOBS, OPT_JSON, OPT_IDLE_TIMEOUT,
	OPT_CONFIG, OPT_CONTROL_GROUP, OPT_ENV, OPT_JOURNAL,
	OPT_AVAILABLE, OPT_TTY,
	OPT_OWN		/* a program's own long options start here */
};
#define CLI_SHORT_OPTIONS	"t:nvqhrp"
#define CLI_LONG_OPTIONS \
	{ "timeout",		required_argument,	NULL, 't' }, \
	{ "no-stdin",		no_argument,		NULL, 'n' }, \
	{ "json",		no_argument,		NULL, OPT_JSON }, \
	{ "verbose",		no_argument,		NULL, 'v' }, \
	{ "quiet",		no_argument,		NULL, 'q' }, \
	{ "help",		no_argument,		NULL, 'h' }, \
	{ "count",		required_argument,	NULL, OPT_COUNT }, \
	{ "commands-dir",	required_argument,	NULL, OPT_COMMANDS }, \
	{ "builtin-dir",	required_argument,	NULL, OPT_BUILTIN }, \
	{ "control",		required_argument,	NULL, OPT_CONTROL }, \
	{ "syslog",		no_argument,		NULL, OPT_SYSLOG }, \
	{ "peer-timeout",	required_argument,	NULL, OPT_PEER_TIMEOUT }, \
	{ "version",		no_argument,		NULL, OPT_VERSION }, \
	{ "log-rate",		required_argument,	NULL, OPT_LOG_RATE }, \
	{ "max-timeout",	required_argument,	NULL, OPT_MAX_TIMEOUT }, \
	{ "max-jobs",		required_argument,	NULL, OPT_MAX_JOBS }, \
	{ "max-jobs-per-peer",	required_argument,	NULL, OPT_MAX_PEER_JOBS }, \
	{ "idle-timeout",	required_argument,	NULL, OPT_IDLE_TIMEOUT }, \
	{ "config",		required_argument,	NULL, OPT_CONFIG }, \
	{ "control-group",	required_argument,	NULL, OPT_CONTROL_GROUP }, \
	{ "env",		required_argument,	NULL, OPT_ENV }, \
	{ "journal",		optional_argument,	NULL, OPT_JOURNAL }, \
	{ "recursive",		no_argument,		NULL, 'r' }, \
	{ "preserve",		no_argument,		NULL, 'p' }, \
	{ "available-dir",	required_argument,	NULL, OPT_AVAILABLE }, \
	{ "tty",		no_argument,		NULL, OPT_TTY }

/*
 * Defaults: timeout 10 s, info level, one ping, no timeout ceiling.  usage
 * prints the program's help; verbs names its verbs for error messages;
 * table holds them (n of them).
 */
void	 cli_settings_init(struct cli_settings *, const char *progname,
	    void (*usage)(FILE *), const char *verbs,
	    const struct cli_verb *table, size_t n, const char **control,
	    struct runner_config *);
/*
 * Takes option ch if it is a verb of the table (a usage error if another
 * verb was given) or a shared option; -h prints the help and exits 0, an
 * unknown option prints it on stderr and exits 125, a bad value exits.
 */
void	 cli_setting(struct cli_settings *, int ch, const char *arg);
/*
 * The daemon options of both programs' configuration files (config.h), a
 * program's own after them; NULL-terminated lists for cli_config().
 */
#define CLI_CONFIG_OPTIONS \
	"verbose", "quiet", "commands-dir", "builtin-dir", "control", \
	"control-group", "syslog", "peer-timeout", "idle-timeout", \
	"log-rate", "max-timeout", "max-jobs", "max-jobs-per-peer", "journal"
/*
 * When the command line asks for the daemon (-d), reads its configuration
 * file first: --config FILE (which must exist), else default_path (which
 * may not).  Each line is handed to take(ch, value, arg) as getopt_long()
 * hands an option; the command line is taken after, so it wins.  Exits 125
 * naming FILE:LINE for a bad line; --config without -d is a usage error.
 * Leaves getopt ready for the command line's own pass.
 */
void	 cli_config(struct cli_settings *, int argc, char *argv[],
	    const char *shortopts, const struct option *longopts,
	    const char *const *allowed, const char *default_path,
	    void (*take)(int, const char *, void *), void *arg);
/* 1 if the verb given is verb. */
int	 cli_verb_is(const struct cli_settings *, const char *verb);
/* Runs the verb given, which must be there, on arg; its exit status. */
int	 cli_verb_run(const struct cli_settings *, void *arg);
/*
 * The help lines of the shared directory and control options, with the
 * program's own lines more (or "") after the command directories.
 */
void	 cli_usage_paths(FILE *, const char *more, const char *control);
/* The help's last lines: --version, -h, and what the exit status says. */
void	 cli_usage_end(FILE *);
/* The help lines of --copy and --enable (both programs take them). */
void	 cli_usage_copy(FILE *, const char *other);
/*
 * --tty's rules, once the command line is read: it goes with -e on one
 * target (fanned: several), not with -n, and our stdin must be a terminal
 * (there is no fallback to a pipe as ssh -t has: a script that asks for a
 * terminal gets a clear error rather than a call that behaves otherwise).
 * Exits 125 with one line if not.
 */
void	 cli_tty_check(const struct cli_settings *, int fanned);
/* "PROGNAME: message (see PROGNAME -h)" on stderr, and exit 125. */
void	 cli_usage_error(const char *progname, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* The longest timeout an option takes: a week, in seconds. */
#define CLI_MAX_SECONDS	(86400 * 7)
/* Seconds (decimals allowed, 0 = none) to milliseconds; -1 if invalid. */
int	 cli_parse_timeout(const char *, uint32_t *ms);

#endif /* CLI_H */
