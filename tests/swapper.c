/*
 * swapper: the attacker of tests/policy.sh's race, and a static program to
 * run as a command.
 *
 * Usage:
 *	swapper exchange A B STOPFILE	swaps directories A and B with
 *		renameat2(RENAME_EXCHANGE) as fast as it can, until STOPFILE
 *		exists (looked at every 4096 swaps); prints the swaps done.
 *	swapper fds			prints the fds it has open, one a line
 *		(built static: a command that is a program, not a script).
 *
 * Exits 0, or 1 with a message when it cannot do its job: a swapper whose
 * renameat2 fails at once would leave a race test nothing to find.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
exchange(const char *a, const char *b, const char *stop)
{
	unsigned long	 n = 0;

	for (;;) {
		if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == -1) {
			perror("swapper: renameat2");
			return 1;
		}
		if (++n % 4096 == 0 && access(stop, F_OK) == 0)
			break;
	}
	/* An even count leaves A and B where they were. */
	if (n % 2 == 1 &&
	    renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == -1) {
		perror("swapper: renameat2");
		return 1;
	}
	printf("%lu\n", n);
	return 0;
}

static int
fds(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 self;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		perror("swapper: /proc/self/fd");
		return 1;
	}
	self = dirfd(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && atoi(de->d_name) != self)
			printf("%s\n", de->d_name);
	closedir(d);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc == 5 && strcmp(argv[1], "exchange") == 0)
		return exchange(argv[2], argv[3], argv[4]);
	if (argc == 2 && strcmp(argv[1], "fds") == 0)
		return fds();
	fprintf(stderr, "usage: swapper exchange A B STOPFILE | swapper fds\n");
	return 1;
}
