/*
 * pty.c: the running side of a terminal call (--tty): the pseudo-terminal
 * a command gets, its size, its $TERM, and the signal characters typed
 * into it.
 */
#ifndef PTY_H
#define PTY_H

#include <stddef.h>
#include <stdint.h>

/*
 * A new pseudo-terminal of rows x cols: *master non-blocking, *slave not
 * yet anyone's controlling terminal, both close-on-exec.  -1 and errno if
 * there is none.
 */
int	 pty_open(int *master, int *slave, unsigned rows, unsigned cols);
/* Sets the size; the kernel tells the foreground process group (SIGWINCH). */
void	 pty_resize(int master, unsigned rows, unsigned cols);
/*
 * term if this system has a terminfo entry of that name (the codec let
 * only [A-Za-z0-9._+-] through), else "vt100", which every terminal
 * emulator and every program that knows terminals takes.
 */
const char *pty_term(const char *term);
/*
 * Input that could not be written yet (the command does not read it) must
 * not hold back an interrupt: if (p, n) holds a character that signals
 * (VINTR, VQUIT, VSUSP, with ISIG set), the signal goes to the terminal's
 * foreground process group now, as the line discipline would send it,
 * what the terminal holds as unread input is discarded as it would discard
 * it (unless NOFLSH), and the index after the last such character is
 * returned; else 0.  The caller drops what it holds of the input before
 * that index.
 */
size_t	 pty_interrupt(int master, const uint8_t *p, size_t n);

#endif /* PTY_H */
