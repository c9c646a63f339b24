#!/bin/bash
# Hardening tests (issue 9): what a hostile guest or local user can do to
# the host daemon, with the real daemons on emulated channels.
#   - the commands-directory policy of negotiator-commands(7), case by case:
#     the peer gets "permission denied" (126) and no path, the host log one
#     line that says what and why;
#   - peer strings in the log are made visible: no forged lines;
#   - log lines per peer are rate-limited: 10,000 requests for unknown
#     commands grow each daemon's log by no more than the limiter lets
#     through in the flood's time, and the "suppressed" lines account for
#     every line left out;
#   - the host's ceiling on a guest's timeout (--max-timeout);
#   - control sockets: no regular file replaced, supplementary groups
#     accepted, a refused caller told so.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

# What the log limiter lets one key write (common/log.h, log.c): a burst
# of LOG_BURST lines, then LOG_RATE lines and one "suppressed" summary a
# second; a flood's lines are under LOG_LINE bytes each.
LOG_BURST=40 LOG_RATE=20 LOG_LINE=160
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-hard.XXXXXX") || exit 1
GUEST=vm1
HOSTBIN=$REPO/negotiator-host
GUESTBIN=$REPO/negotiator-guest
FLOOD=$REPO/tests/flood
CMDS=$TMP/cmds
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= HOSTD_PID= GUESTD_PID= EXTRA_PID=

# start_hostd [OPTION...]
start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    "$HOSTBIN" -d -v --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" --commands-dir "$CMDS" \
	    --builtin-dir "$TMP/builtin" "$@"
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    "$GUESTBIN" -d -v --control "$TMP/guest.sock" -c "$TMP/gport" \
	    --commands-dir "$REPO/tests/commands.d" \
	    --builtin-dir "$REPO/commands"
}
trap 'end_suite "$EXTRA_PID" "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"' EXIT
on_interrupt

size() { stat -c %s "$1"; }
# The fixture trees are made with explicit modes: the umask must not matter.
script() {	# script PATH MODE [BODY]
	printf '#!/bin/sh\n%s\n' "${3:-echo ran}" >"$1" && chmod "$2" "$1"
}
mkdir -p "$TMP/chan" "$TMP/gport" "$CMDS" "$TMP/builtin" "$TMP/good" \
    "$TMP/wdir"
chmod 0755 "$CMDS" "$TMP/builtin" "$TMP/good"
cp -p "$REPO"/tests/commands.d/* "$CMDS/"
chmod -R go-w "$CMDS"
script "$TMP/builtin/in-builtin" 0755
script "$CMDS/gw" 0775
script "$CMDS/ow" 0757
script "$CMDS/suid" 4755
script "$CMDS/sgid" 2755
script "$CMDS/plain" 0644
script "$TMP/good/tool" 0755 'echo good tool'
script "$TMP/good/writable" 0757
script "$TMP/wdir/tool" 0755
chmod 0777 "$TMP/wdir"
ln -s "$TMP/good/tool" "$CMDS/to-good"
ln -s ../good/tool "$CMDS/rel-good"
ln -s "$TMP/wdir/tool" "$CMDS/to-wdir"
ln -s "$TMP/good/writable" "$CMDS/to-writable"
ln -s /bin/sh "$CMDS/sh"
if [ "$(id -u)" -eq 0 ]; then
	script "$CMDS/theirs" 0755
	chown 4321 "$CMDS/theirs" && chmod 0755 "$CMDS/theirs"
fi

# The repository's command directories, which the other suites use.
repo_ok() {
	[ -z "$(find "$REPO/commands" "$REPO/tests/commands.d" -perm /022 \
	    -o ! -user 0 ! -user "$(id -u)")" ]
}
check "commands/ and tests/commands.d pass the policy (owner, go-w)" repo_ok

start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd --max-timeout 2
start_guestd
check "daemons up and serving" wait_until 10 serving

# --- Commands-directory policy ---------------------------------------

# refused NAME WHY: a guest's call of NAME exits 126 saying "NAME:
# permission denied" and nothing of our paths; the host logs one line
# "refused: PATH: WHY" for it.
refused() {
	local name=$1 why=$2 err rc before
	before=$(grep -c "refused: .*$why" "$TMP/hostd.log")
	err=$(within 10 guest_cli -e "$name" 2>&1 >/dev/null); rc=$?
	check "$name: exit 126 (got $rc)" test "$rc" -eq 126
	check "$name: the guest is told \"permission denied\"" \
	    grep -q "$name: permission denied" <<<"$err"
	check "$name: the guest is told no path" \
	    sh -c "! grep -q -e '$TMP' -e / <<'EOF'
$err
EOF"
	check "$name: logged once on the host, with why ($why)" \
	    test "$(grep -c "refused: .*$why" "$TMP/hostd.log")" -eq \
	    "$((before + 1))"
}
refused gw "$CMDS/gw: writable by its group (mode 0775)"
refused ow "$CMDS/ow: writable by others (mode 0757)"
refused suid "$CMDS/suid: set-user-ID or set-group-ID (mode 4755)"
refused sgid "$CMDS/sgid: set-user-ID or set-group-ID (mode 2755)"
refused plain "$CMDS/plain: not executable"
refused to-wdir "$TMP/wdir: writable by others (mode 0777)"
refused to-writable "$TMP/good/writable: writable by others"
if [ "$(id -u)" -eq 0 ]; then
	refused theirs "$CMDS/theirs: owned by uid 4321, not by root"
else
	skip "a command owned by another user is refused (needs root to chown)"
fi
check "a link into a checked directory runs what it leads to" \
    test "$(within 10 guest_cli -e to-good)" = "good tool"
check "a relative link too" \
    test "$(within 10 guest_cli -e rel-good)" = "good tool"
expect_status 7 "a link to /bin/sh that root put there runs (root's choice)" \
    within 10 guest_cli -e "sh -c 'exit 7'"
check "refused commands are not listed" \
    sh -c "! $GUESTBIN --control $TMP/guest.sock -c $TMP/gport -l |
    grep -qx -e gw -e suid -e to-wdir -e plain"
check "good ones are" sh -c "$GUESTBIN --control $TMP/guest.sock \
    -c $TMP/gport -l | grep -qx to-good"

# The whole built-in directory writable by others: everything in it refused.
chmod 0777 "$TMP/builtin"
refused in-builtin "$TMP/builtin: writable by others (mode 0777)"
chmod 0755 "$TMP/builtin"
check "... and runnable again once it is not" \
    test "$(within 10 guest_cli -e in-builtin)" = ran

# --- Log forging ------------------------------------------------------

forged=$'x\nnegotiator-host: guest vm2: forged \033[31mred'
before=$(wc -l <"$TMP/hostd.log")
out=$(within 10 guest_cli -e "echo-args \"$forged\"")
check "an argument with a newline still reaches the command intact" \
    test "$out" = "[$forged]"
# The daemon logs the call once it has answered: its line first, then
# what must not be there.
visible='echo-args x\nnegotiator-host: guest vm2: forged \033[31mred: exit 0'
check "the argument is logged made visible (vis(3))" \
    wait_until 5 grep -qF "$visible" "$TMP/hostd.log"
check "no forged line in the host log" \
    sh -c "! grep -q '^negotiator-host: guest vm2' '$TMP/hostd.log'"
check "no control character in the host log" \
    sh -c "! LC_ALL=C grep -q '[[:cntrl:]]' '$TMP/hostd.log'"
lines=$(tail -n +$((before + 1)) "$TMP/hostd.log" | grep forged)
check "every line about that call starts as ours (no line split)" \
    test -n "$lines" -a "$(grep -vc \
    '^negotiator-host: \(audit: \)\?guest vm1\(: echo-args\| ran "echo-args"\) "\?x\\nnegotiator-host' <<<"$lines")" \
    -eq 0

# --- Log flood --------------------------------------------------------

# accounted LOG KEY WHAT N: lines of KEY saying WHAT, plus those the
# "suppressed" lines of KEY say were left out, come to N.
accounted() {
	local shown left
	shown=$(grep -c "^negotiator-[a-z]*: $2: .*$3" "$1")
	left=$(sed -n \
	    "s/^negotiator-[a-z]*: $2: \\([0-9]*\\) messages suppressed.*/\\1/p" \
	    "$1" | awk '{ n += $1 } END { print n + 0 }')
	[ "$((shown + left))" -eq "$4" ] ||
	    { echo "    $shown shown + $left suppressed != $4"; return 1; }
}

# log_bounded WHO LOG OFFSET MS: LOG grew from OFFSET by no more than the
# limiter lets through in a flood of MS ms and the wait after it (the
# bound scales with the flood's time: beside other lanes it lasted 16 s),
# and no line of it is longer than LOG_LINE.
log_bounded() {
	local secs bound grew longest
	secs=$(( ($4 + 999) / 1000 + 3 ))
	bound=$(( (LOG_BURST + (LOG_RATE + 1) * secs) * LOG_LINE ))
	grew=$(( $(size "$2") - $3 ))
	longest=$(tail -c +"$(($3 + 1))" "$2" |
	    awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
	check "the $1 log grew $grew bytes over a $(($4 / 1000)) s flood, under $bound" \
	    test "$grew" -lt "$bound"
	check "... its longest line $longest bytes, under $LOG_LINE" \
	    test "$longest" -lt "$LOG_LINE"
}

s0=$(size "$TMP/hostd.log")
t0=$(now_ms)
out=$(within 60 "$FLOOD" "$TMP/guest.sock" 10000 no-such-command)
t=$(( $(now_ms) - t0 ))
check "10,000 requests for an unknown command all answered \"not found\"" \
    grep -q "^replies 10000 .* notfound 10000 " <<<"$out"
sleep 1.2	# the summary comes with the next line, at most once a second
check "the host daemon still serves" wait_until 5 serving
log_bounded host "$TMP/hostd.log" "$s0" "$t"
check "\"N messages suppressed\" lines account for every refusal" \
    accounted "$TMP/hostd.log" "guest $GUEST" \
    "no-such-command: refused: no such command" 10000

# The other way: the host's callers flood the guest daemon.
g0=$(size "$TMP/guestd.log")
t0=$(now_ms)
out=$(within 60 "$FLOOD" -t "$GUEST" "$TMP/host.sock" 10000 no-such-command)
t=$(( $(now_ms) - t0 ))
check "10,000 requests to the guest all answered" \
    grep -q "^replies 10000 .* notfound 10000 " <<<"$out"
sleep 1.2
check "the guest daemon still serves" wait_until 5 serving
log_bounded guest "$TMP/guestd.log" "$g0" "$t"

# --- The ceiling on a guest's timeout ---------------------------------

# timed_out WHAT WANT_MESSAGE COMMAND...: exits 124 within 2-8 s.
timed_out() {
	local what=$1 msg=$2 t0 t rc err; shift 2
	t0=$(now_ms)
	err=$(within 20 "$@" 2>&1 >/dev/null); rc=$?
	t=$(( $(now_ms) - t0 ))
	check "$what: exit 124 after ${t} ms (got $rc)" \
	    test "$rc" -eq 124 -a "$t" -ge 1900 -a "$t" -lt 8000
	check "$what: \"$msg\"" grep -q "$msg" <<<"$err"
}
timed_out "-t 0 (none) held to --max-timeout 2" "limit of 2 s" \
    guest_cli -t 0 -e 'sleeper 30'
timed_out "-t 604800 held to it" "limit of 2 s" \
    guest_cli -t 604800 -e 'sleeper 30'
check "the cut is logged" grep -q \
    'sleeper 30: timeout "none" cut to the limit of 2 s' "$TMP/hostd.log"
t0=$(now_ms)
out=$(within 20 "$FLOOD" -m 4294967295 "$TMP/guest.sock" 1 sleeper 30)
t=$(( $(now_ms) - t0 ))
want="replies 1 exited 0 signaled 0 timeout 1 notexec 0 notfound 0"
check "2^32-1 ms held to it: timeout after ${t} ms" \
    test "${out%% failed*}" = "$want" -a "$t" -lt 8000
expect_status 124 "-t 1 under the ceiling: its own timeout" \
    within 20 guest_cli -t 1 -e 'sleeper 30' >/dev/null 2>&1
expect_status 3 "a short command with -t 0 is not affected" \
    within 20 guest_cli -t 0 -e 'exit-with 3'

# --- Options ----------------------------------------------------------

for bad in "--max-timeout -1" "--max-timeout x" "--log-rate -1" \
    "--log-rate lots"; do
	err=$(within 5 "$HOSTBIN" -d $bad --control "$TMP/never.sock" \
	    --channel-dir "$TMP/chan" 2>&1); rc=$?
	check "$bad: exit 125 with a one-line error (got $rc)" \
	    test "$rc" -eq 125 -a "$(wc -l <<<"$err")" -eq 1
done

# The defaults: 10 minutes; 20 lines a second; --log-rate takes effect.
stop_pid "$HOSTD_PID"; HOSTD_PID=
start_hostd --log-rate 2
check "host daemon back with --log-rate 2" wait_until 5 serving
within 10 guest_cli -t 0 -e 'exit-with 0'
sleep 2.5	# a full bucket again: 4 lines at 2 a second
check "default ceiling: 600 s" grep -q \
    'exit-with 0: timeout "none" cut to the limit of 600 s' "$TMP/hostd.log"
s0=$(size "$TMP/hostd.log")
n0=$(grep -c 'no-such-2: refused' "$TMP/hostd.log")
within 60 "$FLOOD" "$TMP/guest.sock" 1000 no-such-2 >/dev/null
n=$(( $(grep -c 'no-such-2: refused' "$TMP/hostd.log") - n0 ))
check "--log-rate 2: $n of 1000 refusals logged (burst of 4, and refill)" \
    test "$n" -ge 4 -a "$n" -le 6

# --- Control sockets --------------------------------------------------

echo precious >"$TMP/notes.txt"
err=$(within 10 "$HOSTBIN" -d --control "$TMP/notes.txt" \
    --channel-dir "$TMP/chan" 2>&1); rc=$?
check "--control on a regular file: exit 125 (got $rc)" test "$rc" -eq 125
check "... saying it is not a socket" grep -q "not a socket" <<<"$err"
check "... and the file is intact" \
    test -f "$TMP/notes.txt" -a "$(cat "$TMP/notes.txt")" = precious
mkdir "$TMP/adir"
expect_status 125 "--control on a directory refused" \
    within 10 "$HOSTBIN" -d --control "$TMP/adir" --channel-dir "$TMP/chan" \
    2>/dev/null
check "... and the directory is intact" test -d "$TMP/adir"

# A socket left by a daemon killed hard is replaced.
"$GUESTBIN" -d --control "$TMP/stale.sock" -c "$TMP/nowhere" \
    2>/dev/null & EXTRA_PID=$!
wait_until 5 test -S "$TMP/stale.sock"
kill -KILL "$EXTRA_PID"; reap 5 "$EXTRA_PID" 2>/dev/null
"$GUESTBIN" -d --control "$TMP/stale.sock" -c "$TMP/nowhere" \
    2>"$TMP/stale.log" & EXTRA_PID=$!
check "a stale socket is replaced" wait_until 5 \
    grep -q "guest daemon started" "$TMP/stale.log"
stop_pid "$EXTRA_PID"; EXTRA_PID=
check "... and removed when that daemon stops" test ! -e "$TMP/stale.sock"

# Credentials: another user, through the socket's group or not at all.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 0711 "$TMP"
	chgrp 4242 "$TMP/host.sock"
	as_nobody() {
		setpriv --reuid 65534 --regid 65534 "$@"
	}
	check "a member of the socket's group through a supplementary group" \
	    within 10 as_nobody --groups 4242 $H -e 'exit-with 0' "$GUEST"
	err=$(within 10 as_nobody --clear-groups $H -e 'exit-with 0' \
	    "$GUEST" 2>&1); rc=$?
	check "not a member: the socket's mode refuses (exit 125, got $rc)" \
	    sh -c "[ $rc -eq 125 ] && grep -q 'Permission denied' <<'EOF'
$err
EOF"
	chmod 0666 "$TMP/host.sock"
	err=$(within 10 as_nobody --clear-groups $H -e 'exit-with 0' \
	    "$GUEST" 2>&1); rc=$?
	check "socket opened to all: the daemon refuses (exit 125, got $rc)" \
	    test "$rc" -eq 125
	check "... and says so: \"permission denied\"" \
	    grep -q "permission denied" <<<"$err"
	check "... not \"lost the connection\"" \
	    sh -c "! grep -q 'lost the connection' <<'EOF'
$err
EOF"
	check "... and logs it" grep -q "control: refused caller .* uid 65534" \
	    "$TMP/hostd.log"
	check "a group member still served then" \
	    within 10 as_nobody --groups 4242 $H -e 'exit-with 0' "$GUEST"
	chmod 0660 "$TMP/host.sock"
	chmod 0700 "$TMP"
else
	skip "credentials: the socket's group and mode, another user refused" \
	    "(need root and setpriv)"
fi

check "host daemon alive at the end" alive "$HOSTD_PID"
check "guest daemon alive at the end" alive "$GUESTD_PID"
finish
