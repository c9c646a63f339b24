#!/bin/bash
# The daemons' side of issue 19, on emulated channels (tests/vserial):
#
#   1. Bursts queue: 100 parallel calls of a 0.2 s command into one guest
#      at the daemons' defaults all succeed (before the queue, 52-55 of
#      100 failed with "too many commands running", 125); a queue past its
#      bound refuses with "queue full" and the bound; a queued call's
#      timeout counts from when it was asked.
#   2. Audit: one line per call served or relayed, both ways, with
#      arguments (spaces, newline, ESC, a quote, an empty one) whose
#      boundaries read back (decoded with python3), the caller's uid and
#      pid, the exit code and the duration; the journal's fields, sent to
#      a datagram socket this test binds (--journal=SOCKET) and read back
#      as journald would (no journald runs here).
#   3. Per-call environment: --env FOO=bar reaches the command both ways;
#      LD_PRELOAD (and a name that is no name) sent by a hand-made caller
#      (tests/envcall), which the CLI's own check cannot stop, is refused by
#      the receiving daemon: 125 and one line naming the variable.
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
VS_PID= HOSTD_PID= GUESTD_PID= JOURNAL_PID= NS_PID=
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
trap 'end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID" "$JOURNAL_PID" "$NS_PID"' EXIT
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
all_called() { [ "$(callers)" -ge 100 ]; }
kill -STOP "$GUESTD_PID"
t0=$(now_ms)
burst 100 "$TMP/b100" $H -t 30 -e 'sleeper 0.2' "$GUEST" &
BURST=$!
wait_until 10 all_called
echo "# $(callers) callers connected after $(( $(now_ms) - t0 )) ms"
kill -CONT "$GUESTD_PID"
reap 60 "$BURST"
echo "# 100 parallel 0.2 s calls into one guest: $(( $(now_ms) - t0 )) ms," \
    "$(count_rc "$TMP/b100" 0) succeeded"
check "100 parallel calls into one guest at the defaults all succeed" \
    test "$(count_rc "$TMP/b100" 0)" -eq 100
grep -h . "$TMP"/b100/*.err | sort | uniq -c | head -3 | sed 's/^/# /'

# --- 2. audit --------------------------------------------------------------

command -v python3 >/dev/null || fail "python3 is needed to read the audit lines back"
# args_of: the arguments of audit lines on stdin, decoded, one per line
# as [ARG] (a newline in one shows as \n, ESC as \e).
args_of() {
	python3 -c '
import codecs, re, sys
for line in sys.stdin:
    m = re.search(r" ran (.*?)(?: in guest \S+| on the host)?: [a-z ]+[0-9]* \([0-9]+ ms\)$", line)
    args = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1))
    print("".join("[%s]" % codecs.escape_decode(a.encode())[0].decode()
        .replace("\n", "\\n").replace("\033", "\\e") for a in args))
'
}
AWKWARD=$'echo-args "a b" "" "l1\nl2" "e\033[31m" "q\\"u"'
WANT='[echo-args][a b][][l1\nl2][e\e[31m][q"u]'
check "an awkward call into the guest works" \
    within 10 $H -e "$AWKWARD" "$GUEST"
check "an awkward call to the host works" within 10 guest_cli -e "$AWKWARD"
uid=$(id -u)
sleep 0.2	# the daemons log after they answer
line=$(grep -a 'audit: caller pid [0-9]* uid '"$uid"' ran "echo-args" "a b".* in guest '"$GUEST"': exit 0 ([0-9]* ms)$' "$TMP/hostd.log")
check "the host daemon logs the relayed call: caller uid and pid, guest, exit, duration" \
    test -n "$line"
check "... its arguments read back whole ($(args_of <<<"$line"))" \
    test "$(args_of <<<"$line")" = "$WANT"
line=$(grep -a 'audit: host ran "echo-args" "a b".*: exit 0 ([0-9]* ms)$' "$TMP/guestd.log")
check "the guest daemon logs the call it served, from the host" test -n "$line"
check "... its arguments read back whole" test "$(args_of <<<"$line")" = "$WANT"
line=$(grep -a 'audit: caller pid [0-9]* uid '"$uid"' ran "echo-args" "a b".* on the host: exit 0 ([0-9]* ms)$' "$TMP/guestd.log")
check "the guest daemon logs the relayed call: caller uid and pid" test -n "$line"
check "... its arguments read back whole" test "$(args_of <<<"$line")" = "$WANT"
line=$(grep -a 'audit: guest '"$GUEST"' ran "echo-args" "a b".*: exit 0 ([0-9]* ms)$' "$TMP/hostd.log")
check "the host daemon logs the call it served, from guest $GUEST" test -n "$line"
check "... its arguments read back whole" test "$(args_of <<<"$line")" = "$WANT"
within 10 guest_cli -e 'exit-with 3' 2>/dev/null
within 10 guest_cli -e 'nosuch' 2>/dev/null
sleep 0.2
check "an exit code is logged" grep -q 'audit: guest '"$GUEST"' ran "exit-with" "3": exit 3 (' "$TMP/hostd.log"
check "a command not found is logged" grep -q 'audit: guest '"$GUEST"' ran "nosuch": not found (' "$TMP/hostd.log"

# --- 3. per-call environment ---------------------------------------------

out=$(within 10 $H --env FOO=bar --env 'SPACED=a b' -e env-all "$GUEST")
check "--env reaches the command in the guest" grep -qx 'FOO=bar' <<<"$out"
check "... with its spaces" grep -qx 'SPACED=a b' <<<"$out"
out=$(within 10 guest_cli --env FOO=bar -e env-all)
check "--env reaches the command on the host" grep -qx 'FOO=bar' <<<"$out"
check "... beside the daemon's own" grep -qx "NEGOTIATOR_GUEST=$GUEST" <<<"$out"
out=$(within 10 $H --all --env FOO=bar -e env-all)
check "--env reaches the command with --all" grep -qx "$GUEST: FOO=bar" <<<"$out"
out=$(within 10 $H --env LD_PRELOAD=x -e env-all "$GUEST" 2>&1); st=$?
check "the host CLI refuses --env LD_PRELOAD=x itself, 125 and one line ($st: $out)" \
    test "$st" -eq 125 -a "$(wc -l <<<"$out")" -eq 1
check "... naming the variable" grep -q -- '--env LD_PRELOAD: refused' <<<"$out"
ENVCALL=$REPO/tests/envcall
for way in "host.sock $GUEST guest" "guest.sock - host"; do
	set -- $way
	[ "$2" = - ] && set -- "$1" "" "$3"
	for var in LD_PRELOAD=/tmp/x.so BASH_ENV=/tmp/x NEGOTIATOR_GUEST=x \
	    PYTHONPATH=/tmp '1A=x'; do
		out=$(within 10 "$ENVCALL" "$TMP/$1" "$2" "$var" env-all)
		check "the $3 daemon refuses ${var%%=*} from a hand-made caller ($out)" \
		    grep -q "^exit 5 0 --env ${var%%=*}: " <<<"$out"
	done
	out=$(within 10 "$ENVCALL" "$TMP/$1" "$2" FOO=bar env-all)
	check "... and runs FOO=bar from it ($(head -c 60 <<<"$out"))" \
	    grep -q "^exit 0 0" <<<"$out"
done

# The host daemon again, with --journal on a socket bound here (read back
# as journald would, into one JSON object per entry) and with one command
# per guest for the queue's bound below.
# entry FILE FIELD=VALUE...: the journal entries in FILE (JSON, one a
# line) that have each field so.
entry() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if all(e.get(k) in ([v], v) for k, v in (a.split("=", 1) for a in sys.argv[2:])):
        print(line, end="")
' "$@"
}

# The host daemon under a real systemd-journald, in a mount namespace of
# its own (a tmpfs on /run and /var/log/journal, so that nothing of the
# machine's is touched): --journal to journald's own socket, and what
# journalctl -o json shows.
JD=/lib/systemd/systemd-journald
if [ "$(id -u)" != 0 ] || [ ! -x "$JD" ] || ! command -v unshare >/dev/null ||
    ! command -v journalctl >/dev/null; then
	skip "no root, systemd-journald, unshare or journalctl here: the journal is tested through a socket of ours only"
else
	stop_pid "$HOSTD_PID"
	unshare -m --propagation private bash -c '
		mount -t tmpfs tmpfs /run || exit 1
		[ ! -d /var/log/journal ] || mount -t tmpfs tmpfs /var/log/journal
		"$4" & jd=$!
		for i in $(seq 50); do
			[ -S /run/systemd/journal/socket ] && break; sleep 0.1
		done
		"$1" -d -v --peer-timeout 30 --control "$2/host.sock" \
		    --channel-dir "$2/chan" $3 --journal 2>>"$2/hostd.log" &
		hd=$!
		for i in $(seq 600); do [ -e "$2/ns.stop" ] && break; sleep 0.1; done
		kill $hd; wait $hd
		journalctl -o json --no-pager >"$2/journald.json" 2>&1
		kill $jd; wait $jd
	' _ "$HOSTBIN" "$TMP" "$COMMON" "$JD" &
	NS_PID=$!
	check "host daemon started under a real journald" wait_until 20 serving
	within 10 guest_cli -e "$AWKWARD" >/dev/null
	$H -e "$AWKWARD" "$GUEST" >/dev/null &
	cli=$!
	reap 10 "$cli"
	sleep 0.5
	touch "$TMP/ns.stop"
	reap 20 "$NS_PID"
	echo "# journalctl -o json: $(grep -c NEGOTIATOR_ "$TMP/journald.json") entries of ours"
	e=$(entry "$TMP/journald.json" NEGOTIATOR_CALLER="guest $GUEST" \
	    NEGOTIATOR_GUEST=$GUEST NEGOTIATOR_COMMAND=echo-args \
	    NEGOTIATOR_EXIT=0 PRIORITY=6 _TRANSPORT=journal)
	check "journalctl -o json shows the call served for the guest, with its fields" \
	    test -n "$e"
	check "... its NEGOTIATOR_ARGV read back whole" test "$(python3 -c '
import json, sys; print(json.loads(sys.argv[1])["NEGOTIATOR_ARGV"])' "$e" |
	    sed 's/^/x ran /; s/$/: exit 0 (1 ms)/' | args_of)" = "$WANT"
	check "journalctl -o json shows the relayed call: caller uid $uid and pid $cli" \
	    test -n "$(entry "$TMP/journald.json" NEGOTIATOR_CALLER_UID=$uid \
	    NEGOTIATOR_CALLER_PID=$cli NEGOTIATOR_GUEST=$GUEST NEGOTIATOR_EXIT=0)"
fi

audit_lines=$(grep -c 'audit: ' "$TMP/hostd.log")
stop_pid "$HOSTD_PID"
python3 -c '
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2], "w").close()
while True:
    d, f, i = s.recv(1 << 20), {}, 0
    while i < len(d):
        nl = d.index(b"\n", i)
        if b"=" in d[i:nl]:
            k, v = d[i:nl].split(b"=", 1)
            i = nl + 1
        else:
            k, n = d[i:nl], struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            v, i = d[nl + 9:nl + 9 + n], nl + 10 + n
        f.setdefault(k.decode(), []).append(v.decode())
    with open(sys.argv[2], "a") as out:
        out.write(json.dumps(f) + "\n")
' "$TMP/journal.sock" "$TMP/journal.json" &
JOURNAL_PID=$!
wait_until 5 test -e "$TMP/journal.json"
start_hostd --max-jobs-per-peer 1 --journal="$TMP/journal.sock"
check "host daemon restarted with --journal and --max-jobs-per-peer 1" \
    wait_until 10 serving
: >"$TMP/journal.json"
within 10 guest_cli -e "$AWKWARD" >/dev/null
$H -e "$AWKWARD" "$GUEST" >/dev/null &
cli=$!
reap 10 "$cli"
sleep 0.2
e=$(entry "$TMP/journal.json" NEGOTIATOR_CALLER="guest $GUEST" NEGOTIATOR_GUEST=$GUEST \
    NEGOTIATOR_COMMAND=echo-args NEGOTIATOR_END="exit 0" NEGOTIATOR_EXIT=0 \
    PRIORITY=6 SYSLOG_IDENTIFIER=negotiator-host)
check "the journal has the call served for the guest, with its fields" \
    test -n "$e"
check "... its NEGOTIATOR_ARGV read back whole" test "$(python3 -c '
import json, sys; print(json.loads(sys.argv[1])["NEGOTIATOR_ARGV"][0])' "$e" |
    sed 's/^/x ran /; s/$/: exit 0 (1 ms)/' | args_of)" = "$WANT"
e=$(entry "$TMP/journal.json" NEGOTIATOR_CALLER_UID=$uid NEGOTIATOR_CALLER_PID=$cli \
    NEGOTIATOR_GUEST=$GUEST NEGOTIATOR_EXIT=0)
check "the journal has the relayed call: caller uid $uid and pid $cli, guest" \
    test -n "$e"
check "... and no line of it on stderr" \
    test "$(grep -c 'audit: ' "$TMP/hostd.log")" -eq "$audit_lines"
stop_pid "$JOURNAL_PID"

# A queue past its bound: the host daemon with one command per guest lets
# RUNNER_QUEUE_PER_PEER (4) calls of the guest wait; the next is refused.
SLEEPERS=
for i in 1 2 3 4; do
	guest_cli -t 60 -e 'sleeper 4' >/dev/null 2>&1 &
	SLEEPERS="$SLEEPERS $!"
done
check "one running, three waiting" \
    wait_until 30 grep -q "queued (3 calls of this peer waiting)" "$TMP/hostd.log"
# The queue drains one call per 4 s: a queued call's timeout counts from
# when it was asked, not from when it starts (at least 12 s from now).
t0=$(now_ms)
guest_cli -t 1 -e 'exit-with 0' >/dev/null 2>"$TMP/queued.err" &
QUEUED=$!
check "... and the call with -t 1 waits too" \
    wait_until 30 grep -q 'queued (4 calls of this peer waiting)' "$TMP/hostd.log"
out=$(within 10 guest_cli -t 30 -e 'exit-with 0' 2>&1); st=$?
echo "# the 6th call: $out"
check "a call past the queue's bound fails with 125 ($st)" test "$st" -eq 125
check "... saying the queue is full, with its bound and unit" \
    grep -q 'queue full: 4 calls of yours wait already, behind 1 running (at most 4 calls wait per caller)' <<<"$out"
reap 20 "$QUEUED"; st=$?
ms=$(( $(now_ms) - t0 ))
echo "# a queued call with -t 1 ended after $ms ms: $(cat "$TMP/queued.err")"
check "a queued call times out (124) from when it was asked ($st)" \
    test "$st" -eq 124
check "... within its timeout, not after the queue ($ms ms < 8000)" \
    test "$ms" -lt 8000
for p in $SLEEPERS; do reap 30 "$p"; done

# A queued call's stdin does not grow the daemon: no credit comes back
# until it runs, so its caller sends at most one window (256 KiB) of an
# endless stdin; its timeout then ends it (124) without its ever running.
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
guest_cli -t 30 -e 'sleeper 5' >/dev/null 2>&1 &
SLEEPERS=$!
wait_until 10 grep -q "sleeper 5: started" "$TMP/hostd.log"
rss0=$(rss_kb "$HOSTD_PID")
t0=$(now_ms)
( head -c 100000000 /dev/zero | guest_cli -t 3 -e cat >/dev/null 2>&1 ) &
FEEDER=$!
sleep 2
rss1=$(rss_kb "$HOSTD_PID")
reap 15 "$FEEDER"; st=$?
echo "# host daemon RSS $rss0 kB, $rss1 kB with a queued call's endless stdin"
check "a queued call's endless stdin grows the daemon by < 2 MB ($((rss1 - rss0)) kB)" \
    test -n "$rss0" -a -n "$rss1" -a "$((rss1 - rss0))" -lt 2048
check "... and it times out (124) without running ($st, $(( $(now_ms) - t0 )) ms)" \
    test "$st" -eq 124
reap 15 "$SLEEPERS"

finish
