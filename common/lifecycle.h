/* lifecycle.c: a daemon's loop, and its clean end on SIGTERM or SIGINT. */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <ev.h>

struct control;

/*
 * lifecycle.c: runs a daemon's loop until SIGTERM or SIGINT, then closes
 * the control socket, calls stop(arg), kills the running commands (TERM,
 * then KILL) and waits for them.  Returns the daemon's exit status.
 */
int	 lifecycle_run(struct ev_loop *, struct control *,
	    void (*stop)(void *), void *arg);

#endif /* LIFECYCLE_H */
