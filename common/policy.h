/*
 * policy.c: the commands directories of negotiator-commands(7), the names
 * they may hold, and the checks a command passes before it runs.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>

#define POLICY_MAX_LINKS	8	/* symbolic links followed to a command */

struct runner_config;

/* dir made absolute, since commands run in /; exits if it can't be. */
const char *policy_dir(const char *dir);
/* 1 if name is a valid command name: [A-Za-z0-9._-]{1,64}, no leading '.' */
int	 policy_valid_name(const char *name);
/*
 * Finds a command and checks it against the policy (negotiator-commands(7)).
 * EXIT_EXITED: *fd is the checked file, opened once (O_PATH, close-on-exec;
 * execute it through fd and close it after), path where it is (links
 * resolved, for the log).  EXIT_NOTFOUND: why is a message for the peer.
 * EXIT_NOTEXEC: path names what was refused and why says why, both for our
 * log only; the peer is told no more than "permission denied".
 */
int	 policy_lookup(const struct runner_config *, const char *name,
	    int *fd, char *path, size_t pathlen, char *why, size_t whylen);
/*
 * The sorted names of the runnable commands, at most PROTO_MAX_LIST (the
 * first ones: policy.c says how); strv_free() (words.h) after.
 */
char	**policy_list(const struct runner_config *, size_t *count);
/*
 * 0 if dir may hold commands: it and every directory from / down to it
 * (and down each link) pass the policy; else -1 and why.
 */
int	 policy_check_dir(const char *dir, char *why, size_t whylen);

#endif /* POLICY_H */
