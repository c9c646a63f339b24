/* serve.c: the peer's requests answered. */
#ifndef SERVE_H
#define SERVE_H

#include "channel.h"
#include "runner.h"

/* Answers the peer's request m, running commands with rc. */
void	 serve_request(struct conn *, struct proto_msg *m,
	    const struct runner_config *rc);

#endif /* SERVE_H */
