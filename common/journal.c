/*
 * The journal's native protocol, written by hand: libsystemd is not one of
 * our dependencies, and an entry is one datagram of KEY=value lines (a
 * value that holds a newline is sent with its length instead), which
 * journald takes whole or not at all.  A daemon sends from its loop, so
 * the socket is non-blocking: a journal that is not reading loses the
 * entry (the caller falls back to stderr), it never stalls the daemon.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"

void
journal_add(struct journal_entry *je, const char *key, const char *value)
{
	if (je->je_count == JOURNAL_MAX_FIELDS)
		fatalx("%s: more than %d fields", __func__, JOURNAL_MAX_FIELDS);
	je->je_key[je->je_count] = key;
	je->je_value[je->je_count] = value;
	je->je_count++;
}

size_t
journal_encode(const struct journal_entry *je, unsigned char *buf,
    size_t buflen)
{
	size_t		 i, n = 0, klen, vlen;
	uint64_t	 le;

	for (i = 0; i < je->je_count; i++) {
		klen = strlen(je->je_key[i]);
		vlen = strlen(je->je_value[i]);
		if (n + klen + 1 + sizeof(le) + vlen + 1 > buflen)
			return 0;
		memcpy(buf + n, je->je_key[i], klen);
		n += klen;
		if (memchr(je->je_value[i], '\n', vlen) == NULL)
			buf[n++] = '=';
		else {
			buf[n++] = '\n';
			le = htole64((uint64_t)vlen);
			memcpy(buf + n, &le, sizeof(le));
			n += sizeof(le);
		}
		memcpy(buf + n, je->je_value[i], vlen);
		n += vlen;
		buf[n++] = '\n';
	}
	return n;
}

int
journal_send(const char *path, const struct journal_entry *je)
{
	static unsigned char	 buf[JOURNAL_MAX_ENTRY];
	struct sockaddr_un	 sun;
	size_t			 n;
	ssize_t			 sent;
	int			 fd, saved;

	if ((n = journal_encode(je, buf, sizeof(buf))) == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A socket per entry: a call's end is rare next to its frames. */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	sent = sendto(fd, buf, n, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    sizeof(sun));
	saved = errno;
	close(fd);
	errno = saved;
	return sent == (ssize_t)n ? 0 : -1;
}
