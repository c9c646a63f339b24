/*
 * Serving the peer's requests: OPEN runs a command, PING and LIST are
 * answered at once from here.  A dispatch table keeps each handler small.
 */
#include <string.h>

#include "log.h"
#include "policy.h"
#include "serve.h"
#include "words.h"

static void
serve_open(struct conn *c, struct proto_msg *m,
    const struct runner_config *rc)
{
	job_start(c, rc, m);
}

/* Accepts a request that is answered at once, and answers it with reply. */
static void
serve_now(struct conn *c, const struct proto_msg *m, struct proto_msg *reply)
{
	static const struct req_ops	 none;
	struct req			 rq;

	memset(&rq, 0, sizeof(rq));
	if (conn_accept(c, &rq, m, &none, NULL) == 0)
		conn_reply(&rq, reply);
}

static void
serve_ping(struct conn *c, struct proto_msg *m,
    const struct runner_config *rc)
{
	struct proto_msg	 reply;

	(void)rc;
	memset(&reply, 0, sizeof(reply));
	reply.m_type = MSG_PONG;
	serve_now(c, m, &reply);
}

static void
serve_list(struct conn *c, struct proto_msg *m,
    const struct runner_config *rc)
{
	struct proto_msg	 reply;

	memset(&reply, 0, sizeof(reply));
	reply.m_type = MSG_LIST_REPLY;
	reply.m.names.na_names = policy_list(rc, &reply.m.names.na_count);
	serve_now(c, m, &reply);
	strv_free(reply.m.names.na_names, reply.m.names.na_count);
}

static void
serve_refuse(struct conn *c, struct proto_msg *m,
    const struct runner_config *rc)
{
	struct proto_msg	 reply;

	(void)rc;
	memset(&reply, 0, sizeof(reply));
	reply.m_type = MSG_EXIT;
	reply.m.exit.ex_kind = EXIT_FAILED;
	strlcpy(reply.m.exit.ex_message, "request not supported here",
	    sizeof(reply.m.exit.ex_message));
	serve_now(c, m, &reply);
}

static const struct {
	uint16_t	 type;
	void		(*handler)(struct conn *, struct proto_msg *,
			    const struct runner_config *);
} serve_table[] = {
	{ MSG_OPEN,	serve_open },
	{ MSG_PING,	serve_ping },
	{ MSG_LIST,	serve_list },
	{ MSG_GUESTS,	serve_refuse },
};

void
serve_request(struct conn *c, struct proto_msg *m,
    const struct runner_config *rc)
{
	size_t	 i;

	for (i = 0; i < sizeof(serve_table) / sizeof(serve_table[0]); i++)
		if (serve_table[i].type == m->m_type) {
			serve_table[i].handler(c, m, rc);
			return;
		}
}
