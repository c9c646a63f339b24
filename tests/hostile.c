/*
 * hostile: a fake peer for tests/hostile.sh, doing the attacks of issue 9
 * on a daemon's channel.  It speaks the protocol through common/proto.c,
 * with blocking sockets and a deadline on every wait.  PORT is the end of
 * a tests/vserial port the peer would hold: the guest end of
 * negotiator-guest-to-host.0 to attack the host daemon, the host end of
 * negotiator-host-to-guest.0 to attack the guest daemon.
 *
 *	hostile cost PORT KIND BYTES [PID]
 *		After the handshake, sends BYTES of input of the given KIND,
 *		then 64 KiB + 24 zero bytes (which end any frame left under
 *		way) and a PING, and waits for its PONG.  Prints "KIND bytes
 *		N wall_ms W cpu_ms C", C being the CPU time that process PID
 *		(the daemon) spent meanwhile.  Kinds:
 *		  valid	      DATA frames of 32 KiB for no request (the baseline)
 *		  pattern     "NEGO\0\1\0\0" repeated: a candidate every 8 bytes
 *		  planted     random bytes with a magic every 16 bytes or so
 *		  hdrgood     frames of the largest length with a good header
 *			      check and a bad payload check
 *		  nested      such a frame whose payload is more such headers,
 *			      each claiming the rest of the frame and more
 *		  interleaved valid frames of random sizes between garbage
 *		  bytewise    valid frames, one byte a write
 *		  dribble     a header of the largest length with a good check,
 *			      2.2 s of silence (the frame is stalled, input
 *			      resumes after a gap), then BYTES one a write
 *	hostile jobs PORT COMMAND ROUNDS PER_ROUND
 *		ROUNDS times: a new session (HELLO with a fresh nonce), then
 *		PER_ROUND OPENs of COMMAND, whose answers it counts without
 *		waiting for the commands to end.
 *		Prints "refused N answers M" (N: answers that say "queue
 *		full", the daemon's refusal past its bound); fails if a round
 *		got no answer at all.
 *	hostile malformed PORT
 *		Each malformed OPEN of issue 9 (NUL in an argument, empty
 *		argv, 257 arguments, a frame beyond 64 KiB, an argument that
 *		is no string, msgpack cut short) must get an EXIT of kind
 *		EXIT_FAILED within 5 s; prints one line per case.
 *	hostile flood PORT KIND SECONDS PID [COMMAND]
 *		After the handshake, floods the daemon (process PID) for
 *		SECONDS as fast as it takes the input (issue 18), and prints
 *		"KIND frames N answers A wall_ms W cpu_ms C busy_ms B" (C as
 *		for cost, B the time it wanted a CPU: busy_ms(); A counts the
 *		frames read, where the kind reads).
 *		Kinds:
 *		  list	      LIST requests, at most 500 unanswered at a time;
 *			      the answers are read
 *		  garbage     the "pattern" of cost; what comes back is read
 *		  stdin	      an OPEN of COMMAND without stdin, then stdin DATA
 *			      of 1 byte for it; nothing is read
 *		  ended	      an OPEN of COMMAND with stdin, its end, 200,000
 *			      PINGs (the answers fill the daemon's queue),
 *			      then as for stdin; nothing is read
 *		  hello	      200,000 PINGs, then a HELLO of the session every
 *			      0.9 x COMMAND seconds (the daemon's
 *			      --peer-timeout); nothing is read
 *		After list and garbage, a PING follows (after 64 KiB + 24
 *		zero bytes), and the flood ends with its PONG: what the
 *		daemon had not decoded yet is part of the flood.
 *
 * Exit status 0 on success, 1 on a failure (with a message), 2 on a usage
 * error.
 */
#include <sys/endian.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "clock.h"
#include "peer.h"

#define WAIT_MS		PEER_WAIT_MS	/* the longest an answer may take */
#define COST_WAIT_MS	120000	/* ... after a costly stream */

/* Connects to path, retrying for 5 s while the end is busy. */
static int
dial(const char *path)
{
	int	 fd;

	if ((fd = peer_dial(path, 5000)) == -1)
		err(1, "%s", path);
	return fd;
}

/* The peer's nonce for a fresh one of ours; exits if there is none. */
static uint32_t
handshake(int fd, struct buf *in)
{
	uint32_t	 peer;

	if ((peer = peer_handshake(fd, in, arc4random() | 1, "hostile")) == 0)
		errx(1, "end of file during the handshake");
	return peer;
}

/*
 * A header of the given type, tag and length whose own check is good
 * (before protocol 5, which had none, just the fields) and whose payload
 * check is whatever checksum_frame gives for (payload, plen).
 */
static void
header(uint8_t *h, uint16_t type, uint32_t tag, uint32_t len,
    const uint8_t *payload, size_t plen)
{
	memset(h, 0, PROTO_HDR_LEN);
	be32enc(h, PROTO_MAGIC);
	h[4] = type >> 8;
	h[5] = type & 0xff;
	be32enc(h + 8, tag);
	be32enc(h + 12, len);
	be32enc(h + 16, checksum_frame(h, payload, plen));
#ifdef PROTO_HDR_CHECKED
	be32enc(h + PROTO_HDR_CHECKED, checksum_header(h));
#endif
}

static void
random_bytes(uint8_t *p, size_t n)
{
	arc4random_buf(p, n);
}

/* Appends one valid DATA frame of n bytes for a request that is not. */
static void
valid_frame(struct buf *b, uint32_t tag, size_t n)
{
	static uint8_t		 bytes[PROTO_MAX_DATA];
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m_tag = tag;
	m.m.data.da_id = 0xdead;
	m.m.data.da_stream = STREAM_STDIN;
	m.m.data.da_len = n;
	m.m.data.da_bytes = bytes;
	proto_pack(b, &m);
}

/* Appends about want bytes of kind to b. */
static void
generate(struct buf *b, const char *kind, uint32_t tag, size_t want)
{
	static const uint8_t	 fake[8] = { 'N', 'E', 'G', 'O', 0, 1, 0, 0 };
	uint8_t			*p;
	size_t			 start = buf_pending(b), i, n, off;

	if (strcmp(kind, "valid") == 0 || strcmp(kind, "bytewise") == 0) {
		while (buf_pending(b) - start < want)
			valid_frame(b, tag, PROTO_MAX_DATA);
	} else if (strcmp(kind, "pattern") == 0) {
		while (buf_pending(b) - start < want)
			buf_append(b, fake, sizeof(fake));
	} else if (strcmp(kind, "planted") == 0) {
		p = buf_reserve(b, want);
		random_bytes(p, want);
		for (off = 0; off + 4 <= want; off += 8 + arc4random() % 16)
			be32enc(p + off, PROTO_MAGIC);
		buf_commit(b, want);
	} else if (strcmp(kind, "hdrgood") == 0) {
		while (buf_pending(b) - start < want) {
			p = buf_reserve(b, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
			random_bytes(p + PROTO_HDR_LEN, PROTO_MAX_PAYLOAD);
			header(p, MSG_OPEN, tag, PROTO_MAX_PAYLOAD, p, 0);
			buf_commit(b, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
		}
	} else if (strcmp(kind, "nested") == 0) {
		/* Each header claims the largest length, a header apart. */
		while (buf_pending(b) - start < want) {
			n = PROTO_HDR_LEN + PROTO_MAX_PAYLOAD;
			p = buf_reserve(b, n);
			for (off = 0; off + PROTO_HDR_LEN <= n;
			    off += PROTO_HDR_LEN)
				header(p + off, MSG_OPEN, tag,
				    PROTO_MAX_PAYLOAD, p, 0);
			memset(p + off, 0, n - off);
			buf_commit(b, n);
		}
	} else if (strcmp(kind, "interleaved") == 0) {
		while (buf_pending(b) - start < want) {
			valid_frame(b, tag, arc4random() % PROTO_MAX_DATA);
			n = arc4random() % 4096;
			p = buf_reserve(b, n + 4);
			random_bytes(p, n + 4);
			for (i = 0; i + 4 <= n; i += 64 + arc4random() % 64)
				be32enc(p + i, PROTO_MAGIC);
			buf_commit(b, n);
		}
	} else if (strcmp(kind, "dribble") == 0) {
		p = buf_reserve(b, want);
		memset(p, 'z', want);
		buf_commit(b, want);
	} else
		errx(2, "%s: unknown kind", kind);
}

/* utime + stime of pid, in ms; 0 if pid is 0 or unreadable. */
static double
cpu_ms(pid_t pid)
{
	char			 path[64], line[1024], *p;
	unsigned long		 ut, st;
	FILE			*f;
	int			 i;

	if (pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p == NULL || (p = strrchr(line, ')')) == NULL)
		return 0;
	/* Fields after the name: state is the 3rd, utime the 14th. */
	for (i = 3; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
}

/*
 * The time pid wanted a CPU, in ms: on one (as cpu_ms) or waiting in a run
 * queue for one (/proc/PID/schedstat).  On a loaded machine a process
 * that never sleeps gets only a part of a core, but it is runnable all
 * along: this, not its CPU time, shows it holding the loop.  0 if pid is
 * 0 or unreadable.
 */
static double
busy_ms(pid_t pid)
{
	char			 path[64];
	unsigned long long	 run, wait;
	FILE			*f;
	int			 n;

	if (pid == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fscanf(f, "%llu %llu", &run, &wait);
	fclose(f);
	return n == 2 ? (run + wait) / 1e6 : 0;
}

static long
number(const char *s, long min, long max)
{
	const char	*errstr;
	long		 n = (long)strtonum(s, min, max, &errstr);

	if (errstr != NULL)
		errx(2, "%s: %s", s, errstr);
	return n;
}

static int
do_cost(const char *path, const char *kind, size_t bytes, pid_t pid)
{
	struct proto_msg	 m;
	struct buf		 in = { 0 }, out = { 0 };
	uint8_t			 h[PROTO_HDR_LEN];
	uint32_t		 peer;
	uint64_t		 t0;
	double			 c0;
	size_t			 i, sent;
	int			 fd, one = !strcmp(kind, "bytewise") ||
				    !strcmp(kind, "dribble");

	fd = dial(path);
	peer = handshake(fd, &in);
	generate(&out, kind, peer, bytes);
	if (!strcmp(kind, "dribble")) {
		header(h, MSG_DATA, peer, PROTO_MAX_PAYLOAD, h, 0);
		peer_send_raw(fd, h, sizeof(h));
		usleep(2200000);
	}
	t0 = now_ns();
	c0 = cpu_ms(pid);
	sent = buf_pending(&out);
	if (one)
		for (i = 0; i < sent; i++)
			peer_send_raw(fd, buf_head(&out) + i, 1);
	else
		peer_send_raw(fd, buf_head(&out), sent);
	buf_clear(&out);
	memset(buf_reserve(&out, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD), 0,
	    PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
	peer_send_raw(fd, buf_head(&out), PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	m.m_tag = peer;
	m.m.query.qu_id = 77;
	peer_send(fd, &m);
	for (;;) {
		if (peer_recv(fd, &in, &m, COST_WAIT_MS) == -1)
			errx(1, "%s: end of file before the PONG", kind);
		if (m.m_type == MSG_PONG && m.m.ref.re_id == 77)
			break;
		proto_msg_free(&m);
	}
	printf("%s bytes %zu wall_ms %.0f cpu_ms %.0f\n", kind, sent,
	    (now_ns() - t0) / 1e6, cpu_ms(pid) - c0);
	buf_free(&in);
	buf_free(&out);
	close(fd);
	return 0;
}

static int
do_jobs(const char *path, const char *command, long rounds, long per_round)
{
	char			*argv[] = { (char *)command, NULL };
	struct proto_msg	 m;
	struct buf		 in = { 0 };
	uint32_t		 peer, id = 1;
	long			 r, i, refused = 0, answers, total = 0;
	int			 fd;

	fd = dial(path);
	for (r = 0; r < rounds; r++) {
		peer = handshake(fd, &in);
		for (i = 0; i < per_round; i++) {
			memset(&m, 0, sizeof(m));
			m.m_type = MSG_OPEN;
			m.m_tag = peer;
			m.m.open.op_id = id++;
			m.m.open.op_argc = 1;
			m.m.open.op_argv = argv;
			peer_send(fd, &m);
		}
		/* Refusals come at once; started commands send nothing. */
		answers = 0;
		for (;;) {
			struct pollfd	 pfd = { fd, POLLIN, 0 };

			/*
			 * The daemon serves a peer in its share (channel.h,
			 * rule 5): starting 16 commands takes a while.
			 */
			if (buf_pending(&in) == 0 &&
			    poll(&pfd, 1, answers == 0 ? 5000 : 500) == 0)
				break;
			if (peer_recv(fd, &in, &m, WAIT_MS) == -1)
				errx(1, "end of file");
			if (m.m_type == MSG_EXIT && m.m_tag != 0) {
				answers++;
				if (strstr(m.m.exit.ex_message, "queue full"))
					refused++;
			}
			proto_msg_free(&m);
		}
		if (answers == 0)
			errx(1, "round %ld: no answer to %ld OPENs", r + 1,
			    per_round);
		total += answers;
	}
	printf("refused %ld answers %ld\n", refused, total);
	buf_free(&in);
	close(fd);
	return 0;
}

/* Sends a frame of type OPEN around payload (with both checks good). */
static void
send_open_raw(int fd, uint32_t tag, const uint8_t *payload, size_t plen)
{
	uint8_t	 h[PROTO_HDR_LEN];

	header(h, MSG_OPEN, tag, (uint32_t)plen, payload, plen);
	peer_send_raw(fd, h, sizeof(h));
	peer_send_raw(fd, payload, plen);
}

/* msgpack of an OPEN [id, "", 0, 0, [args]] with nargs strings s. */
static size_t
open_payload(uint8_t *p, uint32_t id, long nargs, const char *s, size_t slen)
{
	size_t	 n = 0;
	long	 i;

	p[n++] = 0x95;
	p[n++] = 0xce;
	be32enc(p + n, id);
	n += 4;
	p[n++] = 0xa0;	/* "" */
	p[n++] = 0x00;
	p[n++] = 0x00;
	if (nargs < 16)
		p[n++] = 0x90 | (uint8_t)nargs;
	else {
		p[n++] = 0xdc;
		p[n++] = (uint8_t)(nargs >> 8);
		p[n++] = nargs & 0xff;
	}
	for (i = 0; i < nargs; i++) {
		p[n++] = 0xa0 | (uint8_t)slen;	/* slen < 32 */
		memcpy(p + n, s, slen);
		n += slen;
	}
	return n;
}

static int
do_malformed(const char *path)
{
	static uint8_t		 p[PROTO_MAX_PAYLOAD + 4096];
	static const char	*names[] = { "NUL in an argument",
				    "empty argv", "257 arguments",
				    "frame beyond 64 KiB", "argument not a string",
				    "msgpack cut short" };
	struct proto_msg	 m;
	struct buf		 in = { 0 };
	uint32_t		 peer, id;
	size_t			 n;
	int			 fd, k, bad = 0;

	fd = dial(path);
	peer = handshake(fd, &in);
	for (k = 0; k < 6; k++) {
		id = 500 + k;
		switch (k) {
		case 0:
			n = open_payload(p, id, 2, "a\0b", 3);
			break;
		case 1:
			n = open_payload(p, id, 0, "", 0);
			break;
		case 2:
			n = open_payload(p, id, 257, "x", 1);
			break;
		case 3:
			n = open_payload(p, id, 1, "echo", 4);
			memset(p + n, 'x', sizeof(p) - n);
			n = sizeof(p);
			break;
		case 4:
			n = open_payload(p, id, 1, "echo", 4) - 4;
			p[n - 1] = 0x2a;	/* [42] for argv */
			break;
		default:
			n = open_payload(p, id, 1, "echo", 4) - 3;
			break;
		}
		send_open_raw(fd, peer, p, n);
		for (;;) {
			if (peer_recv(fd, &in, &m, WAIT_MS) == -1)
				errx(1, "end of file");
			if (m.m_type == MSG_EXIT && m.m.exit.ex_id == id)
				break;
			proto_msg_free(&m);
		}
		printf("%s: %s: %s\n", names[k], m.m.exit.ex_kind ==
		    EXIT_FAILED ? "refused" : "WRONG KIND",
		    m.m.exit.ex_message);
		if (m.m.exit.ex_kind != EXIT_FAILED)
			bad++;
		proto_msg_free(&m);
	}
	buf_free(&in);
	close(fd);
	return bad > 0;
}

/* Appends a frame of type with id (and for OPEN, argv and flags) to b. */
static void
pack_request(struct buf *b, uint16_t type, uint32_t tag, uint32_t id,
    char **argv, uint32_t flags)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m_tag = tag;
	if (type == MSG_OPEN) {
		m.m.open.op_id = id;
		m.m.open.op_argc = 1;
		m.m.open.op_argv = argv;
		m.m.open.op_flags = flags;
	} else
		m.m.query.qu_id = id;
	proto_pack(b, &m);
}

static void
pack_stdin(struct buf *b, uint32_t tag, uint32_t id, size_t n)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m_tag = tag;
	m.m.data.da_id = id;
	m.m.data.da_stream = STREAM_STDIN;
	m.m.data.da_bytes = (const uint8_t *)"x";
	m.m.data.da_len = n;
	proto_pack(b, &m);
}

/*
 * Writes what b holds on the non-blocking fd, reading (and dropping) what
 * comes back if `reading`, until b is empty or the deadline; adds what was
 * read to *got.  0, or -1 at the deadline.
 */
/* Counts the whole frames at the head of in, and drops them. */
static uint64_t
flood_count(struct buf *in)
{
	uint64_t	 n = 0;
	size_t		 len;

	while (buf_pending(in) >= PROTO_HDR_LEN) {
		len = PROTO_HDR_LEN + be32dec(buf_head(in) + 12);
		if (buf_pending(in) < len)
			break;
		buf_consume(in, len);
		n++;
	}
	return n;
}

static int
flood_write(int fd, struct buf *b, int reading, uint64_t deadline,
    struct buf *in, uint64_t *got)
{
	struct pollfd	 pfd;
	uint64_t	 now;
	ssize_t		 n;

	while (buf_pending(b) > 0) {
		if ((now = now_ns()) >= deadline)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT | (reading ? POLLIN : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		if (pfd.revents & (POLLIN | POLLHUP)) {
			n = read(fd, buf_reserve(in, 65536), 65536);
			if (n == 0)
				errx(1, "end of file during the flood");
			if (n > 0) {
				buf_commit(in, (size_t)n);
				*got += flood_count(in);
			}
		}
		if (pfd.revents & POLLOUT) {
			n = write(fd, buf_head(b), buf_pending(b));
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				err(1, "write");
			if (n > 0)
				buf_consume(b, (size_t)n);
		}
	}
	return 0;
}

static int
do_flood(const char *path, const char *kind, double seconds, pid_t pid,
    const char *command)
{
	char		*argv[] = { (char *)command, NULL };
	struct buf	 in = { 0 }, out = { 0 };
	struct proto_msg m;
	uint32_t	 peer, id = 1, nonce = arc4random() | 1;
	uint64_t	 t0, deadline, got = 0, frames = 0, next_hello = 0;
	double		 c0, b0, interval = 0;
	int		 fd, i, reading = !strcmp(kind, "list") ||
			    !strcmp(kind, "garbage");
	int		 data = !strcmp(kind, "stdin") || !strcmp(kind, "ended");

	if (strcmp(kind, "list") && strcmp(kind, "garbage") && !data &&
	    strcmp(kind, "hello"))
		errx(2, "%s: unknown kind", kind);
	if ((data || !strcmp(kind, "hello")) && command == NULL)
		errx(2, "%s: needs COMMAND", kind);
	if (!strcmp(kind, "hello") &&
	    (interval = strtod(command, NULL) * 0.9) <= 0)
		errx(2, "%s: not a timeout", command);
	fd = dial(path);
	if ((peer = peer_handshake(fd, &in, nonce, "hostile")) == 0)
		errx(1, "end of file during the handshake");
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	t0 = now_ns();
	c0 = cpu_ms(pid);
	b0 = busy_ms(pid);
	deadline = t0 + (uint64_t)(seconds * 1e9);
	if (data)
		pack_request(&out, MSG_OPEN, peer, id, argv,
		    !strcmp(kind, "ended") ? OPEN_STDIN : 0);
	if (!strcmp(kind, "ended"))
		pack_stdin(&out, peer, id, 0);
	if (!strcmp(kind, "ended") || !strcmp(kind, "hello")) {
		for (i = 0; i < 200000; i++)
			pack_request(&out, MSG_PING, peer, 1000 + i, NULL, 0);
		frames += 200000;
	}
	for (;;) {
		if (!strcmp(kind, "list") && frames >= got + 500) {
			/* 500 unanswered: waits for answers. */
			struct pollfd	 pfd = { fd, POLLIN, 0 };
			ssize_t		 n;

			if (poll(&pfd, 1, 10) == 1) {
				n = read(fd, buf_reserve(&in, 65536), 65536);
				if (n == 0)
					errx(1, "end of file during the flood");
				if (n > 0) {
					buf_commit(&in, (size_t)n);
					got += flood_count(&in);
				}
			}
			if (now_ns() >= deadline)
				break;
			continue;
		}
		if (!strcmp(kind, "list"))
			for (i = 0; i < 100; i++, frames++)
				pack_request(&out, MSG_LIST, peer,
				    1000000 + (uint32_t)(frames % 100000),
				    NULL, 0);
		else if (!strcmp(kind, "garbage")) {
			generate(&out, "pattern", peer, 65536);
			frames++;
		} else if (data)
			for (i = 0; i < 1000; i++, frames++)
				pack_stdin(&out, peer, id, 1);
		else if (now_ns() >= next_hello) {
			/* The running session's HELLO: only an ACK is due. */
			memset(&m, 0, sizeof(m));
			m.m_type = MSG_HELLO;
			m.m.hello.he_version = PROTO_VERSION;
			m.m.hello.he_nonce = nonce;
			strlcpy(m.m.hello.he_name, "hostile",
			    sizeof(m.m.hello.he_name));
			proto_pack(&out, &m);
			frames++;
			next_hello = now_ns() + (uint64_t)(interval * 1e9);
		} else {
			usleep(20000);
			if (now_ns() >= deadline)
				break;
			continue;
		}
		if (flood_write(fd, &out, reading, deadline, &in, &got) == -1)
			break;
	}
	if (reading) {
		/* The end of any frame under way, a PING, and its PONG. */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		buf_clear(&out);
		buf_clear(&in);
		memset(buf_reserve(&out, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD), 0,
		    PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
		buf_commit(&out, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
		pack_request(&out, MSG_PING, peer, 77, NULL, 0);
		peer_send_raw(fd, buf_head(&out), buf_pending(&out));
		for (;;) {
			if (peer_recv(fd, &in, &m, COST_WAIT_MS) == -1)
				errx(1, "%s: end of file before the PONG", kind);
			if (m.m_type == MSG_PONG && m.m.ref.re_id == 77)
				break;
			proto_msg_free(&m);
		}
	}
	printf("%s frames %llu answers %llu wall_ms %.0f cpu_ms %.0f "
	    "busy_ms %.0f\n", kind, (unsigned long long)frames,
	    (unsigned long long)got, (now_ns() - t0) / 1e6, cpu_ms(pid) - c0,
	    busy_ms(pid) - b0);
	buf_free(&in);
	buf_free(&out);
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "cost") == 0)
		return do_cost(argv[2], argv[3],
		    (size_t)number(argv[4], 1, 1L << 32),
		    argc == 6 ? (pid_t)number(argv[5], 1, 1 << 30) : 0);
	if (argc == 6 && strcmp(argv[1], "jobs") == 0)
		return do_jobs(argv[2], argv[3], number(argv[4], 1, 1000),
		    number(argv[5], 1, 100000));
	if (argc == 3 && strcmp(argv[1], "malformed") == 0)
		return do_malformed(argv[2]);
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "flood") == 0)
		return do_flood(argv[2], argv[3], (double)number(argv[4], 1,
		    600), (pid_t)number(argv[5], 1, 1 << 30),
		    argc == 7 ? argv[6] : NULL);
	fprintf(stderr, "usage: hostile cost PORT KIND BYTES [PID]\n"
	    "       hostile jobs PORT COMMAND ROUNDS PER_ROUND\n"
	    "       hostile malformed PORT\n"
	    "       hostile flood PORT KIND SECONDS PID [COMMAND]\n");
	return 2;
}
