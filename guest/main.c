/*
 * negotiator-guest's main: the options and verbs of the guest program only
 * (run commands on the host, list the host's commands, or (-d) be the
 * guest daemon), and how a call reaches the host; the options both
 * programs take are cli.c's.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "cli.h"
#include "copy.h"
#include "copycli.h"
#include "enable.h"
#include "guest.h"
#include "log.h"
#include "output.h"
#include "sibling.h"
#include "status.h"
#include "stdfds.h"


struct options {
	struct guest_config	 gc;
	struct cli_settings	 cs;	/* the verb, and -e's command line */
	char			**operands;	/* --copy's DST, --enable's */
	int			 noperands;
};

static void
usage(FILE *f)
{
	fputs(
"usage: negotiator-guest -e 'CMD ARGS' [-n] [-t SECONDS]\n"
"       negotiator-guest -l [--json] | --ping | -d\n"
"       negotiator-guest --copy [-rp] SRC DST (one of them host:PATH)\n"
"       negotiator-guest --enable NAME... | --disable NAME...\n"
"\n"
"  -l, --list-commands        list the commands the host offers\n"
"      --json                 with -l: one JSON object per command\n"
"  -e, --execute 'CMD ARGS'   run CMD on the host (words split like sh)\n"
"  -t, --timeout SECONDS      kill the remote command after this long\n"
"                             (default 10; 0 = no timeout)\n"
"  -n, --no-stdin             -e: stdin from /dev/null, not ours (as ssh -n)\n"
"      --tty                  -e: a terminal for CMD, ours in raw mode\n"
"                             (as ssh -t; no timeout unless -t; ~. ends it)\n"
"      --env NAME=VALUE       -e: add to the command's environment\n"
"                             (repeatable; see negotiator-commands(7))\n"
"      --ping                 time a round trip to the host's daemon\n"
"      --count N              with --ping: N round trips\n"
"  -d, --daemon               run the guest daemon (in the foreground)\n"
"  -c, --character-device DIR directory holding the two ports by name\n"
"                             (default: found through sysfs)\n"
"      --sysfs-root DIR       sysfs to search for ports (/sys)\n"
"      --dev-dir DIR          where the port devices are (/dev)\n"
"  -v, --verbose              more output\n"
"  -q, --quiet                only warnings\n", f);
	cli_usage_copy(f, "host");
	cli_usage_paths(f, "", DEFAULT_GUEST_CONTROL);
	fputs(
"      --max-timeout SECONDS  daemon: the longest the host's command may run\n"
"                             (default: no limit)\n"
"      --log-rate N           daemon: log lines a second per peer or caller\n"
"                             (default 20; 0 = no limit)\n"
"      --max-jobs N           daemon: commands running at once (default 128)\n"
"      --max-jobs-per-peer N  daemon: ... for the host (default 32)\n"
"      --peer-timeout SECONDS daemon: the host silent this long is marked\n"
"                             not answering (default 5)\n"
"      --idle-timeout SECONDS daemon: a caller's connection with no call\n"
"                             running and no bytes moving this long is\n"
"                             closed (default 120)\n", f);
	cli_usage_end(f);
}

/* The daemon's control socket, or the port itself when no daemon runs. */
static int
connect_to(const void *arg, int *to_daemon)
{
	const struct options	*o = arg;
	char			 path[PATH_MAX];
	int			 fd;

	if ((fd = call_connect_daemon(o->gc.gc_control)) != -1) {
		*to_daemon = 1;
		return fd;
	}
	if (port_find(&o->gc, PORT_G2H, path, sizeof(path)) == -1)
		errx(STATUS_FAILURE, "no daemon at %s and no port %s found "
		    "(is the channel configured for this guest?)",
		    o->gc.gc_control, PORT_G2H);
	if ((fd = port_open(path)) == -1)
		err(STATUS_FAILURE, "cannot open %s%s", path, errno == EBUSY ?
		    " (held by a daemon whose control socket is elsewhere?)" :
		    "");
	return fd;
}

static int
call(const struct options *o, uint16_t type)
{
	return call_main(&o->cs, type, "", "the host", connect_to, o);
}

static int
verb_execute(void *o)
{
	return call(o, MSG_OPEN);
}

static int
verb_list_commands(void *o)
{
	return call(o, MSG_LIST);
}

static int
verb_ping(void *o)
{
	return call(o, MSG_PING);
}

/* The call of --copy, in copy_cli()'s child. */
static int
copy_call(void *arg, const char *cmdline, int no_stdin)
{
	struct options	*o = arg;

	o->cs.cs_argument = cmdline;
	o->cs.cs_no_stdin = no_stdin;
	return call(o, MSG_OPEN);
}

static int
verb_copy(void *arg)
{
	struct options	*o = arg;
	struct copy_cli	 cc;
	const char	*src = o->cs.cs_argument, *dst = o->operands[0];
	int		 to_host = strncmp(dst, "host:", 5) == 0;

	if (to_host == (strncmp(src, "host:", 5) == 0))
		cli_usage_error(o->cs.cs_progname, "%s", "--copy: exactly one "
		    "of SRC and DST is host:PATH");
	copy_cli_init(&cc, &o->cs);
	cc.cc_to_remote = to_host;
	cc.cc_local = to_host ? src : dst;
	cc.cc_remote = (to_host ? dst : src) + 5;
	if (*cc.cc_remote == '\0' || *cc.cc_local == '\0')
		cli_usage_error(o->cs.cs_progname, "%s", "--copy: empty path");
	cc.cc_other = "the host";
	cc.cc_enable = "negotiator-host --enable-giving-guests-root --enable ";
	cc.cc_call = copy_call;
	cc.cc_arg = o;
	return copy_cli(&cc);
}

static int
verb_enable(void *arg)
{
	struct options	*o = arg;

	return enable_main(o->cs.cs_progname, &o->gc.gc_runner,
	    o->cs.cs_available, o->operands, o->noperands,
	    cli_verb_is(&o->cs, "enable"), 0, 0);
}

static int
verb_daemon(void *arg)
{
	struct options	*o = arg;

	log_init("negotiator-guest", o->cs.cs_verbosity, o->cs.cs_syslog);
	return guestd_main(&o->gc);
}

enum { OPT_PING = OPT_OWN, OPT_SYSFS, OPT_DEV, OPT_COPY, OPT_ENABLE,
    OPT_DISABLE };

static const struct cli_verb verbs[] = {
	{ 'e',		"execute",		verb_execute },
	{ 'l',		"list-commands",	verb_list_commands },
	{ OPT_PING,	"ping",			verb_ping },
	{ 'd',		"daemon",		verb_daemon },
	{ OPT_COPY,	"copy",			verb_copy },
	{ OPT_ENABLE,	"enable",		verb_enable },
	{ OPT_DISABLE,	"disable",		verb_enable },
};

static const struct option long_options[] = {
	{ "list-commands",	no_argument,		NULL, 'l' },
	{ "execute",		required_argument,	NULL, 'e' },
	{ "daemon",		no_argument,		NULL, 'd' },
	{ "character-device",	required_argument,	NULL, 'c' },
	{ "ping",		no_argument,		NULL, OPT_PING },
	{ "sysfs-root",		required_argument,	NULL, OPT_SYSFS },
	{ "dev-dir",		required_argument,	NULL, OPT_DEV },
	{ "copy",		required_argument,	NULL, OPT_COPY },
	{ "enable",		required_argument,	NULL, OPT_ENABLE },
	{ "disable",		required_argument,	NULL, OPT_DISABLE },
	CLI_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

#define SHORT_OPTIONS	"le:dc:" CLI_SHORT_OPTIONS

/* The options of the configuration file (config.h), -d's own. */
static const char *const config_options[] = {
	CLI_CONFIG_OPTIONS, "character-device", "sysfs-root", "dev-dir", NULL
};

/* One option, from the command line or the configuration file. */
static void
guest_option(int ch, const char *arg, void *arg_o)
{
	struct options	*o = arg_o;

	switch (ch) {
	case 'c':
		o->gc.gc_port_dir = arg;
		break;
	case OPT_SYSFS:
		o->gc.gc_sysfs_root = arg;
		break;
	case OPT_DEV:
		o->gc.gc_dev_dir = arg;
		break;
	default:
		cli_setting(&o->cs, ch, arg);
		break;
	}
}

int
main(int argc, char *argv[])
{
	struct options	 o;
	int		 ch;
	stdfds_ensure();
	/* What the available put and get run: not options of the CLI. */
	if (argc > 1 && (strcmp(argv[1], "--receive-files") == 0 ||
	    strcmp(argv[1], "--send-files") == 0))
		return copy_command_main(argc - 1, argv + 1);

	sibling_save_argv(argc, argv);
	memset(&o, 0, sizeof(o));
	o.gc.gc_sysfs_root = "/sys";
	o.gc.gc_dev_dir = "/dev";
	o.gc.gc_control = DEFAULT_GUEST_CONTROL;
	o.gc.gc_runner.rc_stdin_pipe = RUNNER_GUEST_STDIN_PIPE;
	cli_settings_init(&o.cs, "negotiator-guest", usage,
	    "-e, -l, --ping, -d, --copy, --enable, --disable", verbs,
	    sizeof(verbs) / sizeof(verbs[0]),
	    &o.gc.gc_control, &o.gc.gc_runner);
	log_init("negotiator-guest", LOG_LEVEL_INFO, 0);

	cli_config(&o.cs, argc, argv, SHORT_OPTIONS, long_options,
	    config_options, DEFAULT_GUEST_CONFIG, guest_option, &o);
	while ((ch = getopt_long(argc, argv, SHORT_OPTIONS, long_options,
	    NULL)) != -1)
		guest_option(ch, optarg, &o);
	if (o.cs.cs_verb == NULL)
		cli_usage_error(o.cs.cs_progname, "%s", "nothing to do: give "
		    "-e, -l, --ping, -d, --copy, --enable or --disable");
	/* --copy SRC DST, --enable NAME...: the first is the option's. */
	if (cli_verb_is(&o.cs, "enable") || cli_verb_is(&o.cs, "disable")) {
		o.noperands = argc - optind + 1;
		o.operands = xcalloc((size_t)o.noperands, sizeof(char *));
		o.operands[0] = (char *)o.cs.cs_argument;
		memcpy(o.operands + 1, argv + optind,
		    (size_t)(argc - optind) * sizeof(char *));
	} else if (cli_verb_is(&o.cs, "copy") && argc - optind == 1)
		o.operands = argv + optind;
	else if (cli_verb_is(&o.cs, "copy"))
		cli_usage_error(o.cs.cs_progname, "%s", "--copy takes SRC and "
		    "DST");
	else if (optind != argc)
		cli_usage_error(o.cs.cs_progname, "unexpected argument: %s",
		    argv[optind]);
	if ((o.cs.cs_recursive || o.cs.cs_preserve) &&
	    !cli_verb_is(&o.cs, "copy"))
		cli_usage_error(o.cs.cs_progname, "%s", "-r and -p go with "
		    "--copy");
	if (o.cs.cs_json && !cli_verb_is(&o.cs, "list-commands"))
		cli_usage_error(o.cs.cs_progname, "%s", "--json goes with -l");
	if (o.cs.cs_no_stdin && !cli_verb_is(&o.cs, "execute"))
		cli_usage_error(o.cs.cs_progname, "%s", "-n goes with -e");
	cli_tty_check(&o.cs, 0);
	if (!cli_verb_is(&o.cs, "daemon"))
		output_init();
	ch = cli_verb_run(&o.cs, &o);
	if (cli_verb_is(&o.cs, "enable") || cli_verb_is(&o.cs, "disable"))
		free(o.operands);
	return ch;
}
