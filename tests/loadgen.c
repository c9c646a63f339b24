/*
 * loadgen: drives the daemons for tests/load.sh, speaking the protocol
 * through common/proto.c, with blocking sockets and a deadline on every
 * wait.
 *
 *	loadgen calls SOCKET TARGET N
 *		N calls, each on its own connection to a daemon's control
 *		socket: HELLO, PING for TARGET (a guest, or "" for the host),
 *		PONG, close.  Exits 0 if every call got its PONG.
 *	loadgen sessions PORT N
 *		A guest daemon that comes and goes N times: connects to PORT
 *		(the guest end of a tests/vserial port), says HELLO with a
 *		fresh nonce, waits for the host's HELLO_ACK, sends a PING and
 *		waits for its PONG, and hangs up.
 *	loadgen flood PORT JOBS SECONDS
 *		A hostile guest on PORT (guest-to-host): after the handshake
 *		it opens JOBS calls of "stream 60000000", grants each output
 *		stream the most credit the protocol allows, and never reads
 *		again; every 0.2 s it says HELLO (so it is not taken for dead)
 *		and sends 100 PINGs whose answers it leaves unread.  Exits 0
 *		after SECONDS, 1 if a write blocks for more than 5 s.
 *
 * Exit status 2 on a usage error, 1 on any failure, with a message.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "peer.h"

#define WAIT_MS		PEER_WAIT_MS	/* the longest any answer may take */

static void
send_ping(int fd, uint32_t tag, uint32_t id, const char *target)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	m.m_tag = tag;
	m.m.query.qu_id = id;
	strlcpy(m.m.query.qu_target, target, sizeof(m.m.query.qu_target));
	peer_send(fd, &m);
}

/* Waits for the answer to request id: 0 for a PONG, -1 for anything else. */
static int
await_pong(int fd, struct buf *in, uint32_t id)
{
	struct proto_msg	 m;
	int			 rv;

	for (;;) {
		if (peer_recv(fd, in, &m, WAIT_MS) == -1)
			return -1;
		if ((m.m_type == MSG_PONG && m.m.ref.re_id == id) ||
		    (m.m_type == MSG_EXIT && m.m.exit.ex_id == id)) {
			rv = m.m_type == MSG_PONG ? 0 : -1;
			if (rv == -1)
				warnx("call %u failed: %s", id,
				    m.m.exit.ex_message);
			proto_msg_free(&m);
			return rv;
		}
		proto_msg_free(&m);
	}
}

static long
count(const char *s, long max)
{
	const char	*errstr;
	long		 n = (long)strtonum(s, 1, max, &errstr);

	if (errstr != NULL)
		errx(2, "%s: %s", s, errstr);
	return n;
}

static int
do_calls(const char *path, const char *target, long n)
{
	struct buf	 in = { 0 };
	uint32_t	 peer;
	long		 i, failed = 0;
	int		 fd;

	for (i = 0; i < n; i++) {
		if ((fd = peer_dial(path, 0)) == -1)
			err(1, "%s", path);
		buf_clear(&in);
		if ((peer = peer_handshake(fd, &in, arc4random() | 1,
		    "loadgen")) == 0)
			failed++;
		else {
			send_ping(fd, peer, 1, target);
			if (await_pong(fd, &in, 1) == -1)
				failed++;
		}
		close(fd);
	}
	buf_free(&in);
	if (failed > 0)
		errx(1, "%ld of %ld calls failed", failed, n);
	return 0;
}

static int
do_sessions(const char *path, long n)
{
	struct buf	 in = { 0 };
	uint32_t	 peer;
	uint64_t	 give_up;
	long		 i;
	int		 fd;

	for (i = 0; i < n; i++) {
		/* vserial refuses a new client until it saw the last go. */
		give_up = now_ms() + WAIT_MS;
		for (;;) {
			buf_clear(&in);
			if ((fd = peer_dial(path, 0)) != -1) {
				peer = peer_handshake(fd, &in,
				    arc4random() | 1, "loadgen");
				if (peer != 0)
					break;
				close(fd);
			}
			if (now_ms() > give_up)
				errx(1, "session %ld: no handshake", i);
			usleep(1000);
		}
		send_ping(fd, peer, 1, "");
		if (await_pong(fd, &in, 1) == -1)
			errx(1, "session %ld: no PONG", i);
		close(fd);
	}
	buf_free(&in);
	return 0;
}

static void
alarm_cb(int sig)
{
	(void)sig;
	dprintf(2, "loadgen: a write blocked: the daemon stopped reading\n");
	_exit(1);
}

static int
do_flood(const char *path, long jobs, long secs)
{
	static char		*argv[] = { "stream", "60000000", NULL };
	struct proto_msg	 m;
	struct buf		 in = { 0 };
	uint32_t		 peer, id = 1000;
	uint64_t		 end = now_ms() + (uint64_t)secs * 1000;
	long			 i, k;
	int			 fd, s;

	if ((fd = peer_dial(path, 0)) == -1)
		err(1, "%s", path);
	if ((peer = peer_handshake(fd, &in, 0x5eed, "loadgen")) == 0)
		errx(1, "no handshake");
	buf_free(&in);
	for (i = 1; i <= jobs; i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = MSG_OPEN;
		m.m_tag = peer;
		m.m.open.op_id = (uint32_t)i;
		m.m.open.op_argc = 2;
		m.m.open.op_argv = argv;
		peer_send(fd, &m);
		for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
			memset(&m, 0, sizeof(m));
			m.m_type = MSG_CREDIT;
			m.m_tag = peer;
			m.m.credit.cr_id = (uint32_t)i;
			m.m.credit.cr_stream = (uint32_t)s;
			m.m.credit.cr_bytes = PROTO_MAX_CREDIT - PROTO_WINDOW;
			peer_send(fd, &m);
		}
	}
	signal(SIGALRM, alarm_cb);
	while (now_ms() < end) {
		alarm(5);
		peer_hello(fd, MSG_HELLO, 0x5eed, peer, "loadgen");
		for (k = 0; k < 100; k++)
			send_ping(fd, peer, id++, "");
		alarm(0);
		usleep(200000);
	}
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "calls") == 0)
		return do_calls(argv[2], argv[3], count(argv[4], 10000000));
	if (argc == 4 && strcmp(argv[1], "sessions") == 0)
		return do_sessions(argv[2], count(argv[3], 10000000));
	if (argc == 5 && strcmp(argv[1], "flood") == 0)
		return do_flood(argv[2], count(argv[3], 1000),
		    count(argv[4], 3600));
	fprintf(stderr, "usage: loadgen calls SOCKET TARGET N\n"
	    "       loadgen sessions PORT N\n"
	    "       loadgen flood PORT JOBS SECONDS\n");
	return 2;
}
