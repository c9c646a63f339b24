/*
 * output.c: the one place that writes a CLI's output (its stdout and
 * stderr), and what a closed pipe means there.
 */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <sys/types.h>

#include <stdio.h>

/*
 * For a CLI, before it writes anything: SIGPIPE ignored (a daemon or
 * channel that hangs up is an error of the call, said as such), and stdout
 * and stderr replaced by streams that write through output_write(), so that
 * every printf, fputs and warnx reaches it.  Not for the daemons.
 */
void	 output_init(void);
/*
 * Writes up to n bytes of p to fd (1 or 2) without waiting: the bytes
 * written, 0 if fd would block.  When the reader is gone (EPIPE) the
 * process ends quietly, killed by SIGPIPE as a local program would be
 * (output_closed); any other error is -1, errno set, for the caller to say.
 */
ssize_t	 output_write(int fd, const void *p, size_t n);
/*
 * What a closed pipe means, decided here once: no message, no cleanup
 * (our connections close with us, which cancels the remote commands), and
 * death by SIGPIPE, whatever its disposition was: the shell reports 141.
 */
void	 output_closed(void) __attribute__((noreturn));
/*
 * 0 if stdout (f) is written out; else the error of its last failed write
 * (stdio may have dropped what it held by then), or EIO if none is known.
 */
int	 output_flush(FILE *f);

#endif /* OUTPUT_H */
