/*
 * The guest daemon.  It holds both ports for as long as it runs: it serves
 * the host's requests from host-to-guest, and relays the requests of local
 * CLIs over guest-to-host.  A port whose host end is not connected reads
 * as end-of-file and polls as POLLHUP forever, so a port in that state is
 * taken out of the loop and checked again on SIGIO or a slow timer: the
 * daemon never spins, and notices the host coming back within GUESTD_RECHECK.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "guest.h"
#include "lifecycle.h"
#include "log.h"
#include "relay.h"
#include "serve.h"

#define GUESTD_RECHECK	0.5	/* seconds between checks of an absent port */

enum port_state {
	PORT_CLOSED,		/* not found or not opened yet */
	PORT_AWAY,		/* open, the host end is not connected */
	PORT_UP,		/* open, session running or starting */
};

struct port {
	const char	*pt_name;
	char		 pt_path[PATH_MAX];
	enum port_state	 pt_state;
	int		 pt_device;
	int		 pt_logged_missing;
	struct conn	 pt_conn;
	ev_timer	 pt_check;
};

static const struct guest_config *config;
static struct port	 h2g, g2h;	/* we serve; we issue */
static ev_signal	 sigio;

static void
port_away(struct port *pt)
{
	pt->pt_state = PORT_AWAY;
	/* A frame the old host left half-sent will never be completed. */
	channel_discard_input(&pt->pt_conn.c_ch);
	channel_pause(&pt->pt_conn.c_ch, 1);
	port_notify(pt->pt_conn.c_ch.ch_fd, 1);
}

static void
port_up(struct port *pt)
{
	pt->pt_state = PORT_UP;
	if (pt->pt_device)
		port_notify(pt->pt_conn.c_ch.ch_fd, 0);
	channel_pause(&pt->pt_conn.c_ch, 0);
	conn_greet(&pt->pt_conn);
}

static void
port_try_open(struct port *pt)
{
	int	 fd;

	if (port_find(config, pt->pt_name, pt->pt_path,
	    sizeof(pt->pt_path)) == -1) {
		if (!pt->pt_logged_missing++)
			log_info("port %s not found yet; waiting for it",
			    pt->pt_name);
		return;
	}
	if ((fd = port_open(pt->pt_path)) == -1) {
		log_limited(pt->pt_name, "open %s: %s%s", pt->pt_path,
		    strerror(errno), errno == EBUSY ? " (is another "
		    "negotiator-guest running?)" : "");
		return;
	}
	pt->pt_logged_missing = 0;
	pt->pt_device = port_is_device(fd);
	log_info("port %s: opened %s", pt->pt_name, pt->pt_path);
	conn_start(&pt->pt_conn, fd);
	pt->pt_state = PORT_UP;
	if (pt->pt_device && !port_host_connected(fd))
		port_away(pt);
}

/* Runs every GUESTD_RECHECK seconds, and on SIGIO, while a port is not up. */
static void
port_check(struct port *pt)
{
	switch (pt->pt_state) {
	case PORT_CLOSED:
		port_try_open(pt);
		break;
	case PORT_AWAY:
		if (port_host_connected(pt->pt_conn.c_ch.ch_fd)) {
			log_info("port %s: host connected", pt->pt_name);
			port_up(pt);
		}
		break;
	case PORT_UP:
		break;
	}
}

static void
port_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	port_check(w->data);
}

static void
sigio_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	port_check(&h2g);
	port_check(&g2h);
}

static void
port_request(struct conn *c, struct proto_msg *m)
{
	serve_request(c, m, &config->gc_runner);
}

/* Inside the channel's callback; the session is already reset. */
static void
port_eof(struct conn *c, int error)
{
	struct port	*pt = c->c_arg;

	if (pt->pt_device && error == 0) {
		log_info("port %s: host disconnected", pt->pt_name);
		port_away(pt);
		return;
	}
	log_info("port %s: closed: %s", pt->pt_name,
	    channel_eof_reason(error));
	conn_stop(c, "port closed");
	pt->pt_state = PORT_CLOSED;
}

static void
port_ready(struct conn *c)
{
	relay_peer_ready(c);
}

static const struct conn_ops port_conn_ops = {
	port_request, port_ready, port_eof,
};

static void
port_init(struct port *pt, const char *name, int flags)
{
	char	 label[64];

	memset(pt, 0, sizeof(*pt));
	pt->pt_name = name;
	snprintf(label, sizeof(label), "host (%s)", name);
	conn_init(&pt->pt_conn, EV_DEFAULT, flags | CONN_GREETS |
	    CONN_KEEPALIVE, label, &port_conn_ops, pt);
	ev_timer_init(&pt->pt_check, port_check_cb, 0., GUESTD_RECHECK);
	pt->pt_check.data = pt;
	ev_timer_start(EV_DEFAULT, &pt->pt_check);
}

static struct conn *
resolve_host(const char *target, void *arg)
{
	(void)arg;
	return target[0] == '\0' ? &g2h.pt_conn : NULL;
}

static void
control_request(struct conn *c, struct proto_msg *m, void *arg)
{
	(void)arg;
	relay_start(c, m, resolve_host, NULL);
}

static void
guestd_stop(void *arg)
{
	(void)arg;
	ev_signal_stop(EV_DEFAULT, &sigio);
	ev_timer_stop(EV_DEFAULT, &h2g.pt_check);
	ev_timer_stop(EV_DEFAULT, &g2h.pt_check);
	conn_stop(&h2g.pt_conn, "shutting down");
	conn_stop(&g2h.pt_conn, "shutting down");
}

int
guestd_main(const struct guest_config *gc)
{
	struct control	*co;

	config = gc;
	co = control_listen(EV_DEFAULT, gc->gc_control, control_request, NULL);
	log_info("guest daemon started: control %s", gc->gc_control);
	port_init(&h2g, PORT_H2G, CONN_SERVES);
	port_init(&g2h, PORT_G2H, CONN_ISSUES);
	ev_signal_init(&sigio, sigio_cb, SIGIO);
	ev_signal_start(EV_DEFAULT, &sigio);
	port_check(&h2g);
	port_check(&g2h);
	return lifecycle_run(EV_DEFAULT, co, guestd_stop, NULL);
}
