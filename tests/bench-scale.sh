#!/bin/bash
# make bench-scale: one host daemon and $GUESTS simulated guests
# (tests/fleet: the guest side of the real protocol, in one process, on
# UNIX sockets in a channel directory).  Prints the daemon's RSS and open
# fds, its wake-ups a second while idle (voluntary and involuntary context
# switches of all its threads, from /proc, over $IDLE_S seconds), and the
# wall time of --all --ping and of --all -e of a trivial command (median of
# $RUNS).  Idle is measured twice: with --peer-timeout 86400 (no keepalive
# probes within the window) and with the default keepalive (5 s), whose
# probes are wake-ups by design.  Targets: RSS <= 64 MiB, 0 idle wake-ups,
# --all --ping <= 1 s.  Not part of make check; exits 1 if a target is
# missed or the fan-out does not reach every guest.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

GUESTS=${GUESTS:-1000}
RUNS=${RUNS:-5}
IDLE_S=${IDLE_S:-10}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-scale.XXXXXX") || exit 1
HOSTBIN=$REPO/negotiator-host
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
FLEET_PID= HOSTD_PID=
mkdir -p "$TMP/chan"

cleanup() {
	trap '' INT TERM HUP
	stop_pid "$HOSTD_PID"
	stop_pid "$FLEET_PID"
	kill_children
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt
die() { echo "bench-scale: $*" >&2; exit 1; }

# The fleet needs 4 fds a guest, the daemon 2: both raise their soft limit
# to the hard one, which must allow it.
need=$(( 4 * GUESTS + 64 ))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$need" ] ||
    die "the hard limit on open files ($(ulimit -Hn)) is below $need"

"$REPO/tests/fleet" "$TMP/chan" "$GUESTS" --pidfile "$TMP/fleet.pid" &
FLEET_PID=$!
wait_until 30 test -s "$TMP/fleet.pid" || die "fleet did not start"

# start_hostd [OPTIONS]: the daemon, up and connected to every guest.
connected() { [ "$($H -g -v | grep -c '	connected$')" = "$GUESTS" ]; }
start_hostd() {
	local t
	t=$(now_ms)
	"$HOSTBIN" -d -q --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
	    "$@" 2>>"$TMP/hostd.log" &
	HOSTD_PID=$!
	wait_until 10 test -S "$TMP/host.sock" || die "host daemon did not start"
	wait_until 60 connected || die "not every guest connected"
	CONNECT_MS=$(( $(now_ms) - t ))
}
# switches: context switches of every thread of the daemon so far.
switches() {
	cat /proc/"$HOSTD_PID"/task/*/status 2>/dev/null |
	    awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }'
}
idle_rate() {
	local a b
	sleep 1
	a=$(switches)
	sleep "$IDLE_S"
	b=$(switches)
	awk -v a="$a" -v b="$b" -v s="$IDLE_S" 'BEGIN { printf "%.1f\n", (b - a) / s }'
}
# median_ms CMD...: the median wall time of $RUNS runs; each must exit 0.
median_ms() {
	local i t times=
	for i in $(seq "$RUNS"); do
		t=$(now_ms)
		"$@" >"$TMP/out" 2>&1 || { cat "$TMP/out" >&2; die "$* failed"; }
		times="$times $(( $(now_ms) - t ))"
	done
	echo $times | tr ' ' '\n' | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

start_hostd --peer-timeout 86400
rss_kb=$(awk '/^VmRSS/ { print $2 }' /proc/"$HOSTD_PID"/status)
fds=$(ls /proc/"$HOSTD_PID"/fd | wc -l)
limit=$(awk '/^Max open files/ { print $4 }' /proc/"$HOSTD_PID"/limits)
idle=$(idle_rate)
$H --all --ping >"$TMP/ping.out" || die "--all --ping failed"
[ "$(grep -c ': time=' "$TMP/ping.out")" = "$GUESTS" ] ||
    die "--all --ping did not reach every guest"
ping_ms=$(median_ms $H --all --ping)
[ "$($H --all -e true | wc -l)" = 0 ] || die "--all -e true printed something"
[ "$($H --all -e guest-name | wc -l)" = "$GUESTS" ] ||
    die "--all -e guest-name: not one line per guest"
exec_ms=$(median_ms $H --all -e true)
json_ms=$(median_ms $H --all --json -e guest-name)
rss_after_kb=$(awk '/^VmRSS/ { print $2 }' /proc/"$HOSTD_PID"/status)
idle_after=$(idle_rate)
stop_pid "$HOSTD_PID"; HOSTD_PID=
start_hostd
idle_keepalive=$(idle_rate)

verdict() { if [ "$1" = 1 ]; then echo "ok"; else echo "MISSED"; fi; }
ok_rss=$([ "$rss_after_kb" -le $((64 * 1024)) ] && echo 1 || echo 0)
ok_idle=$([ "$idle" = 0.0 ] && [ "$idle_after" = 0.0 ] && echo 1 || echo 0)
ok_ping=$([ "$ping_ms" -le 1000 ] && echo 1 || echo 0)
printf '\nnegotiator bench-scale: %d simulated guests (tests/fleet), one host daemon\n\n' "$GUESTS"
printf '%-52s %12s  %s\n' "measure" "value" "target"
printf '%-52s %12s  %s\n' "daemon up to all guests connected" "$CONNECT_MS ms" ""
printf '%-52s %12s  %s\n' "daemon RSS, all connected" "$((rss_kb / 1024)) MiB" ""
printf '%-52s %12s  %s\n' "daemon RSS, after the fan-outs" "$((rss_after_kb / 1024)) MiB" "<= 64 MiB: $(verdict "$ok_rss")"
printf '%-52s %12s  %s\n' "daemon open fds (RLIMIT_NOFILE raised to $limit)" "$fds" ""
printf '%-52s %12s  %s\n' "idle wake-ups/s, no keepalive due ($IDLE_S s)" "$idle" "0: $(verdict "$ok_idle")"
printf '%-52s %12s  %s\n' "idle wake-ups/s, after the fan-outs" "$idle_after" ""
printf '%-52s %12s  %s\n' "idle wake-ups/s, default keepalive (5 s)" "$idle_keepalive" "(probes, by design)"
printf '%-52s %12s  %s\n' "--all --ping (median of $RUNS)" "$ping_ms ms" "<= 1000 ms: $(verdict "$ok_ping")"
printf '%-52s %12s  %s\n' "--all -e true (median of $RUNS)" "$exec_ms ms" ""
printf '%-52s %12s  %s\n' "--all --json -e guest-name (median of $RUNS)" "$json_ms ms" ""
echo
[ "$ok_rss$ok_idle$ok_ping" = 111 ]
