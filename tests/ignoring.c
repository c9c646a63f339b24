/*
 * tests/ignoring SIGNUM... -- COMMAND [ARG...]
 *
 * Runs COMMAND with each SIGNUM set to SIG_IGN, as a careless supervisor
 * might leave them; a disposition of SIG_IGN outlives execve.  The system
 * call is used, not sigaction(3): glibc refuses its own 32 and 33.  For the
 * check that commands started by the daemons get none of them.
 */
#include <sys/syscall.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	unsigned long	 kign[8];	/* kernel sigaction: SIG_IGN, no flags */
	char		*end;
	long		 s;
	int		 i;

	memset(kign, 0, sizeof(kign));
	kign[0] = (unsigned long)SIG_IGN;
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		s = strtol(argv[i], &end, 10);
		if (*end != '\0' || s < 1 || s >= NSIG || s == SIGKILL ||
		    s == SIGSTOP) {
			fprintf(stderr, "ignoring: bad signal number %s\n",
			    argv[i]);
			return 125;
		}
		if (syscall(SYS_rt_sigaction, (int)s, kign, NULL,
		    (NSIG - 1) / 8) == -1) {
			perror("ignoring: rt_sigaction");
			return 125;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: ignoring SIGNUM... -- COMMAND [ARG...]\n");
		return 125;
	}
	execvp(argv[i + 1], argv + i + 1);
	perror(argv[i + 1]);
	return 127;
}
