/*
 * runner.c: running commands on behalf of the peer, and the limits on how
 * many run and for how long; policy.c finds them (policy.h).
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

#define RUNNER_KILL_GRACE	2.0	/* seconds between TERM and KILL */
/*
 * Commands running at once, per daemon and per peer (--max-jobs,
 * --max-jobs-per-peer): a command counts from its start until its process
 * is reaped, whatever became of the request or the session meanwhile (a
 * command that ignores SIGTERM counts through its grace period).  A peer
 * is its conn's label, which outlives its sessions.
 */
#define RUNNER_MAX_JOBS		128
#define RUNNER_MAX_PEER_JOBS	32
/*
 * A call beyond those caps waits for a slot (jobqueue.h), its timeout
 * running, and only a full queue refuses it: at most RUNNER_QUEUE_PER_PEER
 * times --max-jobs-per-peer calls wait for one peer (128 by default), and
 * RUNNER_QUEUE_ALL times --max-jobs for all peers together (256), so that
 * one peer holds at most half the queue.  A waiting call holds its OPEN's
 * argv (at most one frame, 64 KiB) and the stdin its caller may send before
 * any credit comes back (PROTO_WINDOW, 256 KiB: none is returned until it
 * runs): at most 80 MiB for the whole queue with the default caps, whatever
 * the peers do, and a few hundred bytes per call when they send no stdin.
 */
#define RUNNER_QUEUE_PER_PEER	4
#define RUNNER_QUEUE_ALL	2
/* The host's ceiling on a guest's timeout unless told otherwise: 10 min. */
#define RUNNER_HOST_MAX_TIMEOUT_MS	(10 * 60 * 1000)

struct runner_config {
	const char	*rc_user_dir;	/* looked in first */
	const char	*rc_builtin_dir;
	const char	*rc_guest;	/* NEGOTIATOR_GUEST, or NULL */
	uint32_t	 rc_max_timeout_ms;	/* ceiling; 0 = none */
	int		 rc_max_jobs;	/* commands at once; 0 = default */
	int		 rc_max_peer_jobs;	/* ... for one peer; 0 = default */
	int		 rc_stdin_pipe;	/* bytes a command's stdin pipe holds
					   (F_SETPIPE_SZ); 0 = the kernel's */
};
/*
 * The guest daemon's rc_stdin_pipe: what the host streams into a guest's
 * command waits in the pipe until the command reads it, so the daemon
 * writes many frames while the command runs, where a 64 KiB pipe
 * switched between them at every frame.  In the bench's TCG guest, with
 * stdin credit in steps of 128 KiB (runner.c), 32 MiB into a command, the
 * data alone, 5 interleaved rounds of 3 on 2026-12-03: 142-182 MB/s
 * (median 172) against 126-173 (159) with the default pipe; the pipe
 * floor 178-204.  1 MiB is Linux's default pipe-max-size: guest kernel
 * memory, taken only as the pipe fills, 1 MiB a running command at most
 * (the host has to keep sending and the command not read).  Not on the
 * host: there it would be memory a guest makes the host hold.
 */
#define RUNNER_GUEST_STDIN_PIPE	(1024 * 1024)

/* The timeout a request gets: requested_ms (0 = none) held to the ceiling. */
uint32_t runner_timeout(const struct runner_config *, uint32_t requested_ms);

/*
 * Runs the command of OPEN msg for the request just accepted on c, and
 * answers it with EXIT when the command is done.  Returns -1 (having
 * answered already) when it could not start.
 */
int	 job_start(struct conn *c, const struct runner_config *,
	    const struct proto_msg *msg);
/* Kills every running job (TERM, then KILL); for daemon shutdown. */
void	 job_kill_all(void);
/* The number of jobs whose process has not been reaped yet. */
int	 job_count(void);

#endif /* RUNNER_H */
