#!/bin/bash
# A hostile peer beside an honest one (issue 9), with the real daemons on
# emulated channels (tests/vserial) and a fake peer (tests/hostile) that
# speaks the protocol.
#
#   1. Decoding costs O(input), whatever the input, in both daemons: each
#      adversarial stream of tests/hostile.c (BYTES of it) costs the daemon
#      at most RATIO times the CPU and wall time of as many bytes of valid
#      frames sent the same way in the same run (plus CPU_SLACK and
#      WALL_SLACK ms for the clock's ticks and the scheduler); the
#      byte-at-a-time dribble into a stalled frame likewise against valid
#      frames sent a byte at a time.  (Before protocol 5, 10 MB of the
#      pattern took the host daemon 40 s.)
#   2. Then, one after another, next to an honest guest that pings the
#      host all along: the costly streams, a guest that re-handshakes while
#      its commands ignore SIGTERM (held to --max-jobs-per-peer, the honest
#      guest still served), malformed OPENs (each answered, exit 125),
#      2,000 requests for an unknown command with a forged log line in its
#      name.  The honest guest's --ping p90 stays under 50 ms, the host
#      daemon's RSS under RSS_BOUND_KB, its log under LOG_BOUND bytes, and
#      it is alive at the end.
#   Also: channel sockets owned by another user, moved into the channel
#   directory, are not served as the guest they name.
# Figures are printed as "# ..." lines.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

BYTES=${HOSTILE_BYTES:-10000000}	# per adversarial stream
ONE_BYTES=20000			# per stream sent a byte at a time
RATIO=3
CPU_SLACK=50			# ms: the clock ticks every 10 ms
WALL_SLACK=150			# ms: a loaded machine's scheduling
RSS_BOUND_KB=$((32 * 1024))
LOG_BOUND=65536
PER_PEER=16			# --max-jobs-per-peer of the host daemon
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-hostile.XXXXXX") || exit 1
HOSTBIN=$REPO/negotiator-host
HOSTD=$REPO/negotiator-hostd
GUESTBIN=$REPO/negotiator-guest
HOSTILE=$REPO/tests/hostile
CMDS=$TMP/cmds
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
GUEST=vm1			# the honest guest, that serving asks
EVIL_G2H=$TMP/gport2/negotiator-guest-to-host.0
VS_PID= VS2_PID= VS3_PID= VS4_PID= HOSTD_PID= GUESTD_PID= GUESTD3_PID= PINGER=
SAMPLER=

# start_guestd PORTDIR SOCKET LOG PIDVAR
start_guestd() {
	start_daemon "$4" "$2" "$3" "$GUESTBIN" -d --control "$2" -c "$1" \
	    --commands-dir "$REPO/tests/commands.d" \
	    --builtin-dir "$REPO/commands"
}
cleanup() {
	trap '' INT TERM HUP
	[ -e "$TMP" ] && touch "$TMP/stop"
	stop_pid "$PINGER"; stop_pid "$SAMPLER"
	stop_pid "$HOSTD_PID" 10; stop_pid "$GUESTD_PID"; stop_pid "$GUESTD3_PID"
	stop_pid "$VS_PID"; stop_pid "$VS2_PID"; stop_pid "$VS3_PID"
	stop_pid "$VS4_PID"
	kill_children
	# The stubborn commands die with the host daemon's KILL; any left
	# (a daemon killed first) are ours to end.
	pkill -KILL -f "$CMDS/stubborn" 2>/dev/null
	tail_on_failure 30 "host daemon log" "$TMP/hostd.log"
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

mkdir -p "$TMP/chan" "$TMP/chan3" "$TMP/gport" "$TMP/gport2" "$TMP/gport3" \
    "$CMDS"
chmod 0755 "$CMDS"
cp -p "$REPO"/tests/commands.d/* "$CMDS/"
printf '#!/bin/sh\n# ignores SIGTERM\ntrap "" TERM\nwhile :; do sleep 1; done\n' \
    >"$CMDS/stubborn"
chmod 0755 "$CMDS/stubborn"
chmod -R go-w "$CMDS"

start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID
start_vserial vm2 "$TMP/chan" "$TMP/gport2" VS2_PID
# vm3's host end is not in the host daemon's channel directory: the fake
# host holds it, against the guest daemon of vm3.
start_vserial vm3 "$TMP/chan3" "$TMP/gport3" VS3_PID
start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
    "$HOSTD" -d --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
    --commands-dir "$CMDS" --builtin-dir "$REPO/commands" \
    --max-jobs-per-peer $PER_PEER
start_guestd "$TMP/gport" "$TMP/guest.sock" "$TMP/guestd.log" GUESTD_PID
start_guestd "$TMP/gport3" "$TMP/guest3.sock" "$TMP/guestd3.log" GUESTD3_PID
check "daemons up and serving" wait_until 10 serving

# --- 1. the cost of decoding, in both daemons -------------------------------

# cost PORT PID KIND BYTES: runs one stream; sets WALL and CPU (ms).
cost() {
	local out
	out=$(within 150 "$HOSTILE" cost "$1" "$3" "$4" "$2") ||
	    { WALL=999999 CPU=999999; echo "# $3: no PONG"; return 1; }
	WALL=$(echo "$out" | awk '{ print $5 }')
	CPU=$(echo "$out" | awk '{ print $7 }')
}
# against NAME PORT PID: every kind against the valid baseline.
against() {
	local name=$1 port=$2 pid=$3 k bw bc
	cost "$port" "$pid" valid "$BYTES"
	bw=$WALL bc=$CPU
	echo "# $name, valid frames (baseline): $BYTES bytes, wall $bw ms, cpu $bc ms"
	for k in pattern planted hdrgood nested interleaved; do
		cost "$port" "$pid" "$k" "$BYTES"
		echo "# $name, $k: wall $WALL ms, cpu $CPU ms"
		check "$name, $k: cpu $CPU ms <= $RATIO x $bc ms (+$CPU_SLACK)" \
		    test "$CPU" -le $((RATIO * bc + CPU_SLACK))
		check "$name, $k: wall $WALL ms <= $RATIO x $bw ms (+$WALL_SLACK)" \
		    test "$WALL" -le $((RATIO * bw + WALL_SLACK))
	done
	cost "$port" "$pid" bytewise $ONE_BYTES
	bw=$WALL bc=$CPU
	echo "# $name, valid frames a byte a write (baseline): $ONE_BYTES bytes, wall $bw ms, cpu $bc ms"
	cost "$port" "$pid" dribble $ONE_BYTES
	echo "# $name, dribble into a stalled frame: wall $WALL ms, cpu $CPU ms"
	check "$name, dribble: cpu $CPU ms <= $RATIO x $bc ms (+$CPU_SLACK)" \
	    test "$CPU" -le $((RATIO * bc + CPU_SLACK))
	check "$name, dribble: wall $WALL ms <= $RATIO x $bw ms (+$WALL_SLACK)" \
	    test "$WALL" -le $((RATIO * bw + WALL_SLACK))
}
against "host daemon" "$EVIL_G2H" "$HOSTD_PID"
against "guest daemon" "$TMP/chan3/vm3.negotiator-host-to-guest.0" \
    "$GUESTD3_PID"
check "both daemons still serving" within 10 serving

# --- channel sockets of someone else, in the channel directory -------------

# Sockets owned by another user, moved in whole (the daemon is told by
# inotify): never served as the guest they name (negotiator-host(8)).
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$TMP/stage" "$TMP/gport4"
	start_vserial intruder "$TMP/stage" "$TMP/gport4" VS4_PID
	chown -h 4321 "$TMP/stage/"intruder.*
	mv "$TMP/stage/"intruder.* "$TMP/chan/"
	logged() { grep -q "intruder.negotiator-.*owned by uid 4321.*ignored" \
	    "$TMP/hostd.log"; }
	check "sockets owned by uid 4321 are ignored, with a line in the log" \
	    wait_until 5 logged
	check "... and no guest \"intruder\" is served" \
	    sh -c "! $H -g | grep -qx intruder"
	stop_pid "$VS4_PID"; VS4_PID=
else
	echo "# not root: the socket owner check is not tested"
fi

# --- 2. one attack after another, beside an honest guest --------------------

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# sample PID FILE: the most RSS PID had, every 0.1 s until $TMP/stop.
sample() {
	local max=0 r
	while [ ! -e "$TMP/stop" ]; do
		r=$(rss_kb "$1") || break
		[ "$r" -gt "$max" ] && max=$r && echo "$max" >"$2"
		sleep 0.1
	done
}
pinger() {
	while [ ! -e "$TMP/stop" ]; do
		within 10 guest_cli --ping --count 5 >>"$TMP/pings" 2>&1
		sleep 0.1
	done
}
p90() {
	sed -n 's/.*time=\([0-9.]*\) ms/\1/p' "$1" | sort -n |
	    awk '{ t[NR] = $1 } END { i = int(NR * 0.9 + 0.999); print t[i] }'
}
log0=$(stat -c %s "$TMP/hostd.log")
echo 0 >"$TMP/rss"
sample "$HOSTD_PID" "$TMP/rss" &
SAMPLER=$!
pinger &
PINGER=$!

for k in pattern nested hdrgood; do
	cost "$EVIL_G2H" "$HOSTD_PID" "$k" "$BYTES"
	echo "# beside the honest guest, $k: wall $WALL ms"
done
cost "$EVIL_G2H" "$HOSTD_PID" dribble $ONE_BYTES

stubborn() { pgrep -f "$CMDS/[s]tubborn" | wc -l; }
out=$(within 60 "$HOSTILE" jobs "$EVIL_G2H" stubborn 5 40)
n=$(stubborn)
echo "# re-handshakes with stubborn jobs: $out, $n running"
check "a guest that re-handshakes runs at most $PER_PEER commands ($n)" \
    test "$n" -le $PER_PEER
# 40 a round is within the queue's bound (4 x PER_PEER): none is refused,
# and a re-handshake drops those still waiting.
check "... and the rest wait in the queue, none refused ($out)" \
    test "${out#refused }" -eq 0
check "the honest guest is still served meanwhile" \
    within 10 guest_cli -e 'exit-with 0'

out=$(within 40 "$HOSTILE" malformed "$EVIL_G2H")
st=$?
echo "$out" | sed 's/^/# malformed OPEN: /'
check "every malformed OPEN is answered (EXIT_FAILED)" test "$st" -eq 0
forged=$(printf 'x\n%s: forged\033[31m' "vm1")
out=$(within 60 "$HOSTILE" jobs "$EVIL_G2H" "$forged" 1 2000)
check "2,000 requests for an unknown command answered ($out)" \
    test "$?" -eq 0

touch "$TMP/stop"
reap 30 "$PINGER"; PINGER=
reap 5 "$SAMPLER"; SAMPLER=
p=$(p90 "$TMP/pings")
npings=$(grep -c 'time=' "$TMP/pings")
echo "# honest guest --ping: $npings answers, p90 $p ms"
check "the honest guest pinged all along ($npings pings)" test "$npings" -ge 20
check "the honest guest's --ping p90 $p ms < 50 ms" \
    awk -v p="${p:-999}" 'BEGIN { exit !(p < 50) }'
m=$(cat "$TMP/rss")
echo "# host daemon RSS at most $m kB"
check "host daemon RSS $m kB < $RSS_BOUND_KB kB" test "$m" -lt $RSS_BOUND_KB
grew=$(( $(stat -c %s "$TMP/hostd.log") - log0 ))
echo "# host daemon log: $grew bytes for all the attacks"
check "host daemon log grew $grew bytes < $LOG_BOUND" test "$grew" -lt $LOG_BOUND
check "no forged line in the host daemon's log" \
    sh -c "! grep -q '^vm1: forged' '$TMP/hostd.log'"
check "host daemon alive at the end" kill -0 "$HOSTD_PID"
check "... and serving both ways" within 10 serving
no_stubborn() { [ "$(stubborn)" -eq 0 ]; }
check "the stubborn commands are gone (KILL after the grace period)" \
    wait_until 15 no_stubborn

finish
