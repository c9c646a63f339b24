/*
 * The pseudo-terminal of a terminal call.  The command gets the slave as
 * its stdin, stdout and stderr and as its controlling terminal, in a
 * session of its own (launch.c); the daemon keeps the master, writes what
 * the caller types into it and sends what it reads from it as stdout.  The
 * line discipline does the rest, as for a login: echo, line editing,
 * Ctrl-C, Ctrl-Z and Ctrl-\ to the foreground process group, Ctrl-D.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "pty.h"

int
pty_open(int *master, int *slave, unsigned rows, unsigned cols)
{
	char	 name[128];
	int	 m, s, saved;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, sizeof(name)) != 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		saved = errno;
		close(m);
		errno = saved;
		return -1;
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	pty_resize(m, rows, cols);
	*master = m;
	*slave = s;
	return 0;
}

void
pty_resize(int master, unsigned rows, unsigned cols)
{
	struct winsize	 ws;

	memset(&ws, 0, sizeof(ws));
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	(void)ioctl(master, TIOCSWINSZ, &ws);
}

const char *
pty_term(const char *term)
{
	static const char *const dirs[] = {
		"/etc/terminfo", "/lib/terminfo", "/usr/share/terminfo",
		"/usr/lib/terminfo",
	};
	char		 path[256];
	struct stat	 st;
	size_t		 i;

	if (term == NULL || term[0] == '\0' || term[0] == '.' ||
	    strchr(term, '/') != NULL)
		return "vt100";
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%c/%s", dirs[i], term[0],
		    term);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return term;
	}
	return "vt100";
}

/*
 * Discards what the terminal holds as input and nobody read yet, as the
 * line discipline does on an interrupt: a signal sent by TIOCSIG does not
 * do it, and the input the command never read (some 4 KiB of a paste, up
 * to a line cut in two) would reach the shell after the command's death,
 * the cut line swallowing the first line typed then.  Through the
 * terminal's other end, opened for that alone (TIOCGPTPEER, Linux 4.13;
 * without it, the input stays).
 */
static void
pty_flush_input(int master)
{
	int	 peer;

	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC);
	if (peer == -1)
		return;
	(void)tcflush(peer, TCIFLUSH);
	close(peer);
}

size_t
pty_interrupt(int master, const uint8_t *p, size_t n)
{
	struct termios	 t;
	size_t		 i, after = 0;
	int		 sig, flushed = 0;

	if (tcgetattr(master, &t) == -1 || !(t.c_lflag & ISIG))
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == _POSIX_VDISABLE)
			continue;
		if (p[i] == t.c_cc[VINTR])
			sig = SIGINT;
		else if (p[i] == t.c_cc[VQUIT])
			sig = SIGQUIT;
		else if (p[i] == t.c_cc[VSUSP])
			sig = SIGTSTP;
		else
			continue;
		/*
		 * The input first, then the signal: its process's death wakes
		 * the shell, which would read what is not yet discarded (the
		 * line discipline does both under one lock).
		 */
		if (!flushed && !(t.c_lflag & NOFLSH))
			pty_flush_input(master);
		flushed = 1;
		(void)ioctl(master, TIOCSIG, sig);
		after = i + 1;
	}
	return after;
}
