/*
 * Unit tests of common/escape.c: a peer's bytes made visible for a
 * terminal (nothing that can act on one gets through, and the bytes can be
 * read back) and written as JSON strings that keep every byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "escape.h"

/* escape_text() or escape_json() of n bytes of p, into a string. */
static char *
run(const void *p, size_t n, int json, int flags, size_t *len)
{
	char	*out = NULL;
	size_t	 size = 0;
	FILE	*f = open_memstream(&out, &size);

	cr_assert_not_null(f);
	if (json)
		escape_json(f, p, n);
	else
		escape_text(f, p, n, flags);
	cr_assert_eq(fclose(f), 0);
	if (len != NULL)
		*len = size;
	return out;
}

static void
text_is(const char *in, int flags, const char *want)
{
	char	*out = run(in, strlen(in), 0, flags, NULL);

	cr_assert_str_eq(out, want, "in \"%s\"", in);
	free(out);
}

static void
json_is(const char *in, const char *want)
{
	char	*out = run(in, strlen(in), 1, 0, NULL);

	cr_assert_str_eq(out, want);
	free(out);
}

Test(escape, utf8_len)
{
	cr_assert_eq(escape_utf8_len((const uint8_t *)"a", 1), 1);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xc3\xa9", 2), 2);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xc3\xa9", 1), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xe2\x82\xac", 3), 3);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xf0\x9f\x98\x80", 4), 4);
	/* Overlong, surrogates, past U+10FFFF, stray continuations. */
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xc0\x80", 2), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xc1\xbf", 2), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xe0\x80\x80", 3), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xed\xa0\x80", 3), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xf0\x80\x80\x80", 4), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xf4\x90\x80\x80", 4), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xf5\x80\x80\x80", 4), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\x9b", 1), 0);
	cr_assert_eq(escape_utf8_len((const uint8_t *)"\xc3(", 2), 0);
}

/* What issue 18 found reaching a terminal. */
Test(escape, text_examples)
{
	text_is("plain words-1.2_3", 0, "plain words-1.2_3");
	text_is("\033]52;c;aGk=\a", 0, "\\033]52;c;aGk=\\007");
	text_is("x\nnegotiator-host: forged", 0,
	    "x\\nnegotiator-host: forged");
	text_is("\033[31mred\r", 0, "\\033[31mred\\r");
	text_is("\x9b" "31m", 0, "\\23331m");		/* C1, a raw byte */
	text_is("\xc2\x9b" "31m", 0, "\\302\\23331m");	/* C1 as UTF-8 */
	text_is("caf\xc3\xa9 \xe2\x82\xac", 0, "caf\xc3\xa9 \xe2\x82\xac");
	text_is("caf\xe9", 0, "caf\\351");
	text_is("a\\nb", 0, "a\\\\nb");
	text_is("a\tb\x7f", 0, "a\\tb\\177");
	text_is("a\tb", ESCAPE_TAB, "a\tb");
	text_is("\xc2\xa0", 0, "\xc2\xa0");		/* U+00A0: printable */
}

Test(escape, json_examples)
{
	json_is("caf\xc3\xa9", "caf\xc3\xa9");
	json_is("caf\xe9", "caf\\udce9");
	json_is("\"\\\n\t\r\b\033\x7f", "\\\"\\\\\\n\\t\\r\\u0008\\u001b\\u007f");
	json_is("\xc2\x9b", "\\u009b");
	json_is("\xed\xa0\x80", "\\udced\\udca0\\udc80");
	json_is("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80");
}

/* Reverses escape_text: \\, \n, \r, \t, \ooo. */
static size_t
unvis(const char *s, size_t n, uint8_t *out)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '\\') {
			out[k++] = (uint8_t)s[i];
			continue;
		}
		cr_assert(i + 1 < n);
		switch (s[++i]) {
		case '\\':
			out[k++] = '\\';
			break;
		case 'n':
			out[k++] = '\n';
			break;
		case 'r':
			out[k++] = '\r';
			break;
		case 't':
			out[k++] = '\t';
			break;
		default:
			cr_assert(i + 2 < n && s[i] >= '0' && s[i] <= '3');
			out[k++] = (uint8_t)((s[i] - '0') * 64 +
			    (s[i + 1] - '0') * 8 + (s[i + 2] - '0'));
			i += 2;
		}
	}
	return k;
}

/* Appends code point cp as UTF-8, or byte XX for \udcXX (XX >= 0x80). */
static size_t
put_cp(uint8_t *out, unsigned cp)
{
	if (cp >= 0xdc80 && cp <= 0xdcff) {
		out[0] = (uint8_t)(cp & 0xff);
		return 1;
	}
	cr_assert(cp < 0xd800 || cp > 0xdfff, "surrogate %x", cp);
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	cr_assert(cp < 0x800);		/* we escape nothing higher */
	out[0] = (uint8_t)(0xc0 | cp >> 6);
	out[1] = (uint8_t)(0x80 | (cp & 0x3f));
	return 2;
}

/* Decodes the inside of a JSON string, \udcXX as byte XX. */
static size_t
unjson(const char *s, size_t n, uint8_t *out)
{
	size_t		 i, k = 0;
	unsigned	 cp;

	for (i = 0; i < n; i++) {
		cr_assert((uint8_t)s[i] >= 0x20 && s[i] != '"' && s[i] != 0x7f,
		    "raw %02x in JSON", (uint8_t)s[i]);
		if (s[i] != '\\') {
			out[k++] = (uint8_t)s[i];
			continue;
		}
		cr_assert(i + 1 < n);
		switch (s[++i]) {
		case '"':
		case '\\':
			out[k++] = (uint8_t)s[i];
			break;
		case 'n':
			out[k++] = '\n';
			break;
		case 'r':
			out[k++] = '\r';
			break;
		case 't':
			out[k++] = '\t';
			break;
		case 'u':
			cr_assert(i + 4 < n);
			cr_assert(sscanf(s + i + 1, "%4x", &cp) == 1);
			k += put_cp(out + k, cp);
			i += 4;
			break;
		default:
			cr_assert_fail("escape \\%c", s[i]);
		}
	}
	return k;
}

/*
 * Nothing that acts on a terminal: no C0 control, DEL or C1 control, as a
 * byte or as UTF-8, and every byte above 0x7f in a valid sequence.
 */
static void
assert_inert(const char *s, size_t n, int tab_ok)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 i, len;

	for (i = 0; i < n; i += len) {
		len = escape_utf8_len(p + i, n - i);
		cr_assert(len > 0, "not UTF-8 at %zu", i);
		cr_assert(len > 1 || (p[i] >= 0x20 && p[i] < 0x7f) ||
		    (tab_ok && p[i] == '\t'), "control %02x", p[i]);
		cr_assert(!(len == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0),
		    "C1 control");
	}
}

/*
 * Random strings, weighted towards the bytes that matter: both encodings
 * read back to the bytes given, and neither lets anything through that
 * could act on a terminal (JSON is printed too).
 */
Test(escape, round_trip_random)
{
	static const uint8_t	 pick[] = { 0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b,
	    '\\', '"', 'a', 0x7f, 0x80, 0x9b, 0x9f, 0xa0, 0xc2, 0xc3, 0xa9,
	    0xe2, 0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0xf4, 0x90, 0xff };
	uint8_t			 in[32], back[32 * 2];
	char			*out;
	size_t			 n, len, i, k, round;

	srandom(18);
	for (round = 0; round < 20000; round++) {
		n = (size_t)random() % sizeof(in);
		for (i = 0; i < n; i++)
			in[i] = random() % 2 ? pick[random() % sizeof(pick)] :
			    (uint8_t)random();
		out = run(in, n, 0, round % 2 ? ESCAPE_TAB : 0, &len);
		assert_inert(out, len, round % 2);
		k = unvis(out, len, back);
		cr_assert(k == n && memcmp(back, in, n) == 0, "text, round %zu",
		    round);
		free(out);
		out = run(in, n, 1, 0, &len);
		assert_inert(out, len, 0);
		k = unjson(out, len, back);
		cr_assert(k == n && memcmp(back, in, n) == 0, "JSON, round %zu",
		    round);
		free(out);
	}
}
