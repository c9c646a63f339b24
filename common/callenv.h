/*
 * callenv.c: the environment a caller adds to its command (--env
 * NAME=VALUE), and the names no caller may set.
 */
#ifndef CALLENV_H
#define CALLENV_H

#include <stddef.h>

struct proto_msg;

/*
 * 0 if "NAME=VALUE" may reach a command; else -1 and, in why, one line that
 * names the variable (made visible) and says why not: a name outside
 * [A-Za-z_][A-Za-z0-9_]*, one that a loader, libc or an interpreter reads
 * at start (the list in callenv.c, negotiator-commands(7)), one the daemon
 * sets itself, or more than PROTO_MAX_ENV_SIZE bytes.
 */
int	 callenv_check(const char *var, char *why, size_t whylen);
/* callenv_check() of each of env's n, then the count and repeats. */
int	 callenv_check_all(char * const *env, size_t n, char *why,
	    size_t whylen);
/*
 * Copies env's n variables into the OPEN m (which must have none); -1 if
 * they and the arguments would not fit in one frame (CALLENV_MAX_BYTES).
 */
#define CALLENV_MAX_BYTES	(63 * 1024)
int	 callenv_attach(struct proto_msg *m, char * const *env, size_t n);

#endif /* CALLENV_H */
