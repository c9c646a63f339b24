/*
 * Unit tests of status_from_exit (common/status.c): the CLI's exit status
 * for how a remote command ended.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "proto.h"
#include "status.h"

static int
status(uint32_t kind, int32_t code)
{
	struct proto_exit	 ex;

	memset(&ex, 0, sizeof(ex));
	ex.ex_id = 1;
	ex.ex_kind = kind;
	ex.ex_code = code;
	return status_from_exit(&ex);
}

/*
 * Each way a command fails to run or finish has its own status, apart from
 * every status a command that ran can give through a signal (128+N), so a
 * caller can tell them apart; only an exit code can look like them.
 */
Test(status, failures_distinct)
{
	static const uint32_t	 kinds[] = { EXIT_TIMEOUT, EXIT_FAILED,
	    EXIT_NOTEXEC, EXIT_NOTFOUND };
	size_t			 i, j;
	int32_t			 sig;
	int			 st;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		st = status(kinds[i], 0);
		for (j = 0; j < i; j++)
			cr_assert_neq(st, status(kinds[j], 0), "kinds %u and %u",
			    kinds[i], kinds[j]);
		for (sig = 1; sig < 128; sig++)
			cr_assert_neq(st, status(EXIT_SIGNALED, sig),
			    "kind %u and signal %d", kinds[i], sig);
		cr_assert_neq(st, 0, "kind %u looks like success", kinds[i]);
	}
}

Test(status, exited)
{
	int32_t	 code;

	cr_assert_eq(status(EXIT_EXITED, 0), 0);
	cr_assert_eq(status(EXIT_EXITED, 3), 3);
	cr_assert_eq(status(EXIT_EXITED, 255), 255);
	for (code = 0; code <= 255; code++)
		cr_assert_eq(status(EXIT_EXITED, code), code);
}

/* Each of the n codes, ending as kind, gives STATUS_FAILURE. */
static void
expect_failure(uint32_t kind, const int32_t *codes, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		cr_assert_eq(status(kind, codes[i]), STATUS_FAILURE,
		    "kind %u, code %d", kind, codes[i]);
}

Test(status, exited_out_of_range)
{
	static const int32_t	 codes[] = { -1, -255, 256, 257, 1000,
	    INT32_MAX, INT32_MIN };

	expect_failure(EXIT_EXITED, codes, sizeof(codes) / sizeof(codes[0]));
}

Test(status, signaled)
{
	int32_t	 sig;

	cr_assert_eq(status(EXIT_SIGNALED, 9), 137);
	cr_assert_eq(status(EXIT_SIGNALED, 15), 143);
	cr_assert_eq(status(EXIT_SIGNALED, 1), 129);
	cr_assert_eq(status(EXIT_SIGNALED, 127), 255);
	for (sig = 1; sig < 128; sig++)
		cr_assert_eq(status(EXIT_SIGNALED, sig), 128 + sig);
}

Test(status, signaled_out_of_range)
{
	static const int32_t	 sigs[] = { 0, 128, 129, 255, 1000, -1, -9,
	    INT32_MAX, INT32_MIN };

	expect_failure(EXIT_SIGNALED, sigs, sizeof(sigs) / sizeof(sigs[0]));
}

/* The other kinds ignore the code. */
Test(status, other_kinds)
{
	static const int32_t	 codes[] = { 0, 1, -1, 9, 255, INT32_MAX,
	    INT32_MIN };
	size_t			 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_eq(status(EXIT_TIMEOUT, codes[i]), 124);
		cr_assert_eq(status(EXIT_NOTEXEC, codes[i]), 126);
		cr_assert_eq(status(EXIT_NOTFOUND, codes[i]), 127);
		cr_assert_eq(status(EXIT_FAILED, codes[i]), 125);
	}
}

/* A kind proto_parse would refuse still maps to a failure, not garbage. */
Test(status, unknown_kind)
{
	cr_assert_eq(status(EXIT_KIND_COUNT, 0), STATUS_FAILURE);
	cr_assert_eq(status(EXIT_KIND_COUNT, 3), STATUS_FAILURE);
	cr_assert_eq(status(UINT32_MAX, 0), STATUS_FAILURE);
}
