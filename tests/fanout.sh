#!/bin/bash
# Fan-out and channel-directory events, without a VM: a host daemon on a
# private channel directory and simulated guests (tests/fleet).  Guests
# that appear are connected within 1 s (inotify), guests that go are
# dropped within 1 s; --all, --guests, --json and --ping give one line
# (or object) per guest; a guest that does not answer fails alone at -t;
# idle, the daemon does not wake.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
# The --json checks read with jq: without it they would compare nothing.
need jq jq || { fail "jq is not installed and could not be"; finish; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-fo.XXXXXX") || exit 1
HOSTBIN=$REPO/negotiator-host
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
A_PID= B_PID= HOSTD_PID=
mkdir -p "$TMP/chan"

cleanup() {
	trap '' INT TERM HUP
	[ -z "$B_PID" ] || kill -CONT "$B_PID" 2>/dev/null
	stop_pid "$HOSTD_PID"; stop_pid "$A_PID"; stop_pid "$B_PID"
	kill_children
	if [ "$FAILED" -gt 0 ]; then
		echo "--- host daemon log (tail)"; tail -n 30 "$TMP/hostd.log"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

# fleet PREFIX COUNT: simulated guests PREFIX0001...; sets FLEET_PID.
fleet() {
	"$REPO/tests/fleet" "$TMP/chan" "$2" --prefix "$1" \
	    --pidfile "$TMP/$1.pid" &
	FLEET_PID=$!
	wait_until 5 test -s "$TMP/$1.pid"
}
connected() { [ "$($H -g -v | grep -c '	connected$')" = "$1" ]; }
lists() { [ "$($H -g | tr '\n' ' ')" = "$1" ]; }
json_of() {
	jq -c --arg g "$1" "select(.guest == \$g) | $2" "$TMP/$3.json"
}

fleet a 3; A_PID=$FLEET_PID
"$HOSTBIN" -d -v --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
    --peer-timeout 86400 2>>"$TMP/hostd.log" &
HOSTD_PID=$!
check "daemon up" wait_until 5 test -S "$TMP/host.sock"
check "three guests, all connected" wait_until 3 connected 3

t=$(now_ms)
fleet b 2; B_PID=$FLEET_PID
check "two more guests appear: connected within 1 s (inotify)" \
    wait_until 1 connected 5
check "-g in name order" lists "a0001 a0002 a0003 b0001 b0002 "

out=$($H --all -e 'echo-args x "y z"'); rc=$?
check "--all -e: exit 0" test "$rc" = 0
check "--all -e: one prefixed line per guest" test "$(echo "$out" | sort | tr '\n' '|')" = \
    "a0001: [x][y z]|a0002: [x][y z]|a0003: [x][y z]|b0001: [x][y z]|b0002: [x][y z]|"
$H --all --json -e guest-name >"$TMP/all.json"; rc=$?
check "--all --json: exit 0, five objects" test "$rc" = 0 -a "$(wc -l <"$TMP/all.json")" = 5
check "--all --json: each stdout is its guest's name" \
    test "$(jq -r 'select(.stdout != .guest + "\n") | .guest' "$TMP/all.json")" = ""
check "--all --json: fields" test \
    "$(jq -c '[.exit, .stderr, (.ms | type)]' "$TMP/all.json" | sort -u)" = '[0,"","number"]'
$H --guests a0002,nosuch,a0002 --json -e true >"$TMP/some.json"; rc=$?
check "--guests with an unknown one: exit 1, each named guest once" \
    test "$rc" = 1 -a "$(wc -l <"$TMP/some.json")" = 2
check "--guests: the unknown one is 125 with an error" \
    test "$(json_of nosuch '[.exit, (.error | test("no such guest"))]' some)" = '[125,true]'
expect_status 125 "--guests with an empty name" $H --guests 'a0001,' -e true
expect_status 125 "--all with a GUEST operand" $H --all -e true a0001
$H --all --ping >"$TMP/ping.out"; rc=$?
check "--all --ping: exit 0, a time per guest" test "$rc" = 0 -a \
    "$(grep -c '^[ab]000[1-3]: time=[0-9.]* ms$' "$TMP/ping.out")" = 5
$H -g --json >"$TMP/g.json"
check "-g --json: connected, protocol, its 2 commands counted" test \
    "$(json_of a0001 '[.state, (.protocol > 0), (.commands == 2), (.last_frame | type)]' g)" = \
    '["connected",true,true,"string"]'

# Guests that do not answer (their process stopped) fail alone, at -t + 1 s.
kill -STOP "$B_PID"
t=$(now_ms)
$H --all --json -t 1 -e true >"$TMP/stopped.json"; rc=$?
took=$(( $(now_ms) - t ))
kill -CONT "$B_PID"
check "stopped guests: exit 1 after $took ms (< 3000)" test "$rc" = 1 -a "$took" -lt 3000
check "stopped guests: the others answered at once" test \
    "$(jq -c 'select(.guest | startswith("a")) | [.exit, .ms < 1000]' "$TMP/stopped.json" | sort -u)" = '[0,true]'
check "stopped guests: counted as failed (124)" test \
    "$(jq -c 'select(.guest | startswith("b")) | .exit' "$TMP/stopped.json" | sort -u)" = 124

# Idle: no wake-up at all (keepalive is pushed past the window).
switches() {
	cat /proc/"$HOSTD_PID"/task/*/status |
	    awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }'
}
sleep 1
s0=$(switches); sleep 3; s1=$(switches)
check "idle 3 s: the daemon did not wake ($s0 then $s1)" test "$s0" = "$s1"

stop_pid "$B_PID"; B_PID=
check "guests that go are dropped within 1 s" wait_until 1 lists "a0001 a0002 a0003 "
check "no fd left of them" test "$(ls /proc/"$HOSTD_PID"/fd | wc -l)" -lt 20
check "the daemon is still up" alive "$HOSTD_PID"
finish
