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
VS_PID= HOSTD_PID= GUESTD_PID= HOSTD2_PID=
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
trap 'end_suite "$HOSTD2_PID" "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"' EXIT
on_interrupt

start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

run_all_scenarios
scenario_bulk 10000000

# The credit a caller grants its output (proto.h, PROTO_WIDE_WINDOW): a
# host CLI 1 MiB, since its output comes out of a guest; a guest CLI the
# 256 KiB of the protocol.  A command whose output nobody reads gets out
# that window and its own pipe's 64 KiB; the credit for what fills the
# CLI's stdout (64 KiB) goes back, and the relay passes it on once it is
# a step (relay.c): a quarter of the window, so for a guest CLI only.
# out_filled COUNT TARGET CLI...: runs CLI... -e 'out-count COUNT' TARGET
# into a FIFO nobody reads; prints the bytes the command wrote once that
# has not grown for 1.5 s (20 s at most), then ends the call.  CLI is a
# program, not a shell function: the call ends by killing its pid.
out_filled() {
	local count=$1 target=$2 pid n=0 last same=0 i; shift 2
	rm -f "$count" "$TMP/unread"
	mkfifo "$TMP/unread" && exec 7<>"$TMP/unread"
	"$@" -t 30 -e "out-count $count" $target >"$TMP/unread" 2>/dev/null &
	pid=$!
	for ((i = 0; i < 40 && same < 3; i++)); do
		sleep 0.5; last=$n
		n=$(cat "$count" 2>/dev/null) || n=0
		if [ "$n" -gt 0 ] && [ "$n" = "$last" ]; then same=$((same + 1))
		else same=0; fi
	done
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	exec 7<&-
	echo "$n"
}
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
n=$(out_filled "$TMP/h.count" "$GUEST" $H)
check "a host CLI's output window is 1 MiB: a command's unread output stopped at $n bytes (1 MiB and its pipe: 1114112 here)" \
    between "$n" $((1024 * 1024 + 65536)) $((1024 * 1024 + 3 * 65536))
n=$(out_filled "$TMP/g.count" "" "$GUESTBIN" --control "$TMP/guest.sock" \
    -c "$TMP/gport")
check "a guest CLI's output window is 256 KiB: a command's unread output stopped at $n bytes (256 KiB and the pipes: 393216 here)" \
    between "$n" $((256 * 1024 + 65536)) $((256 * 1024 + 4 * 65536))

# A guest command's stdin is a pipe of 1 MiB, which the guest daemon asks
# for (runner.h, RUNNER_GUEST_STDIN_PIPE); the host daemon leaves its
# commands' pipes as the kernel makes them (here: what a pipe of ours holds).
default_pipe=$(echo | "$REPO/tests/commands.d/pipe-sizes" | cat)
check "a guest command's stdin is a 1 MiB pipe, its stdout as made ($default_pipe here)" \
    test "$(echo | $H -e pipe-sizes "$GUEST")" = "1048576 ${default_pipe#* }"
check "a host command's stdin, from a guest's call, is a pipe as made" \
    test "$(echo | guest_cli -e pipe-sizes)" = "$default_pipe"

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

# A second host daemon on the same channels (emulated as QEMU does: one
# client a socket, any other closed at once): it says once per channel that
# they seem taken, not a line per retry, and the first one keeps serving.
start_daemon HOSTD2_PID "$TMP/host2.sock" "$TMP/hostd2.log" \
    "$HOSTBIN" -d --control "$TMP/host2.sock" --channel-dir "$TMP/chan" \
    $COMMON
sleep 4
taken=$(grep -c 'another negotiator-host daemon holding' "$TMP/hostd2.log")
lines=$(grep -c "$GUEST" "$TMP/hostd2.log")
echo "# second host daemon, 4 s: $taken 'taken' lines, $lines about $GUEST"
check "a second host daemon says the channels seem taken ($taken)" \
    test "$taken" -ge 1 -a "$taken" -le 2
check "... once per channel, not at each retry ($lines lines about $GUEST)" \
    test "$lines" -le 4
check "the first one still serves" within 10 serving
stop_pid "$HOSTD2_PID"; HOSTD2_PID=

finish
