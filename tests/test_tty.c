/*
 * The "~." escape of a --tty call (common/tty.c): what passes, what is
 * held, and a terminal's reports, which are not typing.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "tty.h"

/* Feeds the chunks in turn; 1 if "~." ended the session.  *sent: bytes out. */
static int
feed(const char *const chunks[], size_t n, char *sent)
{
	struct tty_escape	 te;
	uint8_t			 out[64];
	size_t			 i, k;
	int			 quit = 0;

	tty_escape_init(&te);
	sent[0] = '\0';
	for (i = 0; i < n && !quit; i++) {
		k = tty_escape(&te, (const uint8_t *)chunks[i],
		    strlen(chunks[i]), out, &quit);
		strncat(sent, (const char *)out, k);
	}
	return quit;
}

Test(escape, tilde_dot)
{
	const char *const first[] = { "~." };
	const char *const after[] = { "ls\r", "~", ".", "never" };
	const char *const mid[] = { "x~.\r" };
	const char *const twice[] = { "\r~~." };
	const char *const other[] = { "~x" };
	char		 sent[64];

	cr_assert_eq(feed(first, 1, sent), 1);
	cr_assert_str_eq(sent, "");
	cr_assert_eq(feed(after, 4, sent), 1);
	cr_assert_str_eq(sent, "ls\r");
	cr_assert_eq(feed(mid, 1, sent), 0);
	cr_assert_str_eq(sent, "x~.\r");
	cr_assert_eq(feed(twice, 1, sent), 0);
	cr_assert_str_eq(sent, "\r~.");
	cr_assert_eq(feed(other, 1, sent), 0);
	cr_assert_str_eq(sent, "~x");
}

/*
 * busybox's shell asks the terminal where the cursor is at each prompt;
 * the answer may come between Enter and "~.".  An arrow key is typing.
 */
Test(escape, reports)
{
	const char *const cpr[] = { "\r", "\x1b[24;1R", "~." };
	const char *const da[] = { "\r\x1b[?1;2c~." };
	const char *const arrow[] = { "\r", "\x1b[A", "~." };
	const char *const alt[] = { "\r\x1bx~." };
	char		 sent[64];

	cr_assert_eq(feed(cpr, 3, sent), 1);
	cr_assert_str_eq(sent, "\r\x1b[24;1R");
	cr_assert_eq(feed(da, 1, sent), 1);
	cr_assert_eq(feed(arrow, 3, sent), 0);
	cr_assert_str_eq(sent, "\r\x1b[A~.");
	cr_assert_eq(feed(alt, 1, sent), 0);
}
