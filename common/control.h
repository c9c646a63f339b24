/* control.c: the control socket of a daemon. */
#ifndef CONTROL_H
#define CONTROL_H

#include <sys/types.h>

#include <ev.h>

#include "channel.h"

struct control;
/* Called with each request of an allowed caller. */
typedef void control_request_fn(struct conn *, struct proto_msg *, void *);

/*
 * A caller's connection that shows no life this long is closed: no bytes
 * either way, and no call running with nothing left for the caller to read
 * (a call that runs and whose output is read is never idle).
 */
#define CONTROL_IDLE_TIMEOUT	120.	/* default, seconds (--idle-timeout) */
/* The idle timeout of every caller's connection (seconds > 0). */
void	 control_set_idle_timeout(double);
/*
 * The group the socket is given (--control-group), whose members may call;
 * by default the daemon's own group (root's, as a rule).
 */
void	 control_set_group(gid_t);
/* Listens at path (mode 0660); exits if it cannot. */
struct control *control_listen(struct ev_loop *, const char *path,
	    control_request_fn *, void *arg);
/* Drops every caller, and removes the socket if it is still ours. */
void	 control_close(struct control *);

#endif /* CONTROL_H */
