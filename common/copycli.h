/*
 * copycli.c: a CLI's --copy, a call of the other side's put or get with a
 * copy stream (copy.h) on its stdin or stdout.
 */
#ifndef COPYCLI_H
#define COPYCLI_H

#include "cli.h"

struct copy_cli {
	const char	*cc_prog;	/* "negotiator-host": messages */
	const char	*cc_local;	/* our path */
	const char	*cc_remote;	/* the other side's path */
	int		 cc_to_remote;	/* 1: put there; 0: get from there */
	int		 cc_recursive;	/* -r */
	int		 cc_preserve;	/* -p */
	int		 cc_quiet;	/* -q: no progress line */
	const char	*cc_other;	/* "guest vm1", "the host" */
	const char	*cc_enable;	/* what enables put, get there, less
					   the name: "negotiator-guest --enable " */
	/*
	 * Runs the call of cmdline (stdin: ours, or /dev/null with
	 * no_stdin) in a child process of ours; its exit status.
	 */
	int		(*cc_call)(void *arg, const char *cmdline, int no_stdin);
	void		*cc_arg;
};

/*
 * What a copy takes from the command line (cli.h): the program's name,
 * -r, -p, -q; and no timeout unless -t was given (a copy takes what it
 * takes).  The rest of cc is zeroed, for the program to fill in.
 */
void	 copy_cli_init(struct copy_cli *cc, struct cli_settings *);
/*
 * The copy: the call runs in a child, our end of the stream here.  The
 * exit status: 0; 1 if the copy failed (said by whichever side failed,
 * naming the path); the call's 124, 125, 127 (with the command to run on
 * the other side), or 128+N; killed by SIGINT itself on Ctrl-C, the
 * temporary of a file being received removed.
 */
int	 copy_cli(const struct copy_cli *);
/*
 * "put -p -- 'PATH'": words that words_split() gives back as they are
 * (single quotes, never a shell); NULL if too long.  free() after.
 */
char	*copy_cli_cmdline(const char *cmd, const char *flag, const char *path);

#endif /* COPYCLI_H */
