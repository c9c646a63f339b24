/*
 * journal.c's datagrams, read back from a socket bound here as journald's
 * would be (no journald runs in the test environment): the native
 * protocol's two forms, KEY=value and KEY, a 64-bit little-endian length,
 * the value.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal.h"

static int
bound(char *path, size_t len)
{
	struct sockaddr_un	 sun;
	int			 fd;

	snprintf(path, len, "/tmp/test_journal.%d", (int)getpid());
	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

Test(journal, both_forms_read_back)
{
	static const unsigned char	 want[] =
	    "MESSAGE=audit: a line\n"
	    "NEGOTIATOR_ARGV\n\x07\0\0\0\0\0\0\0a\nb \"c\"\n"
	    "EMPTY=\n";
	struct journal_entry		 je;
	unsigned char			 got[4096];
	char				 path[108];
	ssize_t				 n;
	int				 fd = bound(path, sizeof(path));

	memset(&je, 0, sizeof(je));
	journal_add(&je, "MESSAGE", "audit: a line");
	journal_add(&je, "NEGOTIATOR_ARGV", "a\nb \"c\"");
	journal_add(&je, "EMPTY", "");
	cr_assert_eq(journal_send(path, &je), 0);
	n = recv(fd, got, sizeof(got), MSG_DONTWAIT);
	cr_assert_eq(n, (ssize_t)sizeof(want) - 1);
	cr_assert_eq(memcmp(got, want, sizeof(want) - 1), 0);
	close(fd);
	unlink(path);
}

Test(journal, too_big_or_nobody_there_fails)
{
	struct journal_entry	 je;
	char			*big = malloc(JOURNAL_MAX_ENTRY);
	unsigned char		 buf[16];

	memset(big, 'x', JOURNAL_MAX_ENTRY - 1);
	big[JOURNAL_MAX_ENTRY - 1] = '\0';
	memset(&je, 0, sizeof(je));
	journal_add(&je, "MESSAGE", big);
	cr_assert_eq(journal_send("/nonexistent/socket", &je), -1);
	cr_assert_eq(journal_encode(&je, buf, sizeof(buf)), 0);
	memset(&je, 0, sizeof(je));
	journal_add(&je, "MESSAGE", "x");
	cr_assert_eq(journal_send("/nonexistent/socket", &je), -1);
	free(big);
}
