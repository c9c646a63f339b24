#!/bin/sh
# The unit tests and tests/integration.sh again, against the programs and
# tests that `make sanitize` built with AddressSanitizer and
# UndefinedBehaviorSanitizer in build/asan/.  Undefined behaviour aborts;
# every report of either sanitizer (leaks included) goes to a file of
# this run, and any such file is a failure, printed.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

ASAN=build/asan
REPORTS=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-san.XXXXXX") || exit 1
trap 'rm -rf "$REPORTS"' EXIT
on_interrupt
export ASAN_OPTIONS="log_path=$REPORTS/asan:detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="log_path=$REPORTS/ubsan:print_stacktrace=1:halt_on_error=1"

for t in $(make -s --no-print-directory list-tests); do
	if [ ! -x "$ASAN/tests/$t" ]; then
		fail "$ASAN/tests/$t is missing (make sanitize)"
		continue
	fi
	check "unit tests $t under ASan and UBSan" \
	    sh -c "./$ASAN/tests/$t >'$REPORTS/$t.out' 2>&1 ||
	    { tail -n 20 '$REPORTS/$t.out'; exit 1; }"
	rm -f "$REPORTS/$t.out"
done
NEGOTIATOR_BIN_DIR="$(pwd)/$ASAN" bash tests/integration.sh \
    >"$REPORTS/it.out" 2>&1
st=$?
[ "$st" -eq 0 ] || grep -v '^ok' "$REPORTS/it.out" | tail -n 30
check "integration tests against the sanitized daemons and CLIs" \
    test "$st" -eq 0
rm -f "$REPORTS/it.out"
for f in "$REPORTS"/*; do
	[ -e "$f" ] || continue
	fail "sanitizer report $(basename "$f"):"
	head -n 40 "$f"
done
finish
