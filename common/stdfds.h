/* stdfds.c: fds 0, 1 and 2 are open before a program opens anything else. */
#ifndef STDFDS_H
#define STDFDS_H

/*
 * Opens /dev/null on each of fds 0-2 that is closed; the first thing
 * main() does.  Otherwise the program's first socket (a CLI's connection,
 * a daemon's control socket or port) would get one of those numbers, and
 * output or log lines meant for stdout or stderr would go into it: a
 * caller started with its stdout closed, or a daemon with all three closed,
 * sent garbage to its peer.  Exits with 125 if /dev/null cannot be opened
 * (there is nowhere to say so).
 */
void	 stdfds_ensure(void);

#endif /* STDFDS_H */
