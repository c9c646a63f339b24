/*
 * negotiator-host's main: the options and verbs of the host program only
 * (run commands inside guests, list guests and their commands, fan out,
 * attach, or (-d) be the host daemon), and how a call reaches a guest;
 * the options both programs take are cli.c's.  Built twice: as
 * negotiator-host, the CLI, without libvirt and the daemon (host/full.c),
 * and as negotiator-hostd, the full program the CLI runs for those.
 */
#include <sys/socket.h>

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
#include "host.h"
#include "log.h"
#include "output.h"
#include "sibling.h"
#include "status.h"
#include "stdfds.h"
#include "unix.h"

struct options {
	struct host_config	 hc;
	const char		*guest;
	struct cli_settings	 cs;	/* the verb; -e's command line, or GUEST */
	struct fanout		 fo;		/* --all, --guests, --json */
	char			**operands;	/* --enable's names */
	int			 noperands;
	int			 giving_root;	/* --enable-giving-guests-root */
};

static void
usage(FILE *f)
{
	fputs(
"usage: negotiator-host -e 'CMD ARGS' [-n] [-t SECONDS] GUEST | --all |\n"
"                         --guests A,B\n"
"       negotiator-host -g [--json] | -c GUEST [--json] | --ping GUEST | -d\n"
"       negotiator-host --ping --all | --guests A,B [--json]\n"
"       negotiator-host --attach GUEST | --detach GUEST\n"
"       negotiator-host --copy [-rp] SRC DST (one of them GUEST:PATH)\n"
"       negotiator-host --enable NAME... [--enable-giving-guests-root]\n"
"       negotiator-host --disable NAME...\n"
"\n"
"  -g, --list-guests          list the guests found, one per line\n"
"  -c, --list-commands GUEST  list the commands GUEST offers\n"
"  -e, --execute 'CMD ARGS'   run CMD inside GUEST (words split like sh)\n"
"  -t, --timeout SECONDS      kill the remote command after this long\n"
"                             (default 10; 0 = no timeout)\n"
"  -n, --no-stdin             -e: stdin from /dev/null, not ours (as ssh -n)\n"
"      --tty                  -e: a terminal for CMD, ours in raw mode\n"
"                             (as ssh -t; no timeout unless -t; ~. ends it)\n"
"      --env NAME=VALUE       -e: add to the command's environment\n"
"                             (repeatable; see negotiator-commands(7))\n"
"      --ping GUEST           time a round trip to GUEST's daemon\n"
"      --count N              with --ping: N round trips\n"
"      --all                  -e, --ping: on every connected guest at once\n"
"      --guests A,B,C         -e, --ping: on these guests at once\n"
"                             (lines prefixed \"GUEST: \", then a line per\n"
"                             guest that failed; exit 0 if all succeeded,\n"
"                             1 if any failed, 125 if none could be asked;\n"
"                             a guest silent past -t fails without holding\n"
"                             up the others)\n"
"      --json                 with --all, --guests, -g: one JSON object per\n"
"                             guest per line; with -c: one per command\n"
"      --attach GUEST         add both channels to libvirt domain GUEST,\n"
"                             live and in its config (without libvirt:\n"
"                             print the QEMU options)\n"
"      --detach GUEST         remove them again\n"
"  -d, --daemon               run the host daemon (in the foreground)\n"
"  -v, --verbose              more output (-g: connection state)\n"
"  -q, --quiet                only warnings\n", f);
	cli_usage_copy(f, "GUEST");
	fputs(
"      --enable-giving-guests-root\n"
"                             --enable on the host: each of put, get and sh\n"
"                             gives every guest root here: refused without\n"
"                             this\n", f);
	cli_usage_paths(f,
"      --channel-dir DIR      guest channel sockets ("
	    DEFAULT_CHANNEL_DIR ")\n", DEFAULT_HOST_CONTROL);
	fputs(
"      --max-timeout SECONDS  daemon: the longest a guest's command may run\n"
"                             (default 600, also when it asks for none;\n"
"                             0 = no limit)\n"
"      --log-rate N           daemon: log lines a second per guest or caller\n"
"                             (default 20; 0 = no limit)\n"
"      --max-jobs N           daemon: commands running at once (default 128)\n"
"      --max-jobs-per-peer N  daemon: ... for one guest (default 32)\n"
"      --peer-timeout SECONDS daemon: a guest silent this long is marked\n"
"                             not answering (default 5)\n"
"      --idle-timeout SECONDS daemon: a caller's connection with no call\n"
"                             running and no bytes moving this long is\n"
"                             closed (default 120)\n", f);
	cli_usage_end(f);
}

#define usage_error(...)	cli_usage_error("negotiator-host", __VA_ARGS__)

/* The daemon's control socket, or the guest's channel when none runs. */
static int
connect_to(const void *arg, int *to_daemon)
{
	const struct options	*o = arg;
	struct found_guest	 fg;
	int			 fd;

	if ((fd = call_connect_daemon(o->hc.hc_control)) != -1) {
		*to_daemon = 1;
		return fd;
	}
	if (o->guest == NULL)
		return -1;
	if (discover_find(o->hc.hc_channel_dir, o->guest, &fg) == -1)
		errx(STATUS_FAILURE, "no such guest: %s (no daemon at %s, "
		    "and no channel in %s)", o->guest, o->hc.hc_control,
		    o->hc.hc_channel_dir);
	if ((fd = unix_connect(fg.fg_h2g, SOCK_NONBLOCK)) == -1)
		err(STATUS_FAILURE, "cannot connect to %s", fg.fg_h2g);
	return fd;
}

/* One call to o->guest, or to the daemon itself when it is NULL. */
static int
call(const struct options *o, uint16_t type)
{
	char	 peer[PROTO_MAX_NAME + 16];

	snprintf(peer, sizeof(peer), "guest %s", o->guest ? o->guest : "");
	return call_main(&o->cs, type, o->guest ? o->guest : "",
	    o->guest ? peer : "the host daemon", connect_to, o);
}

/* --all or --guests: fan-out instead of one call. */
static int
fanned_out(struct options *o, uint16_t type)
{
	if (!o->fo.fo_all && o->fo.fo_guests == NULL)
		return -1;
	o->fo.fo_hc = &o->hc;
	o->fo.fo_type = type;
	o->fo.fo_cmdline = o->cs.cs_argument;
	o->fo.fo_env = o->cs.cs_env;
	o->fo.fo_envc = o->cs.cs_envc;
	o->fo.fo_timeout_ms = o->cs.cs_timeout_ms;
	o->fo.fo_verbose = o->cs.cs_verbosity > LOG_LEVEL_INFO;
	o->fo.fo_quiet = o->cs.cs_verbosity < LOG_LEVEL_INFO;
	return fanout_main(&o->fo);
}

static int
verb_execute(void *o)
{
	int	 rv;

	if ((rv = fanned_out(o, MSG_OPEN)) != -1)
		return rv;
	return call(o, MSG_OPEN);
}

static int
verb_list_commands(void *arg)
{
	struct options	*o = arg;

	o->guest = o->cs.cs_argument;
	return call(o, MSG_LIST);
}

static int
verb_ping(void *o)
{
	int	 rv;

	if ((rv = fanned_out(o, MSG_PING)) != -1)
		return rv;
	return call(o, MSG_PING);
}

static int
verb_list_guests(void *arg)
{
	struct options	*o = arg;

	o->fo.fo_hc = &o->hc;
	o->fo.fo_verbose = o->cs.cs_verbosity > LOG_LEVEL_INFO;
	return table_list(&o->fo);
}

static int
verb_attach(void *arg)
{
	struct options	*o = arg;

	return attach_main(&o->hc, o->cs.cs_argument, 0);
}

static int
verb_detach(void *arg)
{
	struct options	*o = arg;

	return attach_main(&o->hc, o->cs.cs_argument, 1);
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

/* GUEST:PATH as scp writes it: a colon before any slash. */
static char *
copy_guest_path(const char *s)
{
	const char	*colon = strchr(s, ':');

	if (colon == NULL || colon == s || (strchr(s, '/') != NULL &&
	    strchr(s, '/') < colon))
		return NULL;
	return (char *)colon;
}

static int
verb_copy(void *arg)
{
	static char	 other[PROTO_MAX_NAME + 16], guest[PROTO_MAX_NAME + 1];
	struct options	*o = arg;
	struct copy_cli	 cc;
	const char	*src = o->cs.cs_argument, *dst = o->operands[0];
	char		*sc = copy_guest_path(src), *dc = copy_guest_path(dst);
	const char	*remote;

	if ((sc == NULL) == (dc == NULL))
		usage_error("%s", "--copy: exactly one of SRC and DST is "
		    "GUEST:PATH (write a local path with a colon as ./A:B)");
	copy_cli_init(&cc, &o->cs);
	cc.cc_to_remote = dc != NULL;
	remote = dc != NULL ? dst : src;
	if ((size_t)((dc != NULL ? dc : sc) - remote) >= sizeof(guest))
		usage_error("%s", "--copy: guest name too long");
	memcpy(guest, remote, (size_t)((dc != NULL ? dc : sc) - remote));
	o->guest = guest;
	cc.cc_remote = (dc != NULL ? dc : sc) + 1;
	cc.cc_local = dc != NULL ? src : dst;
	if (*cc.cc_remote == '\0' || *cc.cc_local == '\0')
		usage_error("%s", "--copy: empty path");
	snprintf(other, sizeof(other), "guest %s", o->guest);
	cc.cc_other = other;
	cc.cc_enable = "negotiator-guest --enable ";
	cc.cc_call = copy_call;
	cc.cc_arg = o;
	return copy_cli(&cc);
}

static int
verb_enable(void *arg)
{
	struct options	*o = arg;

	return enable_main(o->cs.cs_progname, &o->hc.hc_runner,
	    o->cs.cs_available, o->operands, o->noperands,
	    cli_verb_is(&o->cs, "enable"), 1, o->giving_root);
}

static int
verb_daemon(void *arg)
{
	struct options	*o = arg;

	log_init("negotiator-host", o->cs.cs_verbosity, o->cs.cs_syslog);
	return hostd_main(&o->hc);
}

enum {
	OPT_PING = OPT_OWN, OPT_CHANNEL, OPT_ALL, OPT_GUESTS, OPT_ATTACH, OPT_DETACH,
	OPT_COPY, OPT_ENABLE, OPT_DISABLE, OPT_GIVING_ROOT,
};

static const struct cli_verb verbs[] = {
	{ 'e',		"execute",		verb_execute },
	{ 'c',		"list-commands",	verb_list_commands },
	{ 'g',		"list-guests",		verb_list_guests },
	{ OPT_PING,	"ping",			verb_ping },
	{ 'd',		"daemon",		verb_daemon },
	{ OPT_ATTACH,	"attach",		verb_attach },
	{ OPT_DETACH,	"detach",		verb_detach },
	{ OPT_COPY,	"copy",			verb_copy },
	{ OPT_ENABLE,	"enable",		verb_enable },
	{ OPT_DISABLE,	"disable",		verb_enable },
};

static const struct option long_options[] = {
	{ "list-guests",	no_argument,		NULL, 'g' },
	{ "list-commands",	required_argument,	NULL, 'c' },
	{ "execute",		required_argument,	NULL, 'e' },
	{ "daemon",		no_argument,		NULL, 'd' },
	{ "ping",		no_argument,		NULL, OPT_PING },
	{ "channel-dir",	required_argument,	NULL, OPT_CHANNEL },
	{ "all",		no_argument,		NULL, OPT_ALL },
	{ "guests",		required_argument,	NULL, OPT_GUESTS },
	{ "attach",		required_argument,	NULL, OPT_ATTACH },
	{ "detach",		required_argument,	NULL, OPT_DETACH },
	{ "copy",		required_argument,	NULL, OPT_COPY },
	{ "enable",		required_argument,	NULL, OPT_ENABLE },
	{ "disable",		required_argument,	NULL, OPT_DISABLE },
	{ "enable-giving-guests-root", no_argument,	NULL, OPT_GIVING_ROOT },
	CLI_LONG_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

#define SHORT_OPTIONS	"gc:e:d" CLI_SHORT_OPTIONS

/* The options of the configuration file (config.h), -d's own. */
static const char *const config_options[] = {
	CLI_CONFIG_OPTIONS, "channel-dir", NULL
};

/* One option, from the command line or the configuration file. */
static void
host_option(int ch, const char *arg, void *arg_o)
{
	struct options	*o = arg_o;

	switch (ch) {
	case OPT_ALL:
		o->fo.fo_all = 1;
		break;
	case OPT_GUESTS:
		o->fo.fo_guests = arg;
		break;
	case OPT_CHANNEL:
		o->hc.hc_channel_dir = arg;
		break;
	case OPT_GIVING_ROOT:
		o->giving_root = 1;
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
	int		 ch, fan;
	stdfds_ensure();
	/* What the available put and get run: not options of the CLI. */
	if (argc > 1 && (strcmp(argv[1], "--receive-files") == 0 ||
	    strcmp(argv[1], "--send-files") == 0))
		return copy_command_main(argc - 1, argv + 1);

	sibling_save_argv(argc, argv);
	memset(&o, 0, sizeof(o));
	o.hc.hc_channel_dir = DEFAULT_CHANNEL_DIR;
	o.hc.hc_control = DEFAULT_HOST_CONTROL;
	cli_settings_init(&o.cs, "negotiator-host", usage,
	    "-e, -c, -g, --ping, -d, --attach, --detach, --copy, --enable, "
	    "--disable", verbs,
	    sizeof(verbs) / sizeof(verbs[0]), &o.hc.hc_control, &o.hc.hc_runner);
	o.hc.hc_runner.rc_max_timeout_ms = RUNNER_HOST_MAX_TIMEOUT_MS;
	/* Our output comes out of a guest: a wide window (proto.h). */
	o.cs.cs_output_window = PROTO_WIDE_WINDOW;
	log_init("negotiator-host", LOG_LEVEL_INFO, 0);

	cli_config(&o.cs, argc, argv, SHORT_OPTIONS, long_options,
	    config_options, DEFAULT_HOST_CONFIG, host_option, &o);
	while ((ch = getopt_long(argc, argv, SHORT_OPTIONS, long_options,
	    NULL)) != -1)
		host_option(ch, optarg, &o);
	argc -= optind;
	argv += optind;
	if (o.cs.cs_verb == NULL)
		usage_error("%s", "nothing to do: give -e, -c, -g, --ping, -d, "
		    "--attach, --detach, --copy, --enable or --disable");
	o.fo.fo_progname = "negotiator-host";
	o.fo.fo_json = o.cs.cs_json;
	fan = o.fo.fo_all || o.fo.fo_guests != NULL;
	if (o.fo.fo_all && o.fo.fo_guests != NULL)
		usage_error("%s", "give --all or --guests, not both");
	if (fan && !cli_verb_is(&o.cs, "execute") &&
	    !cli_verb_is(&o.cs, "ping"))
		usage_error("%s", "--all and --guests go with -e or --ping");
	if (o.fo.fo_json && !fan && !cli_verb_is(&o.cs, "list-guests") &&
	    !cli_verb_is(&o.cs, "list-commands"))
		usage_error("%s", "--json goes with -g, -c, --all or --guests");
	if (o.cs.cs_no_stdin && !cli_verb_is(&o.cs, "execute"))
		usage_error("%s", "-n goes with -e");
	cli_tty_check(&o.cs, fan);
	if (fan && o.cs.cs_ping_count != 1)
		usage_error("%s", "--count goes with --ping GUEST only");
	/* -e and --ping take a GUEST operand, unless fanned out. */
	if ((cli_verb_is(&o.cs, "execute") || cli_verb_is(&o.cs, "ping")) &&
	    !fan) {
		if (argc != 1)
			usage_error("%s needs exactly one GUEST (or --all, "
			    "--guests)", cli_verb_is(&o.cs, "ping") ? "--ping" :
			    "-e");
		o.guest = argv[0];
	} else if (cli_verb_is(&o.cs, "enable") ||
	    cli_verb_is(&o.cs, "disable")) {
		o.noperands = argc + 1;
		o.operands = xcalloc((size_t)o.noperands, sizeof(char *));
		o.operands[0] = (char *)o.cs.cs_argument;
		memcpy(o.operands + 1, argv, (size_t)argc * sizeof(char *));
	} else if (cli_verb_is(&o.cs, "copy")) {
		if (argc != 1)
			usage_error("%s", "--copy takes SRC and DST");
		o.operands = argv;
	} else if (argc != 0)
		usage_error("unexpected argument: %s", argv[0]);
	if ((o.cs.cs_recursive || o.cs.cs_preserve) &&
	    !cli_verb_is(&o.cs, "copy"))
		usage_error("%s", "-r and -p go with --copy");
	if (o.giving_root && !cli_verb_is(&o.cs, "enable"))
		usage_error("%s", "--enable-giving-guests-root goes with "
		    "--enable");
	if (!cli_verb_is(&o.cs, "daemon"))
		output_init();
	ch = cli_verb_run(&o.cs, &o);
	if (cli_verb_is(&o.cs, "enable") || cli_verb_is(&o.cs, "disable"))
		free(o.operands);
	return ch;
}
