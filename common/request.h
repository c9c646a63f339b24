/* request.c: a CLI's request built from its command line. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdint.h>

#include "proto.h"

/*
 * Builds request m of the given type for target ("" = the one peer); for
 * OPEN, cmdline is split like a shell and stdin is sent when it is not a
 * terminal.  -1 and *error on a usage error; proto_msg_free(m) after.
 */
int	 request_make(struct proto_msg *m, uint16_t type, const char *target,
	    const char *cmdline, uint32_t timeout_ms, const char **error);

#endif /* REQUEST_H */
