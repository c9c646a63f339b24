/*
 * The host daemon.  It keeps one pair of conns per guest, serves each
 * guest's requests on its guest-to-host channel with NEGOTIATOR_GUEST set,
 * and relays the requests of local CLIs from the control socket to the
 * guest they name.
 *
 * The guest table follows events, never a timer: libvirt's domain events
 * (libvirt.c, for libvirt's own channel directory) and inotify on the
 * channel directory (discover.c).  Either wakes the loop, which then brings
 * the table in line (hostd_sync).  A channel that cannot be connected yet,
 * or that hung up, is tried again after a delay that doubles from
 * HOSTD_RETRY_MIN to HOSTD_RETRY_MAX seconds, until its session is ready.
 * Idle, the daemon sleeps (but for the keepalive of conn.c).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "host.h"
#include "lifecycle.h"
#include "log.h"
#include "relay.h"
#include "serve.h"
#include "unix.h"

struct guest {
	LIST_ENTRY(guest)	 g_entry;
	struct found_guest	 g_found;
	struct conn		 g_h2g;	/* we issue requests */
	struct conn		 g_g2h;	/* we serve requests */
	struct runner_config	 g_runner;
	struct channel_budget	 g_budget;	/* both channels' share */
	uint32_t		 g_calls;	/* commands run for and by it */
	ev_timer		 g_retry;	/* connects what is not */
	double			 g_backoff;	/* seconds until the next try */
	int			 g_seen;
};

#define HOSTD_RETRY_MIN	0.1	/* seconds */
#define HOSTD_RETRY_MAX	30.0

static LIST_HEAD(, guest) guests = LIST_HEAD_INITIALIZER(guests);
static const struct host_config *config;
static int	 use_libvirt;
static ev_async	 libvirt_async;

static struct guest *
guest_find(const char *name)
{
	struct guest	*g;

	LIST_FOREACH(g, &guests, g_entry)
		if (strcmp(g->g_found.fg_name, name) == 0)
			return g;
	return NULL;
}

static int
guest_cmp(const void *a, const void *b)
{
	return strcmp((*(struct guest *const *)a)->g_found.fg_name,
	    (*(struct guest *const *)b)->g_found.fg_name);
}

static void
guest_request(struct conn *c, struct proto_msg *m)
{
	struct guest	*g = c->c_arg;

	if (m->m_type == MSG_OPEN && g->g_calls < UINT32_MAX)
		g->g_calls++;
	serve_request(c, m, &g->g_runner);
}

static void
guest_ready(struct conn *c)
{
	struct guest	*g = c->c_arg;

	log_info("%s: connected", c->c_label);
	g->g_backoff = HOSTD_RETRY_MIN;
	relay_peer_ready(c);
}

static void
guest_retry_later(struct guest *g)
{
	if (ev_is_active(&g->g_retry))
		return;
	ev_timer_set(&g->g_retry, g->g_backoff, 0.);
	ev_timer_start(EV_DEFAULT, &g->g_retry);
	g->g_backoff = g->g_backoff * 2 > HOSTD_RETRY_MAX ?
	    HOSTD_RETRY_MAX : g->g_backoff * 2;
}

/* Inside the channel's callback: close now, connect again later. */
static void
guest_eof(struct conn *c, int error)
{
	log_info("%s: disconnected: %s", c->c_label,
	    channel_eof_reason(error));
	conn_stop(c, "disconnected");
	guest_retry_later(c->c_arg);
}

static const struct conn_ops guest_conn_ops = {
	guest_request, guest_ready, guest_eof,
};

/* 0 if c is connected (now or already), -1 if not. */
static int
guest_connect(struct conn *c, const char *path)
{
	int	 fd;

	if (c->c_ch.ch_fd != -1)
		return 0;
	if ((fd = unix_connect(path, SOCK_NONBLOCK)) == -1) {
		log_debug_warn("%s: connect %s", c->c_label, path);
		return -1;
	}
	conn_start(c, fd);
	return 0;
}

static void
guest_connect_both(struct guest *g)
{
	if (guest_connect(&g->g_h2g, g->g_found.fg_h2g) == -1 ||
	    guest_connect(&g->g_g2h, g->g_found.fg_g2h) == -1)
		guest_retry_later(g);
}

static void
guest_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	guest_connect_both(w->data);
}

static struct guest *
guest_new(const struct found_guest *fg)
{
	struct guest	*g = xcalloc(1, sizeof(*g));
	char		 label[128];

	g->g_found = *fg;
	g->g_backoff = HOSTD_RETRY_MIN;
	ev_init(&g->g_retry, guest_retry_cb);
	g->g_retry.data = g;
	g->g_runner = config->hc_runner;
	g->g_runner.rc_guest = g->g_found.fg_name;
	snprintf(label, sizeof(label), "guest %s (to guest)", fg->fg_name);
	conn_init(&g->g_h2g, EV_DEFAULT, CONN_ISSUES | CONN_GREETS |
	    CONN_KEEPALIVE, label, &guest_conn_ops, g);
	snprintf(label, sizeof(label), "guest %s", fg->fg_name);
	conn_init(&g->g_g2h, EV_DEFAULT, CONN_SERVES | CONN_GREETS |
	    CONN_KEEPALIVE, label, &guest_conn_ops, g);
	/* One share of the loop for the guest, whichever channel it uses. */
	channel_set_budget(&g->g_h2g.c_ch, &g->g_budget);
	channel_set_budget(&g->g_g2h.c_ch, &g->g_budget);
	LIST_INSERT_HEAD(&guests, g, g_entry);
	log_info("guest %s: found (%s)", fg->fg_name, fg->fg_h2g);
	return g;
}

static void
guest_free(struct guest *g)
{
	log_info("guest %s: gone", g->g_found.fg_name);
	ev_timer_stop(EV_DEFAULT, &g->g_retry);
	conn_stop(&g->g_h2g, "guest gone");
	conn_stop(&g->g_g2h, "guest gone");
	LIST_REMOVE(g, g_entry);
	free(g);
}

/* Brings the guest table in line with found (sorted by name). */
static void
guests_apply(const struct found_guest *found, size_t n)
{
	struct guest	*g, *next;
	size_t		 i;

	LIST_FOREACH(g, &guests, g_entry)
		g->g_seen = 0;
	for (i = 0; i < n; i++) {
		if ((g = guest_find(found[i].fg_name)) != NULL &&
		    (strcmp(g->g_found.fg_h2g, found[i].fg_h2g) != 0 ||
		    strcmp(g->g_found.fg_g2h, found[i].fg_g2h) != 0)) {
			guest_free(g);	/* a new instance of that domain */
			g = NULL;
		}
		if (g == NULL) {
			g = guest_new(&found[i]);
			guest_connect_both(g);
		}
		g->g_seen = 1;
	}
	for (g = LIST_FIRST(&guests); g != NULL; g = next) {
		next = LIST_NEXT(g, g_entry);
		if (!g->g_seen)
			guest_free(g);
	}
}

/*
 * What the guests are: libvirt's list while libvirt is followed; the one
 * it last gave while it is away, less the guests whose sockets went; the
 * channel directory before libvirt answered, or without it.
 */
static void
hostd_sync(void)
{
	struct found_guest	*found;
	size_t			 n = 0, i, kept;

	if (!use_libvirt)
		n = discover_scan(config->hc_channel_dir, &found);
	else {
		switch (libvirt_latest(&found, &n)) {
		case LIBVIRT_NEVER:
			free(found);
			n = discover_scan(config->hc_channel_dir, &found);
			break;
		case LIBVIRT_LOST:
			for (i = kept = 0; i < n; i++)
				if (discover_is_socket(found[i].fg_h2g) &&
				    discover_is_socket(found[i].fg_g2h))
					found[kept++] = found[i];
			n = kept;
			break;
		case LIBVIRT_UP:
			break;
		}
	}
	guests_apply(found, n);
	free(found);
}

static void
libvirt_changed_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	hostd_sync();
}

static struct conn *
resolve_guest(const char *target, void *arg)
{
	struct guest	*g = guest_find(target);

	(void)arg;
	return g == NULL ? NULL : &g->g_h2g;
}

/*
 * How the guest's daemon answers, for -g -v: ready when both sessions are,
 * silent when either channel is (conn.c, CONN_SILENT), else down; and the
 * seconds since the last frame heard on either channel.
 */
static void
guest_state(const struct guest *g, uint8_t *state, uint32_t *quiet)
{
	double	 a = conn_silence(&g->g_h2g), b = conn_silence(&g->g_g2h);

	if (conn_ready(&g->g_h2g) && conn_ready(&g->g_g2h))
		*state = PEER_READY;
	else if (g->g_h2g.c_state == CONN_SILENT ||
	    g->g_g2h.c_state == CONN_SILENT)
		*state = PEER_SILENT;
	else
		*state = PEER_DOWN;
	if (a < 0 || (b >= 0 && b < a))
		a = b;
	*quiet = a < 0 ? PROTO_QUIET_NEVER : a > UINT32_MAX - 1 ?
	    UINT32_MAX - 1 : (uint32_t)a;
}

/*
 * GUESTS: one page of the guest table, in name order, from index
 * qu_start (proto.h).
 */
static void
answer_guests(struct conn *c, struct proto_msg *m)
{
	static const struct req_ops	 none;
	struct proto_msg		 reply;
	struct proto_names		*na = &reply.m.names;
	struct guest			*g, **all;
	struct req			 rq;
	size_t				 n = 0, i, start;

	memset(&reply, 0, sizeof(reply));
	memset(&rq, 0, sizeof(rq));
	reply.m_type = MSG_GUESTS_REPLY;
	LIST_FOREACH(g, &guests, g_entry)
		n++;
	all = xcalloc(n + 1, sizeof(*all));
	i = 0;
	LIST_FOREACH(g, &guests, g_entry)
		all[i++] = g;
	qsort(all, n, sizeof(*all), guest_cmp);
	start = m->m.query.qu_start < n ? m->m.query.qu_start : n;
	na->na_count = n - start < PROTO_GUESTS_PAGE ? n - start :
	    PROTO_GUESTS_PAGE;
	na->na_total = (uint32_t)n;
	na->na_names = xcalloc(na->na_count + 1, sizeof(char *));
	na->na_state = xcalloc(na->na_count + 1, 1);
	na->na_quiet = xcalloc(na->na_count + 1, sizeof(uint32_t));
	na->na_version = xcalloc(na->na_count + 1, sizeof(uint32_t));
	na->na_calls = xcalloc(na->na_count + 1, sizeof(uint32_t));
	for (i = 0; i < na->na_count; i++) {
		g = all[start + i];
		na->na_names[i] = g->g_found.fg_name;
		guest_state(g, &na->na_state[i], &na->na_quiet[i]);
		/* conn.c takes a session only in our own version. */
		na->na_version[i] = conn_ready(&g->g_h2g) ||
		    conn_ready(&g->g_g2h) ? PROTO_VERSION : 0;
		na->na_calls[i] = g->g_calls;
	}
	if (conn_accept(c, &rq, m, &none, NULL) == 0)
		conn_reply(&rq, &reply);
	free(all);
	free(na->na_names);
	free(na->na_state);
	free(na->na_quiet);
	free(na->na_version);
	free(na->na_calls);
}

static void
control_request(struct conn *c, struct proto_msg *m, void *arg)
{
	struct guest	*g;

	(void)arg;
	if (m->m_type == MSG_GUESTS) {
		answer_guests(c, m);
		return;
	}
	if (m->m_type == MSG_OPEN &&
	    (g = guest_find(m->m.open.op_target)) != NULL &&
	    g->g_calls < UINT32_MAX)
		g->g_calls++;
	relay_start(c, m, resolve_guest, NULL);
}

static void
hostd_stop(void *arg)
{
	struct guest	*g;

	(void)arg;
	ev_async_stop(EV_DEFAULT, &libvirt_async);
	while ((g = LIST_FIRST(&guests)) != NULL)
		guest_free(g);
}

int
hostd_main(const struct host_config *hc)
{
	struct control	*co;
	long		 files;

	config = hc;
	files = host_raise_nofile();
	co = control_listen(EV_DEFAULT, hc->hc_control, control_request, NULL);
	log_info("host daemon started: channels in %s, control %s, "
	    "up to %ld open files", hc->hc_channel_dir, hc->hc_control, files);
	discover_watch(EV_DEFAULT, hc->hc_channel_dir, hostd_sync);
	if (strcmp(hc->hc_channel_dir, DEFAULT_CHANNEL_DIR) == 0) {
		use_libvirt = 1;
		ev_async_init(&libvirt_async, libvirt_changed_cb);
		ev_async_start(EV_DEFAULT, &libvirt_async);
		libvirt_watch_start(EV_DEFAULT, &libvirt_async);
	}
	hostd_sync();
	return lifecycle_run(EV_DEFAULT, co, hostd_stop, NULL);
}
