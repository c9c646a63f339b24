#!/bin/bash
# The test harness itself: waits are bounded in wall-clock seconds, the VM
# accelerator is chosen by a probe boot and not by the presence of
# /dev/kvm, a guest that never boots makes a suite fail within its bound
# (saying what it waited for, with the console's tail), an interrupted
# demo leaves no QEMU, daemon or temporary directory behind, and a skip
# that hides a claim fails its suite.
#
# A non-working KVM is played by a wrapper in front of QEMU
# ($NEGOTIATOR_QEMU) and a writable file standing in for /dev/kvm
# ($NEGOTIATOR_KVM_DEV), so this runs the same on machines with and without
# KVM.  Three wrappers: "hangs" never starts QEMU under KVM (sleeps), "frozen"
# starts it with the CPU stopped (-S: sockets up, the guest never runs; under
# TCG, since the machine may have no KVM at all), "works" boots it under
# TCG instead (a KVM that works).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

VM=$REPO/tests/vm/vm.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nh.XXXXXX") || exit 1
# What the suites below create goes into a directory of its own, so that
# "left nothing behind" can be checked.
SUB=$TMP/s
mkdir -p "$SUB" "$TMP/bin"
BG=
cleanup() {
	trap '' INT TERM HUP
	[ -n "$BG" ] && kill_tree "$BG"
	kill_tree $(pgrep -f -- "$TMP") 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

# elapsed_since MS: whole seconds since MS (from now_ms).
elapsed_since() { echo $(( ($(now_ms) - $1) / 1000 )); }
# bounded DESCRIPTION STATUS_TEST SECONDS COMMAND...: passes when COMMAND
# returns within SECONDS (whole, less than) with a status that passes
# `test STATUS STATUS_TEST`, e.g. "-eq 1".
bounded() {
	local what=$1 cond=$2 limit=$3 t0 rc; shift 3
	t0=$(now_ms)
	"$@"; rc=$?
	# shellcheck disable=SC2086
	check "$what (status $rc)" \
	    test "$rc" $cond -a "$(elapsed_since "$t0")" -lt "$limit"
}
# nothing_left: no process mentions $SUB and $SUB is empty.
nothing_left() {
	! pgrep -f -- "$SUB" >/dev/null && [ -z "$(ls -A "$SUB")" ]
}
show_left() {
	pgrep -af -- "$SUB" | cut -c1-160
	ls -A "$SUB"
}
# ends_clean SIGNAL SECONDS: the demo ($BG), just sent SIGNAL, ends within
# SECONDS and leaves no QEMU, daemon or directory behind.
ends_clean() {
	local t0
	t0=$(now_ms)
	reap "$(($2 + 10))" "$BG"
	check "demo after $1: ended within $2 s" \
	    test "$(elapsed_since "$t0")" -le "$2"
	BG=
	check "demo after $1: no QEMU, daemon or directory left" \
	    wait_until 3 nothing_left || show_left
}

# --- wait_until, within, reap: wall-clock bounds whatever the command does.

bounded "wait_until 2 on a command that hangs returns 1 within 3 s" \
    "-eq 1" 3 wait_until 2 sleep 30.0417
hangs() { sleep 31.0417; }
bounded "wait_until 2 on a shell function that hangs returns within 3 s" \
    "-eq 1" 3 wait_until 2 hangs
check "the hung tries were killed with their children" \
    wait_until 2 sh -c '! pgrep -f "sleep 3[01].0417"'
slow_false() { sleep 4; false; }
bounded "wait_until counts seconds, not tries (3 s for tries of 4 s)" \
    "-eq 1" 4 wait_until 3 slow_false
check "wait_until returns 0 once the command succeeds" \
    wait_until 5 test -d "$TMP"
within 5 sh -c 'exit 7'
check "within passes the status on" test $? -eq 7
bounded "within 1 kills a command that runs longer" "-ne 0" 2 \
    within 1 sleep 30
sh -c 'trap "" TERM; exec sleep 32.0417' &
t0=$(now_ms)
stop_pid $! 1
check "stop_pid kills a process that ignores SIGTERM within its bound" \
    test "$(elapsed_since "$t0")" -lt 2 -a -z "$(pgrep -f 'sleep 32.0417')"

# --- skip and finish: a skip that hides a claim fails its suite, one whose
# claim another suite makes does not, and make check hears of both;
# pid_gone: only a pid that was obtained and that no process has.

# suite_with SKIP-ARGUMENT...: the status of a suite of one passing check
# and that skip, whose skips go to $TMP/skips.
suite_with() {
	(PASSED=0 FAILED=0 SKIPPED=0 HIDDEN=0 CHECK_SKIPS=$TMP/skips
	ok "a check"; skip "$@"; finish) >/dev/null
}
check "a skip whose claim another suite makes: the suite passes" \
    suite_with --elsewhere "the VM suite" "cannot be made here"
expect_status 1 "a skip that hides a claim: the suite fails" \
    suite_with "not root"
check "... and each is recorded for make check's summary" test \
    "$(cat "$TMP/skips")" = "the VM suite	cannot be made here
-	not root"
sleep 33.0417 &
live=$!
sh -c 'exit 0' &
gone=$!
wait "$gone"
check "pid_gone: a pid that no process has" pid_gone "$gone"
expect_status 1 "pid_gone: a live process is not gone" pid_gone "$live"
expect_status 2 "pid_gone: an empty pid is not gone" pid_gone "" 2>/dev/null
expect_status 2 "pid_gone: a word that is not a pid is not gone" \
    pid_gone 12x 2>/dev/null
stop_pid "$live"

# --- The accelerator probe.

"$REPO/tests/vm/mkimage.sh" "$TMP/image" >/dev/null 2>&1 ||
    { fail "build the test image"; finish; exit 1; }
export VM_IMAGE=$TMP/image
: >"$TMP/kvm"			# a "/dev/kvm" that exists and is writable
export NEGOTIATOR_KVM_DEV=$TMP/kvm
for kind in hangs frozen works; do
	cat >"$TMP/bin/qemu-$kind" <<EOF
#!/bin/sh
# QEMU whose KVM $kind.
case " \$* " in
*accel=kvm*) ;;
*) exec qemu-system-x86_64 "\$@" ;;
esac
EOF
done
cat >>"$TMP/bin/qemu-hangs" <<'EOF'
exec sleep 3600
EOF
# "frozen" and "works" run TCG where KVM was asked for, so that they run
# the same on a machine without /dev/kvm.
for kind in frozen works; do
	cat >>"$TMP/bin/qemu-$kind" <<'EOF'
for a; do shift; [ "${a#*accel=kvm}" != "$a" ] && a=${a%%accel=kvm*}accel=tcg${a#*accel=kvm}; set -- "$@" "$a"; done
EOF
done
cat >>"$TMP/bin/qemu-frozen" <<'EOF'
exec qemu-system-x86_64 -S "$@"
EOF
cat >>"$TMP/bin/qemu-works" <<'EOF'
exec qemu-system-x86_64 "$@"
EOF
chmod 755 "$TMP"/bin/*

# probe KIND [LIMIT]: runs `vm.sh accel` with that wrapper and a probe
# limit of LIMIT seconds (default 4); the choice in $TMP/accel.out, the
# reason in $TMP/accel.err.
probe() {
	NEGOTIATOR_QEMU=$TMP/bin/qemu-$1 NEGOTIATOR_KVM_PROBE_S=${2:-4} \
	    NEGOTIATOR_VM_ACCEL= TMPDIR=$SUB \
	    within 20 "$VM" accel >"$TMP/accel.out" 2>"$TMP/accel.err"
}
for kind in hangs frozen; do
	t0=$(now_ms)
	probe "$kind"
	check "KVM $kind: TCG chosen (got '$(cat "$TMP/accel.out")')" \
	    test "$(cat "$TMP/accel.out")" = tcg
	check "KVM $kind: decided within 4 s + 3" \
	    test "$(elapsed_since "$t0")" -le 7
	check "KVM $kind: one line says why" \
	    grep -q 'did not reach /init under KVM within 4 s' "$TMP/accel.err"
	check "KVM $kind: the probe left nothing behind" nothing_left ||
	    show_left
done
probe works 20		# TCG playing KVM: slower than KVM, on a loaded machine
check "KVM works: KVM chosen (got '$(cat "$TMP/accel.out")')" \
    test "$(cat "$TMP/accel.out")" = kvm
check "KVM works: one line says why" \
    grep -q 'reached /init under KVM' "$TMP/accel.err"
NEGOTIATOR_VM_ACCEL=tcg NEGOTIATOR_QEMU=$TMP/bin/qemu-hangs \
    within 10 "$VM" accel >"$TMP/accel.out" 2>"$TMP/accel.err"
check "NEGOTIATOR_VM_ACCEL=tcg forces TCG without a probe" \
    test "$(cat "$TMP/accel.out")" = tcg -a -n "$(grep forced "$TMP/accel.err")"
NEGOTIATOR_VM_ACCEL=bogus within 10 "$VM" accel >/dev/null 2>"$TMP/accel.err"
check "NEGOTIATOR_VM_ACCEL=bogus is refused with a message" \
    grep -q 'must be kvm or tcg' "$TMP/accel.err"
rm -f "$NEGOTIATOR_KVM_DEV"
NEGOTIATOR_VM_ACCEL= within 10 "$VM" accel >"$TMP/accel.out" 2>"$TMP/accel.err"
check "no KVM device: TCG, and says so" \
    test "$(cat "$TMP/accel.out")" = tcg -a -n "$(grep 'no writable' "$TMP/accel.err")"
: >"$NEGOTIATOR_KVM_DEV"

# --- KVM forced on a KVM that never boots: the suites fail within their
# bounds, say what they waited for, show the console, leave nothing.

NEGOTIATOR_VM_ACCEL=kvm NEGOTIATOR_QEMU=$TMP/bin/qemu-hangs VM_START_S=3 \
    within 20 "$VM" start "$SUB/vm" hung "$SUB/chan" >"$TMP/start.log" 2>&1
rc=$?
check "vm.sh start with a QEMU that hangs fails (status $rc), not hangs" \
    test "$rc" -ne 0 -a "$rc" -ne 137
check "... saying QEMU did not start in time" \
    grep -q 'failed to start within 3 s' "$TMP/start.log"
check "... and leaves no QEMU running" \
    wait_until 3 eval "! pgrep -f -- '$SUB' >/dev/null"
rm -rf "${SUB:?}"/*

t0=$(now_ms)
NEGOTIATOR_VM_ACCEL=kvm NEGOTIATOR_QEMU=$TMP/bin/qemu-frozen VM_BOOT_S=5 \
    TMPDIR=$SUB within 60 bash "$REPO/tests/vm/vmtest.sh" >"$TMP/vmtest.log" 2>&1
rc=$?
took=$(elapsed_since "$t0")
check "VM suite on a KVM that never boots fails (status $rc) in $took s (bound 5 s + 20)" \
    test "$rc" -ne 0 -a "$rc" -ne 137 -a "$took" -le 25
check "... saying what it waited for" \
    grep -q "'init: starting negotiator-guest' not on the console after 5 s" "$TMP/vmtest.log"
check "... with the console's tail" grep -q 'console tail' "$TMP/vmtest.log"
check "... and leaves nothing behind" wait_until 3 nothing_left || show_left

# --- An interrupted demo leaves nothing behind: Ctrl-C (SIGINT to the
# whole process group) while the guest boots, and SIGTERM to the script
# alone once the host daemon runs.

set -m		# background jobs get process groups of their own
NEGOTIATOR_VM_ACCEL=kvm NEGOTIATOR_QEMU=$TMP/bin/qemu-frozen \
    TMPDIR=$SUB bash "$REPO/tests/vm/demo.sh" >"$TMP/demo1.log" 2>&1 &
BG=$!
set +m
check "demo: QEMU up (frozen)" wait_until 30 pgrep -f -- "$SUB/negotiator-demo.*/monitor.sock"
kill -INT -- -"$BG"
ends_clean Ctrl-C 15

NEGOTIATOR_VM_ACCEL=tcg TMPDIR=$SUB \
    bash "$REPO/tests/vm/demo.sh" >"$TMP/demo2.log" 2>&1 &
BG=$!
check "demo: the host daemon runs and the guest answers" \
    wait_until 60 grep -q '== host -> guest' "$TMP/demo2.log"
check "demo: QEMU and the host daemon are running" \
    eval "pgrep -f -- '$SUB.*monitor.sock' && pgrep -f -- '$SUB.*host.sock.*--commands-dir'" >/dev/null
kill -TERM "$BG"
ends_clean SIGTERM 20

finish
