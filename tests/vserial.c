/*
 * vserial: emulate QEMU virtio-serial ports for tests, without a VM.
 *
 * Usage: vserial [-v] HOSTDIR GUESTDIR GUEST_NAME [--pidfile FILE]
 *
 * For each port P it listens on two UNIX stream sockets:
 *
 *	HOSTDIR/GUEST_NAME.P	the host end (QEMU's chardev socket)
 *	GUESTDIR/P		the guest end (the guest's /dev/vportNpM)
 *
 * Contracts:
 *  - Each end has at most one client.  A connection to an end that already
 *    has one is accepted and closed at once (the guest device's EBUSY).
 *  - Bytes from the host client of P go to the guest client of P and vice
 *    versa.  If the other end has no client they are dropped.
 *  - At most BUFCAP bytes are pending per direction per port; while that
 *    buffer is full the source is not read (back-pressure, nothing dropped).
 *  - When the host client goes away, the guest client of that port is closed
 *    after a best-effort non-blocking flush of what was pending for it (the
 *    guest sees EOF).  When the guest client goes away, the host client stays.
 *  - A read of 0 (EOF, including a half-close) or any error on a client
 *    closes that client only; vserial never exits because of a client.
 *  - SIGUSR1 queues GARBAGE_LEN bytes of garbage, containing plausible frame
 *    headers with bad CRCs, to every connected client (behind what is pending).
 *  - SIGTERM/SIGINT unlink the four sockets and the pid file and exit 0.
 *  - The pid file is written (atomically, via rename) once all four sockets
 *    listen.  Stale socket paths are unlinked at startup.
 *  - Idle, vserial sleeps in poll() with no timeout.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define BUFCAP		(64 * 1024)
#define NPORTS		2
#define NENDS		(2 * NPORTS)
#define GARBAGE_LEN	100

static const char *const port_names[NPORTS] = {
	"negotiator-host-to-guest.0",
	"negotiator-guest-to-host.0",
};

/* One end of a port: a listening socket and at most one client. */
struct end {
	const char *side;		/* "host" or "guest", for logs */
	const char *port;		/* port name, for logs */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;			/* listening socket */
	int cfd;			/* client, or -1 */
	struct end *peer;		/* the other end of the same port */
	int is_host;
	size_t off, len;		/* pending bytes are buf[off, off+len) */
	unsigned char buf[BUFCAP];	/* bytes waiting to go to this client */
};

static struct end ends[NENDS];		/* host0, guest0, host1, guest1 */
static int verbose;
static const char *pidfile;
static int sigpipe_fds[2] = { -1, -1 };	/* self-pipe: signal numbers */

static void vlog(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	fputs("vserial: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Fatal error (startup or poll): remove the sockets we created, exit 1. */
static _Noreturn void die(const char *what)
{
	int i;

	fprintf(stderr, "vserial: %s: %s\n", what, strerror(errno));
	for (i = 0; i < NENDS; i++)
		if (ends[i].lfd >= 0)
			unlink(ends[i].path);
	exit(1);
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(sigpipe_fds[1], &c, 1) < 0) {
		/* Pipe full: a signal is already pending; nothing to do. */
	}
	errno = saved;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* Close e's client (if any) and discard what was pending for it. */
static void end_close(struct end *e)
{
	if (e->cfd < 0)
		return;
	close(e->cfd);
	e->cfd = -1;
	e->off = e->len = 0;
	vlog("disconnect %s %s", e->side, e->port);
}

/*
 * Write as much pending data as the socket takes.  Returns 0 on success or
 * EAGAIN, -1 if the client is dead.
 */
static int end_flush(struct end *e)
{
	while (e->len > 0) {
		ssize_t n = write(e->cfd, e->buf + e->off, e->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		e->off += (size_t)n;
		e->len -= (size_t)n;
	}
	e->off = 0;
	return 0;
}

/* e's client is gone or broken: close it, and the guest too if e is a host. */
static void end_drop(struct end *e)
{
	end_close(e);
	if (e->is_host && e->peer->cfd >= 0) {
		(void)end_flush(e->peer);	/* best effort, never blocks */
		end_close(e->peer);
	}
}

/* Room for bytes read from e's client: unlimited (dropped) if no peer. */
static size_t room_from(const struct end *e)
{
	const struct end *d = e->peer;

	return d->cfd < 0 ? BUFCAP : BUFCAP - d->len;
}

/* Read from e's client into its peer's buffer, or drop if no peer client. */
static void end_read(struct end *e)
{
	static unsigned char scratch[BUFCAP];
	struct end *d = e->peer;
	unsigned char *dst = scratch;
	size_t room = BUFCAP;
	ssize_t n;

	if (d->cfd >= 0) {
		if (d->off > 0) {
			memmove(d->buf, d->buf + d->off, d->len);
			d->off = 0;
		}
		dst = d->buf + d->len;
		room = BUFCAP - d->len;
	}
	if (room == 0)
		return;
	do
		n = read(e->cfd, dst, room);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		end_drop(e);
		return;
	}
	if (d->cfd >= 0)
		d->len += (size_t)n;
}

/* Accept one connection on e; keep it if e is free, else close it at once. */
static void end_accept(struct end *e)
{
	int fd = accept(e->lfd, NULL, NULL);

	if (fd < 0)
		return;		/* EAGAIN, ECONNABORTED, EMFILE...: retry later */
	if (e->cfd >= 0) {
		close(fd);
		vlog("reject %s %s (busy)", e->side, e->port);
		return;
	}
	if (set_nonblock(fd) < 0) {
		close(fd);
		return;
	}
	e->cfd = fd;
	e->off = e->len = 0;
	vlog("connect %s %s", e->side, e->port);
}

/*
 * Fixed garbage: pseudo-random bytes with two plausible frame headers
 * ("NEGO" magic, big-endian fields) whose CRCs are wrong, one with a small
 * length that fits inside the garbage and one with an oversized length.
 */
static void make_garbage(unsigned char *g)
{
	static const unsigned char hdr1[16] = {
		0x4e, 0x45, 0x47, 0x4f, 0x00, 0x10, 0x00, 0x00,	/* NEGO PING */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,	/* tag 0, len 8 */
	};
	static const unsigned char hdr2[16] = {
		0x4e, 0x45, 0x47, 0x4f, 0x00, 0x21, 0x00, 0x00,	/* NEGO DATA */
		0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xf0,	/* huge len */
	};
	unsigned int x = 0x2545f491u;
	int i;

	for (i = 0; i < GARBAGE_LEN; i++) {
		x = x * 1103515245u + 12345u;
		g[i] = (unsigned char)(x >> 16);
	}
	memcpy(g + 40, hdr1, sizeof(hdr1));	/* CRC at 56..59 stays random */
	memcpy(g + 72, hdr2, sizeof(hdr2));	/* CRC at 88..91 stays random */
}

/* Queue garbage to every connected client that has room for all of it. */
static void inject_garbage(void)
{
	unsigned char g[GARBAGE_LEN];
	int i;

	make_garbage(g);
	for (i = 0; i < NENDS; i++) {
		struct end *e = &ends[i];

		if (e->cfd < 0)
			continue;
		if (BUFCAP - e->off - e->len < GARBAGE_LEN) {
			memmove(e->buf, e->buf + e->off, e->len);
			e->off = 0;
		}
		if (BUFCAP - e->len < GARBAGE_LEN) {
			vlog("garbage to %s %s skipped (buffer full)",
			     e->side, e->port);
			continue;
		}
		memcpy(e->buf + e->off + e->len, g, GARBAGE_LEN);
		e->len += GARBAGE_LEN;
		vlog("garbage to %s %s", e->side, e->port);
	}
}

static _Noreturn void cleanup_and_exit(void)
{
	int i;

	for (i = 0; i < NENDS; i++)
		unlink(ends[i].path);
	if (pidfile)
		unlink(pidfile);
	exit(0);
}

/* dst = DIR/NAME.PORT, or DIR/PORT if name is NULL. */
static void make_path(char *dst, const char *dir, const char *name,
		      const char *port)
{
	int n = name ? snprintf(dst, sizeof(ends[0].path), "%s/%s.%s",
				dir, name, port)
		     : snprintf(dst, sizeof(ends[0].path), "%s/%s", dir, port);

	if (n < 0 || (size_t)n >= sizeof(ends[0].path)) {
		fprintf(stderr, "vserial: socket path too long in %s\n", dir);
		exit(1);
	}
}

static void end_listen(struct end *e)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, e->path, sizeof(e->path));
	if (unlink(e->path) < 0 && errno != ENOENT)
		die(e->path);
	e->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (e->lfd < 0)
		die("socket");
	if (bind(e->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(e->path);
	if (listen(e->lfd, 8) < 0 || set_nonblock(e->lfd) < 0)
		die(e->path);
}

static void write_pidfile(void)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile) >= (int)sizeof(tmp)) {
		fprintf(stderr, "vserial: pid file path too long\n");
		exit(1);
	}
	f = fopen(tmp, "w");
	if (!f)
		die(tmp);
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, pidfile) < 0)
		die(pidfile);
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: vserial [-v] HOSTDIR GUESTDIR GUEST_NAME "
		"[--pidfile FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct pollfd pfd[1 + 2 * NENDS];
	struct sigaction sa;
	int a = 1, i;

	if (a < argc && strcmp(argv[a], "-v") == 0) {
		verbose = 1;
		a++;
	}
	if (argc - a != 3 && argc - a != 5)
		usage();
	if (argc - a == 5) {
		if (strcmp(argv[a + 3], "--pidfile") != 0)
			usage();
		pidfile = argv[a + 4];
	}

	if (pipe(sigpipe_fds) < 0 || set_nonblock(sigpipe_fds[0]) < 0 ||
	    set_nonblock(sigpipe_fds[1]) < 0)
		die("pipe");
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	for (i = 0; i < NENDS; i++) {
		struct end *e = &ends[i];
		const char *port = port_names[i / 2];

		e->is_host = i % 2 == 0;
		e->side = e->is_host ? "host" : "guest";
		e->port = port;
		e->lfd = e->cfd = -1;
		e->peer = &ends[i ^ 1];
		if (e->is_host)
			make_path(e->path, argv[a], argv[a + 2], port);
		else
			make_path(e->path, argv[a + 1], NULL, port);
	}
	for (i = 0; i < NENDS; i++)
		end_listen(&ends[i]);
	if (pidfile)
		write_pidfile();

	for (;;) {
		pfd[0].fd = sigpipe_fds[0];
		pfd[0].events = POLLIN;
		for (i = 0; i < NENDS; i++) {
			struct end *e = &ends[i];
			short ev = 0;

			if (e->cfd >= 0 && room_from(e) > 0)
				ev |= POLLIN;
			if (e->len > 0)
				ev |= POLLOUT;
			pfd[1 + 2 * i].fd = e->lfd;
			pfd[1 + 2 * i].events = POLLIN;
			/* Leave out a client we have nothing to do with, so a
			 * hangup on it cannot make poll() spin. */
			pfd[2 + 2 * i].fd = ev ? e->cfd : -1;
			pfd[2 + 2 * i].events = ev;
			pfd[2 + 2 * i].revents = 0;
		}
		if (poll(pfd, 1 + 2 * NENDS, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}

		if (pfd[0].revents) {
			unsigned char sig[64];
			ssize_t n, k;

			while ((n = read(sigpipe_fds[0], sig, sizeof(sig))) > 0) {
				for (k = 0; k < n; k++) {
					if (sig[k] == SIGTERM || sig[k] == SIGINT)
						cleanup_and_exit();
					if (sig[k] == SIGUSR1)
						inject_garbage();
				}
			}
		}

		/*
		 * Clients first, then accepts: until the accepts, a client's
		 * cfd is either the fd polled or -1 (closed here, e.g. a guest
		 * whose host left), so stale revents never reach a new client
		 * that reused the fd number.
		 */
		for (i = 0; i < NENDS; i++) {
			struct end *e = &ends[i];
			short re = pfd[2 + 2 * i].revents;

			if (!re || e->cfd < 0)
				continue;
			if (e->len > 0 && (re & (POLLOUT | POLLERR | POLLHUP))
			    && end_flush(e) < 0) {
				end_drop(e);
				continue;
			}
			if (e->cfd >= 0 && (re & (POLLIN | POLLERR | POLLHUP))
			    && room_from(e) > 0)
				end_read(e);
		}
		for (i = 0; i < NENDS; i++)
			if (pfd[1 + 2 * i].revents)
				end_accept(&ends[i]);
	}
}
