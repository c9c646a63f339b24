/*
 * Bytes a peer sent (command names, guest names, a guest's output, its
 * messages), written for a terminal or for a JSON reader.  Every such
 * string on its way to our stdout or stderr passes here, so that none can
 * move a cursor, retitle a window, write the clipboard (OSC 52) or forge a
 * line, and none reads the same as another.
 *
 * Why not vis(3) itself: without a locale (our CLIs are static and set
 * none) it escapes every byte of UTF-8 text, so "café" would read as
 * "caf\303\251" on every terminal; this is its encoding, with printable
 * UTF-8 let through.
 */
#include <string.h>

#include "escape.h"

size_t
escape_utf8_len(const uint8_t *p, size_t n)
{
	uint8_t	 c = p[0];
	size_t	 len, k;

	if (c < 0x80)
		return 1;
	len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
	    c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (k = 1; k < len; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates, and code points past U+10FFFF. */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

/* 1 if the valid sequence at p (of len bytes) is a C1 control. */
static int
escape_is_c1(const uint8_t *p, size_t len)
{
	return len == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

void
escape_text(FILE *f, const void *v, size_t n, int flags)
{
	const uint8_t	*p = v;
	size_t		 i, len, k;
	uint8_t		 c;

	for (i = 0; i < n; i += len) {
		c = p[i];
		len = escape_utf8_len(p + i, n - i);
		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs(flags & ESCAPE_TAB ? "\t" : "\\t", f);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, f);
		else if (len > 1 && !escape_is_c1(p + i, len))
			fwrite(p + i, 1, len, f);
		else {
			/* A control, or bytes that are not text: each one. */
			if (len == 0)
				len = 1;
			for (k = 0; k < len; k++)
				fprintf(f, "\\%03o", p[i + k]);
		}
	}
}

void
escape_text_str(FILE *f, const char *s, int flags)
{
	escape_text(f, s, strlen(s), flags);
}

void
escape_json(FILE *f, const void *v, size_t n)
{
	const uint8_t	*p = v;
	size_t		 i, len;
	uint8_t		 c;

	for (i = 0; i < n; i += len) {
		c = p[i];
		len = escape_utf8_len(p + i, n - i);
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else if (c < 0x80)
			fputc(c, f);
		else if (len == 0) {
			fprintf(f, "\\udc%02x", c);
			len = 1;
		} else if (escape_is_c1(p + i, len))
			fprintf(f, "\\u%04x", p[i + 1]);
		else
			fwrite(p + i, 1, len, f);
	}
}

void
escape_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	escape_json(f, s, strlen(s));
	fputc('"', f);
}
