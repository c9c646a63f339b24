/*
 * Starting a command without copying the daemon: vfork(2), then execveat(2).
 */
#ifndef LAUNCH_H
#define LAUNCH_H

#include <sys/types.h>

/*
 * Starts the file open at EXEC_FD (O_PATH will do) with ARGV and ENVP, by
 * execveat(2), in a new process group, in /, with fds 0-2 from FDS and no
 * other fd (but fd 3, the file itself, for a script's interpreter), every
 * signal at SIG_DFL and none blocked; first it writes "0" to CGROUP_FD
 * (a cgroup.procs opened for writing), unless that is -1, so that the
 * command starts inside its cgroup.  Returns the child's pid, or -1 with
 * errno if there is none.  If the exec fails, the child writes
 * "negotiator: cannot run ARGV[0]: REASON" to FDS[2] and exits 127 (not
 * found) or 126; 125 if it cannot enter the cgroup.
 * Threads of the caller may run on meanwhile; the calling thread waits
 * until the child has called execve (or exited).
 * With LAUNCH_TTY, FDS[0] is a terminal (pty.c) that becomes the child's
 * controlling terminal, in a new session rather than a process group.
 */
#define LAUNCH_TTY	0x1
pid_t	 launch_command(int exec_fd, char *const argv[],
	    char *const envp[], const int fds[3], int cgroup_fd, int flags);

#endif
