# Shared helpers for the shell test suites: counting checks, waiting with a
# deadline.  Source it; call `finish` last (prints "N passed, M failed").

PASSED=0
FAILED=0

ok()   { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_status WANT DESCRIPTION COMMAND...: passes when COMMAND exits WANT.
expect_status() {
	local want=$1 what=$2 got; shift 2
	"$@"; got=$?
	if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"
	else fail "$what (exit $got, wanted $want)"; fi
}

# wait_until SECONDS COMMAND...: polls every 0.1 s; 0 once COMMAND succeeds.
wait_until() {
	local limit=$1 i=0; shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $((limit * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
