/* control.c: the control socket of a daemon. */
#ifndef CONTROL_H
#define CONTROL_H

#include <ev.h>

#include "channel.h"

struct control;
/* Called with each request of an allowed caller. */
typedef void control_request_fn(struct conn *, struct proto_msg *, void *);

/* Listens at path (mode 0660); exits if it cannot. */
struct control *control_listen(struct ev_loop *, const char *path,
	    control_request_fn *, void *arg);
/* Drops every caller, and removes the socket if it is still ours. */
void	 control_close(struct control *);

#endif /* CONTROL_H */
