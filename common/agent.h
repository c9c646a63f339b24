/*
 * The parts both daemons and both CLIs share above the session layer:
 * relaying a local caller's request to the peer, serving the peer's
 * requests, the control socket, and the CLI's side of a call.
 */
#ifndef AGENT_H
#define AGENT_H

#include "channel.h"
#include "runner.h"

#define RELAY_WAIT	5.0	/* seconds a request waits for its peer */
#define HELLO_WAIT	5.0	/* seconds a CLI waits for a session */

/* Finds the conn for a request's target ("" = the one peer); may be NULL. */
typedef struct conn *relay_resolve_fn(const char *target, void *arg);

/* relay.c: forwards request m (taken over) from a control client. */
void	 relay_start(struct conn *client, struct proto_msg *m,
	    relay_resolve_fn *, void *arg);
/* A peer's session became ready: requests waiting for it go now. */
void	 relay_peer_ready(struct conn *peer);

/* serve.c: answers the peer's request m, running commands with rc. */
void	 serve_request(struct conn *, struct proto_msg *m,
	    const struct runner_config *rc);

/* control.c: the control socket of a daemon. */
struct control;
typedef void control_request_fn(struct conn *, struct proto_msg *, void *);
struct control *control_listen(struct ev_loop *, const char *path,
	    control_request_fn *, void *arg);
void	 control_close(struct control *);
/* Connects to a daemon's control socket; -1 with errno if none listens. */
int	 control_connect(const char *path);
/* Connects to the UNIX socket at path (flags: SOCK_NONBLOCK); -1, errno. */
int	 unix_connect(const char *path, int flags);

/* cli.c: runs request m over fd (a control socket or the channel itself). */
struct cli_options {
	const char	*co_progname;
	const char	*co_peer;	/* "guest foo", "the host": for messages */
	int		 co_verbose;
	int		 co_ping_count;
};
int	 cli_call(int fd, struct proto_msg *m, const struct cli_options *);
/* Prints the names of a LIST_REPLY or GUESTS_REPLY (with_state: -g -v). */
void	 cli_print_names(const struct proto_names *, int with_state);
/* The options both CLIs take, handled in one place. */
struct cli_settings {
	const char		*cs_progname;
	uint32_t		 cs_timeout_ms;
	int			 cs_verbosity;
	int			 cs_syslog;
	int			 cs_ping_count;
	const char		**cs_control;
	struct runner_config	*cs_runner;
};
enum cli_option {
	OPT_COMMANDS = 256, OPT_BUILTIN, OPT_CONTROL, OPT_SYSLOG, OPT_VERSION,
	OPT_COUNT, OPT_LOG_RATE, OPT_MAX_TIMEOUT, OPT_PEER_TIMEOUT,
	OPT_MAX_JOBS, OPT_MAX_PEER_JOBS,
	OPT_OWN		/* a CLI's own long options start here */
};
#define CLI_SHORT_OPTIONS	"t:vqh"
#define CLI_LONG_OPTIONS \
	{ "timeout",		required_argument,	NULL, 't' }, \
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
	{ "max-jobs-per-peer",	required_argument,	NULL, OPT_MAX_PEER_JOBS }

/* Defaults: timeout 10 s, info level, one ping, no timeout ceiling. */
void	 cli_settings_init(struct cli_settings *, const char *progname,
	    const char **control, struct runner_config *);
/* Takes option ch if it is a shared one (0 if not); exits on a bad value. */
int	 cli_setting(struct cli_settings *, int ch, const char *arg);
/* "PROGNAME: message (see PROGNAME -h)" on stderr, and exit 125. */
void	 cli_usage_error(const char *progname, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
/* Seconds (decimals allowed, 0 = none) to milliseconds; -1 if invalid. */
int	 cli_parse_timeout(const char *, uint32_t *ms);
/*
 * Builds request m of the given type; for OPEN, cmdline is split like a
 * shell and stdin is sent when it is not a terminal.  -1 and *error on a
 * usage error.
 */
int	 cli_make_request(struct proto_msg *m, uint16_t type,
	    const char *target, const char *cmdline, uint32_t timeout_ms,
	    const char **error);

#endif /* AGENT_H */
