/*
 * Starting a command without copying the daemon: vfork(2), then execve(2).
 */
#ifndef LAUNCH_H
#define LAUNCH_H

#include <sys/types.h>

/*
 * Starts PATH with ARGV and ENVP in a new process group, in /, with fds
 * 0-2 from FDS and no other fd, every signal at SIG_DFL and none blocked.
 * Returns the child's pid, or -1 with errno if there is none.  If execve
 * fails, the child writes "negotiator: cannot run ARGV[0]: REASON" to
 * FDS[2] and exits 127 (not found) or 126.
 * Threads of the caller may run on meanwhile; the calling thread waits
 * until the child has called execve (or exited).
 */
pid_t	 launch_command(const char *path, char *const argv[],
	    char *const envp[], const int fds[3]);

#endif
