/*
 * The control socket: a UNIX socket (mode 0660) on which a daemon takes
 * requests from local CLIs.  Callers are checked by their credentials; each
 * one becomes a conn that serves requests, or answers every request of a
 * refused caller with "permission denied", and goes away with its socket.
 * Nothing but a socket is ever removed from the socket's path.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "unix.h"

#define CONTROL_MAX_CLIENTS	256

struct client {
	LIST_ENTRY(client)	 cl_entry;
	struct conn		 cl_conn;
	struct control		*cl_control;
};

struct control {
	int			 ctl_fd;
	char			 ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t			 ctl_dev;	/* the socket we made at ctl_path */
	ino_t			 ctl_ino;
	ev_io			 ctl_accept;
	struct ev_loop		*ctl_loop;
	control_request_fn	*ctl_request;
	void			*ctl_arg;
	int			 ctl_clients;
	LIST_HEAD(, client)	 ctl_list;
};

static void
client_request(struct conn *c, struct proto_msg *m)
{
	struct client	*cl = c->c_arg;

	cl->cl_control->ctl_request(c, m, cl->cl_control->ctl_arg);
}

static void
client_free(struct client *cl)
{
	conn_stop(&cl->cl_conn, "control client gone");
	LIST_REMOVE(cl, cl_entry);
	cl->cl_control->ctl_clients--;
	free(cl);
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
	uid_t		 owner = geteuid();
	gid_t		 group = getegid();
	size_t		 i;
	int		 member = 0;

	if (stat(ctl->ctl_path, &st) == 0) {
		owner = st.st_uid;
		group = st.st_gid;
	}
	if (cred->uid == 0 || cred->uid == geteuid() || cred->uid == owner ||
	    cred->gid == group)
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

	memset(&rq, 0, sizeof(rq));
	if (conn_accept(c, &rq, m, &none, NULL) == 0)
		conn_fail(&rq, EXIT_FAILED, 0, "permission denied: the daemon "
		    "at %s serves root, its own user and the socket's group "
		    "only", cl->cl_control->ctl_path);
}

static const struct conn_ops client_refused_ops = {
	client_refuse, NULL, client_eof,
};

static void
control_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct control	*ctl = w->data;
	struct client	*cl;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	char		 label[128];
	int		 fd, allowed;

	(void)revents;
	fd = accept4(ctl->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_limited_warn("accept", "control: accept");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_limited_warn("control", "control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (ctl->ctl_clients >= CONTROL_MAX_CLIENTS) {
		log_limited("control", "control: %d callers already, refused "
		    "pid %d", ctl->ctl_clients, (int)cred.pid);
		close(fd);
		return;
	}
	allowed = control_allowed(ctl, fd, &cred);
	if (!allowed)
		log_limited("control", "control: refused caller pid %d uid %d "
		    "gid %d: not root, our user or in the socket's group",
		    (int)cred.pid, (int)cred.uid, (int)cred.gid);
	cl = xcalloc(1, sizeof(*cl));
	cl->cl_control = ctl;
	snprintf(label, sizeof(label), "%scaller pid %d uid %d",
	    allowed ? "" : "refused ", (int)cred.pid, (int)cred.uid);
	conn_init(&cl->cl_conn, loop, CONN_SERVES | CONN_EARLY | CONN_BUDGET,
	    label, allowed ? &client_ops : &client_refused_ops, cl);
	LIST_INSERT_HEAD(&ctl->ctl_list, cl, cl_entry);
	ctl->ctl_clients++;
	conn_start(&cl->cl_conn, fd);
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
	LIST_INIT(&ctl->ctl_list);
	ev_io_init(&ctl->ctl_accept, control_accept_cb, fd, EV_READ);
	ctl->ctl_accept.data = ctl;
	ev_io_start(loop, &ctl->ctl_accept);
	log_debug("control socket %s", path);
	return ctl;
}

void
control_close(struct control *ctl)
{
	struct client	*cl;
	struct stat	 st;

	while ((cl = LIST_FIRST(&ctl->ctl_list)) != NULL)
		client_free(cl);
	ev_io_stop(ctl->ctl_loop, &ctl->ctl_accept);
	close(ctl->ctl_fd);
	/* Only if it is still the socket we made. */
	if (lstat(ctl->ctl_path, &st) == 0 && st.st_dev == ctl->ctl_dev &&
	    st.st_ino == ctl->ctl_ino)
		unlink(ctl->ctl_path);
	free(ctl);
}
