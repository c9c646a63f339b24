/* The CLI's exit status for how a remote command ended (DESIGN.md). */
#include "proto.h"
#include "status.h"

int
status_from_exit(const struct proto_exit *ex)
{
	switch (ex->ex_kind) {
	case EXIT_EXITED:
		return ex->ex_code >= 0 && ex->ex_code <= 255 ?
		    ex->ex_code : STATUS_FAILURE;
	case EXIT_SIGNALED:
		return ex->ex_code > 0 && ex->ex_code < 128 ?
		    128 + ex->ex_code : STATUS_FAILURE;
	case EXIT_TIMEOUT:
		return STATUS_TIMEOUT;
	case EXIT_NOTEXEC:
		return STATUS_NOTEXEC;
	case EXIT_NOTFOUND:
		return STATUS_NOTFOUND;
	default:
		return STATUS_FAILURE;
	}
}
