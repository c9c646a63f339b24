/*
 * Unit tests of the logging module (common/log.c) where it stands between
 * a peer and the log: log_vis() makes peer strings one visible line, any
 * control character that reaches a log line anyway is replaced, and
 * log_limited() holds each key to its rate and all keys to a total, and
 * says what it dropped; the _warn helpers append strerror(errno).
 * The log (stderr) goes to a temporary file that each test reads back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* The NetBSD strnvis(); this file uses neither, but says which it means. */
#define LIBBSD_NETBSD_VIS
#include <vis.h>

#include <criterion/criterion.h>

#include "log.h"

static char	 logpath[] = "/tmp/test_log.XXXXXX";
static int	 saved_stderr = -1;

static void
setup(void)
{
	int	 fd;

	cr_assert_neq(fd = mkstemp(logpath), -1);
	cr_assert_neq(saved_stderr = dup(2), -1);
	cr_assert_eq(dup2(fd, 2), 2);
	close(fd);
	log_init("test", LOG_LEVEL_DEBUG, 0);
	log_set_rate(LOG_RATE_DEFAULT);
}

static void
teardown(void)
{
	dup2(saved_stderr, 2);
	close(saved_stderr);
	unlink(logpath);
}

/* The log so far, as one string; free it. */
static char *
read_log(void)
{
	FILE	*f = fopen(logpath, "r");
	char	*text;
	long	 n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	cr_assert_not_null(text);
	cr_assert_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

static size_t
count(const char *text, const char *what)
{
	size_t	 n = 0;

	while ((text = strstr(text, what)) != NULL) {
		n++;
		text += strlen(what);
	}
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1)
		;
}

/* --- log_vis ---------------------------------------------------------- */

Test(vis, encodes_what_could_forge_a_line)
{
	char	 out[LOG_VIS_SIZE(64)];

	cr_assert_str_eq(log_vis(out, sizeof(out), "plain words-1.2_3"),
	    "plain words-1.2_3");
	cr_assert_str_eq(log_vis(out, sizeof(out),
	    "x\nnegotiator-host: guest vm2: forged"),
	    "x\\nnegotiator-host: guest vm2: forged");
	cr_assert_str_eq(log_vis(out, sizeof(out), "\033[31mred\r\t\b"),
	    "\\033[31mred\\r\\t\\b");
	/* A backslash is doubled, so "\\n" typed by a peer stays apart. */
	cr_assert_str_eq(log_vis(out, sizeof(out), "a\\nb"), "a\\\\nb");
	cr_assert_str_eq(log_vis(out, sizeof(out), "caf\xc3\xa9 \x7f"),
	    "caf\\303\\251 \\177");
	cr_assert_str_eq(log_vis(out, sizeof(out), ""), "");
}

/* Every byte value encodes to 1-4 printable characters. */
Test(vis, every_byte)
{
	char	 in[2] = { 0, 0 }, out[LOG_VIS_SIZE(1)];
	size_t	 i;
	int	 c;

	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		log_vis(out, sizeof(out), in);
		cr_assert(strlen(out) >= 1 && strlen(out) <= 4, "%d", c);
		for (i = 0; out[i] != '\0'; i++)
			cr_assert(out[i] >= 0x20 && out[i] < 0x7f,
			    "byte %d encodes to %d", c, out[i]);
	}
}

/*
 * log_vis_byte gives what vis(3) gives, for every byte, whatever follows it,
 * with and without double quotes escaped: it only passes the bytes vis
 * leaves alone past vis, for speed.
 */
Test(vis, each_byte_as_vis_encodes_it)
{
	static const unsigned char nexts[] = { 0, '0', '7', 'a', '"', 0x80 };
	char	 ours[8], theirs[8];
	size_t	 i, k;
	int	 c, dq, flags;

	for (dq = 0; dq <= 1; dq++) {
		flags = VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL |
		    VIS_NOLOCALE | (dq ? VIS_DQ : 0);
		for (c = 0; c < 256; c++)
			for (i = 0; i < sizeof(nexts); i++) {
				k = log_vis_byte(ours, (unsigned char)c,
				    nexts[i], dq);
				vis(theirs, c, flags, nexts[i]);
				cr_assert_str_eq(ours, theirs,
				    "byte %d before %d, dq %d", c, nexts[i],
				    dq);
				cr_assert_eq(k, strlen(theirs));
			}
	}
}

/* A short buffer is cut between encodings, never inside one. */
Test(vis, cut_to_fit)
{
	char	 out[8];

	memset(out, 'Z', sizeof(out));
	cr_assert_str_eq(log_vis(out, 6, "ab\ncd"), "ab\\nc");
	cr_assert_str_eq(log_vis(out, 5, "ab\ncd"), "ab\\n");
	cr_assert_str_eq(log_vis(out, 4, "ab\ncd"), "ab");
	cr_assert_str_eq(log_vis(out, 5, "\033\033"), "\\033");
	cr_assert_str_eq(log_vis(out, 4, "\033\033"), "");
	cr_assert_eq(out[6], 'Z');
	cr_assert_str_eq(log_vis(out, 1, "abc"), "");
}

/* --- every line ------------------------------------------------------- */

TestSuite(line, .init = setup, .fini = teardown);

/* What a call site forgot to log_vis() cannot start a line of its own. */
Test(line, control_characters_replaced)
{
	char	*text;

	log_warnx("%s", "a\nfake: line\r\033[2J");
	log_info("%s", "next");
	text = read_log();
	cr_assert_str_eq(text, "test: a?fake: line??[2J\ntest: next\n");
	free(text);
}

/*
 * The _warn helpers append strerror(errno) at their own level, and leave
 * errno as it was; log_debug_warn is quiet below LOG_LEVEL_DEBUG.
 */
Test(line, strerror_appended)
{
	char	*text;

	errno = ENOENT;
	log_warn("a %d", 1);
	log_debug_warn("b %d", 2);
	log_init("test", LOG_LEVEL_INFO, 0);
	log_debug_warn("c %d", 3);
	cr_assert_eq(errno, ENOENT);
	text = read_log();
	cr_assert_str_eq(text, "test: a 1: No such file or directory\n"
	    "test: b 2: No such file or directory\n");
	free(text);
}

/* --- log_limited ------------------------------------------------------ */

TestSuite(limited, .init = setup, .fini = teardown);

/*
 * A flood from one key: the burst (2 s worth) gets through, the rest is
 * counted, and once the key has tokens again one line says how many.
 */
Test(limited, burst_then_summary)
{
	char	*text;
	size_t	 passed, i;
	unsigned long dropped = 0;
	const char *s;

	log_set_rate(10);
	for (i = 0; i < 1000; i++)
		log_limited("guest a", "guest a: line %zu", i);
	text = read_log();
	passed = count(text, "guest a: line ");
	/* 20 at once, and what 10 a second refill during the loop. */
	cr_assert(passed >= 20 && passed <= 22, "%zu lines", passed);
	cr_assert_eq(count(text, "suppressed"), 0);
	free(text);

	sleep_ms(1100);
	log_limited("guest a", "guest a: after");
	text = read_log();
	cr_assert_not_null(s = strstr(text, "messages suppressed"),
	    "no summary:\n%s", text);
	while (s > text && s[-1] != ':')
		s--;
	dropped = strtoul(s, NULL, 10);
	cr_assert_eq(dropped, 1000 - passed, "%lu dropped, %zu passed",
	    dropped, passed);
	cr_assert_eq(count(text, "messages suppressed"), 1);
	cr_assert_not_null(strstr(text, "guest a: after"));
	/* The summary comes before the line that got through. */
	cr_assert(strstr(text, "suppressed") < strstr(text, "guest a: after"));
	free(text);
}

/* One key's flood costs another key nothing. */
Test(limited, keys_are_separate)
{
	char	*text;
	size_t	 i;

	log_set_rate(5);
	for (i = 0; i < 500; i++)
		log_limited("guest a", "guest a: flood %zu", i);
	for (i = 0; i < 10; i++)
		log_limited_at(LOG_LEVEL_INFO, "guest b", "guest b: calm %zu",
		    i);
	text = read_log();
	cr_assert_eq(count(text, "guest b: calm "), 10, "%s", text);
	cr_assert_leq(count(text, "guest a: flood "), 11);
	free(text);
}

/* Lines below the level cost no token; 0 = no limit. */
Test(limited, levels_and_unlimited)
{
	char	*text;
	size_t	 i;

	log_init("test", LOG_LEVEL_QUIET, 0);
	log_set_rate(1);
	for (i = 0; i < 100; i++)
		log_limited_at(LOG_LEVEL_INFO, "k", "info %zu", i);
	log_limited_at(LOG_LEVEL_QUIET, "k", "warning 1");
	log_limited_at(LOG_LEVEL_QUIET, "k", "warning 2");
	log_limited_at(LOG_LEVEL_QUIET, "k", "warning 3");
	text = read_log();
	cr_assert_eq(count(text, "info "), 0);
	cr_assert_eq(count(text, "warning "), 2, "%s", text);
	free(text);
	log_set_rate(0);
	for (i = 0; i < 1000; i++)
		log_limited("k2", "free %zu", i);
	text = read_log();
	cr_assert_eq(count(text, "free "), 1000);
	free(text);
}

/*
 * Many keys cannot multiply the rate: 300 keys of 3 lines each (a fork
 * bomb of callers, each its own key) get the total's burst through, 5
 * times one key's (before: each key its own full bucket, 600 lines).
 */
Test(limited, many_keys_share_the_total)
{
	char	 key[32], *text;
	size_t	 i, n;

	log_set_rate(1);
	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "caller %zu", i);
		log_limited(key, "%s: hello", key);
		log_limited(key, "%s: hello", key);
		log_limited(key, "%s: hello", key);
	}
	text = read_log();
	n = count(text, ": hello");
	cr_assert(n >= 2 && n <= 10, "%zu lines, wanted at most 5 x 2", n);
	cr_assert_eq(count(text, "suppressed"), 0);
	free(text);

	/* Then every key's summary in turn, within the total too. */
	sleep_ms(1100);
	log_limited("caller 0", "caller 0: later");
	text = read_log();
	n = count(text, "messages suppressed");
	cr_assert(n >= 1 && n <= 10, "%zu summaries", n);
	free(text);
}

/*
 * A key's bucket is not reset while it is not full again, however many
 * other keys come meanwhile: a caller that connects again (or whose
 * bucket LRU would have evicted) has no more than it had left.
 */
Test(limited, a_spent_key_is_remembered)
{
	char	 key[32], *text;
	size_t	 i, n;

	log_set_rate(10);
	for (i = 0; i < 100; i++)
		log_limited("caller uid 1000", "uid 1000: first %zu", i);
	/* 70 other keys, one line each: more than there are buckets. */
	for (i = 0; i < 70; i++) {
		snprintf(key, sizeof(key), "guest %zu", i);
		log_limited(key, "%s: once", key);
	}
	sleep_ms(500);
	for (i = 0; i < 100; i++)
		log_limited("caller uid 1000", "uid 1000: again %zu", i);
	text = read_log();
	n = count(text, "uid 1000: first ");
	cr_assert(n >= 20 && n <= 22, "%zu lines of the first flood", n);
	/* Half a second's refill (5), not a fresh burst (20). */
	n = count(text, "uid 1000: again ");
	cr_assert_leq(n, 7, "%zu lines of the second flood", n);
	free(text);
}
