/*
 * The guest daemon.  It holds both ports for as long as it runs: it serves
 * the host's requests from host-to-guest, and relays the requests of local
 * CLIs over guest-to-host.  Nothing here polls: a guest with the host away
 * and nothing to do is not woken at all.
 * - A port whose host end is not connected reads as end-of-file and polls
 *   as POLLHUP forever, so a port in that state is taken out of the loop
 *   and looked at again on SIGIO, which the kernel raises when the host
 *   connects (O_ASYNC is set before the look, so a host that connects in
 *   between is seen).
 * - A port that is not there yet is looked for again when the port watch
 *   (port_watch_open: the kernel's uevents, or inotify on the -c
 *   directory) says something appeared; it is opened before the look.
 * - Only what no event need announce is retried on a timer as well,
 *   GUESTD_RETRY_MIN doubling to GUESTD_RETRY_MAX: an open that failed
 *   (EBUSY: another process holds the port), or no watch to be had.
 */
#include <sys/utsname.h>

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

#define GUESTD_RETRY_MIN	0.5	/* seconds before the first retry */
#define GUESTD_RETRY_MAX	8.	/* and at most between retries */

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
	int		 pt_missing;	/* closed; not found or opened yet */
	ev_tstamp	 pt_backoff;	/* the next retry's delay */
	struct conn	 pt_conn;
	ev_timer	 pt_retry;
};

static const struct guest_config *config;
static struct port	 h2g, g2h;	/* we serve; we issue */
static ev_signal	 sigio;
static ev_io		 watch;		/* port_watch_open's fd, or -1 */

static void	 port_check(struct port *);

/*
 * One function decides whether the port watch is open: while a port is
 * missing (or would not open: a test's socket made anew shows there).
 * 0 if it is open or not wanted, -1 if it cannot be had.
 */
static int
watch_update(void)
{
	int	 fd;

	if (h2g.pt_missing || g2h.pt_missing) {
		if (watch.fd != -1)
			return 0;
		if ((fd = port_watch_open(config)) == -1) {
			log_limited_warn("port watch", "cannot watch for "
			    "ports (retrying on a timer)");
			return -1;
		}
		ev_io_set(&watch, fd, EV_READ);
		ev_io_start(EV_DEFAULT, &watch);
	} else if (watch.fd != -1) {
		ev_io_stop(EV_DEFAULT, &watch);
		close(watch.fd);
		ev_io_set(&watch, -1, EV_READ);
	}
	return 0;
}

static void
watch_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	port_watch_drain(w->fd);
	port_check(&h2g);
	port_check(&g2h);
}

/* Looks at the port again after its backoff, which then doubles. */
static void
port_retry_later(struct port *pt)
{
	ev_timer_stop(EV_DEFAULT, &pt->pt_retry);
	ev_timer_set(&pt->pt_retry, pt->pt_backoff, 0.);
	ev_timer_start(EV_DEFAULT, &pt->pt_retry);
	pt->pt_backoff = pt->pt_backoff * 2 > GUESTD_RETRY_MAX ?
	    GUESTD_RETRY_MAX : pt->pt_backoff * 2;
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
port_away(struct port *pt)
{
	pt->pt_state = PORT_AWAY;
	/* A frame the old host left half-sent will never be completed. */
	channel_discard_input(&pt->pt_conn.c_ch);
	channel_pause(&pt->pt_conn.c_ch, 1);
	port_notify(pt->pt_conn.c_ch.ch_fd, 1);
	/* A host that connected before O_ASYNC was set raised no SIGIO. */
	if (port_host_connected(pt->pt_conn.c_ch.ch_fd)) {
		log_info("port %s: host connected", pt->pt_name);
		port_up(pt);
	}
}

static void
port_try_open(struct port *pt)
{
	int	 fd;

	/* The watch is open before the look: what appears after it counts. */
	pt->pt_missing = 1;
	if (watch_update() == -1)
		port_retry_later(pt);
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
		port_retry_later(pt);
		return;
	}
	pt->pt_missing = 0;
	watch_update();
	ev_timer_stop(EV_DEFAULT, &pt->pt_retry);
	pt->pt_backoff = GUESTD_RETRY_MIN;
	pt->pt_logged_missing = 0;
	pt->pt_device = port_is_device(fd);
	log_info("port %s: opened %s", pt->pt_name, pt->pt_path);
	conn_start(&pt->pt_conn, fd);
	pt->pt_state = PORT_UP;
	if (pt->pt_device && !port_host_connected(fd))
		port_away(pt);
}

/* Runs on SIGIO, on the port watch and on a retry. */
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
port_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
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
	/* Opened again once out of the channel's callback. */
	ev_timer_stop(EV_DEFAULT, &pt->pt_retry);
	ev_timer_set(&pt->pt_retry, 0., 0.);
	ev_timer_start(EV_DEFAULT, &pt->pt_retry);
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
	ev_timer_init(&pt->pt_retry, port_retry_cb, 0., 0.);
	pt->pt_retry.data = pt;
	pt->pt_backoff = GUESTD_RETRY_MIN;
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
	ev_timer_stop(EV_DEFAULT, &h2g.pt_retry);
	ev_timer_stop(EV_DEFAULT, &g2h.pt_retry);
	h2g.pt_missing = g2h.pt_missing = 0;
	watch_update();
	conn_stop(&h2g.pt_conn, "shutting down");
	conn_stop(&g2h.pt_conn, "shutting down");
}

/*
 * Commands' output goes to the ports by splice(2) on the kernels whose
 * port_fops_splice_write was read and is tested by tests/vm/splice.sh,
 * Debian 12's 6.1 and Debian 13's 6.12 (channel.h, ch_splice says why
 * elsewhere not); a copy through us on any other.
 */
static void
splice_ports_check(void)
{
	struct utsname	 u;
	const char	*r;

	if (uname(&u) == -1)
		return;
	r = u.release;
	channel_splice_ports = strncmp(r, "6.1.", 4) == 0 ||
	    strncmp(r, "6.12.", 5) == 0;
	log_info("kernel %.64s: commands' output goes to the ports %s", r,
	    channel_splice_ports ? "by splice" : "by read and write");
}

int
guestd_main(const struct guest_config *gc)
{
	struct control	*co;

	config = gc;
	co = control_listen(EV_DEFAULT, gc->gc_control, control_request, NULL);
	log_info("guest daemon started: control %s", gc->gc_control);
	splice_ports_check();
	port_init(&h2g, PORT_H2G, CONN_SERVES);
	port_init(&g2h, PORT_G2H, CONN_ISSUES);
	ev_signal_init(&sigio, sigio_cb, SIGIO);
	ev_signal_start(EV_DEFAULT, &sigio);
	ev_io_init(&watch, watch_cb, -1, EV_READ);
	port_check(&h2g);
	port_check(&g2h);
	return lifecycle_run(EV_DEFAULT, co, guestd_stop, NULL);
}
