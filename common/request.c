/*
 * A CLI's request built from its command line: the target, and for OPEN
 * the words of -e, the timeout and whether stdin goes along.
 */
#include <string.h>
#include <unistd.h>

#include "request.h"
#include "words.h"

int
request_make(struct proto_msg *m, uint16_t type, const char *target,
    const char *cmdline, uint32_t timeout_ms, const char **error)
{
	size_t	 i, total = 0;

	memset(m, 0, sizeof(*m));
	m->m_type = type;
	if (strlen(target) > PROTO_MAX_NAME) {
		*error = "guest name too long";
		return -1;
	}
	if (type != MSG_OPEN) {
		strlcpy(m->m.query.qu_target, target,
		    sizeof(m->m.query.qu_target));
		return 0;
	}
	strlcpy(m->m.open.op_target, target, sizeof(m->m.open.op_target));
	m->m.open.op_timeout_ms = timeout_ms;
	if (!isatty(STDIN_FILENO))
		m->m.open.op_flags |= OPEN_STDIN;
	m->m.open.op_argv = words_split(cmdline, &m->m.open.op_argc, error);
	if (m->m.open.op_argv == NULL)
		return -1;
	for (i = 0; i < m->m.open.op_argc; i++)
		total += strlen(m->m.open.op_argv[i]) + 5;
	if (m->m.open.op_argc > PROTO_MAX_ARGS ||
	    total > PROTO_MAX_PAYLOAD - 1024) {
		*error = "arguments too long";
		proto_msg_free(m);
		return -1;
	}
	return 0;
}
