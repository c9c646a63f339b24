#!/bin/bash
# The CLIs as a user hits them (issues 18 and 19): every mode of both into
# a closed pipe (status 141 through the shell, nothing on stderr, little
# CPU, the remote command gone at once); fan-out that names each guest that
# failed, counts a paused guest as failed, and refuses to ask nobody; -n in
# a `while read` loop; names and output a peer sends shown escaped; JSON
# that keeps bytes that are not UTF-8.  Two emulated guests (tests/vserial)
# with real daemons, and simulated ones (tests/fleet) for hostile names.
#
# NEGOTIATOR_BIN_DIR: where the programs under test are (default: the
# repository), e.g. a build of an older commit, to see these checks fail.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-cli.XXXXXX") || exit 1
BIN=${NEGOTIATOR_BIN_DIR:-$REPO}
HOSTBIN=$BIN/negotiator-host
GUESTBIN=$BIN/negotiator-guest
COMMON="--commands-dir $REPO/tests/commands.d --builtin-dir $REPO/commands"
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
GC="$GUESTBIN --control $TMP/guest.sock -c $TMP/gport"
VS1= VS2= HOSTD_PID= G1= G2= FLEET_PID=
mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/gport2" "$TMP/empty"

cleanup() {
	trap '' INT TERM HUP
	[ -z "$G2" ] || kill -CONT "$G2" 2>/dev/null
	end_suite "$HOSTD_PID" "$G1" "$G2" "$FLEET_PID" "$VS1" "$VS2"
}
trap cleanup EXIT
on_interrupt

# --peer-timeout 2: a paused guest is "not answering" after 2 s.
start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    "$HOSTBIN" -d -v --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" --peer-timeout 2 $COMMON
}
start_vserial vm1 "$TMP/chan" "$TMP/gport" VS1
start_vserial vm2 "$TMP/chan" "$TMP/gport2" VS2
start_hostd
start_daemon G1 "$TMP/guest.sock" "$TMP/guestd.log" "$GUESTBIN" -d -v \
    --control "$TMP/guest.sock" -c "$TMP/gport" $COMMON
start_daemon G2 "$TMP/guest2.sock" "$TMP/guestd2.log" "$GUESTBIN" -d -v \
    --control "$TMP/guest2.sock" -c "$TMP/gport2" $COMMON
both_up() {
	$H -e 'exit-with 0' vm1 && $H -e 'exit-with 0' vm2 &&
	    $GC -e 'exit-with 0'
}
check "daemons up, two guests serving" wait_until 10 both_up

# --- pipes -------------------------------------------------------------
# cpu_ms FILE: the CPU time (user + system, ms) of the children in the
# output of `times` in FILE; empty if there is none.
cpu_ms() {
	sed -n 2p "$1" 2>/dev/null | awk '{
		for (i = 1; i <= 2; i++) {
			split($i, f, "m"); sub("s", "", f[2])
			n += f[1] * 60000 + f[2] * 1000
		}
		printf "%d\n", n }'
}
# gone PID: PID is a process id (positively: digits) and no longer runs.
gone() { [[ $1 =~ ^[0-9]+$ ]] && ! alive "$1"; }
# no_children PID...: none of the daemons PID runs a command.
no_children() {
	local p
	for p in "$@"; do [ -z "$(pgrep -P "$p")" ] || return 1; done
}
# closed CMD...: CMD with its stdout a pipe whose reader is gone (and
# SIGPIPE at its default, as in a shell), for output too short to fill a
# pipe: deterministic where "| head -1" would race.
closed() {
	perl -e 'pipe(R, W) or die; close R; open(STDOUT, ">&W") or die;
	    close W; $SIG{PIPE} = $ENV{SIGPIPE} || "DEFAULT";
	    exec @ARGV or die' -- "$@"
}

# piped DESC HOW CMD...: runs CMD as a user would, HOW being "head"
# (set -o pipefail; CMD | head -1) or "closed" (see closed), bounded at
# 30 s; then checks its status is 141, its stderr is empty and it used
# less than 500 ms of CPU.  The line head read is in $TMP/p.out.
piped() {
	local what=$1 how=$2 rc cpu; shift 2
	rm -f "$TMP"/p.*
	if [ "$how" = head ]; then
		within 30 bash -c 'set -o pipefail
		    { "$@" 2>"$0.err"; rc=$?; times >"$0.times"; exit $rc; } |
		    head -1 >"$0.out"; echo $? >"$0.rc"' "$TMP/p" "$@"
	else
		within 30 bash -c '. "$1"; shift; closed "$@" 2>"$0.err"
		    echo $? >"$0.rc"; times >"$0.times"' "$TMP/p" \
		    "$TMP/closed.sh" "$@"
	fi
	rc=$(cat "$TMP/p.rc" 2>/dev/null)
	cpu=$(cpu_ms "$TMP/p.times")
	if [ "$rc" = 141 ] && [ ! -s "$TMP/p.err" ] && [ -n "$cpu" ] &&
	    [ "$cpu" -lt 500 ]; then
		ok "$what: 141, quiet, $cpu ms of CPU"
	else
		bad "$what: status ${rc:-none} (141 wanted), CPU ${cpu:-?} ms" \
		    "$(head -c 300 "$TMP/p.err" 2>/dev/null)"
	fi
}
declare -f closed >"$TMP/closed.sh"
# floods LABEL: -e and --all -e of an endless command into | head -1, and
# the remote commands gone after.
floods() {
	piped "${1}host -e into | head -1" head $H -t 0 -e flood vm1
	check "${1}host -e: the remote command is gone within 5 s" \
	    wait_until 5 gone "$(cat "$TMP/p.out")"
	piped "${1}host --all -e into | head -1" head $H -t 0 --all -e flood
	check "${1}host --all -e: every guest's command is gone within 5 s" \
	    wait_until 5 no_children "$G1" "$G2"
}

floods ""
piped "host --guests --json -e into | head -1" head \
    $H -t 0 --guests vm1,vm2 --json -e 'stream 300000'
piped "host --ping --count into | head -1" head \
    $H --ping --count 100000 vm1
piped "host -g into a closed pipe" closed $H -g
piped "host -g -v into a closed pipe" closed $H -g -v
piped "host -g --json into a closed pipe" closed $H -g --json
piped "host -c into a closed pipe" closed $H -c vm1
piped "host -c --json into a closed pipe" closed $H -c vm1 --json
piped "host --ping into a closed pipe" closed $H --ping vm1
piped "host --all --ping into a closed pipe" closed $H --all --ping
piped "host -e (short output) into a closed pipe" closed \
    $H -e 'echo-args x' vm1
piped "host -h into a closed pipe" closed $H -h
# A parent that ignores SIGPIPE (left so by a careless supervisor, or a
# language runtime) changes nothing: the CLI restores it to die of it.
export SIGPIPE=IGNORE
piped "SIGPIPE ignored by the parent: host -c" closed $H -c vm1
piped "SIGPIPE ignored by the parent: host -h" closed $H -h
piped "SIGPIPE ignored by the parent: host --version" closed $H --version
piped "SIGPIPE ignored by the parent: guest -h" closed $GC -h
unset SIGPIPE
piped "guest -e into | head -1" head $GC -t 0 -e flood
check "guest -e: the remote command is gone within 5 s" \
    wait_until 5 gone "$(cat "$TMP/p.out")"
piped "guest -l into a closed pipe" closed $GC -l
piped "guest -l --json into a closed pipe" closed $GC -l --json
piped "guest --ping --count into | head -1" head \
    $GC --ping --count 100000
piped "guest -h into a closed pipe" closed $GC -h
# The remote's stderr into a closed pipe ends the call the same way.
within 30 bash -c 'set -o pipefail; "$@" 2>&1 >/dev/null | head -1 >/dev/null
    echo "$?" >"$0"' "$TMP/stderr.rc" $H -t 0 -e 'flood stderr' vm1
check "host -e: its stderr into | head -1: 141" \
    test "$(cat "$TMP/stderr.rc" 2>/dev/null)" = 141
check "host -e: stderr: the remote command is gone within 5 s" \
    wait_until 5 no_children "$G1"

# Another write error is no closed pipe: said, and 125.
full() {
	local want=$1 rc; shift
	"$@" >/dev/full 2>"$TMP/full.err"; rc=$?
	[ "$rc" = 125 ] && [ "$(cat "$TMP/full.err")" = "$want" ] && return
	echo "     status $rc: $(cat "$TMP/full.err")"
	return 1
}
check "host -c into a full disk: 125, and why" full \
    "negotiator-host: cannot write stdout: No space left on device" $H -c vm1
# 30 times: the EXIT that follows the output in the same read once made
# it exit 0 (about 1 call in 7).
full_30() {
	local i
	for i in $(seq 30); do full "$@" || return 1; done
}
check "host -e into a full disk, 30 times: 125, and why" full_30 \
    "negotiator-host: cannot write stdout: No space left on device; the remote command is cancelled" \
    $H -e 'echo-args x' vm1
check "host --all -e into a full disk: 125, and why" full \
    "negotiator-host: cannot write stdout: No space left on device" \
    $H --all -e 'echo-args x'

# --- fan-out tells the truth -------------------------------------------
# text mode: one line per failed guest at the end, on stderr.
$H --all -e 'exit-with 3' >"$TMP/fo.out" 2>"$TMP/fo.err"; rc=$?
check "--all, both fail: exit 1" test "$rc" = 1
check "--all, both fail: a line for each, with its code" test \
    "$(grep -c '^negotiator-host: failed: vm[12]: exit 3$' "$TMP/fo.err")" = 2
$H --guests vm1,vm2 -e 'suicide TERM' >/dev/null 2>"$TMP/fo.err"
check "--guests: killed by a signal, named with it" test \
    "$(grep -c '^negotiator-host: failed: vm[12]: killed by signal 15 (status 143)$' "$TMP/fo.err")" = 2
$H --guests vm1 --json -e 'suicide TERM' >"$TMP/sig.json"
check "--json: the signal apart from the exit status" \
    grep -q '"exit":143,"signal":15,' "$TMP/sig.json"
$H --guests vm1 --json -e 'exit-with 143' >"$TMP/sig.json"
check "--json: an exit code of 143 is no signal" \
    grep -q '"exit":143,"signal":null,' "$TMP/sig.json"

# A paused guest: failed at -t, and named.
kill -STOP "$G2"
$H --all -t 1 -e "exit-with 0" >/dev/null 2>"$TMP/paused.err"; rc=$?
check "paused guest, --all -t 1: exit 1" test "$rc" = 1
# 124 at -t, or 125 if the daemon's --peer-timeout (2 s) came first.
check "paused guest: named as failed" \
    grep -q '^negotiator-host: failed: vm2: status 12[45]: ' "$TMP/paused.err"
# Once the daemon knows it is not answering, --all still asks it (it
# fails at once) rather than skipping it.
not_answering() { $H -g -v | grep -q '^vm2	not answering'; }
check "paused guest: marked not answering" wait_until 10 not_answering
$H --all -e "exit-with 0" >/dev/null 2>"$TMP/paused.err"; rc=$?
check "not-answering guest, --all: exit 1, not skipped" test "$rc" = 1
check "not-answering guest: named as failed, saying so" \
    grep -q '^negotiator-host: failed: vm2: status 125: .*not answering' \
    "$TMP/paused.err"
kill -CONT "$G2"
check "resumed guest answers again" wait_until 10 $H -e "exit-with 0" vm2

# A guest that stops answering in the middle of a call fails, named.
$H --all -t 0 -e 'sleeper 4' >/dev/null 2>"$TMP/mid.err" &
mid=$!
sleep 0.5
kill -STOP "$G2"
reap 15 "$mid"; rc=$?
kill -CONT "$G2"
check "guest gone mid-call: exit 1" test "$rc" = 1
check "guest gone mid-call: named as failed" \
    grep -q '^negotiator-host: failed: vm2: status 125: ' "$TMP/mid.err"
check "guest gone mid-call: the other one succeeded" \
    test "$(grep -c '^negotiator-host: failed:' "$TMP/mid.err")" = 1
check "resumed guest answers again" wait_until 10 $H -e "exit-with 0" vm2

# --- -n ----------------------------------------------------------------
printf 'vm1\nvm2\nvm1\n' >"$TMP/list"
loop() {
	local g
	while read -r g; do $H -n -e "echo-args $g" "$g"; done <"$TMP/list"
}
check "while read loop with -n: every guest ran" \
    test "$(within 30 loop | tr '\n' ' ')" = "[vm1] [vm2] [vm1] "
echo hello >"$TMP/hello"
# stdin_reaches WANT CMD...: CMD's output, stdin from $TMP/hello, is WANT.
stdin_reaches() {
	local want=$1 pid; shift
	"$@" <"$TMP/hello" >"$TMP/n.out" 2>&1 &
	pid=$!
	reap 10 "$pid" && [ "$(cat "$TMP/n.out")" = "$want" ]
}
check "-n: the command's stdin is empty" stdin_reaches "" $H -n -e cat vm1
check "guest -n: the command's stdin is empty" stdin_reaches "" $GC -n -e cat
check "without -n, stdin reaches the command" \
    stdin_reaches hello $H -e cat vm1
# A call to the daemon with stdin already at its end: its HELLO, request
# and stdin's end in one write, which wakes the daemon once.
# shellcheck disable=SC2086
strace -qq -e trace=write,sendto,sendmsg -o "$TMP/st.call" \
    $GC -e 'exit-with 0' </dev/null
check "guest -e, stdin at its end: one write to the daemon, $(grep -c '^send' "$TMP/st.call") in all" \
    test "$(grep -c '^send' "$TMP/st.call")" = 1 -a \
    "$(grep -c '^write' "$TMP/st.call")" = 0

# --- what a peer sends, on a terminal and in JSON --------------------------
# C1 controls (raw, and as UTF-8) in a guest's output, in fan-out text.
$H --guests vm1 -e "echo-args $(printf '\233''2J \302\233''2J caf\303\251 \a')" \
    >"$TMP/c1.out"
check "fan-out text: C0 and C1 controls in output escaped, UTF-8 kept" \
    test "$(cat "$TMP/c1.out")" = \
    "vm1: [\\2332J][\\302\\2332J][$(printf 'caf\303\251')][\\007]"

# A simulated guest whose LIST holds hostile names.
printf '%s\0' "$(printf '\033]52;c;aGk=\a')" "$(printf 'x\nnegotiator-host: forged')" \
    "$(printf '\302\233''31mred')" "$(printf '\233''31m')" \
    "$(printf 'caf\303\251')" 'back\slash' plain >"$TMP/names"
"$REPO/tests/fleet" "$TMP/chan" 1 --prefix evil --commands "$TMP/names" \
    --pidfile "$TMP/fleet.pid" &
FLEET_PID=$!
check "a hostile simulated guest" wait_until 5 test -s "$TMP/fleet.pid"
check "the daemon sees it" wait_until 5 $H --ping evil0001
$H -c evil0001 >"$TMP/names.out"
check "-c: hostile names, one line each" \
    test "$(wc -l <"$TMP/names.out")" = 7
check "-c: no control byte reaches the terminal (C0, DEL, C1)" \
    test "$(LC_ALL=C tr -d '\n\040-\176\240-\377' <"$TMP/names.out" | wc -c)" = 0
check "-c: each name escaped, readable" test "$(cat "$TMP/names.out")" = \
"\\033]52;c;aGk=\\007
x\\nnegotiator-host: forged
\\302\\23331mred
\\23331m
$(printf 'caf\303\251')
back\\\\slash
plain"
need python3 python3 || fail "python3 is needed to decode JSON losslessly"
# roundtrip FILE KEY: decodes each line's KEY as Python's surrogateescape
# does, and prints the bytes, NUL-terminated.
roundtrip() {
	python3 -c 'import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    sys.stdout.buffer.write(json.loads(line)[sys.argv[2]].encode(
        "utf-8", "surrogateescape") + b"\0")' "$1" "$2"
}
$H -c evil0001 --json >"$TMP/names.json"
check "-c --json: names come back byte for byte" \
    cmp -s "$TMP/names" <(roundtrip "$TMP/names.json" command)
stop_pid "$FLEET_PID"; FLEET_PID=

# Guest names that are not UTF-8 and their UTF-8 look-alike: not plain
# words (negotiator-host(8)), so neither is served, listed or callable;
# a name that reaches a terminal is a plain word or escaped (the -c names
# above).
"$REPO/tests/fleet" "$TMP/chan" 1 --prefix "$(printf 'caf\351')" \
    --pidfile "$TMP/fleet.pid" &
FLEET_PID=$!
"$REPO/tests/fleet" "$TMP/chan" 1 --prefix "$(printf 'caf\303\251')" \
    --pidfile "$TMP/fleet2.pid" &
F2=$!
check "two simulated guests, caf\\351 and café" \
    wait_until 5 test -s "$TMP/fleet.pid" -a -s "$TMP/fleet2.pid"
sleep 1.5	# inotify: the daemon has seen them within 1 s
check "-g lists neither (names not plain words)" \
    test "$($H -g | tr '\n' ' ')" = "vm1 vm2 "
check "-g --json lists neither" test "$($H -g --json | grep -c caf)" = 0
expect_status 125 "a call to caf\\351 fails: no such guest" \
    $H -e 'exit-with 0' "$(printf 'caf\3510001')"
stop_pid "$F2"
stop_pid "$FLEET_PID"; FLEET_PID=

# --- no daemon -----------------------------------------------------------
stop_pid "$HOSTD_PID"; HOSTD_PID=
check "host daemon stopped" test ! -e "$TMP/host.sock"
check "no daemon: the guests answer over their channels" \
    wait_until 10 $H -e "exit-with 0" vm1
floods "no daemon: "
piped "no daemon: host -g into a closed pipe" closed $H -g
check "no daemon: -g -v shows each guest's state ($($H -g -v | tr '\t\n' ': '))" \
    test "$($H -g -v | tr '\t\n' ': ')" = "vm1:found, no daemon vm2:found, no daemon "
# Without a daemon, a guest whose daemon is paused gives no session: it
# fails at 10 s even with -t 0 (it was waited for forever), alone.
kill -STOP "$G2"
t=$(now_ms)
within 30 $H --all -t 0 -e 'echo-args x' >"$TMP/direct.out" 2>"$TMP/direct.err"
rc=$?
took=$(( $(now_ms) - t ))
kill -CONT "$G2"
check "no daemon, paused guest, -t 0: exit 1 after $took ms (10-20 s)" \
    test "$rc" = 1 -a "$took" -ge 9500 -a "$took" -lt 20000
check "no daemon, paused guest: named, not answering" grep -q \
    '^negotiator-host: failed: vm2: status 125: not answering: no session' \
    "$TMP/direct.err"
check "no daemon, paused guest: the other one answered" \
    grep -qx 'vm1: \[x\]' "$TMP/direct.out"
N="$HOSTBIN --control $TMP/none.sock --channel-dir $TMP/empty"
$N --all -e "exit-with 0" >"$TMP/none.out" 2>"$TMP/none.err"; rc=$?
check "no daemon, no guests: --all exits 125" test "$rc" = 125
check "no daemon, no guests: one clear line" test \
    "$(cat "$TMP/none.err")" = "negotiator-host: --all: no guests to ask (no daemon at $TMP/none.sock, and no guest channel in $TMP/empty)"
# --- the daemons the CLIs run in their place ------------------------------
# Each CLI's -d runs its daemon program in its place, same pid (host/full.c,
# guest/full.c): the guest's is static-pie, its CLI at a fixed address.
check "negotiator-guest -d runs negotiator-guestd, same pid ($(readlink "/proc/$G1/exe"))" \
    test "$(readlink "/proc/$G1/exe")" = "$(readlink -f "$BIN/negotiator-guestd")"
check "... whose argv is still negotiator-guest -d: $(tr '\0' ' ' <"/proc/$G1/cmdline" | cut -c1-80)" \
    test "$(tr '\0' ' ' <"/proc/$G1/cmdline" | cut -d' ' -f1,2)" = "$GUESTBIN -d"
if [ "$BIN" = "$REPO" ]; then
	check "the guest CLI is at a fixed address: $(readelf -h "$GUESTBIN" | grep 'Type:' | tr -s ' ')" \
	    sh -c "readelf -h '$GUESTBIN' | grep -q 'Type: *EXEC'"
	check "the guest daemon is static-pie: $(readelf -h "$BIN/negotiator-guestd" | grep 'Type:' | tr -s ' ')" \
	    sh -c "readelf -h '$BIN/negotiator-guestd' | grep -q 'Type: *DYN' &&
	        ! readelf -l '$BIN/negotiator-guestd' | grep -q INTERP"
fi
# A CLI without its daemon program: one line, status 125, nothing started
# (unless one is installed where make install puts it).
mkdir "$TMP/alone"
cp "$GUESTBIN" "$HOSTBIN" "$TMP/alone/"
for side in guest host; do
	libdir=$(strings "$TMP/alone/negotiator-$side" | grep -m 1 '^/.*/lib/negotiator$')
	if [ -e "$libdir/negotiator-${side}d" ]; then
		echo "SKIP: negotiator-${side}d is installed in $libdir"
		continue
	fi
	within 10 "$TMP/alone/negotiator-$side" -d --control "$TMP/alone.sock" \
	    >"$TMP/alone.out" 2>"$TMP/alone.err"
	rc=$?
	check "negotiator-$side -d without negotiator-${side}d: status 125 (got $rc)" test "$rc" = 125
	check "... one clear line: $(head -c 200 "$TMP/alone.err")" test \
	    "$(wc -l <"$TMP/alone.err") $(grep -c "^negotiator-$side: cannot run /.*/negotiator-${side}d: No such file or directory\$" "$TMP/alone.err")" = "1 1"
	check "... no socket made" test ! -e "$TMP/alone.sock"
done
finish
