/*
 * The host daemon.  It keeps one pair of conns per guest found in the
 * channel directory (rescanned every second, so guests that come, go or
 * reboot are picked up by themselves), serves each guest's requests on its
 * guest-to-host channel with NEGOTIATOR_GUEST set, and relays the requests
 * of local CLIs from the control socket to the guest they name.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "lifecycle.h"
#include "log.h"

struct guest {
	LIST_ENTRY(guest)	 g_entry;
	struct found_guest	 g_found;
	struct conn		 g_h2g;	/* we issue requests */
	struct conn		 g_g2h;	/* we serve requests */
	struct runner_config	 g_runner;
	int			 g_seen;
};

static LIST_HEAD(, guest) guests = LIST_HEAD_INITIALIZER(guests);
static const struct host_config *config;
static ev_timer	 scan_timer;

static struct guest *
guest_find(const char *name)
{
	struct guest	*g;

	LIST_FOREACH(g, &guests, g_entry)
		if (strcmp(g->g_found.fg_name, name) == 0)
			return g;
	return NULL;
}

static void
guest_request(struct conn *c, struct proto_msg *m)
{
	struct guest	*g = c->c_arg;

	serve_request(c, m, &g->g_runner);
}

static void
guest_ready(struct conn *c)
{
	log_info("%s: connected", c->c_label);
	relay_peer_ready(c);
}

/* Inside the channel's callback: close now, reconnect at the next scan. */
static void
guest_eof(struct conn *c, int error)
{
	log_info("%s: disconnected: %s", c->c_label,
	    error ? strerror(error) : "end of file");
	conn_stop(c, "disconnected");
}

static const struct conn_ops guest_conn_ops = {
	guest_request, guest_ready, guest_eof,
};

static void
guest_connect(struct conn *c, const char *path)
{
	int	 fd;

	if (c->c_ch.ch_fd != -1)
		return;
	if ((fd = unix_connect(path, SOCK_NONBLOCK)) == -1) {
		log_debug("%s: connect %s: %s", c->c_label, path,
		    strerror(errno));
		return;
	}
	conn_start(c, fd);
}

static struct guest *
guest_new(const struct found_guest *fg)
{
	struct guest	*g = xcalloc(1, sizeof(*g));
	char		 label[128];

	g->g_found = *fg;
	g->g_runner = config->hc_runner;
	g->g_runner.rc_guest = g->g_found.fg_name;
	snprintf(label, sizeof(label), "guest %s (to guest)", fg->fg_name);
	conn_init(&g->g_h2g, EV_DEFAULT, CONN_ISSUES | CONN_GREETS |
	    CONN_KEEPALIVE, label, &guest_conn_ops, g);
	snprintf(label, sizeof(label), "guest %s", fg->fg_name);
	conn_init(&g->g_g2h, EV_DEFAULT, CONN_SERVES | CONN_GREETS |
	    CONN_KEEPALIVE, label, &guest_conn_ops, g);
	LIST_INSERT_HEAD(&guests, g, g_entry);
	log_info("guest %s: found (%s)", fg->fg_name, fg->fg_h2g);
	return g;
}

static void
guest_free(struct guest *g)
{
	log_info("guest %s: gone", g->g_found.fg_name);
	conn_stop(&g->g_h2g, "guest gone");
	conn_stop(&g->g_g2h, "guest gone");
	LIST_REMOVE(g, g_entry);
	free(g);
}

/* Brings the guest table in line with the channel directory and libvirt. */
static void
scan_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct found_guest	*found;
	struct guest		*g, *next;
	size_t			 n, i;

	(void)loop;
	(void)w;
	(void)revents;
	LIST_FOREACH(g, &guests, g_entry)
		g->g_seen = 0;
	n = discover_all(config->hc_channel_dir, &found);
	for (i = 0; i < n; i++) {
		if ((g = guest_find(found[i].fg_name)) != NULL &&
		    (strcmp(g->g_found.fg_h2g, found[i].fg_h2g) != 0 ||
		    strcmp(g->g_found.fg_g2h, found[i].fg_g2h) != 0)) {
			guest_free(g);	/* a new instance of that domain */
			g = NULL;
		}
		if (g == NULL)
			g = guest_new(&found[i]);
		g->g_seen = 1;
		guest_connect(&g->g_h2g, g->g_found.fg_h2g);
		guest_connect(&g->g_g2h, g->g_found.fg_g2h);
	}
	free(found);
	for (g = LIST_FIRST(&guests); g != NULL; g = next) {
		next = LIST_NEXT(g, g_entry);
		if (!g->g_seen)
			guest_free(g);
	}
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

static void
answer_guests(struct conn *c, struct proto_msg *m)
{
	static const struct req_ops	 none;
	struct proto_msg		 reply;
	struct guest			*g;
	struct req			 rq;
	size_t				 n = 0, i;

	memset(&reply, 0, sizeof(reply));
	memset(&rq, 0, sizeof(rq));
	reply.m_type = MSG_GUESTS_REPLY;
	LIST_FOREACH(g, &guests, g_entry)
		n++;
	reply.m.names.na_names = xcalloc(n + 1, sizeof(char *));
	reply.m.names.na_state = xcalloc(n + 1, 1);
	reply.m.names.na_quiet = xcalloc(n + 1, sizeof(uint32_t));
	i = n;
	/* The list is kept newest first; answer in scan (name) order. */
	LIST_FOREACH(g, &guests, g_entry) {
		i--;
		reply.m.names.na_names[i] = g->g_found.fg_name;
		guest_state(g, &reply.m.names.na_state[i],
		    &reply.m.names.na_quiet[i]);
	}
	reply.m.names.na_count = n;
	if (conn_accept(c, &rq, m, &none, NULL) == 0)
		conn_reply(&rq, &reply);
	free(reply.m.names.na_names);
	free(reply.m.names.na_state);
	free(reply.m.names.na_quiet);
}

static void
control_request(struct conn *c, struct proto_msg *m, void *arg)
{
	(void)arg;
	if (m->m_type == MSG_GUESTS)
		answer_guests(c, m);
	else
		relay_start(c, m, resolve_guest, NULL);
}

static void
hostd_stop(void *arg)
{
	struct guest	*g;

	(void)arg;
	ev_timer_stop(EV_DEFAULT, &scan_timer);
	while ((g = LIST_FIRST(&guests)) != NULL)
		guest_free(g);
}

int
hostd_main(const struct host_config *hc)
{
	struct control	*co;

	config = hc;
	if (strcmp(hc->hc_channel_dir, DEFAULT_CHANNEL_DIR) == 0)
		libvirt_watch_start();
	co = control_listen(EV_DEFAULT, hc->hc_control, control_request, NULL);
	log_info("host daemon started: channels in %s, control %s",
	    hc->hc_channel_dir, hc->hc_control);
	ev_timer_init(&scan_timer, scan_cb, 0., SCAN_INTERVAL);
	ev_timer_start(EV_DEFAULT, &scan_timer);
	return lifecycle_run(EV_DEFAULT, co, hostd_stop, NULL);
}
