/* relay.c: a local caller's request forwarded to the peer, and back. */
#ifndef RELAY_H
#define RELAY_H

#include "channel.h"

#define RELAY_WAIT	5.0	/* seconds a request waits for its peer */

/* Finds the conn for a request's target ("" = the one peer); may be NULL. */
typedef struct conn *relay_resolve_fn(const char *target, void *arg);

/* Forwards request m (taken over) from a control client. */
void	 relay_start(struct conn *client, struct proto_msg *m,
	    relay_resolve_fn *, void *arg);
/* A peer's session became ready: requests waiting for it go now. */
void	 relay_peer_ready(struct conn *peer);

#endif /* RELAY_H */
