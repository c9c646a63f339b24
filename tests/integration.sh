#!/bin/bash
# Integration tests: the real daemons joined by emulated channels
# (tests/vserial: UNIX sockets standing in for QEMU's chardev on the host
# and for /dev/vportNpM in the guest), on private sockets in a temp dir.
# Runs the shared scenarios, then what only the emulation makes easy:
# daemon restarts, garbage on the line, calls with no daemon running.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
. "$REPO/tests/scenarios.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-it.XXXXXX") || exit 1
GUEST=vm1
# NEGOTIATOR_BIN_DIR: where the programs are (build/asan for the
# sanitized ones, tests/sanitized.sh).
HOSTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-host
GUESTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-guest
COMMON="--commands-dir $REPO/tests/commands.d --builtin-dir $REPO/commands"
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= HOSTD_PID= GUESTD_PID=
mkdir -p "$TMP/chan" "$TMP/gport"

# The daemons start with signals ignored, as a careless supervisor might
# leave them (among them glibc's own 32 and 33, and a real-time one), and
# a variable in the environment: their commands must get neither.
IGNORING="$REPO/tests/ignoring 1 3 10 12 14 32 33 34 64 --"
start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    $IGNORING env NEGOTIATOR_TEST_LEAK=1 "$HOSTBIN" -d -v \
	    --control "$TMP/host.sock" --channel-dir "$TMP/chan" $COMMON
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    $IGNORING env NEGOTIATOR_TEST_LEAK=1 "$GUESTBIN" -d -v \
	    --control "$TMP/guest.sock" -c "$TMP/gport" $COMMON
}
trap 'end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"' EXIT
on_interrupt

start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

run_all_scenarios
scenario_bulk 10000000

# Garbage between calls: both daemons skip it, say so, and resynchronise.
# vserial sends 100 bytes to each end of both ports per SIGUSR1; a
# daemon's "skipped bad input: ... (N bytes)" lines (one per batch of
# reads, lib.sh's skipped_bytes) must add up to all of it but the last 3
# bytes of each port, which may start a frame's magic and wait for more.
garbage_skipped() {
	skipped_at_least "$TMP/hostd.log" "$hl" 'guest vm1' 394 &&
	    skipped_at_least "$TMP/guestd.log" "$gl" 'host (' 394
}
hl=$(($(wc -l <"$TMP/hostd.log") + 1)) gl=$(($(wc -l <"$TMP/guestd.log") + 1))
kill -USR1 "$VS_PID"; sleep 0.2; kill -USR1 "$VS_PID"
wait_until 5 garbage_skipped
check "garbage on the line: both daemons skipped it, counted (host $(skipped_bytes \
    "$TMP/hostd.log" "$hl" 'guest vm1'), guest $(skipped_bytes "$TMP/guestd.log" \
    "$gl" 'host (') of 400 bytes each, 394 wanted)" garbage_skipped
check "after garbage on the line, host->guest works" \
    test "$($H -e 'echo-args after garbage' "$GUEST")" = "[after][garbage]"
check "after garbage on the line, guest->host works" \
    test "$(guest_cli -e env-guest)" = "$GUEST"

# The host daemon restarted: calls work again, by themselves.
stop_pid "$HOSTD_PID"
check "host daemon stopped: control socket removed" test ! -e "$TMP/host.sock"
start_hostd
check "host daemon restarted: calls work again" wait_until 5 serving

# The guest daemon killed hard and restarted.
kill -9 "$GUESTD_PID"; wait "$GUESTD_PID" 2>/dev/null
start_guestd
check "guest daemon restarted after SIGKILL: calls work again" \
    wait_until 5 serving

# No daemon at all: the CLIs open the channel themselves.
stop_pid "$HOSTD_PID"; HOSTD_PID=
check "host CLI without a daemon opens the channel itself" \
    wait_until 5 sh -c "test \"\$($H -e 'echo-args direct' $GUEST)\" = '[direct]'"
stop_pid "$GUESTD_PID"; GUESTD_PID=
start_hostd
check "guest CLI without a daemon opens the port itself" \
    wait_until 5 sh -c "test \"\$($GUESTBIN --control $TMP/guest.sock -c $TMP/gport -e env-guest)\" = $GUEST"
start_guestd
check "both daemons back" wait_until 5 serving

# Started with fds 0-2 closed, as a careless caller or supervisor might:
# the programs open /dev/null on them first, so that no output or log line
# goes into a socket or a port that took one of those numbers.
closed_std() { "$@" <&- >&- 2>&-; }
check "host CLI with fds 0-2 closed: the call works" \
    closed_std $H -e 'echo-args x' "$GUEST"
check "guest CLI with fds 0-2 closed: the call works" \
    closed_std guest_cli -e 'echo-args x'
stop_pid "$GUESTD_PID"; GUESTD_PID=
$IGNORING "$GUESTBIN" -d --control "$TMP/guest.sock" -c "$TMP/gport" \
    $COMMON <&- >&- 2>&- &
GUESTD_PID=$!
check "guest daemon with fds 0-2 closed: calls work" wait_until 5 serving
check "... its commands get fds 0-2, no signal ignored" \
    clean_start $H -e proc-state "$GUEST"
check "... and its own fds 0-2 are /dev/null" test "$(readlink \
    "/proc/$GUESTD_PID/fd/0")$(readlink "/proc/$GUESTD_PID/fd/2")" = \
    /dev/null/dev/null
check "the host daemon saw no garbage from a caller" \
    eval "! grep -q 'caller .*skipped bad input' '$TMP/hostd.log'"

# Leaks: the daemons hold no more fds than when idle.  A caller that has
# just exited may still be closing on the daemon's side: counts are taken
# once they settle.
host_fds() { ls "/proc/$HOSTD_PID/fd" | wc -l; }
settled_fds() {
	local a b
	a=$(host_fds); sleep 0.2; b=$(host_fds)
	[ "$a" -eq "$b" ] && echo "$b"
}
host_fds_at_most() { [ "$(host_fds)" -le "$1" ]; }
fds_host=
wait_until 5 settled_fds && fds_host=$(settled_fds)
for i in 1 2 3 4 5; do $H -e both "$GUEST" >/dev/null 2>&1; done
$H -t 1 -e 'sleeper 30' "$GUEST" >/dev/null
check "no fd leaked by the host daemon over calls (idle: ${fds_host:-unsettled})" \
    wait_until 5 host_fds_at_most "${fds_host:-0}"
# fds is a script: fd 3 is the script itself, run through the descriptor
# that was checked, for its interpreter to read (negotiator-commands(7)).
check "commands get only fds 0-2 (and a script, 3: itself)" \
    test "$($H -e fds "$GUEST" | sort -n | tr '\n' ' ')" = "0 1 2 3 "

finish
