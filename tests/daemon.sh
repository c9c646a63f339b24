#!/bin/bash
# The daemons' side of issue 19, on emulated channels (tests/vserial):
#
#   1. Bursts queue: 100 parallel calls of a 0.2 s command into one guest
#      at the daemons' defaults all succeed (before the queue, 52-55 of
#      100 failed with "too many commands running", 125); a queue past its
#      bound refuses with "queue full" and the bound; a queued call's
#      timeout counts from when it was asked.
#
# Figures are printed as "# ..." lines.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-daemon.XXXXXX") || exit 1
GUEST=vm1
HOSTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-host
GUESTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-guest
COMMON="--commands-dir $REPO/tests/commands.d --builtin-dir $REPO/commands"
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= HOSTD_PID= GUESTD_PID=
mkdir -p "$TMP/chan" "$TMP/gport"

# start_hostd [OPTION...]: the host daemon, at the defaults but for OPTIONs.
start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    "$HOSTBIN" -d -v --peer-timeout 30 --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" $COMMON "$@"
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    "$GUESTBIN" -d -v --peer-timeout 30 --control "$TMP/guest.sock" \
	    -c "$TMP/gport" \
	    $COMMON "$@"
}
trap 'end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"' EXIT
on_interrupt

start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

# --- 1. bursts queue -----------------------------------------------------

# burst N DIR CALL...: N calls of CALL at once, each call's status in
# DIR/N.rc and its stderr in DIR/N.err; returns when all are done.
burst() {
	local n=$1 dir=$2 i; shift 2
	mkdir -p "$dir"
	for i in $(seq 1 "$n"); do
		( "$@" >/dev/null 2>"$dir/$i.err"; echo $? >"$dir/$i.rc" ) &
	done
	wait
}
# count_rc DIR RC: how many calls of DIR exited RC.
count_rc() { cat "$1"/*.rc | grep -cx "$2"; }

# The guest daemon is stopped while the 100 CLIs connect and send, so that
# their requests reach it together, as they would from a fast host to a
# slow guest (on an idle machine the CLIs' own start-up spreads them out):
# at most 10 s, within the daemons' keepalive (--peer-timeout, the one
# option not at its default here; the caps and the queue are).
callers() { ss -xH 2>/dev/null | grep -cF "$TMP/host.sock"; }
kill -STOP "$GUESTD_PID"
t0=$(now_ms)
burst 100 "$TMP/b100" $H -t 30 -e 'sleeper 0.2' "$GUEST" &
BURST=$!
wait_until 10 test "$(callers)" -ge 100
echo "# $(callers) callers connected after $(( $(now_ms) - t0 )) ms"
kill -CONT "$GUESTD_PID"
reap 60 "$BURST"
echo "# 100 parallel 0.2 s calls into one guest: $(( $(now_ms) - t0 )) ms," \
    "$(count_rc "$TMP/b100" 0) succeeded"
check "100 parallel calls into one guest at the defaults all succeed" \
    test "$(count_rc "$TMP/b100" 0)" -eq 100
grep -h . "$TMP"/b100/*.err | sort | uniq -c | head -3 | sed 's/^/# /'

# A queue past its bound: the host daemon with one command per guest lets
# RUNNER_QUEUE_PER_PEER (4) calls of the guest wait; the next is refused.
stop_pid "$HOSTD_PID"
start_hostd --max-jobs-per-peer 1
check "host daemon restarted with --max-jobs-per-peer 1" wait_until 10 serving
SLEEPERS=
for i in 1 2 3 4; do
	guest_cli -t 30 -e 'sleeper 2' >/dev/null 2>&1 &
	SLEEPERS="$SLEEPERS $!"
done
wait_until 10 grep -q 'queued (3 calls of this peer waiting)' "$TMP/hostd.log"
# The queue drains one call per 2 s: a queued call's timeout counts from
# when it was asked, not from when it starts (at least 6 s from now).
t0=$(now_ms)
guest_cli -t 1 -e 'exit-with 0' >/dev/null 2>"$TMP/queued.err" &
QUEUED=$!
wait_until 10 grep -q 'queued (4 calls of this peer waiting)' "$TMP/hostd.log"
out=$(within 10 guest_cli -t 30 -e 'exit-with 0' 2>&1); st=$?
echo "# the 6th call: $out"
check "a call past the queue's bound fails with 125 ($st)" test "$st" -eq 125
check "... saying the queue is full, with its bound and unit" \
    grep -q 'queue full: 4 calls of yours wait already, behind 1 running (at most 4 calls wait per caller)' <<<"$out"
reap 10 "$QUEUED"; st=$?
ms=$(( $(now_ms) - t0 ))
echo "# a queued call with -t 1 ended after $ms ms: $(cat "$TMP/queued.err")"
check "a queued call times out (124) from when it was asked ($st)" \
    test "$st" -eq 124
check "... within its timeout, not after the queue ($ms ms < 4000)" \
    test "$ms" -lt 4000
for p in $SLEEPERS; do reap 15 "$p"; done

finish
