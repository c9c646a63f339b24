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
#      name.  The honest guest's --ping p90 stays under 50 ms (its max is
#      printed; part 3 holds the max to a bound), the host
#      daemon's RSS under RSS_BOUND_KB, its log under LOG_BOUND bytes, and
#      it is alive at the end.
#   3. What one guest costs the host daemon (issue 18), each attack for a
#      few seconds beside the honest guest: 1-byte stdin DATA for a
#      command without stdin, and after stdin ended with the queue full
#      (RSS under RSS_BOUND_KB); a full queue and a HELLO every 0.9 x the
#      peer timeout, against a daemon at -v (CPU share under
#      HELLO_SHARE_PCT, "quiet for" lines at most HELLO_LINES, RSS); a LIST
#      flood (CPU share under FLOOD_SHARE_PCT, and the MAX round trip of
#      the honest guest's pings under PING_MAX_MS and of root's -e calls
#      to it under CALL_MAX_MS); a garbage flood (CPU share likewise).
#      The share is the time the daemon wanted a CPU (on one or waiting
#      for one, /proc/PID/schedstat) over the wall time of the flood; its
#      CPU time is printed too.  The daemon holds a guest to 25 % of its
#      loop (channel.h, rule 5); the rest is its own work, the honest
#      guest's and root's.
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
FLOOD_S=5			# seconds of each flood of part 3
FLOOD_SHARE_PCT=55		# % of a core the host daemon may burn
# The HELLO flood's share: the bug it guards burnt 51 % (15.3 s of CPU in
# 30 s); a fixed daemon used 80 ms of CPU in 5 s, but beside make check's
# other lanes its wait for a CPU took its share to 12 %.
HELLO_SHARE_PCT=25
HELLO_LINES=20
PING_MAX_MS=300
CALL_MAX_MS=600
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
VS_PID= VS2_PID= VS3_PID= VS4_PID= VS5_PID= HOSTD_PID= HOSTD5_PID=
GUESTD_PID= GUESTD3_PID= PINGER= SAMPLER= CALLER=

# start_guestd PORTDIR SOCKET LOG PIDVAR
start_guestd() {
	start_daemon "$4" "$2" "$3" "$GUESTBIN" -d --control "$2" -c "$1" \
	    --commands-dir "$REPO/tests/commands.d" \
	    --builtin-dir "$REPO/commands"
}
cleanup() {
	trap '' INT TERM HUP
	[ -e "$TMP" ] && touch "$TMP/stop"
	stop_pid "$PINGER"; stop_pid "$SAMPLER"; stop_pid "$CALLER"
	stop_pid "$HOSTD_PID" 10; stop_pid "$HOSTD5_PID" 10
	stop_pid "$GUESTD_PID"; stop_pid "$GUESTD3_PID"
	stop_pid "$VS_PID"; stop_pid "$VS2_PID"; stop_pid "$VS3_PID"
	stop_pid "$VS4_PID"; stop_pid "$VS5_PID"
	kill_children
	# The stubborn commands die with the host daemon's KILL; any left
	# (a daemon killed first) are ours to end.
	pkill -KILL -f "$CMDS/stubborn" 2>/dev/null
	tail_on_failure 30 "host daemon log" "$TMP/hostd.log" \
	    "host daemon at -v (part 3)" "$TMP/hostd5.log"
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

mkdir -p "$TMP/chan" "$TMP/chan3" "$TMP/chan5" "$TMP/gport" "$TMP/gport2" \
    "$TMP/gport3" "$TMP/gport5" "$CMDS"
chmod 0755 "$CMDS"
cp -p "$REPO"/tests/commands.d/* "$CMDS/"
# A script runs as "sh /dev/fd/3" (negotiator-commands(7)): this one puts
# its path in its command line, for pgrep.
printf '#!/bin/sh\n# ignores SIGTERM\nexec sh -c '"'"'trap "" TERM; while :; do sleep 1; done'"'"' %s\n' \
    "$CMDS/stubborn" >"$CMDS/stubborn"
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
	# A baseline that failed is a failure, and leaves no room to pass.
	check "$name, valid frames (baseline) answered" \
	    cost "$port" "$pid" valid "$BYTES" || WALL=0 CPU=0
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
	check "$name, valid frames a byte a write (baseline) answered" \
	    cost "$port" "$pid" bytewise $ONE_BYTES || WALL=0 CPU=0
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
	skip "not root: the socket owner check (chown to another uid) needs root"
fi

# --- 2. one attack after another, beside an honest guest --------------------

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# sample PID FILE STOP: the most RSS PID had, every 0.05 s until STOP.
sample() {
	local max=0 r
	while [ ! -e "$3" ]; do
		r=$(rss_kb "$1") || break
		[ "$r" -gt "$max" ] && max=$r && echo "$max" >"$2"
		sleep 0.05
	done
}
# pinger STOP FILE: the honest guest's --ping, into FILE until STOP.
pinger() {
	while [ ! -e "$1" ]; do
		within 10 guest_cli --ping --count 5 >>"$2" 2>&1
		sleep 0.05
	done
}
# ping_times FILE: the "time=N ms" figures in FILE, in order.
ping_times() { sed -n 's/.*time=\([0-9.]*\) ms/\1/p' "$1" | sort -n; }
p90() {
	ping_times "$1" |
	    awk '{ t[NR] = $1 } END { i = int(NR * 0.9 + 0.999); print t[i] }'
}
max_ms() { ping_times "$1" | tail -n 1; }
log0=$(stat -c %s "$TMP/hostd.log")
echo 0 >"$TMP/rss"
sample "$HOSTD_PID" "$TMP/rss" "$TMP/stop" &
SAMPLER=$!
pinger "$TMP/stop" "$TMP/pings" &
PINGER=$!

for k in pattern nested hdrgood; do
	cost "$EVIL_G2H" "$HOSTD_PID" "$k" "$BYTES"
	echo "# beside the honest guest, $k: wall $WALL ms"
done
cost "$EVIL_G2H" "$HOSTD_PID" dribble $ONE_BYTES

stubborn() { pgrep -f "$CMDS/[s]tubborn" | wc -l; }
out=$(within 60 "$HOSTILE" jobs "$EVIL_G2H" stubborn 5 100)
st=$?
n=$(stubborn)
echo "# re-handshakes with stubborn jobs: $out, $n running"
check "a guest that re-handshakes runs at most $PER_PEER commands ($n)" \
    test "$n" -le $PER_PEER
# 100 a round: PER_PEER run, 4 x PER_PEER wait in the queue (dropped when
# the session ends), and at least the other 20 are refused, answered
# "queue full" ("refused N answers M"; hostile fails a round without one).
refused=$(echo "$out" | awk '$1 == "refused" { print $2 }')
answers=$(echo "$out" | awk '$3 == "answers" { print $4 }')
check "... and past the queue's bound the rest are refused and answered ($out)" \
    test "$st" -eq 0 -a "${refused:-0}" -ge $((5 * (100 - 5 * PER_PEER))) \
    -a "${answers:-0}" -ge $((5 * (100 - 5 * PER_PEER)))
check "the honest guest is still served meanwhile" \
    within 10 guest_cli -e 'exit-with 0'

out=$(within 40 "$HOSTILE" malformed "$EVIL_G2H")
st=$?
echo "$out" | sed 's/^/# malformed OPEN: /'
check "every malformed OPEN is answered (EXIT_FAILED)" test "$st" -eq 0
forged=$(printf 'x\n%s: forged\033[31m' "vm1")
out=$(within 60 "$HOSTILE" jobs "$EVIL_G2H" "$forged" 1 2000)
st=$?
answers=$(echo "$out" | awk '$3 == "answers" { print $4 }')
check "2,000 requests for an unknown command answered ($out)" \
    test "$st" -eq 0 -a "${answers:-0}" -eq 2000

touch "$TMP/stop"
reap 30 "$PINGER"; PINGER=
reap 5 "$SAMPLER"; SAMPLER=
p=$(p90 "$TMP/pings")
npings=$(grep -c 'time=' "$TMP/pings")
pmax=$(max_ms "$TMP/pings")
echo "# honest guest --ping: $npings answers, p90 $p ms, max $pmax ms"
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

# --- 3. what one guest costs the host daemon (issue 18) -------------------

# flood PORT PID KIND SECONDS [COMMAND]: one flood of tests/hostile.c;
# sets FRAMES, WALL, CPU and BUSY (ms) and SHARE, the % of a core the
# daemon wanted (BUSY / WALL: on a CPU or waiting for one; on this loaded
# 2-core machine a daemon that never sleeps got 20-40 % of a core in CPU
# time, but it is runnable all along), or fails.
flood() {
	local out
	FRAMES=0 WALL=0 CPU=0 BUSY=0 SHARE=999
	out=$(within $(($4 + 40)) "$HOSTILE" flood "$1" "$3" "$4" "$2" \
	    ${5:+"$5"}) || { echo "# flood $3: failed"; return 1; }
	FRAMES=$(echo "$out" | awk '{ print $3 }')
	WALL=$(echo "$out" | awk '{ print $7 }')
	CPU=$(echo "$out" | awk '{ print $9 }')
	BUSY=$(echo "$out" | awk '{ print $11 }')
	[ "${WALL:-0}" -gt 0 ] && [ "${BUSY:-0}" -gt 0 ] || return 1
	SHARE=$((BUSY * 100 / WALL))
	echo "# flood $3: $FRAMES frames in $WALL ms; daemon cpu $CPU ms, busy $BUSY ms ($SHARE % of a core)"
}
# max_rss PID COMMAND...: runs COMMAND while sampling PID's
# RSS; sets RSS (kB, the most seen).
max_rss() {
	local pid=$1 rc
	shift
	rm -f "$TMP/stop3"
	echo 0 >"$TMP/rss3"
	sample "$pid" "$TMP/rss3" "$TMP/stop3" &
	SAMPLER=$!
	"$@"
	rc=$?
	touch "$TMP/stop3"
	reap 5 "$SAMPLER"; SAMPLER=
	RSS=$(cat "$TMP/rss3")
	return $rc
}

# Stdin DATA of 1 byte a frame, never reading: each frame was answered
# with a CREDIT, queued without limit (13.6 MB -> 978 MB in 10 s).
before=$(rss_kb "$HOSTD_PID")
max_rss "$HOSTD_PID" flood "$EVIL_G2H" "$HOSTD_PID" stdin 3 sleeper
echo "# stdin DATA for a command without stdin: RSS $before kB -> at most $RSS kB"
check "host daemon RSS $RSS kB < $RSS_BOUND_KB kB under 1-byte stdin DATA ($FRAMES frames)" \
    test "$RSS" -gt 0 -a "$RSS" -lt $RSS_BOUND_KB -a "$FRAMES" -gt 0
max_rss "$HOSTD_PID" flood "$EVIL_G2H" "$HOSTD_PID" ended 3 sleeper
echo "# stdin DATA after its end, queue full: RSS at most $RSS kB"
check "host daemon RSS $RSS kB < $RSS_BOUND_KB kB under stdin DATA after its end" \
    test "$RSS" -gt 0 -a "$RSS" -lt $RSS_BOUND_KB -a "$FRAMES" -gt 0
check "... and the honest guest is still served" \
    within 10 guest_cli -e 'exit-with 0'

# A full queue, then a HELLO every 0.9 x the peer timeout, against a host
# daemon at -v: the keepalive timer was re-armed at 0 s and logged each
# time (15.3 s of CPU in 30 s, 137,000 lines in 3 s).
start_vserial vm5 "$TMP/chan5" "$TMP/gport5" VS5_PID
start_daemon HOSTD5_PID "$TMP/host5.sock" "$TMP/hostd5.log" \
    "$HOSTD" -d -v --control "$TMP/host5.sock" --channel-dir "$TMP/chan5" \
    --commands-dir "$CMDS" --builtin-dir "$REPO/commands" --peer-timeout 1.5
lines0=$(grep -c 'quiet for' "$TMP/hostd5.log")
max_rss "$HOSTD5_PID" \
    flood "$TMP/gport5/negotiator-guest-to-host.0" "$HOSTD5_PID" hello 5 1.5
lines=$(( $(grep -c 'quiet for' "$TMP/hostd5.log") - lines0 ))
echo "# full queue and HELLOs: $lines \"quiet for\" lines at -v"
check "host daemon CPU $SHARE % of a core < $HELLO_SHARE_PCT % with a full queue and HELLOs" \
    test "$SHARE" -lt $HELLO_SHARE_PCT
check "... and $lines keepalive lines <= $HELLO_LINES in 5 s at -v" \
    test "$lines" -le $HELLO_LINES
check "... and its RSS $RSS kB < $RSS_BOUND_KB kB" \
    test "$RSS" -gt 0 -a "$RSS" -lt $RSS_BOUND_KB
stop_pid "$HOSTD5_PID" 10; HOSTD5_PID=
stop_pid "$VS5_PID"; VS5_PID=

# The honest guest's pings and root's calls to it, timed one by one
# until $TMP/stop4, while another guest floods LIST (8,000 answered a
# turn: the others waited 0.6-3 s) or garbage.
timed_call() {
	local t0
	t0=$(now_ms)
	$H -e 'exit-with 0' "$GUEST" >/dev/null 2>&1 || { echo failed; return; }
	echo "time=$(( $(now_ms) - t0 )) ms"
}
caller() {
	while [ ! -e "$TMP/stop4" ]; do
		within 10 timed_call >>"$TMP/calls" 2>&1 ||
		    echo "failed" >>"$TMP/calls"
		sleep 0.05
	done
}
side_by_side() {	# KIND: the flood beside the pinger and the caller
	rm -f "$TMP/stop4" "$TMP/pings4" "$TMP/calls"
	pinger "$TMP/stop4" "$TMP/pings4" &
	PINGER=$!
	caller &
	CALLER=$!
	if [ "$1" = none ]; then
		sleep 3
	else
		flood "$EVIL_G2H" "$HOSTD_PID" "$1" $FLOOD_S
	fi
	touch "$TMP/stop4"
	reap 15 "$PINGER"; PINGER=
	reap 15 "$CALLER"; CALLER=
	PMAX=$(max_ms "$TMP/pings4") CMAX=$(max_ms "$TMP/calls")
	NP=$(grep -c 'time=' "$TMP/pings4") NC=$(grep -c 'time=' "$TMP/calls")
	echo "# beside the $1 flood: $NP pings, max $PMAX ms; $NC calls, max $CMAX ms"
}
# The same without a flood: on a loaded machine the bounds are this
# run's own, PING_MAX_MS and CALL_MAX_MS at least, or 3 x what the honest
# guest and root see here without a flood (the LIST flood made it 30-150 x).
side_by_side none
PING_MAX_MS=$(awk -v b="${PMAX:-0}" -v m=$PING_MAX_MS \
    'BEGIN { b = int(3 * b); print (b > m ? b : m) }')
CALL_MAX_MS=$(awk -v b="${CMAX:-0}" -v m=$CALL_MAX_MS \
    'BEGIN { b = int(3 * b); print (b > m ? b : m) }')
check "baseline: the honest guest pinged and root called it ($NP, $NC)" \
    test "$NP" -ge 5 -a "$NC" -ge 3
side_by_side list
check "LIST flood: host daemon CPU $SHARE % of a core < $FLOOD_SHARE_PCT %" \
    test "$SHARE" -lt $FLOOD_SHARE_PCT
check "... the honest guest's ping max ${PMAX:-none} ms < $PING_MAX_MS ms ($NP pings)" \
    awk -v p="${PMAX:-999999}" -v n="$NP" \
    "BEGIN { exit !(p < $PING_MAX_MS && n >= 10) }"
calls_ok() {
	awk -v p="${CMAX:-999999}" -v n="$NC" \
	    "BEGIN { exit !(p < $CALL_MAX_MS && n >= 5) }" &&
	    ! grep -q failed "$TMP/calls"
}
check "... root's -e calls to it max ${CMAX:-none} ms < $CALL_MAX_MS ms ($NC calls, none failed)" \
    calls_ok
side_by_side garbage
check "garbage flood: host daemon CPU $SHARE % of a core < $FLOOD_SHARE_PCT %" \
    test "$SHARE" -lt $FLOOD_SHARE_PCT
check "... the honest guest's ping max ${PMAX:-none} ms < $PING_MAX_MS ms ($NP pings)" \
    awk -v p="${PMAX:-999999}" -v n="$NP" \
    "BEGIN { exit !(p < $PING_MAX_MS && n >= 10) }"
check "host daemon alive after the floods, and serving both ways" \
    within 10 serving

finish
