/*
 * The host daemon's guest table, fetched page by page (GUESTS, at most
 * PROTO_GUESTS_PAGE guests a reply, until na_total or HOST_MAX_GUESTS):
 * for -g, and for --all, which asks every guest in it (fanout.c).  Each
 * fetch has one deadline, FANOUT_TABLE_WAIT; a daemon that does not
 * answer in time, refuses or hangs up is an error (exit 125).
 */
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"
#include "host.h"
#include "status.h"
#include "unix.h"

struct table {
	struct conn		 tb_conn;
	struct req		 tb_req;
	ev_timer		 tb_deadline;
	struct proto_names	 tb_all;	/* pages appended */
	int			 tb_status;	/* -1 while under way */
	char			 tb_error[256];
};

static const struct req_ops table_req_ops;

static void
table_end(struct table *tb, int status, const char *why)
{
	if (tb->tb_status != -1)
		return;
	tb->tb_status = status;
	if (why != NULL)
		strlcpy(tb->tb_error, why, sizeof(tb->tb_error));
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void
table_ask(struct table *tb)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_GUESTS;
	m.m.query.qu_start = (uint32_t)tb->tb_all.na_count;
	conn_request(&tb->tb_conn, &tb->tb_req, &m, &table_req_ops, tb);
}

static void
table_ready(struct conn *c)
{
	table_ask(c->c_arg);
}

static void
table_eof(struct conn *c, int error)
{
	table_end(c->c_arg, STATUS_FAILURE, error ? strerror(error) :
	    "the daemon hung up");
}

static const struct conn_ops table_conn_ops = {
	NULL, table_ready, table_eof,	/* it only issues: no requests */
};

static void
table_reply(struct req *rq, struct proto_msg *m)
{
	struct table		*tb = rq->rq_arg;
	struct proto_names	*all = &tb->tb_all, *na = &m->m.names;
	size_t			 n = all->na_count, k = na->na_count, total;

	if (m->m_type != MSG_GUESTS_REPLY) {
		table_end(tb, STATUS_FAILURE, m->m_type == MSG_EXIT ?
		    "the daemon refused" : "unexpected reply");
		return;
	}
	total = n + k;
	all->na_names = xreallocarray(all->na_names, total + 1,
	    sizeof(char *));
	all->na_state = xreallocarray(all->na_state, total + 1, 1);
	all->na_quiet = xreallocarray(all->na_quiet, total + 1,
	    sizeof(uint32_t));
	all->na_version = xreallocarray(all->na_version, total + 1,
	    sizeof(uint32_t));
	all->na_calls = xreallocarray(all->na_calls, total + 1,
	    sizeof(uint32_t));
	memcpy(all->na_names + n, na->na_names, k * sizeof(char *));
	memcpy(all->na_state + n, na->na_state, k);
	memcpy(all->na_quiet + n, na->na_quiet, k * sizeof(uint32_t));
	memcpy(all->na_version + n, na->na_version, k * sizeof(uint32_t));
	memcpy(all->na_calls + n, na->na_calls, k * sizeof(uint32_t));
	all->na_names[total] = NULL;
	all->na_count = total;
	all->na_total = na->na_total;
	/* The names are ours now. */
	free(na->na_names);
	na->na_names = NULL;
	na->na_count = 0;
	if (k > 0 && total < na->na_total && total < HOST_MAX_GUESTS)
		table_ask(tb);
	else
		table_end(tb, 0, NULL);
}

static void
table_lost(struct req *rq, const char *why)
{
	table_end(rq->rq_arg, STATUS_FAILURE, why);
}

/* A GUESTS request has no streams: DATA or CREDIT for it is dropped. */
static void
table_data(struct req *rq, int s, const uint8_t *p, size_t n)
{
	(void)rq;
	(void)s;
	(void)p;
	(void)n;
}

static void
table_credit(struct req *rq, int s, uint32_t n)
{
	(void)rq;
	(void)s;
	(void)n;
}

static void
table_no_cancel(struct req *rq)
{
	(void)rq;
}

static const struct req_ops table_req_ops = {
	table_data, table_credit, table_no_cancel, table_reply,
	table_lost, NULL, NULL,
};

static void
table_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	table_end(w->data, STATUS_FAILURE, "no answer in time");
}

int
table_fetch(const struct host_config *hc, struct proto_names *na)
{
	struct proto_msg	 m;
	struct table		 tb;
	int			 fd;

	if ((fd = unix_connect(hc->hc_control, SOCK_NONBLOCK)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return -1;
		err(STATUS_FAILURE, "cannot reach the daemon at %s",
		    hc->hc_control);
	}
	memset(&tb, 0, sizeof(tb));
	tb.tb_status = -1;
	conn_init(&tb.tb_conn, EV_DEFAULT, CONN_ISSUES | CONN_GREETS,
	    "the host daemon", &table_conn_ops, &tb);
	ev_timer_init(&tb.tb_deadline, table_deadline_cb, FANOUT_TABLE_WAIT,
	    0.);
	tb.tb_deadline.data = &tb;
	ev_timer_start(EV_DEFAULT, &tb.tb_deadline);
	conn_start(&tb.tb_conn, fd);
	ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &tb.tb_deadline);
	conn_unlink(&tb.tb_req);
	conn_stop(&tb.tb_conn, "done");
	if (tb.tb_status != 0) {
		memset(&m, 0, sizeof(m));
		m.m_type = MSG_GUESTS_REPLY;
		m.m.names = tb.tb_all;
		proto_msg_free(&m);
		errx(STATUS_FAILURE, "the daemon at %s did not list its guests:"
		    " %s", hc->hc_control, tb.tb_error);
	}
	*na = tb.tb_all;
	return 0;
}

void
table_free(struct proto_names *na)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_GUESTS_REPLY;
	m.m.names = *na;
	proto_msg_free(&m);
}

int
table_list(const struct fanout *f)
{
	struct found_guest	*found;
	struct proto_names	 na;
	size_t			 n;

	if (table_fetch(f->fo_hc, &na) == -1) {
		/* No daemon: what the channel directory (and libvirt) shows. */
		n = discover_all(f->fo_hc->hc_channel_dir, &found);
		report_found(f, found, n);
		free(found);
		return report_flushed();
	}
	report_guests(f, &na);
	table_free(&na);
	return report_flushed();
}
