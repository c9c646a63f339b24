/*
 * A CLI's --copy: a plain call of the other side's put (our stream on its
 * stdin) or get (its stream on our side), so that the call path gives the
 * copy its streaming, flow control, timeout, exit status and cancellation.
 * The call runs in a child process with one end of a pipe as its stdin or
 * stdout; we write or read the stream at the other end (copy.c).  Memory
 * is the pipe's and the call's buffers, whatever the size.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy.h"
#include "copycli.h"
#include "log.h"
#include "status.h"

char *
copy_cli_cmdline(const char *cmd, const char *flag, const char *path)
{
	size_t	 n = strlen(cmd) + strlen(flag) + 8, i;
	char	*s, *p;

	for (i = 0; path[i] != '\0'; i++)
		n += path[i] == '\'' ? 4 : 1;
	if (n > 8192 || (s = malloc(n)) == NULL)
		return NULL;
	p = s + snprintf(s, n, "%s %s -- '", cmd, flag);
	for (i = 0; path[i] != '\0'; i++) {
		if (path[i] == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else
			*p++ = path[i];
	}
	*p++ = '\'';
	*p = '\0';
	return s;
}

/* The child's exit status as a shell gives it. */
static int
copy_cli_wait(pid_t pid)
{
	int	 st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return STATUS_FAILURE;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

void
copy_cli_init(struct copy_cli *cc, struct cli_settings *cs)
{
	memset(cc, 0, sizeof(*cc));
	cc->cc_prog = cs->cs_progname;
	cc->cc_recursive = cs->cs_recursive;
	cc->cc_preserve = cs->cs_preserve;
	cc->cc_quiet = cs->cs_verbosity < LOG_LEVEL_INFO;
	if (!cs->cs_timeout_given)
		cs->cs_timeout_ms = 0;
}

int
copy_cli(const struct copy_cli *cc)
{
	enum copy_result rv;
	struct stat	 st;
	char		*cmdline;
	pid_t		 pid;
	int		 p[2], status, ours = cc->cc_to_remote;

	/* A source that cannot be sent is said before the call starts. */
	if (ours && stat(cc->cc_local, &st) == -1) {
		fprintf(stderr, "%s: %s: %s\n", cc->cc_prog, cc->cc_local,
		    strerror(errno));
		return 1;
	}
	if (ours && S_ISDIR(st.st_mode) && !cc->cc_recursive) {
		fprintf(stderr, "%s: %s: is a directory (give -r to copy a "
		    "tree)\n", cc->cc_prog, cc->cc_local);
		return 1;
	}
	cmdline = copy_cli_cmdline(cc->cc_to_remote ? "put" : "get",
	    cc->cc_to_remote ? (cc->cc_preserve ? "-p" : "") :
	    (cc->cc_recursive ? "-r" : ""), cc->cc_remote);
	if (cmdline == NULL) {
		fprintf(stderr, "%s: path too long\n", cc->cc_prog);
		return STATUS_FAILURE;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		fprintf(stderr, "%s: pipe: %s\n", cc->cc_prog, strerror(errno));
		free(cmdline);
		return STATUS_FAILURE;
	}
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "%s: fork: %s\n", cc->cc_prog, strerror(errno));
		free(cmdline);
		return STATUS_FAILURE;
	}
	if (pid == 0) {
		/* The call: the pipe's far end as its stdin or stdout. */
		if (dup2(p[!ours], !ours) == -1)
			_exit(STATUS_FAILURE);
		close(p[0]);
		close(p[1]);
		status = cc->cc_call(cc->cc_arg, cmdline, !ours);
		fflush(stdout);
		fflush(stderr);
		_exit(status);
	}
	free(cmdline);
	close(p[!ours]);
	copy_set_progress(!cc->cc_quiet && isatty(STDERR_FILENO));
	/* A closed pipe is the call's end, which says why: EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	if (ours)
		rv = copy_send(p[1], cc->cc_local, cc->cc_recursive,
		    cc->cc_prog);
	else
		rv = copy_receive(p[0], cc->cc_local, cc->cc_preserve,
		    cc->cc_prog);
	close(p[ours]);
	copy_progress_end();
	if (rv == COPY_FAILED && !ours)
		kill(pid, SIGTERM);	/* which cancels the remote get */
	status = copy_cli_wait(pid);
	if (status == STATUS_NOTFOUND)
		fprintf(stderr, "%s: %s has not enabled %s: run '%s%s' "
		    "there\n", cc->cc_prog, cc->cc_other, ours ? "put" : "get",
		    cc->cc_enable, ours ? "put" : "get");
	if (rv == COPY_FAILED && !ours)
		return 1;
	if (status != 0)
		return status;
	if (rv == COPY_CUT) {
		fprintf(stderr, "%s: %s: the copy stream ended early\n",
		    cc->cc_prog, cc->cc_local);
		return 1;
	}
	return rv == COPY_OK ? 0 : 1;
}
