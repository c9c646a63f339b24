/*
 * contain.c: everything a call starts stays inside the call's containment
 * and dies when the call ends, in a process group of its own or not.
 */
#ifndef CONTAIN_H
#define CONTAIN_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>

#include <ev.h>

/* One call's containment; all zeroes is "not prepared". */
struct contain {
	LIST_ENTRY(contain) ct_entry;	/* while the call runs */
	int		 ct_active;
	int		 ct_dir;	/* its cgroup, or -1 */
	int		 ct_procs;	/* its cgroup.procs, for the command */
	char		 ct_name[32];	/* its cgroup's name */
	pid_t		 ct_pid;	/* the command; 0 until it starts */
	unsigned long long ct_start;	/* its start, in ticks since boot */
};

/*
 * Chooses how calls are contained, once, at the daemon's start, and says
 * which in the log: a cgroup per call under the daemon's own cgroup v2
 * (where one is mounted and writable to us), else the daemon becomes the
 * subreaper of what its commands leave behind.  NEGOTIATOR_CONTAIN=cgroup
 * or =subreaper in the environment chooses (cgroup: the daemon exits if
 * it cannot).  Without contain_init, calls are not contained (the CLIs).
 */
void	 contain_init(struct ev_loop *);
/*
 * Before the command starts: its cgroup, if cgroups are used.  Returns
 * the fd the command writes itself into (launch_command's cgroup_fd), -1
 * if none is needed; -2 with why if the call cannot be contained.
 */
int	 contain_prepare(struct contain *, char *why, size_t whylen);
/* The command started as pid (its process group leader). */
void	 contain_started(struct contain *, pid_t pid);
/*
 * sig to every process of the call that can be told apart from other
 * calls' while it runs: the whole cgroup (SIGKILL by cgroup.kill), or,
 * with the subreaper, the command's process group.
 */
void	 contain_signal(struct contain *, int sig);
/*
 * The call is over: whatever it started and is still there is killed
 * (SIGKILL), now or as soon as it can be attributed (contain.c says how),
 * and the containment is released.  Safe to call twice, or unprepared.
 */
void	 contain_end(struct contain *);
/* Daemon exit: every call's processes killed, the cgroups removed. */
void	 contain_fini(void);

#endif /* CONTAIN_H */
