/*
 * What fan-out writes (fanout.c): each guest's output and result, as text
 * or as JSON, and the guest table of -g.  Peer strings reach a terminal
 * through escape_text and a JSON reader through escape_json (escape.c),
 * never raw.
 *
 * Output, as it comes: each line of a guest's stdout on our stdout and of
 * its stderr on our stderr, prefixed "GUEST: ", made visible by
 * escape_text (controls, C1 and bytes that are not UTF-8 as \ooo, tabs
 * kept), so that a guest cannot forge another's line or act on the
 * terminal; at the end, on stderr, one line per guest that failed and how.
 * With --json, one object per guest once it is done:
 *
 *	{"guest":"web1","exit":0,"signal":null,"stdout":"...","stderr":"...",
 *	 "ms":12.3}
 *
 * "exit" is the status -e would exit with for that guest (128+N when
 * killed by signal N), "signal" N then, else null; plus "error" when the
 * command did not run to its end (negotiator's failure, a timeout) and
 * "truncated":true when output went beyond FANOUT_JSON_MAX per stream.
 * Strings are JSON, lossless for bytes that are not UTF-8 (escape_json).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call.h"
#include "escape.h"
#include "fanout.h"
#include "host.h"
#include "output.h"
#include "status.h"

#define REPORT_LINE_MAX		(64 * 1024)	/* a longer line is cut */

/* One line of a guest's output, prefixed, control characters made visible. */
static void
text_line(const struct target *t, int s, const uint8_t *p, size_t n)
{
	FILE	*f = s == STREAM_STDOUT ? stdout : stderr;

	escape_text_str(f, t->t_name, 0);
	fputs(": ", f);
	escape_text(f, p, n, ESCAPE_TAB);
	fputc('\n', f);
}

/* Writes the whole lines waiting for stream s; all of it if final. */
void
report_flush(struct target *t, int s, int final)
{
	struct buf	*b = &t->t_out[s];
	const uint8_t	*nl;
	size_t		 n;

	while (buf_pending(b) > 0) {
		nl = memchr(buf_head(b), '\n', buf_pending(b));
		if (nl != NULL)
			n = (size_t)(nl - buf_head(b));
		else if (final || buf_pending(b) >= REPORT_LINE_MAX)
			n = buf_pending(b);
		else
			break;
		text_line(t, s, buf_head(b), n);
		buf_consume(b, n + (nl != NULL));
	}
	if (buf_pending(b) == 0)
		buf_free(b);
}

void
report_target(const struct fanout *fo, struct target *t)
{
	int	 s;

	if (!fo->fo_json) {
		for (s = STREAM_STDOUT; s < STREAM_COUNT; s++)
			report_flush(t, s, 1);
		if (fo->fo_type == MSG_PING && t->t_status == 0)
			printf("%s: time=%.3f ms\n", t->t_name, t->t_ms);
		if (t->t_error[0] != '\0') {
			escape_text_str(stderr, t->t_name, 0);
			fputs(": ", stderr);
			escape_text_str(stderr, t->t_error, 0);
			fputc('\n', stderr);
		}
		fflush(stdout);
		return;
	}
	fputs("{\"guest\":", stdout);
	escape_json_str(stdout, t->t_name);
	printf(",\"exit\":%d", t->t_status);
	if (t->t_signal > 0)
		printf(",\"signal\":%d", t->t_signal);
	else
		fputs(",\"signal\":null", stdout);
	if (fo->fo_type == MSG_OPEN)
		for (s = STREAM_STDOUT; s < STREAM_COUNT; s++) {
			printf(",\"%s\":\"", s == STREAM_STDOUT ? "stdout" :
			    "stderr");
			escape_json(stdout, buf_head(&t->t_out[s]),
			    buf_pending(&t->t_out[s]));
			fputc('"', stdout);
		}
	printf(",\"ms\":%.3f", t->t_ms);
	if (t->t_error[0] != '\0') {
		fputs(",\"error\":", stdout);
		escape_json_str(stdout, t->t_error);
	}
	if (t->t_truncated)
		fputs(",\"truncated\":true", stdout);
	fputs("}\n", stdout);
	fflush(stdout);
}

static const char *
state_name(uint8_t state)
{
	switch (state) {
	case PEER_READY:
		return "connected";
	case PEER_SILENT:
		return "not answering";
	default:
		return "not connected";
	}
}

/* 0 once stdout is written; 125 and why if it cannot be (not EPIPE). */
int
report_flushed(void)
{
	int	 error;

	if ((error = output_flush(stdout)) == 0)
		return 0;
	warnx("cannot write stdout: %s", strerror(error));
	return STATUS_FAILURE;
}

/* -g without a daemon: each guest found, as -g and -g --json show it. */
void
report_found(const struct fanout *f, const struct found_guest *found,
    size_t n)
{
	size_t	 i;

		for (i = 0; i < n; i++) {
			if (!f->fo_json) {
				escape_text_str(stdout, found[i].fg_name, 0);
				/* -v: the state, as the JSON says it. */
				fputs(f->fo_verbose ? "\tfound, no daemon\n" :
				    "\n", stdout);
				continue;
			}
			fputs("{\"guest\":", stdout);
			escape_json_str(stdout, found[i].fg_name);
			fputs(",\"state\":\"found, no daemon\","
			    "\"last_frame\":null,\"protocol\":null,"
			    "\"commands\":null}\n", stdout);
		}
}

/* -g: the daemon's guest table, as text (call.c's) or JSON lines. */
void
report_guests(const struct fanout *f, const struct proto_names *na)
{
	struct tm	 tm;
	time_t		 at;
	char		 when[64];
	size_t		 i;

	if (!f->fo_json)
		call_print_names(na, f->fo_verbose, 0);
	for (i = 0; f->fo_json && i < na->na_count; i++) {
		fputs("{\"guest\":", stdout);
		escape_json_str(stdout, na->na_names[i]);
		printf(",\"state\":\"%s\"", state_name(na->na_state[i]));
		if (na->na_quiet[i] == PROTO_QUIET_NEVER)
			fputs(",\"last_frame\":null,\"last_frame_age_s\":null",
			    stdout);
		else {
			at = time(NULL) - (time_t)na->na_quiet[i];
			if (gmtime_r(&at, &tm) == NULL ||
			    strftime(when, sizeof(when), "%FT%TZ", &tm) == 0)
				strlcpy(when, "?", sizeof(when));
			printf(",\"last_frame\":\"%s\",\"last_frame_age_s\":%u",
			    when, na->na_quiet[i]);
		}
		if (na->na_version[i] == 0)
			fputs(",\"protocol\":null", stdout);
		else
			printf(",\"protocol\":%u", na->na_version[i]);
		printf(",\"commands\":%u}\n", na->na_calls[i]);
	}
}

/*
 * The end of text mode, on stderr: one line per guest that failed, in the
 * order asked, with its status and why (the exit code, the signal, or the
 * reason already shown as it happened), then the count.
 */
void
report_summary(const struct fanout *fo, const struct target *targets,
    size_t ntargets, size_t failed)
{
	const struct target	*t;
	size_t			 i;

	for (i = 0; i < ntargets; i++) {
		t = &targets[i];
		if (t->t_status == 0)
			continue;
		fprintf(stderr, "%s: failed: ", fo->fo_progname);
		escape_text_str(stderr, t->t_name, 0);
		if (t->t_signal > 0)
			fprintf(stderr, ": killed by signal %d (status %d)\n",
			    t->t_signal, t->t_status);
		else if (t->t_error[0] == '\0')
			fprintf(stderr, ": exit %d\n", t->t_status);
		else {
			fprintf(stderr, ": status %d: ", t->t_status);
			escape_text_str(stderr, t->t_error, 0);
			fputc('\n', stderr);
		}
	}
	if (!fo->fo_quiet)
		warnx("%zu of %zu guests failed", failed, ntargets);
}
