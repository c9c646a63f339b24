#!/bin/bash
# Hostile local callers on the control socket (issue 18), with the real
# daemons on emulated channels (tests/vserial) and a test user and group
# made for the run (removed at the end, and on an interrupt), the socket
# given to that group.  The user's connections come from
# tests/hostile-local.py.  Each case asserts the bound it broke before:
#   a. the user holds every connection it can get: it gets its share (32),
#      the rest are refused with a line in the log, and root's -e and -g
#      still work (before: the user held all 256 and root's -e got
#      "Connection reset by peer", exit 125);
#   b. an idle connection is closed after --idle-timeout, and so is one
#      that does not read its answers, or a call's output; a call that
#      runs longer, read, is not (before: no timeout at all);
#   c. with the host daemon's RLIMIT_NOFILE reached, its CPU time stays
#      near zero, the log has one line for the episode, and it accepts
#      again once the connections close (before: 4 s of CPU in 4 s, a line
#      per failed accept);
#   d. 100 processes of the user, each sending garbage again and again:
#      the log grows by at most the uid's share of lines (before: a burst
#      per pid, 20,002 lines in 4.6 s);
#   e. the user's connections each flooding requests, never reading the
#      answers: the host daemon's RSS grows by at most RSS_GROWTH_KB
#      (before: 2 MiB of answers per connection, 117 MB for 64);
#   f. the same with HELLOs, each answered by a HELLO_ACK: bounded too,
#      each of the uid's connections holding its share of the uid's 2 MiB
#      (before: 2 MiB per connection, RSS +59 MB for 32).
# Figures are printed as "# ..." lines.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

SHARE=32			# CONTROL_UID_SHARE (common/control.c)
RATE=20				# --log-rate's default: lines a second per key
IDLE=2				# --idle-timeout of the daemons of case b
NOFILE=40			# RLIMIT_NOFILE of the host daemon of case c
CPU_BOUND=30			# ticks (0.3 s) in the 3 s of case c
RSS_GROWTH_KB=$((24 * 1024))
HELLO_GROWTH_KB=$((18 * 1024))	# case f
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-hostile-local.XXXXXX") || exit 1
# NEGOTIATOR_BIN_DIR: where the programs are (build/asan for the
# sanitized ones).
HOSTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-host
HOSTD=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-hostd
GUESTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-guest
CLIENT="/usr/bin/python3 $TMP/client.py"
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
GUEST=vm1
TUSER=nl$$u TGROUP=nl$$g MADE_USER= MADE_GROUP=
VS_PID= HOSTD_PID= GUESTD_PID= HOSTD2_PID= HELD=

cleanup() {
	trap '' INT TERM HUP
	[ -e "$TMP" ] && touch "$TMP/stop"
	stop_pid "$HELD"
	stop_pid "$HOSTD_PID" 10; stop_pid "$HOSTD2_PID"; stop_pid "$GUESTD_PID"
	stop_pid "$VS_PID"
	kill_children
	# Whatever the test user still runs (it runs nothing else).
	[ -n "$MADE_USER" ] && pkill -KILL -u "$TUSER" 2>/dev/null
	[ -n "$MADE_USER" ] && userdel "$TUSER" 2>/dev/null
	[ -n "$MADE_GROUP" ] && groupdel "$TGROUP" 2>/dev/null
	tail_on_failure 30 "host daemon log" "$TMP/hostd.log" \
	    "second host daemon log" "$TMP/hostd2.log" \
	    "guest daemon log" "$TMP/guestd.log"
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

if [ "$(id -u)" -ne 0 ]; then
	fail "hostile-local needs root (it makes a test user)"
	finish; exit
fi
if ! need python3 python3-minimal || [ ! -x /usr/bin/python3 ]; then
	fail "hostile-local needs /usr/bin/python3"
	finish; exit
fi
groupadd "$TGROUP" && MADE_GROUP=1
useradd -M -N -g "$TGROUP" -d / -s /usr/sbin/nologin "$TUSER" && MADE_USER=1
check "test user $TUSER in group $TGROUP" test -n "$MADE_USER"
TUID=$(id -u "$TUSER")
AS_USER="setpriv --reuid=$TUSER --regid=$TGROUP --clear-groups"
KEY="caller uid $TUID"

chmod 0711 "$TMP"
cp "$REPO/tests/hostile-local.py" "$TMP/client.py"
chmod 0644 "$TMP/client.py"
mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/empty"
# give SOCKET: the socket's group is the test user's (mode 0660 stays).
give() { chgrp "$TGROUP" "$1"; }
lines() { wc -l <"$1"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID
start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
    "$HOSTD" -d --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
    "$GUESTBIN" -d --control "$TMP/guest.sock" -c "$TMP/gport" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands" \
    --idle-timeout $IDLE
give "$TMP/host.sock"; give "$TMP/guest.sock"
check "daemons up and serving" wait_until 10 serving
check "the test user may call the host daemon" \
    within 10 $AS_USER $H -e 'exit-with 0' "$GUEST"

# The frames a CLI sends first (its HELLO, and an OPEN for a guest that
# does not exist, which the host daemon answers at once), for case e.
$CLIENT capture "$TMP/cap.sock" "$TMP/frames" &
wait_until 5 test -S "$TMP/cap.sock"
within 10 "$HOSTBIN" --control "$TMP/cap.sock" -t 1 -e 'exit-with 0' nosuch \
    >/dev/null 2>&1
check "a CLI's first frames captured" wait_until 5 test -s "$TMP/frames"

# --- a. the user holds every connection it can get ------------------------

log0=$(lines "$TMP/hostd.log")
$AS_USER $CLIENT hold "$TMP/host.sock" 300 "$TMP/stop.a" >"$TMP/held.a" &
HELD=$!
wait_until 30 test -s "$TMP/held.a"
out=$(cat "$TMP/held.a")
echo "# the test user: $out"
check "the user holds its share, $SHARE connections ($out)" \
    test "${out##* }" = "$SHARE"
check "root's -e still works" within 10 $H -e 'exit-with 0' "$GUEST"
lists() { $H -g | grep -qx "$GUEST"; }
check "root's -g still works" within 10 lists
refused() {
	tail -n +$((log0 + 1)) "$TMP/hostd.log" |
	    grep -q "$KEY: pid [0-9]* refused: this uid has $SHARE connections already"
}
check "the user's other connections are refused, with a reason in the log" \
    refused
check "another uid than root is not locked out either" \
    within 10 setpriv --reuid=4321 --regid="$TGROUP" --clear-groups \
    $H -e 'exit-with 0' "$GUEST"
touch "$TMP/stop.a"
reap 10 "$HELD"; HELD=

# --- b. idle connections --------------------------------------------------

start_daemon HOSTD2_PID "$TMP/idle.sock" "$TMP/hostd2.log" \
    "$HOSTD" -d --control "$TMP/idle.sock" --channel-dir "$TMP/empty" \
    --idle-timeout $IDLE
give "$TMP/idle.sock"
for d in "host:$TMP/idle.sock" "guest:$TMP/guest.sock"; do
	out=$(within 20 $AS_USER $CLIENT idle "${d#*:}" 15)
	echo "# $out (${d%%:*} daemon, --idle-timeout $IDLE)"
	ms=$(echo "$out" | sed -n 's/^closed after //p')
	check "${d%%:*} daemon: an idle connection is closed after ${IDLE} s (${ms:-never} ms)" \
	    test -n "$ms" -a "${ms:-0}" -ge $((IDLE * 1000 - 100)) \
	    -a "${ms:-0}" -le $((IDLE * 1000 + 3000))
done
# One that floods requests and never reads the answers: idle too, once
# nothing moves (the log says which kind it was).
$AS_USER $CLIENT flood "$TMP/idle.sock" "$TMP/frames" 1 1 "$TMP/stop.b" \
    >/dev/null &
HELD=$!
unread() { grep -q "connection closed after .* (its answers not read)" \
    "$TMP/hostd2.log"; }
check "a connection that does not read its answers is closed too" \
    wait_until $((IDLE + 10)) unread
touch "$TMP/stop.b"
reap 10 "$HELD"; HELD=
# A call whose client stops reading (a stopped pager): its output stops
# in the socket once the credit is spent, nothing moves, and it is closed.
g0=$(lines "$TMP/guestd.log")
within 20 sh -c "$GUESTBIN --control $TMP/guest.sock -c $TMP/gport \
    -e 'stream 20000000' 2>/dev/null | sleep $((IDLE + 6))"
stuck() {
	tail -n +$((g0 + 1)) "$TMP/guestd.log" |
	    grep -q "connection closed after .* (its answers not read)"
}
check "a call whose output is not read is closed after the idle timeout" \
    stuck
stop_pid "$HOSTD2_PID"; HOSTD2_PID=
t0=$(now_ms)
check "a call that runs longer than the idle timeout is not cut" \
    within 20 sh -c "$GUESTBIN --control $TMP/guest.sock -c $TMP/gport -e \"sleeper $((IDLE * 2))\" >/dev/null"
t=$(( $(now_ms) - t0 ))
check "... it ran its $((IDLE * 2)) s ($t ms)" test "$t" -ge $((IDLE * 2000))
n=$(within 30 guest_cli -e 'stream 20000000' | wc -c)
check "a long output read all along is not cut ($n bytes)" test "$n" -eq 20000000

# --- c. RLIMIT_NOFILE reached ---------------------------------------------

start_daemon HOSTD2_PID "$TMP/nofile.sock" "$TMP/hostd2.log" \
    prlimit --nofile=$NOFILE:$NOFILE \
    "$HOSTD" -d --control "$TMP/nofile.sock" --channel-dir "$TMP/empty"
give "$TMP/nofile.sock"
c0=$(lines "$TMP/hostd2.log")
$AS_USER $CLIENT hold "$TMP/nofile.sock" $((NOFILE + 10)) "$TMP/stop.c" \
    >"$TMP/held.c" &
HELD=$!
wait_until 30 test -s "$TMP/held.c"
echo "# the test user, against $NOFILE open files: $(cat "$TMP/held.c")"
n0=$(ticks "$HOSTD2_PID")
sleep 3
n1=$(ticks "$HOSTD2_PID")
echo "# host daemon CPU at its fd limit: $((n1 - n0)) ticks in 3 s"
check "at its fd limit, the host daemon's CPU stays near zero ($((n1 - n0)) ticks in 3 s <= $CPU_BOUND)" \
    test -n "$n0" -a -n "$n1" -a "$((n1 - n0))" -le $CPU_BOUND
n=$(tail -n +$((c0 + 1)) "$TMP/hostd2.log" | grep -c "control: accept")
check "one log line for the episode ($n)" test "$n" -eq 1
touch "$TMP/stop.c"
reap 10 "$HELD"; HELD=
check "it accepts again once the connections close" \
    wait_until 10 "$HOSTBIN" --control "$TMP/nofile.sock" \
    --channel-dir "$TMP/empty" -g
stop_pid "$HOSTD2_PID"; HOSTD2_PID=

# --- d. 100 processes of one uid sending garbage --------------------------

d0=$(lines "$TMP/hostd.log")
t0=$(now_ms)
out=$(within 60 $AS_USER $CLIENT garbage "$TMP/host.sock" 100 3)
t=$(( $(now_ms) - t0 ))
sleep 1.2	# a summary comes at most once a second
within 10 $H -e 'exit-with 0' "$GUEST" >/dev/null
grew=$(( $(lines "$TMP/hostd.log") - d0 ))
# The uid's burst (2 s worth), its rate over the attack and the second
# after, and a summary a second; a line for root's call at the end.
bound=$(( 2 * RATE + (RATE + 1) * (t / 1000 + 2) + 1 ))
echo "# $out in $t ms: the host log grew $grew lines"
check "the garbage arrived ($out)" \
    test "${out##* }" -ge 50 -a "$(tail -n +$((d0 + 1)) "$TMP/hostd.log" |
    grep -c "uid $TUID: skipped bad input")" -ge 1
check "the host log grew $grew lines <= $bound" test "$grew" -le "$bound"
check "root is still served" within 10 $H -e 'exit-with 0' "$GUEST"

# flood MODE WHAT SENT BOUND_KB: the test user's 64 connections send
# MODE's frames (hostile-local.py) for 5 s, never reading an answer; the
# host daemon's RSS grows by at most BOUND_KB, and root is still served.
flood() {
	local r0 r1 out=$TMP/held.$1 bound=$4
	r0=$(rss_kb "$HOSTD_PID")
	$AS_USER $CLIENT "$1" "$TMP/host.sock" "$TMP/frames" 64 5 \
	    "$TMP/stop.$1" >"$out" &
	HELD=$!
	wait_until 30 test -s "$out"
	r1=$(rss_kb "$HOSTD_PID")
	echo "# flood of $2 never read: $(cat "$out"); host daemon RSS $r0 -> $r1 kB"
	check "$3 ($(cat "$out"))" \
	    test "$(awk '{ print $4 }' "$out")" -ge 10000000
	check "host daemon RSS grew $((r1 - r0)) kB <= $bound kB" \
	    test -n "$r0" -a -n "$r1" -a "$((r1 - r0))" -le "$bound"
	check "root is still served meanwhile" \
	    within 10 $H -e 'exit-with 0' "$GUEST"
	touch "$TMP/stop.$1"
	reap 10 "$HELD"; HELD=
}

# --- e. the uid's connections, each with a full queue ---------------------
flood flood requests "the flood was sent" $RSS_GROWTH_KB

# --- f. the same with HELLOs, each answered -------------------------------
# Each connection's input buffer still counts (about 10 MB for 32):
# HELLO_ACKs at 2 MiB a connection took 23 MB more in 5 s, 64 KiB each 12.
flood hellos HELLOs "the HELLOs were sent" $HELLO_GROWTH_KB

check "host daemon alive at the end" alive "$HOSTD_PID"
check "... and serving both ways" within 10 serving

finish
