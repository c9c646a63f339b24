/*
 * What the libFuzzer targets (tests/fuzz_proto.c, tests/fuzz_conn.c;
 * tests/fuzz.sh builds and runs them) share: the entry point libFuzzer
 * calls, and CHECK(), which aborts on a broken invariant so that libFuzzer
 * keeps the input that broke it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #e);	\
		abort();						\
	}								\
} while (0)

#endif /* FUZZ_H */
