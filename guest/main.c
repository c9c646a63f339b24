/*
 * negotiator-guest: run commands on the host, list the host's commands, or
 * (-d) be the guest daemon.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "log.h"
#include "status.h"


struct options {
	struct guest_config	 gc;
	const char		*verb;
	const char		*argument;	/* -e command line */
	struct cli_settings	 cs;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: negotiator-guest -e 'CMD ARGS' [-t SECONDS]\n"
"       negotiator-guest -l | --ping | -d\n"
"\n"
"  -l, --list-commands        list the commands the host offers\n"
"  -e, --execute 'CMD ARGS'   run CMD on the host (words split like sh)\n"
"  -t, --timeout SECONDS      kill the remote command after this long\n"
"                             (default 10; 0 = no timeout)\n"
"      --ping                 time a round trip to the host's daemon\n"
"      --count N              with --ping: N round trips\n"
"  -d, --daemon               run the guest daemon (in the foreground)\n"
"  -c, --character-device DIR directory holding the two ports by name\n"
"                             (default: found through sysfs)\n"
"      --sysfs-root DIR       sysfs to search for ports (/sys)\n"
"      --dev-dir DIR          where the port devices are (/dev)\n"
"  -v, --verbose              more output\n"
"  -q, --quiet                only warnings\n"
"      --commands-dir DIR     user commands (%s)\n"
"      --builtin-dir DIR      built-in commands (%s)\n"
"      --control PATH         daemon control socket (%s)\n"
"      --syslog               daemon logs to syslog instead of stderr\n"
"      --max-timeout SECONDS  daemon: the longest the host's command may run\n"
"                             (default: no limit)\n"
"      --log-rate N           daemon: log lines a second per peer or caller\n"
"                             (default 20; 0 = no limit)\n"
"      --max-jobs N           daemon: commands running at once (default 128)\n"
"      --max-jobs-per-peer N  daemon: ... for the host (default 32)\n"
"      --peer-timeout SECONDS daemon: the host silent this long is marked\n"
"                             not answering (default 5)\n"
"      --version              print the version\n"
"  -h, --help                 this help\n"
"\n"
"Exit status of -e: the command's own; 128+N if killed by signal N;\n"
"124 timeout; 126 not executable; 127 no such command; 125 negotiator "
"failed.\n", COMMANDS_DIR, BUILTIN_DIR,
	    DEFAULT_GUEST_CONTROL);
}

#define usage_error(...)	cli_usage_error("negotiator-guest", __VA_ARGS__)

/* The daemon's control socket, or the port itself when no daemon runs. */
static int
connect_to(const struct options *o)
{
	char	 path[PATH_MAX];
	int	 fd;

	if ((fd = control_connect(o->gc.gc_control)) != -1)
		return fd;
	if (errno != ENOENT && errno != ECONNREFUSED)
		err(STATUS_FAILURE, "cannot reach the daemon at %s",
		    o->gc.gc_control);
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
	struct cli_options	 co;
	struct proto_msg	 m;
	const char		*error;
	int			 rv;

	if (cli_make_request(&m, type, "", o->argument, o->cs.cs_timeout_ms,
	    &error) == -1)
		usage_error("%s", error);
	memset(&co, 0, sizeof(co));
	co.co_progname = "negotiator-guest";
	co.co_peer = "the host";
	co.co_verbose = o->cs.cs_verbosity > LOG_LEVEL_INFO;
	co.co_ping_count = o->cs.cs_ping_count;
	rv = cli_call(connect_to(o), &m, &co);
	proto_msg_free(&m);
	return rv;
}

static int
verb_execute(struct options *o)
{
	return call(o, MSG_OPEN);
}

static int
verb_list_commands(struct options *o)
{
	return call(o, MSG_LIST);
}

static int
verb_ping(struct options *o)
{
	return call(o, MSG_PING);
}

static int
verb_daemon(struct options *o)
{
	log_init("negotiator-guest", o->cs.cs_verbosity, o->cs.cs_syslog);
	return guestd_main(&o->gc);
}

static const struct {
	const char	*name;
	int		(*run)(struct options *);
} verbs[] = {
	{ "execute",		verb_execute },
	{ "list-commands",	verb_list_commands },
	{ "ping",		verb_ping },
	{ "daemon",		verb_daemon },
};

enum { OPT_PING = OPT_OWN, OPT_SYSFS, OPT_DEV };

static const struct option long_options[] = {
	{ "list-commands",	no_argument,		NULL, 'l' },
	{ "execute",		required_argument,	NULL, 'e' },
	{ "daemon",		no_argument,		NULL, 'd' },
	{ "character-device",	required_argument,	NULL, 'c' },
	{ "ping",		no_argument,		NULL, OPT_PING },
	{ "sysfs-root",		required_argument,	NULL, OPT_SYSFS },
	{ "dev-dir",		required_argument,	NULL, OPT_DEV },
	CLI_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

static void
set_verb(struct options *o, const char *verb, const char *argument)
{
	if (o->verb != NULL && strcmp(o->verb, verb) != 0)
		usage_error("%s: choose one of -e, -l, --ping, -d", verb);
	o->verb = verb;
	o->argument = argument;
}

int
main(int argc, char *argv[])
{
	struct options	 o;
	size_t		 i;
	int		 ch;

	memset(&o, 0, sizeof(o));
	o.gc.gc_sysfs_root = "/sys";
	o.gc.gc_dev_dir = "/dev";
	o.gc.gc_control = DEFAULT_GUEST_CONTROL;
	cli_settings_init(&o.cs, "negotiator-guest", &o.gc.gc_control,
	    &o.gc.gc_runner);
	log_init("negotiator-guest", LOG_LEVEL_INFO, 0);

	while ((ch = getopt_long(argc, argv, "le:dc:" CLI_SHORT_OPTIONS,
	    long_options, NULL)) != -1) {
		switch (ch) {
		case 'l':
			set_verb(&o, "list-commands", NULL);
			break;
		case 'e':
			set_verb(&o, "execute", optarg);
			break;
		case OPT_PING:
			set_verb(&o, "ping", NULL);
			break;
		case 'd':
			set_verb(&o, "daemon", NULL);
			break;
		case 'c':
			o.gc.gc_port_dir = optarg;
			break;
		case OPT_SYSFS:
			o.gc.gc_sysfs_root = optarg;
			break;
		case OPT_DEV:
			o.gc.gc_dev_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (cli_setting(&o.cs, ch, optarg))
				break;
			usage(stderr);
			return STATUS_FAILURE;
		}
	}
	if (optind != argc)
		usage_error("unexpected argument: %s", argv[optind]);
	if (o.verb == NULL)
		usage_error("%s", "nothing to do: give -e, -l, --ping or -d");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(verbs[i].name, o.verb) == 0)
			return verbs[i].run(&o);
	return STATUS_FAILURE;
}
