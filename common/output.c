/*
 * The one place that writes a CLI's output, and what a closed pipe means.
 *
 * A CLI that writes into "| head -1" must end as a local program does
 * there: killed by SIGPIPE (status 141 through the shell), silently, at the
 * first write that finds the reader gone, with nothing left running.  It
 * cannot just keep SIGPIPE's default action: its connection to a daemon or
 * a channel is a socket too, and a peer that hangs up there is an error of
 * the call, to be said in one line (exit 125).  So SIGPIPE is ignored, and
 * every write to stdout and stderr comes here: the call's streamed output
 * (output_write) and every stdio line (printf, fputs, warnx), through
 * streams that replace stdout and stderr (glibc lets a program assign
 * them).  Here EPIPE is turned back into the signal.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "output.h"

static int	 output_errno[3];	/* a stream's last write error, by fd */

void
output_closed(void)
{
	sigset_t	 set;

	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGPIPE);
	_exit(128 + SIGPIPE);	/* not reached */
}

ssize_t
output_write(int fd, const void *p, size_t n)
{
	ssize_t	 k;

	for (;;) {
		if ((k = write(fd, p, n)) >= 0)
			return k;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		if (errno == EPIPE)
			output_closed();
		return -1;
	}
}

/*
 * A stdio stream's writes: all n bytes, waiting while fd would block (a
 * descriptor set O_NONBLOCK by whoever shares it).  Bytes written, or -1
 * on an error (the stream's error flag).
 */
static ssize_t
output_stream_write(void *cookie, const char *p, size_t n)
{
	struct pollfd	 pfd;
	size_t		 done = 0;
	ssize_t		 k;

	pfd.fd = (int)(intptr_t)cookie;
	pfd.events = POLLOUT;
	while (done < n) {
		if ((k = output_write(pfd.fd, p + done, n - done)) == -1 ||
		    (k == 0 && poll(&pfd, 1, -1) == -1 && errno != EINTR)) {
			output_errno[pfd.fd] = errno;
			return done > 0 ? (ssize_t)done : -1;
		}
		done += (size_t)k;
	}
	return (ssize_t)done;
}

int
output_flush(FILE *f)
{
	int	 fd = f == stderr ? STDERR_FILENO : STDOUT_FILENO;

	if (fflush(f) == 0 && !ferror(f))
		return 0;
	return output_errno[fd] != 0 ? output_errno[fd] : EIO;
}

/* A stream on fd writing through output_write, buffered as stdio's own. */
static FILE *
output_stream(int fd, int mode)
{
	cookie_io_functions_t	 io = { NULL, output_stream_write, NULL, NULL };
	FILE			*f;

	if ((f = fopencookie((void *)(intptr_t)fd, "w", io)) == NULL)
		return NULL;
	setvbuf(f, NULL, mode, mode == _IONBF ? 0 : BUFSIZ);
	return f;
}

void
output_init(void)
{
	FILE	*f;

	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	fflush(stderr);
	if ((f = output_stream(STDOUT_FILENO, isatty(STDOUT_FILENO) ?
	    _IOLBF : _IOFBF)) != NULL)
		stdout = f;
	if ((f = output_stream(STDERR_FILENO, _IONBF)) != NULL)
		stderr = f;
}
