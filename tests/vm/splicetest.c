/*
 * splicetest: is splice(2) from a pipe into a virtio-serial port byte-exact?
 *
 *   splicetest send PORT_NAME MIB PHASES (in the guest, static)
 *   splicetest check SOCKET BYTES	(on the host, on QEMU's chardev socket)
 *
 * The stream is sequence-numbered: the byte at offset o is byte o % 8 of
 * the little-endian 64-bit number o / 8, so a lost, repeated or foreign
 * run of bytes shows where it happened and how long it was.
 *
 * send writes MIB MiB per phase (a quarter of that for small) through a
 * pipe into the port, in the phases named in PHASES (comma-separated; run
 * in this order), which cover what a daemon could do:
 *   one	one pipe buffer at a time (a write of 1..4096 bytes into an
 *		empty pipe, then one splice of exactly that);
 *   whole	a 1 MiB pipe filled by writes of up to 64 KiB (up to 256 pipe
 *		buffers), each splice asking for more than the pipe holds;
 *   cut	the same, but each splice asks for 1..200000 bytes, fewer
 *		than the pipe holds;
 *   small	a packet-mode pipe (O_DIRECT: no merging), so hundreds of
 *		pipe buffers of 1..600 bytes each go in one splice;
 *   nonblock	as whole, with the port non-blocking, poll(POLLOUT) and
 *		SPLICE_F_NONBLOCK, as an event loop would run it.
 * After each splice it compares what the call returned with what left the
 * pipe (FIONREAD before and after): a kernel that takes bytes out of the
 * pipe and reports fewer has dropped them, and the guest says so itself.
 * It prints one line, "splicetest: sent N bytes, S splices, Z zero
 * returns, L bytes taken but not reported", and exits 0 only if L and Z
 * are 0.
 *
 * check reads BYTES bytes from the socket, pausing now and then (50 ms
 * every 256 KiB, 700 ms every 8 MiB) so that the port's virtqueue fills
 * and QEMU throttles the port, and checks every byte.  It prints
 * "check: BYTES bytes exact" and exits 0, or names the first bad offset,
 * what was found there (and, if it is stream data from further on, how
 * many bytes are missing) and exits 1.  It gives up after 20 s without
 * data.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK		(1024 * 1024)

static uint64_t	 offset;		/* next stream byte to send */
static uint64_t	 nsplices, nzero, nlost;
static uint32_t	 rng = 2463534242u;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng % n;
}

static unsigned char
stream_byte(uint64_t o)
{
	return (unsigned char)((o / 8) >> (8 * (o % 8)));
}

static void
stream_fill(unsigned char *p, uint64_t o, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = stream_byte(o + i);
}

static int
pipe_bytes(int fd)
{
	int	 n;

	if (ioctl(fd, FIONREAD, &n) == -1)
		err(2, "FIONREAD");
	return n;
}

/* len, or less so as not to pass the end of the phase. */
static size_t
clamp(size_t len, uint64_t end)
{
	return offset + len > end ? (size_t)(end - offset) : len;
}

/*
 * Writes up to len stream bytes into the pipe (non-blocking); returns how
 * many went in, 0 when the pipe is full.
 */
static size_t
pipe_put(int wfd, size_t len)
{
	static unsigned char	 buf[65536];
	ssize_t			 n;

	stream_fill(buf, offset, len);
	if ((n = write(wfd, buf, len)) == -1) {
		if (errno == EAGAIN)
			return 0;
		err(2, "write into the pipe");
	}
	offset += n;
	return n;
}

/* A pipe of size bytes (0: the default), flags as pipe2's. */
static void
pipe_make(int p[2], int size, int flags)
{
	if (pipe2(p, flags | O_NONBLOCK) == -1)
		err(2, "pipe2");
	/* Only the write end is non-blocking: splice waits on the port. */
	if (fcntl(p[0], F_SETFL, 0) == -1)
		err(2, "F_SETFL");
	if (size > 0 && fcntl(p[1], F_SETPIPE_SZ, size) == -1)
		err(2, "F_SETPIPE_SZ");
}

/*
 * One splice of up to len bytes from the pipe into the port, checked
 * against what left the pipe.  Returns what the call returned.
 */
static ssize_t
splice_once(int rfd, int port, size_t len, unsigned int flags)
{
	ssize_t	 n;
	int	 before, after;

	before = pipe_bytes(rfd);
	n = splice(rfd, NULL, port, NULL, len, flags);
	after = pipe_bytes(rfd);
	if (n == -1 && errno != EAGAIN)
		err(2, "splice");
	nsplices++;
	if (n == 0)
		nzero++;
	if (before - after != (n > 0 ? n : 0)) {
		nlost += (uint64_t)(before - after) - (n > 0 ? n : 0);
		fprintf(stderr, "splicetest: splice of %zu returned %zd but "
		    "took %d bytes from the pipe (stream offset %llu)\n", len,
		    n, before - after, (unsigned long long)(offset - before));
	}
	return n;
}

/* Splices everything in the pipe into the port, len at most per call. */
static void
drain(int rfd, int port, size_t len, unsigned int flags)
{
	struct pollfd	 pfd = { port, POLLOUT, 0 };
	int		 stuck = 0;

	while (pipe_bytes(rfd) > 0) {
		if (flags & SPLICE_F_NONBLOCK && poll(&pfd, 1, 30000) != 1)
			errx(2, "port not writable for 30 s");
		if (splice_once(rfd, port, len, flags) <= 0 && ++stuck > 1000)
			errx(2, "1000 splices moved nothing; %d bytes stay in "
			    "the pipe", pipe_bytes(rfd));
	}
}

static int
port_path(const char *name, char *path, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	char		 file[512], line[256];
	FILE		*f;
	int		 found = 0;

	if ((d = opendir("/sys/class/virtio-ports")) == NULL)
		err(2, "/sys/class/virtio-ports");
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/sys/class/virtio-ports/%s/name",
		    de->d_name);
		if ((f = fopen(file, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			if (strcmp(line, name) == 0) {
				snprintf(path, len, "/dev/%s", de->d_name);
				found = 1;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found ? 0 : -1;
}

/* 1 if phase is in the comma-separated list. */
static int
want(const char *list, const char *phase)
{
	size_t		 n = strlen(phase);
	const char	*p;

	for (p = list; (p = strstr(p, phase)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

static int
send_main(const char *name, long mib, const char *phases)
{
	char		 path[300];
	int		 port, p[2], i, fl;
	uint64_t	 phase_end;

	if (port_path(name, path, sizeof(path)) == -1)
		errx(2, "no port named %s", name);
	if ((port = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		err(2, "%s", path);

	/* one: one pipe buffer at a time. */
	pipe_make(p, 0, 0);
	phase_end = offset + (want(phases, "one") ? (uint64_t)mib * CHUNK : 0);
	while (offset < phase_end) {
		size_t	 len = pipe_put(p[1], clamp(1 + rnd(4096), phase_end));

		drain(p[0], port, len, 0);
	}
	close(p[0]);
	close(p[1]);

	fprintf(stderr, "splicetest: one done at %llu\n",
	    (unsigned long long)offset);
	/* whole, cut: up to 256 pipe buffers, spliced whole or cut. */
	for (i = 0; i < 2; i++) {
		pipe_make(p, CHUNK, 0);
		phase_end = offset + (want(phases, i ? "cut" : "whole") ?
		    (uint64_t)mib * CHUNK : 0);
		while (offset < phase_end) {
			while (offset < phase_end && pipe_put(p[1],
			    clamp(1 + rnd(65536), phase_end)) > 0)
				;
			drain(p[0], port, i ? 1 + rnd(200000) : 2 * CHUNK, 0);
		}
		close(p[0]);
		close(p[1]);
		fprintf(stderr, "splicetest: %s done at %llu\n",
		    i ? "cut" : "whole", (unsigned long long)offset);
	}
	/* small: hundreds of small pipe buffers in one splice. */
	pipe_make(p, CHUNK, O_DIRECT);
	phase_end = offset + (want(phases, "small") ?
	    (uint64_t)mib * CHUNK / 4 : 0);
	while (offset < phase_end) {
		for (i = 0; i < 200 && offset < phase_end; i++)
			pipe_put(p[1], clamp(1 + rnd(600), phase_end));
		drain(p[0], port, CHUNK, 0);
	}
	close(p[0]);
	close(p[1]);

	fprintf(stderr, "splicetest: small done at %llu\n",
	    (unsigned long long)offset);
	/* nonblock: as an event loop runs it. */
	if ((fl = fcntl(port, F_GETFL)) == -1 ||
	    fcntl(port, F_SETFL, fl | O_NONBLOCK) == -1)
		err(2, "O_NONBLOCK");
	pipe_make(p, CHUNK, 0);
	phase_end = offset + (want(phases, "nonblock") ?
	    (uint64_t)mib * CHUNK : 0);
	while (offset < phase_end) {
		while (offset < phase_end &&
		    pipe_put(p[1], clamp(1 + rnd(65536), phase_end)) > 0)
			;
		drain(p[0], port, 2 * CHUNK, SPLICE_F_NONBLOCK);
	}
	close(p[0]);
	close(p[1]);
	close(port);

	printf("splicetest: sent %llu bytes, %llu splices, %llu zero "
	    "returns, %llu bytes taken but not reported\n",
	    (unsigned long long)offset, (unsigned long long)nsplices,
	    (unsigned long long)nzero, (unsigned long long)nlost);
	fflush(stdout);
	return nlost == 0 && nzero == 0 ? 0 : 1;
}

/* The stream offset whose 8 bytes start at p, if they are stream data. */
static int
stream_where(const unsigned char *p, size_t avail, uint64_t near,
    uint64_t *where)
{
	uint64_t	 rec = 0, o;
	size_t		 k, i;

	/* Try each alignment; the bytes must form a record at rec*8+k. */
	for (k = 0; k < 8 && k + 8 <= avail; k++) {
		rec = 0;
		for (i = 0; i < 8; i++)
			rec |= (uint64_t)p[k + i] << (8 * i);
		if (rec > near / 8 + (1ULL << 32))
			continue;
		o = rec * 8 - k;
		for (i = 0; i < 16 && i < avail; i++)
			if (p[i] != stream_byte(o + i))
				break;
		if (i == 16 || i == avail) {
			*where = o;
			return 0;
		}
	}
	return -1;
}

static int
check_main(const char *sock, unsigned long long total)
{
	static unsigned char	 buf[65536];
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	uint64_t		 got = 0, where, next_pause = 256 * 1024;
	ssize_t			 n, i;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof(sun.sun_path))
		errx(2, "socket path too long");
	memcpy(sun.sun_path, sock, strlen(sock));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(2, "%s", sock);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < total) {
		if (poll(&pfd, 1, 20000) != 1) {
			printf("check: %llu of %llu bytes, then nothing for "
			    "20 s\n", (unsigned long long)got, total);
			return 1;
		}
		if ((n = read(fd, buf, sizeof(buf))) <= 0) {
			printf("check: %llu of %llu bytes, then %s\n",
			    (unsigned long long)got, total,
			    n == 0 ? "end of file" : strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++)
			if (buf[i] != stream_byte(got + i))
				break;
		if (i < n) {
			printf("check: wrong byte at offset %llu",
			    (unsigned long long)(got + i));
			if (stream_where(buf + i, n - i, got + i, &where) == 0)
				printf(": stream data from offset %llu "
				    "(%lld bytes %s)\n",
				    (unsigned long long)where,
				    (long long)(where - (got + i)),
				    where > got + i ? "missing" : "repeated");
			else
				printf(": not stream data (0x%02x, 0x%02x "
				    "expected)\n", buf[i],
				    stream_byte(got + i));
			return 1;
		}
		got += n;
		if (got >= next_pause) {
			struct timespec ts = { 0, 50 * 1000000L };

			if (next_pause % (8 * CHUNK) == 0)
				ts.tv_nsec = 700 * 1000000L;
			nanosleep(&ts, NULL);
			next_pause += 256 * 1024;
		}
	}
	printf("check: %llu bytes exact\n", (unsigned long long)got);
	return 0;
}

int
main(int argc, char *argv[])
{
	char		*end;
	long long	 v;

	if (argc == 5 && strcmp(argv[1], "send") == 0) {
		v = strtoll(argv[3], &end, 10);
		if (*end != '\0' || v < 1 || v > 4096)
			errx(2, "MIB %s: not 1 to 4096", argv[3]);
		return send_main(argv[2], (long)v, argv[4]);
	}
	if (argc == 4 && strcmp(argv[1], "check") == 0) {
		v = strtoll(argv[3], &end, 10);
		if (*end != '\0' || v < 1)
			errx(2, "BYTES %s: not a positive number", argv[3]);
		return check_main(argv[2], (unsigned long long)v);
	}
	fprintf(stderr, "usage: splicetest send PORT_NAME MIB PHASES | "
	    "check SOCKET BYTES\n");
	return 2;
}
