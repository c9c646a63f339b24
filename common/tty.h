/*
 * tty.c: the caller's side of a terminal call (--tty): our terminal in raw
 * mode and back, its size and $TERM for the peer, and the escape that ends
 * a wedged session ("~." after a newline, as ssh's).
 */
#ifndef TTY_H
#define TTY_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Puts the terminal at fd in raw mode (cfmakeraw: no echo, no line
 * editing, no signal characters, no output processing), having saved its
 * mode, which tty_restore() puts back; also at exit(3).  -1 and errno if fd
 * is no terminal.
 */
int	 tty_raw(int fd);
/*
 * Puts the saved mode back, once; nothing if tty_raw() was not called.
 * Waits for nothing (TCSANOW), so that a terminal whose output is stuck
 * cannot keep us.  Async-signal-safe.
 */
void	 tty_restore(void);
/* The size of the terminal at fd and our $TERM ("" if unset or odd). */
void	 tty_describe(int fd, struct proto_tty *);

/*
 * The escape: the caller's typed bytes pass through tty_escape(), which
 * holds a '~' typed at the start of a line until the next byte says what
 * it is: "~." ends the session, "~~" sends one '~', anything else both.
 * The start of the session is the start of a line.  A terminal's report
 * (a control sequence ending in R, c or n: the cursor position or device
 * status that a shell such as busybox's asks for at each prompt) is no
 * typing: it passes without ending the start of a line, so that "~." after
 * Enter works however the report and the keys interleave.
 */
struct tty_escape {
	int	 te_bol;	/* the next byte starts a line */
	int	 te_tilde;	/* a '~' is held */
	int	 te_csi;	/* in a control sequence: 1 after ESC, 2 after [ */
	int	 te_bol_csi;	/* te_bol before it */
};

void	 tty_escape_init(struct tty_escape *);
/*
 * Copies (in, n) to out, which has room for n + 1 bytes, as above; returns
 * the bytes to send, and sets *quit if "~." was typed (what follows it is
 * dropped).
 */
size_t	 tty_escape(struct tty_escape *, const uint8_t *in, size_t n,
	    uint8_t *out, int *quit);

#endif /* TTY_H */
