/*
 * status.c: the CLI's exit status for how a remote command ended, and the
 * statuses of its own (DESIGN.md).
 */
#ifndef STATUS_H
#define STATUS_H

#define STATUS_TIMEOUT	124	/* remote process killed after the timeout */
#define STATUS_FAILURE	125	/* negotiator's own failure */
#define STATUS_NOTEXEC	126	/* command found, not executable */
#define STATUS_NOTFOUND	127	/* no such command, or an invalid name */

struct proto_exit;

/* status.c: remote code, 128+signal, or one of the above. */
int	 status_from_exit(const struct proto_exit *);

#endif /* STATUS_H */
