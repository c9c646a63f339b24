/*
 * The control socket: a UNIX socket (mode 0660) on which a daemon takes
 * requests from local CLIs.  Callers are checked by their credentials; each
 * one becomes a conn that serves requests, or answers every request of a
 * refused caller with "permission denied", and goes away with its socket.
 * Nothing but a socket is ever removed from the socket's path.
 *
 * A local caller is hostile too, and what it can hold is counted per uid
 * (a caller can fork, but not change its uid): CONTROL_UID_SHARE of the
 * CONTROL_MAX_CLIENTS connections, CONTROL_ROOT_RESERVE of which only root
 * (or our own user) may take, and CONTROL_UID_QUEUE bytes of answers queued
 * for all its connections together, past which its new requests are
 * dropped (channel.h, rule 4, for the uid rather than one connection).
 * A connection that shows no life for the idle timeout is closed
 * (client_idle_cb).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/sockios.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "unix.h"

/*
 * The numbers are in negotiator-host(8) and negotiator-guest(8), and the
 * README's "Limits".
 */
#define CONTROL_MAX_CLIENTS	256	/* connections at once, in all */
#define CONTROL_ROOT_RESERVE	32	/* ... of which only root may take */
#define CONTROL_UID_SHARE	32	/* ... and one other uid at most */
#define CONTROL_UID_QUEUE	CHANNEL_MAX_QUEUE /* answers for one uid */
/* A listener that cannot take a connection (no fd left) waits this long. */
#define CONTROL_ACCEPT_PAUSE	1.0	/* seconds */

/* The connections of one uid. */
struct caller {
	LIST_ENTRY(caller)	 ca_entry;
	LIST_HEAD(, client)	 ca_clients;
	uid_t			 ca_uid;
	int			 ca_count;
	int			 ca_trusted;	/* root or our user: no share */
	char			 ca_label[32];	/* "caller uid N", the log key */
	/* The loop's share for all its connections (channel.h rule 5). */
	struct channel_budget	 ca_budget;
};

struct client {
	LIST_ENTRY(client)	 cl_entry;	/* in its caller's ca_clients */
	struct conn		 cl_conn;
	struct control		*cl_control;
	struct caller		*cl_caller;
	ev_tstamp		 cl_since;	/* connected, or last busy */
	ev_timer		 cl_idle;
};

struct control {
	int			 ctl_fd;
	char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t			 ctl_dev;	/* the socket we made at ctl_path */
	ino_t			 ctl_ino;
	ev_io			 ctl_accept;
	ev_timer		 ctl_retry;	/* accept(2) again after a pause */
	ev_tstamp		 ctl_paused;	/* since when, or 0 */
	struct ev_loop		*ctl_loop;
	control_request_fn	*ctl_request;
	void			*ctl_arg;
	int			 ctl_clients;
	LIST_HEAD(, caller)	 ctl_callers;
};

static double	 control_idle = CONTROL_IDLE_TIMEOUT;

static gid_t	 control_group = (gid_t)-1;	/* -1: ours */

void
control_set_group(gid_t gid)
{
	control_group = gid;
}

void
control_set_idle_timeout(double seconds)
{
	control_idle = seconds;
}

/* Bytes of answers queued for all the connections of a caller. */
static size_t
caller_queued(const struct caller *ca)
{
	const struct client	*cl;
	size_t			 n = 0;

	LIST_FOREACH(cl, &ca->ca_clients, cl_entry)
		n += buf_pending(&cl->cl_conn.c_ch.ch_out);
	return n;
}

/*
 * 1 if a request of the caller is dropped unanswered: rule 4 of channel.h
 * for all the connections of a uid, root and our user excepted.
 */
static int
caller_over(const struct caller *ca, const struct proto_msg *m)
{
	size_t	 queued;

	if (ca->ca_trusted ||
	    (queued = caller_queued(ca)) < CONTROL_UID_QUEUE)
		return 0;
	log_limited(ca->ca_label, "%s: %s dropped: %zu bytes of answers wait "
	    "for the %d connections of this uid to read them", ca->ca_label,
	    proto_type_name(m->m_type), queued, ca->ca_count);
	return 1;
}

static void
client_request(struct conn *c, struct proto_msg *m)
{
	struct client	*cl = c->c_arg;

	if (!caller_over(cl->cl_caller, m))
		cl->cl_control->ctl_request(c, m, cl->cl_control->ctl_arg);
}

/*
 * Accepts again at once, after a pause for want of fds, now that one was
 * given back.
 */
static void
control_resume(struct control *ctl)
{
	if (ctl->ctl_paused == 0)
		return;
	ev_timer_stop(ctl->ctl_loop, &ctl->ctl_retry);
	ev_io_start(ctl->ctl_loop, &ctl->ctl_accept);
}

static void
client_free(struct client *cl)
{
	struct control	*ctl = cl->cl_control;
	struct caller	*ca = cl->cl_caller;

	ev_timer_stop(ctl->ctl_loop, &cl->cl_idle);
	conn_stop(&cl->cl_conn, "control client gone");
	LIST_REMOVE(cl, cl_entry);
	ctl->ctl_clients--;
	if (--ca->ca_count == 0) {
		LIST_REMOVE(ca, ca_entry);
		free(ca);
	}
	free(cl);
	control_resume(ctl);
}

/* Called from the channel's read or write callback, which returns at once. */
static void
client_eof(struct conn *c, int error)
{
	(void)error;
	client_free(c->c_arg);
}

static const struct conn_ops client_ops = {
	client_request, NULL, client_eof,
};

/*
 * The last time the connection showed life: bytes in, bytes out, or a
 * call of its running with nothing waiting to be read (however long it
 * runs); output that waits for the caller, in our queue or unread in the
 * socket (SIOCOUTQ: a call out of credit queues nothing), is no life.
 */
static ev_tstamp
client_alive_at(struct client *cl, ev_tstamp now)
{
	const struct channel	*ch = &cl->cl_conn.c_ch;
	ev_tstamp		 t = cl->cl_since;
	int			 unread = 0;

	if (ioctl(ch->ch_fd, SIOCOUTQ, &unread) == -1)
		unread = 0;
	if (!LIST_EMPTY(&cl->cl_conn.c_served) &&
	    buf_pending(&ch->ch_out) == 0 && unread == 0)
		return cl->cl_since = now;
	if (ch->ch_last_input > t)
		t = ch->ch_last_input;
	if (ch->ch_last_output > t)
		t = ch->ch_last_output;
	return t;
}

/* Arms cl_idle for when the connection will have been idle long enough. */
static void
client_idle_arm(struct client *cl, ev_tstamp alive_at, ev_tstamp now)
{
	ev_tstamp	 due = alive_at + control_idle - now;

	ev_timer_set(&cl->cl_idle, due > 0 ? due : 0., 0.);
	ev_timer_start(cl->cl_control->ctl_loop, &cl->cl_idle);
}

/*
 * A connection that has neither called nor read for control_idle seconds
 * is closed: the timer falls due then, and judges from the times the
 * channel noted (no timer runs while a caller is busy but for this one).
 */
static void
client_idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct client	*cl = w->data;
	ev_tstamp	 now = ev_now(loop), alive_at;

	(void)revents;
	/* A read that is due comes first: see conn_timer_cb. */
	if (ev_is_pending(&cl->cl_conn.c_ch.ch_read)) {
		client_idle_arm(cl, now - control_idle, now);
		return;
	}
	alive_at = client_alive_at(cl, now);
	if (now - alive_at < control_idle) {
		client_idle_arm(cl, alive_at, now);
		return;
	}
	log_limited_at(LOG_LEVEL_INFO, cl->cl_caller->ca_label, "%s: a "
	    "connection closed after %.0f s idle (%s)",
	    cl->cl_caller->ca_label, now - alive_at,
	    LIST_EMPTY(&cl->cl_conn.c_served) &&
	    buf_pending(&cl->cl_conn.c_ch.ch_out) == 0 ?
	    "no request" : "its answers not read");
	client_free(cl);
}

/*
 * 1 if the caller may use the daemon: root, our user, the socket's owner,
 * or a member of the socket's group (its primary group or one of the
 * supplementary groups it had at connect(2), as the kernel's own check of
 * the socket's mode saw them).  SO_PEERGROUPS rather than getgrouplist(3):
 * the groups the caller really has, and no NSS look-up in a static binary.
 */
static int
control_allowed(const struct control *ctl, int fd, const struct ucred *cred)
{
	gid_t		*groups;
	socklen_t	 len = 0;
	struct stat	 st;
	uid_t		 owner, me = geteuid();
	gid_t		 group;
	size_t		 i;
	int		 member = 0;

	/* Root and our user before the socket is looked at (each call). */
	if (cred->uid == 0 || cred->uid == me)
		return 1;
	owner = me;
	group = getegid();
	if (stat(ctl->ctl_path, &st) == 0) {
		owner = st.st_uid;
		group = st.st_gid;
	}
	if (cred->uid == owner || cred->gid == group)
		return 1;
	/* Asked with no room, the kernel says how much the list takes. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) == -1 &&
	    errno != ERANGE)
		return 0;
	if (len == 0)
		return 0;
	groups = xmalloc(len);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		for (i = 0; i < len / sizeof(groups[0]) && !member; i++)
			member = groups[i] == group;
	free(groups);
	return member;
}

/*
 * A refused caller is told so: it gets a session, and every request it
 * makes is answered "permission denied" (exit 125 in the CLI), until it
 * hangs up.  It never reaches ctl_request.
 */
static void
client_refuse(struct conn *c, struct proto_msg *m)
{
	struct client	*cl = c->c_arg;
	struct req	 rq;
	static const struct req_ops none;

	if (caller_over(cl->cl_caller, m))
		return;
	memset(&rq, 0, sizeof(rq));
	if (conn_accept(c, &rq, m, &none, NULL) == 0)
		conn_fail(&rq, EXIT_FAILED, 0, "permission denied: the daemon "
		    "at %s serves root, its own user and the socket's group "
		    "only", cl->cl_control->ctl_path);
}

static const struct conn_ops client_refused_ops = {
	client_refuse, NULL, client_eof,
};

/* The caller of uid, made if it has no connection yet. */
static struct caller *
control_caller(struct control *ctl, uid_t uid)
{
	struct caller	*ca;

	LIST_FOREACH(ca, &ctl->ctl_callers, ca_entry)
		if (ca->ca_uid == uid)
			return ca;
	ca = xcalloc(1, sizeof(*ca));
	ca->ca_uid = uid;
	ca->ca_trusted = uid == 0 || uid == geteuid();
	snprintf(ca->ca_label, sizeof(ca->ca_label), "caller uid %u",
	    (unsigned)uid);
	LIST_INIT(&ca->ca_clients);
	LIST_INSERT_HEAD(&ctl->ctl_callers, ca, ca_entry);
	return ca;
}

/*
 * NULL if the uid has its share of the slots already: CONTROL_UID_SHARE,
 * and none of the CONTROL_ROOT_RESERVE kept for root and our user, who
 * may take every slot.
 */
static const char *
control_full(const struct control *ctl, const struct caller *ca)
{
	static char	 why[128];

	if (ctl->ctl_clients >= CONTROL_MAX_CLIENTS)
		snprintf(why, sizeof(why), "all %d connections are taken",
		    CONTROL_MAX_CLIENTS);
	else if (ca->ca_trusted)
		return NULL;
	else if (ca->ca_count >= CONTROL_UID_SHARE)
		snprintf(why, sizeof(why), "this uid has %d connections "
		    "already, its share", ca->ca_count);
	else if (ctl->ctl_clients >= CONTROL_MAX_CLIENTS -
	    CONTROL_ROOT_RESERVE)
		snprintf(why, sizeof(why), "the last %d of %d connections "
		    "are kept for root", CONTROL_ROOT_RESERVE,
		    CONTROL_MAX_CLIENTS);
	else
		return NULL;
	return why;
}

static void
control_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct control	*ctl = w->data;

	(void)revents;
	ev_io_start(loop, &ctl->ctl_accept);
}

/*
 * accept(2) failed for want of something that comes back (fds, memory):
 * the connection waits in the backlog, and the listener, which stays
 * readable, is not watched until CONTROL_ACCEPT_PAUSE has passed or a
 * caller has gone.  One line says so per episode (until an accept works).
 */
static void
control_pause(struct control *ctl)
{
	ev_tstamp	 now = ev_now(ctl->ctl_loop);

	if (ctl->ctl_paused == 0) {
		log_warn("control: accept (%d callers); taking no new caller "
		    "until that changes, trying again every %.0f s or when "
		    "one goes", ctl->ctl_clients, CONTROL_ACCEPT_PAUSE);
		ctl->ctl_paused = now;
	}
	ev_io_stop(ctl->ctl_loop, &ctl->ctl_accept);
	ev_timer_set(&ctl->ctl_retry, CONTROL_ACCEPT_PAUSE, 0.);
	ev_timer_start(ctl->ctl_loop, &ctl->ctl_retry);
}

static void
control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control	*ctl = w->data;
	struct client	*cl;
	struct caller	*ca;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	const char	*full;
	int		 fd, allowed;

	(void)revents;
	fd = accept4(ctl->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		switch (errno) {
		case EAGAIN:
		case EINTR:
		case ECONNABORTED:	/* that caller gave up: the next one */
			break;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			control_pause(ctl);
			break;
		default:
			log_limited_warn("accept", "control: accept");
			control_pause(ctl);
			break;
		}
		return;
	}
	if (ctl->ctl_paused != 0) {
		log_debug("control: accepting again after %.1f s",
		    ev_now(loop) - ctl->ctl_paused);
		ctl->ctl_paused = 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_limited_warn("control", "control: SO_PEERCRED");
		close(fd);
		return;
	}
	ca = control_caller(ctl, cred.uid);
	if ((full = control_full(ctl, ca)) != NULL) {
		log_limited(ca->ca_label, "%s: pid %d refused: %s",
		    ca->ca_label, (int)cred.pid, full);
		close(fd);
		if (ca->ca_count == 0) {
			LIST_REMOVE(ca, ca_entry);
			free(ca);
		}
		return;
	}
	allowed = control_allowed(ctl, fd, &cred);
	if (!allowed)
		log_limited(ca->ca_label, "control: refused caller pid %d uid "
		    "%d gid %d: not root, our user or in the socket's group",
		    (int)cred.pid, (int)cred.uid, (int)cred.gid);
	else
		log_limited_at(LOG_LEVEL_DEBUG, ca->ca_label, "%s: pid %d "
		    "connected", ca->ca_label, (int)cred.pid);
	cl = xcalloc(1, sizeof(*cl));
	cl->cl_control = ctl;
	cl->cl_caller = ca;
	/*
	 * Labelled by its uid, not its pid, allowed or not: the label is also
	 * the key of its log lines, which one uid shares (log_limited).
	 */
	conn_init(&cl->cl_conn, loop, CONN_SERVES | CONN_EARLY | CONN_BUDGET,
	    ca->ca_label, allowed ? &client_ops : &client_refused_ops, cl);
	snprintf(cl->cl_conn.c_who, sizeof(cl->cl_conn.c_who),
	    "caller pid %d uid %d", (int)cred.pid, (int)cred.uid);
	/*
	 * One share of the loop for all of a uid's connections, as for a
	 * guest's two channels; root's and our user's calls each have their
	 * own (CONN_BUDGET), so that their parallel calls are not one peer.
	 */
	if (!ca->ca_trusted) {
		channel_set_budget(&cl->cl_conn.c_ch, &ca->ca_budget);
		/*
		 * What its requests make us queue (HELLO_ACKs, answers) is
		 * bounded per connection by rule 4; its share of that, so that
		 * a uid's connections together hold no more than one guest.
		 */
		cl->cl_conn.c_max_queue = CONTROL_UID_QUEUE /
		    CONTROL_UID_SHARE;
	}
	LIST_INSERT_HEAD(&ca->ca_clients, cl, cl_entry);
	ca->ca_count++;
	ctl->ctl_clients++;
	conn_start(&cl->cl_conn, fd);
	cl->cl_since = ev_now(loop);
	ev_init(&cl->cl_idle, client_idle_cb);
	cl->cl_idle.data = cl;
	client_idle_arm(cl, cl->cl_since, cl->cl_since);
}

struct control *
control_listen(struct ev_loop *loop, const char *path,
    control_request_fn *request, void *arg)
{
	struct control		*ctl = xcalloc(1, sizeof(*ctl));
	struct sockaddr_un	 sun;
	struct stat		 st;
	char			*dir = xstrdup(path);
	int			 fd, saved;

	if (unix_address(path, &sun) == -1)
		fatal("control socket %s", path);
	if (mkdir(dirname(dir), 0755) == -1 && errno != EEXIST)
		fatal("mkdir %s", dir);
	free(dir);
	/*
	 * A socket nobody answers on is left over from a daemon that died;
	 * anything else there is not ours to remove (connect(2) also says
	 * ECONNREFUSED for a regular file).
	 */
	if ((fd = unix_connect(path, 0)) != -1)
		fatalx("%s: another daemon is already listening there", path);
	saved = errno;
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		fatalx("%s: exists and is not a socket; refusing to replace "
		    "it (give --control a path of its own)", path);
	if (saved == ECONNREFUSED && unlink(path) == -1 && errno != ENOENT)
		fatal("unlink %s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		fatal("socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s", path);
	if (chmod(path, 0660) == -1)
		fatal("chmod %s", path);
	if (control_group != (gid_t)-1 &&
	    chown(path, (uid_t)-1, control_group) == -1)
		fatal("chown %s to group %u", path, (unsigned)control_group);
	if (lstat(path, &st) == -1)
		fatal("%s", path);
	ctl->ctl_dev = st.st_dev;
	ctl->ctl_ino = st.st_ino;
	if (listen(fd, 64) == -1)
		fatal("listen %s", path);
	ctl->ctl_fd = fd;
	ctl->ctl_loop = loop;
	ctl->ctl_request = request;
	ctl->ctl_arg = arg;
	strlcpy(ctl->ctl_path, path, sizeof(ctl->ctl_path));
	LIST_INIT(&ctl->ctl_callers);
	ev_io_init(&ctl->ctl_accept, control_accept_cb, fd, EV_READ);
	ctl->ctl_accept.data = ctl;
	ev_init(&ctl->ctl_retry, control_retry_cb);
	ctl->ctl_retry.data = ctl;
	ev_io_start(loop, &ctl->ctl_accept);
	log_debug("control socket %s", path);
	return ctl;
}

void
control_close(struct control *ctl)
{
	struct caller	*ca;
	struct stat	 st;

	ctl->ctl_paused = 0;	/* no resuming as the callers go */
	while ((ca = LIST_FIRST(&ctl->ctl_callers)) != NULL)
		client_free(LIST_FIRST(&ca->ca_clients));
	ev_io_stop(ctl->ctl_loop, &ctl->ctl_accept);
	ev_timer_stop(ctl->ctl_loop, &ctl->ctl_retry);
	close(ctl->ctl_fd);
	/* Only if it is still the socket we made. */
	if (lstat(ctl->ctl_path, &st) == 0 && st.st_dev == ctl->ctl_dev &&
	    st.st_ino == ctl->ctl_ino)
		unlink(ctl->ctl_path);
	free(ctl);
}
