/*
 * call.c: one call of a CLI, over a daemon's control socket or over the
 * channel itself.
 */
#ifndef CALL_H
#define CALL_H

#include "channel.h"
#include "cli.h"

#define CALL_HELLO_WAIT	5.0	/* seconds a CLI waits for a session */

struct call_options {
	const char	*ca_progname;
	const char	*ca_peer;	/* "guest foo", "the host": for messages */
	int		 ca_verbose;
	int		 ca_ping_count;
	int		 ca_json;	/* --json: listings as JSON lines */
	/*
	 * The fd is a daemon's control socket, a stream that begins with the
	 * call: the request goes out with the HELLO (CONN_EARLY).
	 */
	int		 ca_to_daemon;
	int		 ca_tty;	/* --tty: an OPEN_TTY on our terminal */
	uint32_t	 ca_output_window; /* credit for our output: >= PROTO_WINDOW */
};

/* Runs request m over fd (the call's from now on); the exit status. */
int	 call_run(int fd, struct proto_msg *m, const struct call_options *);
/*
 * The whole of a CLI's call: builds the request of the given type for
 * target from cs (a usage error exits; with -n, an OPEN without our
 * stdin, which is then never read), gets an fd from open_fd(arg,
 * &to_daemon), which says whether it is a daemon's control socket (1) or
 * the channel itself (0), and runs it with call_run().  The exit status;
 * -1 if open_fd() returned -1.
 */
int	 call_main(const struct cli_settings *cs, uint16_t type,
	    const char *target, const char *peer,
	    int (*open_fd)(const void *arg, int *to_daemon), const void *arg);
/*
 * The daemon's control socket at path: its fd, or -1 if no daemon listens
 * there; exits 125 if it is there and cannot be reached.
 */
int	 call_connect_daemon(const char *path);
/*
 * Prints the names of a LIST_REPLY or GUESTS_REPLY, made visible (with_state:
 * -g -v), or as JSON lines {"command":NAME}.
 */
void	 call_print_names(const struct proto_names *, int with_state,
	    int json);

#endif /* CALL_H */
