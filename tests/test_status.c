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

Test(status, constants)
{
	cr_assert_eq(STATUS_TIMEOUT, 124);
	cr_assert_eq(STATUS_FAILURE, 125);
	cr_assert_eq(STATUS_NOTEXEC, 126);
	cr_assert_eq(STATUS_NOTFOUND, 127);
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

Test(status, exited_out_of_range)
{
	static const int32_t	 codes[] = { -1, -255, 256, 257, 1000,
	    INT32_MAX, INT32_MIN };
	size_t			 i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		cr_assert_eq(status(EXIT_EXITED, codes[i]), STATUS_FAILURE,
		    "code %d", codes[i]);
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
	size_t			 i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		cr_assert_eq(status(EXIT_SIGNALED, sigs[i]), STATUS_FAILURE,
		    "signal %d", sigs[i]);
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
