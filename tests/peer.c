/*
 * A blocking protocol peer for the test programs: see peer.h.
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "peer.h"
#include "unix.h"

int
peer_dial(const char *path, int patience_ms)
{
	uint64_t	 give_up = now_ms() + (uint64_t)patience_ms;
	int		 fd;

	while ((fd = unix_connect(path, 0)) == -1 && now_ms() < give_up)
		usleep(20000);
	return fd;
}

void
peer_send_raw(int fd, const void *p, size_t n)
{
	const uint8_t	*b = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			err(1, "write");
		b += w;
		n -= (size_t)w;
	}
}

void
peer_send(int fd, const struct proto_msg *m)
{
	struct buf	 b = { 0 };

	proto_pack(&b, m);
	peer_send_raw(fd, buf_head(&b), buf_pending(&b));
	buf_free(&b);
}

int
peer_recv(int fd, struct buf *in, struct proto_msg *m, int ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	const char	*why;
	size_t		 used;
	ssize_t		 n;

	for (;;) {
		switch (proto_parse(buf_head(in), buf_pending(in), m, &used,
		    &why)) {
		case PARSE_OK:
			buf_consume(in, used);
			if (m->m_type == MSG_DATA)	/* points into in */
				continue;
			return 0;
		case PARSE_INCOMPLETE:
			break;
		default:
			buf_consume(in, used);
			continue;
		}
		if (poll(&pfd, 1, ms) == 0)
			errx(1, "no answer in %d ms", ms);
		n = read(fd, buf_reserve(in, 65536), 65536);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf_commit(in, (size_t)n);
	}
}

void
peer_hello(int fd, uint16_t type, uint32_t nonce, uint32_t echo,
    const char *name)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m.hello.he_version = PROTO_VERSION;
	m.m.hello.he_nonce = nonce;
	m.m.hello.he_echo = echo;
	strlcpy(m.m.hello.he_name, name, sizeof(m.m.hello.he_name));
	peer_send(fd, &m);
}

uint32_t
peer_handshake(int fd, struct buf *in, uint32_t nonce, const char *name)
{
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	struct proto_msg	 m;
	uint32_t		 peer;
	uint64_t		 give_up = now_ms() + PEER_WAIT_MS;

	for (;;) {
		if (now_ms() > give_up)
			errx(1, "no HELLO_ACK in %d ms", PEER_WAIT_MS);
		peer_hello(fd, MSG_HELLO, nonce, 0, name);
		if (buf_pending(in) == 0 && poll(&pfd, 1, 200) == 0)
			continue;
		if (peer_recv(fd, in, &m, PEER_WAIT_MS) == -1)
			return 0;
		if (m.m_type == MSG_HELLO_ACK && m.m.hello.he_echo == nonce) {
			peer = m.m.hello.he_nonce;
			proto_msg_free(&m);
			return peer;
		}
		proto_msg_free(&m);
	}
}
