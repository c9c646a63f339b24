/* The runner: finds and runs commands on behalf of the peer. */
#ifndef RUNNER_H
#define RUNNER_H

#include <stddef.h>

#include "channel.h"

#define RUNNER_KILL_GRACE	2.0	/* seconds between TERM and KILL */
#define RUNNER_MAX_JOBS		128	/* commands running at once per daemon */
#define RUNNER_MAX_PEER_JOBS	32	/* ... and for one peer */

struct runner_config {
	const char	*rc_user_dir;	/* looked in first */
	const char	*rc_builtin_dir;
	const char	*rc_guest;	/* NEGOTIATOR_GUEST, or NULL */
};

/* dir made absolute, since commands run in /; exits if it can't be. */
const char *runner_dir(const char *dir);
/* 1 if name is a valid command name: [A-Za-z0-9._-]{1,64}, no leading '.' */
int	 runner_valid_name(const char *name);
/*
 * Finds a command: EXIT_EXITED with its path, or EXIT_NOTFOUND or
 * EXIT_NOTEXEC with a message in why.
 */
int	 runner_lookup(const struct runner_config *, const char *name,
	    char *path, size_t pathlen, char *why, size_t whylen);
/* The sorted names of all runnable commands; free with strv_free(). */
char	**runner_list(const struct runner_config *, size_t *count);

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
