/*
 * A CLI's sibling program, run in the CLI's place: the daemons, which the
 * CLIs do not link (negotiator-hostd: libvirt; negotiator-guestd: PIE,
 * where the guest CLI is not, Makefile).
 */
#ifndef SIBLING_H
#define SIBLING_H

/* Keeps the command line as main() got it, before getopt reorders it. */
void	 sibling_save_argv(int argc, char *argv[]);
/*
 * Replaces this process with NAME, run with the saved command line: same
 * pid, same fds, nothing read or written yet.  NAME is looked for next to
 * this executable first (a build tree), then in DIR (make install's
 * LIBDIR).  Does not return: if neither runs, a one-line error and exit
 * status STATUS_FAILURE.
 */
void	 sibling_exec(const char *name, const char *dir)
	    __attribute__((noreturn));

#endif /* SIBLING_H */
