#!/bin/bash
# Load and liveness (issue 8), on emulated channels (tests/vserial): the
# real daemons under the load the tool exists for, and peers that die,
# stop, flood or never read.  Asserts behaviour; the figures (wall time,
# peak RSS, detection and recovery times) are printed as "# ..." lines.
#
#   - 32 parallel 8 MB calls, half each way, -t 0: byte-exact, and --ping
#     answers at once afterwards (no deadlock, channels still read);
#   - the same with every CLI's stdout paused 2 s: both daemons' peak RSS
#     stays under RSS_BOUND_KB (back-pressure reaches the producers);
#   - a fake guest (tests/loadgen flood) that grants the most credit and
#     never reads: the host's RSS stays bounded and the other guest's
#     --ping p90 stays under 50 ms;
#   - a guest daemon stopped (SIGSTOP) and killed, and a host daemon
#     stopped: calls in flight fail (125) within the keepalive bound,
#     -g -v says "not answering", new calls fail at once, and all recover
#     after SIGCONT or a restart;
#   - a non-blocking stdout that blocks for a second: every byte arrives;
#     a closed one: exit 125 with a message;
#   - 20,000 calls each way and a guest that comes and goes 1,000 times:
#     RSS of both daemons grows by less than 1 MB; valgrind finds nothing
#     definitely lost in either daemon.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-load.XXXXXX") || exit 1
HOSTBIN=$REPO/negotiator-host
HOSTD=$REPO/negotiator-hostd
GUESTBIN=$REPO/negotiator-guest
COMMON="--commands-dir $REPO/tests/commands.d --builtin-dir $REPO/commands"
PEER_TIMEOUT=2				# seconds, --peer-timeout of both daemons
RSS_BOUND_KB=$((64 * 1024))		# both daemons, whatever the load
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
GUEST=vm1				# the guest that serving asks
VS_PID= VS2_PID= HOSTD_PID= GUESTD_PID= FLOOD_PID=
REMOTE_PIDS=				# sleepers a dead daemon left behind,
					# PID:START_TIME each
mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/gport2"

start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    ${HOSTD_WRAP:-} "$HOSTD" -d -v --peer-timeout $PEER_TIMEOUT \
	    --control "$TMP/host.sock" --channel-dir "$TMP/chan" $COMMON
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    ${GUESTD_WRAP:-} ${GUESTD_BIN:-$GUESTBIN} -d -v \
	    --peer-timeout $PEER_TIMEOUT --control "$TMP/guest.sock" \
	    -c "$TMP/gport" $COMMON
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
first_line() { [ -s "$1" ] && head -n 1 "$1"; }
cleanup() {
	trap '' INT TERM HUP
	for p in $REMOTE_PIDS; do kill_same TERM "${p%:*}" "${p#*:}"; done
	stop_pid "$FLOOD_PID"; stop_pid "$HOSTD_PID" 10
	stop_pid "$GUESTD_PID" 10; stop_pid "$VS_PID"; stop_pid "$VS2_PID"
	kill_children
	tail_on_failure 25 "host daemon log" "$TMP/hostd.log" \
	    "guest daemon log" "$TMP/guestd.log"
	[ -n "${LOAD_KEEP:-}" ] && cp -r "$TMP" "$LOAD_KEEP"
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

# The fake guest and the call generator (built by make all).
LOADGEN=$REPO/tests/loadgen
[ -x "$LOADGEN" ] || { fail "tests/loadgen is not built (make all)"; finish; exit 1; }

start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

# --- 32 parallel 8 MB calls, half each way ------------------------------

seq 1 2000000 | head -c 8000000 >"$TMP/in"
WANT=$(md5sum <"$TMP/in")

# bulk N READER: N calls each way of `cat` with the 8 MB file as stdin, each
# CLI's stdout read by READER (a shell command line); 0 if all are
# byte-exact and exit 0.  Sets BULK_MS.
bulk() {
	local n=$1 reader=$2 i pids= bad=0 t0 p
	t0=$(now_ms)
	for i in $(seq 1 "$n"); do
		$H -t 0 -e cat vm1 <"$TMP/in" 2>"$TMP/err.h$i" |
		    sh -c "$reader" >"$TMP/sum.h$i" &
		pids="$pids $!"
		guest_cli -t 0 -e cat <"$TMP/in" 2>"$TMP/err.g$i" |
		    sh -c "$reader" >"$TMP/sum.g$i" &
		pids="$pids $!"
	done
	for p in $pids; do reap 120 "$p" || bad=$((bad + 1)); done
	BULK_MS=$(( $(now_ms) - t0 ))
	for i in $(seq 1 "$n"); do
		for s in h g; do
			if [ "$(cat "$TMP/sum.$s$i")" != "$WANT" ]; then
				bad=$((bad + 1))
				echo "# call $s$i: $(head -c 300 "$TMP/err.$s$i")"
			fi
		done
	done
	[ "$bad" -eq 0 ]
}
ping_both() { $H --ping vm1 >/dev/null && guest_cli --ping >/dev/null; }

check "32 parallel 8 MB calls (16 each way, -t 0) are byte-exact" \
    bulk 16 md5sum
echo "# bulk, 32 x 8 MB: $BULK_MS ms wall"
check "--ping both ways answers at once after the bulk" within 1 ping_both

check "32 parallel 8 MB calls with every CLI's stdout paused 2 s" \
    bulk 16 "sleep 2; md5sum"
echo "# bulk with stdout paused 2 s, 32 x 8 MB: $BULK_MS ms wall"
check "--ping both ways answers at once after the paused bulk" \
    within 1 ping_both
# alive_or_why NAME PID: PID (the NAME daemon, which this shell started
# and has not restarted since) still runs; if not, how it ended (wait's
# status: 128+N for signal N) and the last lines of its log.
alive_or_why() {
	local st
	alive "$2" && return 0
	wait "$2" 2>/dev/null; st=$?
	echo "# the $1 daemon (pid $2) ended with status $st; the end of its log:"
	tail -n 15 "$TMP/${1}d.log" | sed 's/^/#   /'
	return 1
}
both_alive() {
	local rc=0
	alive_or_why host "$HOSTD_PID" || rc=1
	alive_or_why guest "$GUESTD_PID" || rc=1
	return $rc
}
check "both daemons still run after the bulk calls" both_alive
h=$(hwm_kb "$HOSTD_PID") g=$(hwm_kb "$GUESTD_PID")
echo "# peak RSS after both bulk runs: host daemon $h kB, guest daemon $g kB"
check "host daemon peak RSS $h kB < $RSS_BOUND_KB kB" test "$h" -lt "$RSS_BOUND_KB"
check "guest daemon peak RSS $g kB < $RSS_BOUND_KB kB" test "$g" -lt "$RSS_BOUND_KB"

# --- a fake guest that grants the most credit and never reads -----------

# p90 PINGOUTPUT: the 90th percentile of the times in --ping's lines, in ms.
p90() {
	sed -n 's/.*time=\([0-9.]*\) ms/\1/p' "$1" | sort -n |
	    awk '{ t[NR] = $1 } END { i = int(NR * 0.9 + 0.999); print t[i] }'
}
# max_rss PID SECONDS FILE: samples PID's RSS every 0.1 s, keeps the most.
max_rss() {
	local end=$(( $(now_ms) + $2 * 1000 )) max=0 r
	while [ "$(now_ms)" -lt "$end" ]; do
		r=$(rss_kb "$1") || break
		[ "$r" -gt "$max" ] && max=$r
		sleep 0.1
	done
	echo "$max" >"$3"
}

start_vserial vm2 "$TMP/chan" "$TMP/gport2" VS2_PID
check "the host daemon found the second guest" \
    wait_until 5 sh -c "$H -g | grep -qx vm2"
rss0=$(rss_kb "$HOSTD_PID")
"$LOADGEN" flood "$TMP/gport2/negotiator-guest-to-host.0" 32 8 &
FLOOD_PID=$!
max_rss "$HOSTD_PID" 7 "$TMP/flood.rss" &
sampler=$!
sleep 1.5
$H --ping vm1 --count 50 >"$TMP/pings" 2>&1
check "vm1 answers 50 pings while vm2 floods" \
    test "$(grep -c 'time=' "$TMP/pings")" -eq 50
p=$(p90 "$TMP/pings")
echo "# vm1 --ping p90 while vm2 floods: $p ms"
check "vm1 --ping p90 $p ms < 50 ms" \
    test "$(echo "${p:-999} < 50" | bc)" -eq 1
reap 15 "$FLOOD_PID"; st=$?; FLOOD_PID=
check "the fake guest's writes never blocked (the host kept reading)" \
    test "$st" -eq 0
reap 10 "$sampler"
m=$(cat "$TMP/flood.rss")
echo "# host daemon RSS during the flood: $rss0 kB before, $m kB at most"
check "host daemon RSS during the flood $m kB < $RSS_BOUND_KB kB" \
    test "$m" -lt "$RSS_BOUND_KB"
# The script runs as "sh /dev/fd/3 60000000" (negotiator-commands(7)):
# its head is what names it.  (The bracket keeps pgrep from matching the
# shell that runs it.)
no_flood_jobs() { ! pgrep -f '^[h]ead -c 60000000$' >/dev/null; }
check "the flooder's commands are killed once it is silent" \
    wait_until $((PEER_TIMEOUT + 8)) no_flood_jobs
check "the host daemon still serves vm1" within 5 serving

# --- peers that stop or die ---------------------------------------------

BOUND_MS=$((PEER_TIMEOUT * 1000 + 1500))	# detection, with slack
not_answering() { $H -g -v | grep -q "^vm1	not answering (last frame "; }
connected() { $H -g -v | grep -qx "vm1	connected"; }

# in_flight CLI-COMMAND... : starts a call of `sleeper 60` in the background
# and waits for its remote pid; sets CALL_PID and SLEEPER.
in_flight() {
	rm -f "$TMP/sleeper"
	"$@" -t 0 -e 'sleeper 60' >"$TMP/sleeper" 2>"$TMP/sleeper.err" &
	CALL_PID=$!
	wait_until 10 first_line "$TMP/sleeper"
	SLEEPER=$(first_line "$TMP/sleeper")
	REMOTE_PIDS="$REMOTE_PIDS $SLEEPER:$(start_time "$SLEEPER")"
}
# fails_within MS DESCRIPTION: the call started by in_flight ends with 125
# within MS of now_ms $T0.
fails_within() {
	local st took
	reap 30 "$CALL_PID"; st=$?
	took=$(( $(now_ms) - T0 ))
	echo "# $2: the call in flight failed after $took ms: $(head -c 200 "$TMP/sleeper.err")"
	check "$2: the call in flight fails with 125 (exit $st)" test "$st" -eq 125
	check "$2: ... within $1 ms ($took ms)" test "$took" -lt "$1"
}
# fails_at_once DESCRIPTION CLI...: a new call fails with 125 in < 1 s.
fails_at_once() {
	local what=$1 t st; shift
	t=$(now_ms)
	"$@" -e 'exit-with 0' >/dev/null 2>"$TMP/new.err"; st=$?
	t=$(( $(now_ms) - t ))
	echo "# $what: a new call failed after $t ms: $(cat "$TMP/new.err")"
	check "$what: a new call fails with 125 (exit $st) in < 1 s ($t ms)" \
	    test "$st" -eq 125 -a "$t" -lt 1000
}

in_flight $H vm1
kill -STOP "$GUESTD_PID"; T0=$(now_ms)
fails_within $BOUND_MS "guest daemon stopped"
check "guest daemon stopped: -g -v says vm1 is not answering" not_answering
$H -g -v | sed 's/^/# -g -v: /'
fails_at_once "guest daemon stopped" $H vm1
kill -CONT "$GUESTD_PID"; T0=$(now_ms)
check "guest daemon continued: -g -v says connected again" \
    wait_until 10 connected
echo "# guest daemon continued: connected again after $(( $(now_ms) - T0 )) ms"
check "guest daemon continued: calls work both ways" within 5 serving
check "guest daemon continued: the cut-off command was killed (pid $SLEEPER)" \
    wait_until 5 pid_gone "$SLEEPER"

in_flight guest_cli
kill -STOP "$HOSTD_PID"; T0=$(now_ms)
fails_within $BOUND_MS "host daemon stopped"
fails_at_once "host daemon stopped" guest_cli
kill -CONT "$HOSTD_PID"; T0=$(now_ms)
check "host daemon continued: calls work both ways again" \
    wait_until 10 serving
echo "# host daemon continued: serving again after $(( $(now_ms) - T0 )) ms"
check "host daemon continued: the cut-off command was killed (pid $SLEEPER)" \
    wait_until 5 pid_gone "$SLEEPER"

in_flight $H vm1
kill -KILL "$GUESTD_PID"; T0=$(now_ms)
reap 5 "$GUESTD_PID"; GUESTD_PID=
fails_within $BOUND_MS "guest daemon killed"
check "guest daemon killed: -g -v says vm1 is not answering" not_answering
fails_at_once "guest daemon killed" $H vm1
start_guestd; T0=$(now_ms)
check "guest daemon restarted: calls work both ways" wait_until 10 serving
echo "# guest daemon restarted: serving again after $(( $(now_ms) - T0 )) ms"

# --- a non-blocking stdout -----------------------------------------------

# nonblock_read DELAY CMD...: runs CMD with stdout a non-blocking pipe that
# nobody reads for DELAY seconds; prints "STATUS MD5" of what came out.
nonblock_read() {
	python3 - "$@" <<'PY'
import fcntl, hashlib, os, subprocess, sys, time
delay, cmd = float(sys.argv[1]), sys.argv[2:]
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=w)
os.close(w)
time.sleep(delay)
h = hashlib.md5()
while True:
    b = os.read(r, 1 << 16)
    if not b:
        break
    h.update(b)
print(p.wait(timeout=60), h.hexdigest() + "  -")
PY
}
want=$(seq 1 9000000 | head -c 5000000 | md5sum)
got=$(within 60 nonblock_read 1 $H -t 0 -e 'stream 5000000' vm1)
check "non-blocking stdout blocked for 1 s: every byte arrives, exit 0" \
    test "$got" = "0 $want"
got=$(within 60 nonblock_read 1 "$GUESTBIN" --control "$TMP/guest.sock" \
    -c "$TMP/gport" -t 0 -e 'stream 5000000')
check "guest CLI: the same" test "$got" = "0 $want"
$H -t 0 -e 'stream 5000000' vm1 2>"$TMP/epipe.err" | head -c 10 >/dev/null
st=${PIPESTATUS[0]}
check "stdout closed early: killed by SIGPIPE, as a local program ($st), quiet" \
    test "$st" -eq 141 -a ! -s "$TMP/epipe.err"

# --- leaks: 20,000 calls each way, a guest that comes and goes ----------

CALLS=${LOAD_CALLS:-20000}
G2H2=$TMP/gport2/negotiator-guest-to-host.0
vm2_listed() { $H -g | grep -qx vm2; }
vm2_gone() { ! vm2_listed; }
# Warm-up: the allocator's arenas and the daemons' tables reach their size.
"$LOADGEN" calls "$TMP/host.sock" vm1 2000 &&
    "$LOADGEN" calls "$TMP/guest.sock" "" 2000 &&
    "$LOADGEN" sessions "$G2H2" 100 ||
    fail "warm-up calls"
h0=$(rss_kb "$HOSTD_PID") g0=$(rss_kb "$GUESTD_PID") t0=$(now_ms)
"$LOADGEN" calls "$TMP/host.sock" vm1 "$CALLS" & c1=$!
"$LOADGEN" calls "$TMP/guest.sock" "" "$CALLS" & c2=$!
"$LOADGEN" sessions "$G2H2" 1000 & c3=$!
bad=0
for i in $(seq 1 25); do
	$H -e 'echo-args x' vm1 >/dev/null 2>&1 || bad=$((bad + 1))
	guest_cli -e 'echo-args x' >/dev/null 2>&1 || bad=$((bad + 1))
done
reap 300 "$c1"; s1=$?
reap 300 "$c2"; s2=$?
reap 300 "$c3"; s3=$?
check "$CALLS calls to vm1 on the host's control socket" test "$s1" -eq 0
check "$CALLS calls to the host on the guest's control socket" test "$s2" -eq 0
check "1,000 guest sessions come and go on vm2" test "$s3" -eq 0
check "50 commands run meanwhile ($bad failed)" test "$bad" -eq 0
# vm2's channels themselves go and come back (the guest's table entry).
for i in 1 2 3; do
	stop_pid "$VS2_PID"; VS2_PID=
	wait_until 5 vm2_gone || fail "vm2 gone ($i)"
	start_vserial vm2 "$TMP/chan" "$TMP/gport2" VS2_PID
	wait_until 5 vm2_listed || fail "vm2 back ($i)"
done
echo "# $CALLS calls each way, 1,000 sessions, 50 commands: $(( $(now_ms) - t0 )) ms"
h1=$(rss_kb "$HOSTD_PID") g1=$(rss_kb "$GUESTD_PID")
echo "# RSS over them: host daemon $h0 -> $h1 kB, guest daemon $g0 -> $g1 kB"
check "host daemon RSS grew by less than 1 MB ($((h1 - h0)) kB)" \
    test $((h1 - h0)) -lt 1024
check "guest daemon RSS grew by less than 1 MB ($((g1 - g0)) kB)" \
    test $((g1 - g0)) -lt 1024

# --- valgrind: nothing definitely lost ------------------------------------

# The daemons again, under valgrind, on a guest of their own; the guest
# daemon linked dynamically (the installed one is static, where valgrind
# cannot see malloc).
stop_pid "$HOSTD_PID" 10; HOSTD_PID=
stop_pid "$GUESTD_PID" 10; GUESTD_PID=
if ! command -v valgrind >/dev/null; then
	fail "valgrind is not installed (apt-get install valgrind)"
	finish; exit 1
fi
# shellcheck disable=SC2046
objs=$(make -s -C "$REPO" --eval 'print-%: ; @echo $($*)' print-GUESTD_OBJS \
    print-COMMON_OBJS | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
(cd "$REPO" && cc -o "$TMP/negotiator-guest-dyn" $objs -lev \
    $(pkg-config --libs libbsd-overlay msgpack libxxhash zlib)) ||
    { fail "link a dynamic guest daemon"; finish; exit 1; }
VG="valgrind -q --leak-check=full --show-leak-kinds=definite"
VG="$VG --errors-for-leak-kinds=definite"
HOSTD_WRAP="$VG --log-file=$TMP/vg.host" GUESTD_WRAP="$VG --log-file=$TMP/vg.guest"
GUESTD_BIN=$TMP/negotiator-guest-dyn
start_hostd
start_guestd
check "under valgrind: daemons serving" wait_until 60 serving
"$LOADGEN" calls "$TMP/host.sock" vm1 300 || fail "valgrind: calls to vm1"
"$LOADGEN" calls "$TMP/guest.sock" "" 300 || fail "valgrind: calls to the host"
bulk 2 md5sum || fail "valgrind: bulk calls"
in_flight $H vm1
kill -STOP "$GUESTD_PID"; sleep $((PEER_TIMEOUT + 2)); kill -CONT "$GUESTD_PID"
reap 30 "$CALL_PID"
check "under valgrind: serving again after a stop" wait_until 30 serving
stop_pid "$HOSTD_PID" 30; HOSTD_PID=
stop_pid "$GUESTD_PID" 30; GUESTD_PID=
for d in host guest; do
	sed 's/^/# valgrind '$d': /' "$TMP/vg.$d" | head -n 40
	check "valgrind: nothing definitely lost, no error in the $d daemon" \
	    test ! -s "$TMP/vg.$d"
done

finish
