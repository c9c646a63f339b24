/*
 * The caller's terminal during a --tty call.  Raw mode passes every key
 * to the remote terminal (Ctrl-C, Ctrl-Z and Ctrl-\ signal the remote
 * foreground process group there, not us); whatever ends the call puts the
 * saved mode back first: the end of the call, an error (call.c restores
 * before it prints), exit(3) (atexit), and the signals that end us
 * (call.c catches them, restores, and dies of them).
 */
#include <sys/ioctl.h>

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tty.h"

static struct termios	 tty_saved;
static int		 tty_fd = -1;	/* raw while not -1 */
static int		 tty_atexit;

void
tty_restore(void)
{
	if (tty_fd == -1)
		return;
	(void)tcsetattr(tty_fd, TCSANOW, &tty_saved);
	tty_fd = -1;
}

int
tty_raw(int fd)
{
	struct termios	 t;

	if (tcgetattr(fd, &tty_saved) == -1)
		return -1;
	t = tty_saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (!tty_atexit) {
		atexit(tty_restore);
		tty_atexit = 1;
	}
	tty_fd = fd;
	if (tcsetattr(fd, TCSANOW, &t) == -1) {
		tty_fd = -1;
		return -1;
	}
	return 0;
}

void
tty_describe(int fd, struct proto_tty *ty)
{
	struct winsize	 ws;
	const char	*term = getenv("TERM");

	memset(ty, 0, sizeof(*ty));
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
		ty->ty_rows = ws.ws_row;
		ty->ty_cols = ws.ws_col;
	}
	/* Only what the peer's codec takes (proto.h); else "not known". */
	if (term != NULL && term[0] != '.' && strlen(term) <= PROTO_MAX_TERM &&
	    strspn(term, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._+-") == strlen(term))
		strlcpy(ty->ty_term, term, sizeof(ty->ty_term));
}

void
tty_escape_init(struct tty_escape *te)
{
	memset(te, 0, sizeof(*te));
	te->te_bol = 1;
}

/* Follows control sequences: 1 if byte c was part of one (tty.h). */
static int
tty_escape_csi(struct tty_escape *te, uint8_t c)
{
	if (c == 0x1b) {
		if (te->te_csi == 0)
			te->te_bol_csi = te->te_bol;
		te->te_csi = 1;
		return 1;
	}
	if (te->te_csi == 1 && c == '[') {
		te->te_csi = 2;
		return 1;
	}
	if (te->te_csi == 2 && c >= 0x20 && c < 0x40)
		return 1;	/* parameters */
	if (te->te_csi == 2 && c >= 0x40 && c <= 0x7e) {
		te->te_csi = 0;
		te->te_bol = (c == 'R' || c == 'c' || c == 'n') ?
		    te->te_bol_csi : 0;
		return 1;
	}
	te->te_csi = 0;		/* ESC and a key (Alt), or not a sequence */
	return 0;
}

size_t
tty_escape(struct tty_escape *te, const uint8_t *in, size_t n, uint8_t *out,
    int *quit)
{
	size_t	 i, o = 0;

	*quit = 0;
	for (i = 0; i < n; i++) {
		if (te->te_tilde) {
			te->te_tilde = 0;
			if (in[i] == '.') {
				*quit = 1;
				return o;
			}
			out[o++] = '~';
			if (in[i] == '~') {
				te->te_bol = 0;
				continue;
			}
		} else if (te->te_bol && te->te_csi == 0 && in[i] == '~') {
			te->te_tilde = 1;
			continue;
		}
		out[o++] = in[i];
		if (!tty_escape_csi(te, in[i]))
			te->te_bol = in[i] == '\r' || in[i] == '\n';
	}
	return o;
}
