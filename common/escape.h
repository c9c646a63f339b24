/*
 * escape.c: bytes a peer sent, written so that they reach a terminal or a
 * JSON reader as what they are.
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ESCAPE_TAB	0x1	/* escape_text: a tab passes as it is */

/*
 * The length of the whole, shortest-form UTF-8 sequence at p (of n bytes),
 * 1 for an ASCII byte; 0 if p does not start one.
 */
size_t	 escape_utf8_len(const uint8_t *p, size_t n);
/*
 * Writes n bytes of p to f as one line of text that cannot act on a
 * terminal: printable ASCII and printable UTF-8 pass (so names and lines in
 * any script read as they are), a backslash is doubled, \n, \r and \t (but
 * with ESCAPE_TAB) are written so, and every other byte (C0 controls, DEL,
 * the C1 controls U+0080-U+009F, bytes that are not UTF-8) as \ooo in
 * octal: vis(3)'s encoding, which unvis(1) reverses.
 */
void	 escape_text(FILE *f, const void *p, size_t n, int flags);
/* escape_text() of a NUL-terminated string. */
void	 escape_text_str(FILE *f, const char *s, int flags);
/*
 * Writes n bytes of p to f as the inside of a JSON string, losslessly: a
 * valid UTF-8 sequence is that character (controls, DEL and C1 as \u00XX),
 * and each byte that is not UTF-8 is the lone surrogate \udcXX (XX the
 * byte), as Python's "surrogateescape" has it: json.loads() and then
 * encode("utf-8", "surrogateescape") give the bytes back, and no valid
 * UTF-8 text can produce those code points.
 */
void	 escape_json(FILE *f, const void *p, size_t n);
/* escape_json() of a NUL-terminated string, with its quotes. */
void	 escape_json_str(FILE *f, const char *s);

#endif /* ESCAPE_H */
