/*
 * Starting a command with vfork(2).  fork(2) copies the daemon's page
 * tables, and its parent then takes a copy-on-write fault for each page it
 * writes while the child lives: for the host daemon, linked with libvirt,
 * that made starting a command take 7 ms where vfork takes 4 (medians of its
 * own log, on this project's machine).  With vfork the child runs in the
 * parent's memory, the parent suspended, until its execve.  So the child
 * here only makes system calls and writes nothing but its own stack frame;
 * whatever it needs is ready before vfork.  The parent waits for the
 * child's execveat, which reads the file the runner has just checked,
 * through the descriptor the runner checked it by (and its interpreter):
 * a file system that hangs would hang the runner's own checks first.
 *
 * Signals: all are blocked from before vfork until the child has set every
 * signal the process handles or ignores back to SIG_DFL, so that no handler
 * of the parent runs in the child (in the parent's memory) and no SIG_IGN
 * outlives execve.  Then the child unblocks everything and runs the command.
 * Which signals to reset is read in the parent at each start (64 cheap
 * system calls), so that a disposition set at any time is honoured.
 */
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "launch.h"

/* What the child needs, prepared by the parent before vfork. */
struct launch_plan {
	unsigned char	 lp_reset[NSIG];	/* 1: set back to SIG_DFL */
	int		 lp_script;	/* the file starts with "#!" */
};

/*
 * Marks each signal that is handled or ignored.  glibc's sigaction refuses
 * the two signals it keeps for its threads (32 and 33), yet a SIG_IGN on
 * them, inherited from whoever started the daemon, would outlive execve:
 * what cannot be read is reset.
 */
static void
launch_prepare(struct launch_plan *lp, int exec_fd)
{
	struct sigaction sa;
	char		 path[32], magic[2];
	int		 s, fd;

	for (s = 1; s < NSIG; s++)
		lp->lp_reset[s] = s != SIGKILL && s != SIGSTOP &&
		    (sigaction(s, NULL, &sa) == -1 ||
		    sa.sa_flags & SA_SIGINFO || sa.sa_handler != SIG_DFL);
	/*
	 * A script cannot be run through a close-on-exec descriptor (its
	 * interpreter could not open it): execveat fails with ENOENT only
	 * after the kernel has set up the whole exec, which cost a TCG guest
	 * 4-6 ms of its vCPU a call (docs/benchmarks.md).  So whether the
	 * file is one is read here, through /proc as launch_interpreter
	 * reads it (exec_fd may be O_PATH), and the child tries the right
	 * way first.  If it cannot be read, the child finds out as before.
	 */
	lp->lp_script = 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", exec_fd);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) != -1) {
		lp->lp_script = pread(fd, magic, 2, 0) == 2 &&
		    magic[0] == '#' && magic[1] == '!';
		close(fd);
	}
}

/*
 * In the vfork child: signal S back to SIG_DFL, by the system call, which
 * takes glibc's own signals too.  An all-zero kernel sigaction is SIG_DFL,
 * no flags, an empty mask, whatever its layout.
 */
static void
launch_default(int s)
{
	unsigned long	 kdfl[8];

	memset(kdfl, 0, sizeof(kdfl));
	syscall(SYS_rt_sigaction, s, kdfl, NULL, (NSIG - 1) / 8);
}

/* In the vfork child: writes S to its stderr, or nowhere if it cannot. */
static void
launch_say(const char *s)
{
	ssize_t	 n = write(2, s, strlen(s));

	(void)n;
}

/* In the vfork child: "negotiator: cannot run ARGV0: WHY" on its stderr. */
static void
launch_fail(const char *argv0, const char *why)
{
	launch_say("negotiator: cannot run ");
	launch_say(argv0);
	launch_say(": ");
	launch_say(why);
	launch_say("\n");
}

/*
 * In the vfork child: the interpreter a script at fd 3 names on its "#!"
 * line, in out (printable ASCII; others as '?'); 0 if it names none.
 */
static int
launch_interpreter(char *out, size_t outlen)
{
	char	 line[256];
	ssize_t	 n, i;
	size_t	 o = 0;
	int	 fd;

	/* fd 3 may be O_PATH, which cannot be read: opened anew through /proc. */
	if ((fd = open("/proc/self/fd/3", O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = pread(fd, line, sizeof(line), 0);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	for (i = 2; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (; i < n && o + 1 < outlen && line[i] != ' ' && line[i] != '\t' &&
	    line[i] != '\n' && line[i] != '\0'; i++)
		out[o++] = line[i] > 0x20 && line[i] < 0x7f ? line[i] : '?';
	out[o] = '\0';
	return o > 0;
}

/* In the vfork child: system calls only; never returns. */
static void
launch_child(const struct launch_plan *lp, int exec_fd, char *const argv[],
    char *const envp[], const int fds[3], int cgroup_fd, int flags)
{
	sigset_t	 none;
	const char	*why;
	char		 interp[128];
	long		 fd, open_max;
	int		 from[3], s, saved;

	for (s = 1; s < NSIG; s++)
		if (lp->lp_reset[s])
			launch_default(s);
	sigemptyset(&none);
	/* A terminal's command leads a session: job control works in it. */
	if (flags & LAUNCH_TTY)
		setsid();
	else
		setpgid(0, 0);
	/*
	 * Each of FDS moved above 2 first, so that no dup2 below closes one
	 * still to be moved; the copies then lose close-on-exec in dup2.
	 */
	for (s = 0; s < 3; s++)
		if ((from[s] = fds[s] > 2 ? fds[s] :
		    fcntl(fds[s], F_DUPFD_CLOEXEC, 3)) == -1)
			_exit(125);
	for (s = 0; s < 3; s++)
		if (dup2(from[s], s) == -1)
			_exit(125);
	if ((flags & LAUNCH_TTY) && ioctl(0, TIOCSCTTY, 0) == -1) {
		launch_fail(argv[0], "cannot take its terminal");
		_exit(125);
	}
	/* Into the call's cgroup before anything of the command runs. */
	if (cgroup_fd != -1 && write(cgroup_fd, "0", 1) != 1) {
		launch_fail(argv[0], "cannot enter the call's cgroup");
		_exit(125);
	}
	/* The checked file at fd 3: a script's interpreter reads /dev/fd/3. */
	if ((exec_fd == 3 ? fcntl(3, F_SETFD, FD_CLOEXEC) :
	    dup3(exec_fd, 3, O_CLOEXEC)) == -1)
		_exit(125);
	/* Not closefrom(4): its fallback may allocate, in our parent's heap. */
	if (syscall(SYS_close_range, 4U, ~0U, 0U) == -1) {
		/* A kernel before 5.9: fd by fd (sysconf is getrlimit). */
		if ((open_max = sysconf(_SC_OPEN_MAX)) < 0 ||
		    open_max > 65536)
			open_max = 65536;
		for (fd = 4; fd < open_max; fd++)
			close((int)fd);
	}
	if (chdir("/") == -1)
		_exit(125);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/*
	 * Through the descriptor, not a path: what runs is what was checked.
	 * A program leaves fd 3 behind at exec (close-on-exec).  A script
	 * (#!) makes the kernel hand its interpreter /dev/fd/3 to read, which
	 * it refuses with ENOENT while fd 3 is close-on-exec: so for a script
	 * (launch_prepare read its "#!"; or that ENOENT, if it could not) fd
	 * 3 stays open, and is the one fd above 2 the script starts with.
	 */
	if (!lp->lp_script)
		syscall(SYS_execveat, 3, "", argv, envp, AT_EMPTY_PATH);
	if ((lp->lp_script || errno == ENOENT) && fcntl(3, F_SETFD, 0) == 0) {
		/*
		 * The interpreter is handed /dev/fd/3, which a system without
		 * /dev/fd (a busybox initramfs, a bare container) lacks; there
		 * /proc/self/fd/3 names the same open file, no path between.
		 */
		if (access("/dev/fd/3", R_OK) == 0)
			syscall(SYS_execveat, 3, "", argv, envp, AT_EMPTY_PATH);
		else
			execve("/proc/self/fd/3", argv, envp);
	}
	saved = errno;
	/* strerrordesc_np: no locale, no allocation, unlike strerror. */
	if ((why = strerrordesc_np(saved)) == NULL)
		why = "cannot execute";
	/* A script whose interpreter is missing: name the interpreter. */
	if (saved == ENOENT && launch_interpreter(interp, sizeof(interp))) {
		launch_say("negotiator: cannot run ");
		launch_say(argv[0]);
		launch_say(": its interpreter ");
		launch_say(interp);
		launch_say(": ");
		launch_say(why);
		launch_say("\n");
	} else
		launch_fail(argv[0], why);
	_exit(saved == ENOENT ? 127 : 126);
}

pid_t
launch_command(int exec_fd, char *const argv[], char *const envp[],
    const int fds[3], int cgroup_fd, int flags)
{
	struct launch_plan lp;
	sigset_t	 all, old;
	pid_t		 pid;
	int		 saved;

	launch_prepare(&lp, exec_fd);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = vfork()) == 0)
		launch_child(&lp, exec_fd, argv, envp, fds, cgroup_fd, flags);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}
