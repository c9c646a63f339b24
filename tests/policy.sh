#!/bin/bash
# The commands-directory policy, the trust in channel sockets, and the
# containment of a command's children (issue 18), with the real daemons on
# emulated channels (tests/vserial); the guest calls the host.
#
#   1. A directory above the commands directory, owned by an unprivileged
#      user, swapped for a link to /usr/bin: `sh -c id` is refused (126),
#      the log names that directory, nothing runs as root.
#   2. Two directories swapped with renameat2(RENAME_EXCHANGE) in a loop
#      (tests/swapper) while CALLS calls run: the script that fails the
#      policy never runs (it would leave a marker); both directories were
#      seen (some calls ran, some were refused), so the race was on.
#   3. A #!/bin/sh script and a static program run through the descriptor
#      that was checked: the script reads itself as /dev/fd/3, the program
#      starts with fds 0-2 only.
#   4. A channel directory others can write serves no guest: sockets
#      renamed there by another user are not served under the forged name;
#      nor does a domain-* directory of libvirt's layout that others can
#      write; guest names that are not plain words (-rf, .., $(id)) are not
#      served.
#   5. Children started with setsid die when the call ends and when it
#      times out, with a cgroup per call and with the subreaper (both forced
#      by NEGOTIATOR_CONTAIN), and the daemon says which at its start.
#
# Runs as root (chown, setpriv); says so and fails otherwise.  POLICY_BIN,
# a directory with other builds of the three programs, runs the same
# checks against them (how the checks were shown to fail before the fix).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

BIN=${POLICY_BIN:-$REPO}
CALLS=200			# calls during the race
SPAWN_CALLS=10			# calls that leave children, per mechanism
NOBODY=4321			# the unprivileged user
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-policy.XXXXXX") || exit 1
HOSTBIN=$BIN/negotiator-host
HOSTD=$BIN/negotiator-hostd
GUESTBIN=$BIN/negotiator-guest
SWAPPER=$REPO/tests/swapper
CMDS=$TMP/cmds
GUEST=vm1
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
# What the sleepers of section 5 sleep: a number no other test uses.
NAP=$((700000 + $$ % 100000))
VS_PID= VSW_PID= VSX_PID= HOSTD_PID= HOSTW_PID= GUESTD_PID= GUESTW_PID=
SWAP_PID= ODD_PIDS= HOSTD_LOG=

as_nobody() { setpriv --reuid $NOBODY --regid $NOBODY --clear-groups "$@"; }
# sleepers [SECONDS]: the pids of the sleepers of section 5 still alive
# (those that sleep SECONDS; default $NAP, and $NAP + 1 too).
sleepers() {
	local p
	for p in $(pgrep -x -f "sleep ${1:-$NAP}"; [ $# -gt 0 ] ||
	    pgrep -x -f "sleep $((NAP + 1))"); do
		alive "$p" && echo "$p"
	done
}
no_sleepers() { [ -z "$(sleepers)" ]; }
cleanup() {
	local p b
	trap '' INT TERM HUP
	[ -e "$TMP" ] && touch "$TMP/stop"
	stop_pid "$SWAP_PID"
	stop_pid "$HOSTD_PID" 10; stop_pid "$HOSTW_PID"
	stop_pid "$GUESTD_PID"; stop_pid "$GUESTW_PID"
	for p in $VS_PID $VSW_PID $VSX_PID $ODD_PIDS; do stop_pid "$p"; done
	kill_children
	# shellcheck disable=SC2046
	kill -KILL $(sleepers) 2>/dev/null
	# A daemon killed before it could remove its cgroups: ours to do.
	for b in $(cat "$TMP/cgroups" 2>/dev/null); do
		[ -d "$b" ] || continue
		for p in "$b"/call.*; do
			[ -d "$p" ] && echo 1 >"$p/cgroup.kill" 2>/dev/null
			rmdir "$p" 2>/dev/null
		done
		rmdir "$b" 2>/dev/null
	done
	tail_on_failure 30 "host daemon log" "$HOSTD_LOG"
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt

if [ "$(id -u)" -ne 0 ]; then
	fail "policy.sh runs as root (chown, setpriv, cgroups)"
	finish
	exit
fi

# $TMP is 0700: the unprivileged user must reach what it attacks.
chmod 0711 "$TMP"
mkdir -p "$TMP/chan" "$TMP/gport" "$CMDS"
cp -p "$REPO"/tests/commands.d/* "$CMDS/"
cp "$SWAPPER" "$CMDS/static-fds"
printf '#!/bin/sh\necho "$0 $*"\nreadlink /proc/$$/fd/3\n' >"$CMDS/script-self"
cat >"$CMDS/spawner" <<'EOF'
#!/bin/sh
# spawner SECONDS exit|wait: leaves sleepers behind, in sessions of their
# own and in its group, then exits or waits for them.
setsid sleep "$1" </dev/null >/dev/null 2>&1 &
setsid sh -c "sleep $1 & sleep $1" </dev/null >/dev/null 2>&1 &
sleep "$1" </dev/null >/dev/null 2>&1 &
[ "$2" = wait ] && sleep "$1"
exit 0
EOF
cat >"$CMDS/linger" <<'EOF'
#!/bin/sh
# linger FILE: writes its pid to FILE and exits at once, leaving a child
# in a session of its own that holds its output open for 3 s: its process
# group is empty then, and its number free for another process.
echo $$ >"$1"
setsid sleep 3 &
exit 0
EOF
chmod 0755 "$CMDS" "$CMDS"/*
chmod -R go-w "$CMDS"

# start_hostd COMMANDS_DIR [VAR=VALUE...]: a fresh host daemon on $TMP/chan
# running commands from COMMANDS_DIR (its log in $HOSTD_LOG); 0 once the
# guest's calls go through.
start_hostd() {
	local dir=$1; shift
	stop_pid "$HOSTD_PID" 10; HOSTD_PID=
	HOSTD_LOG=$TMP/hostd.$((${HOSTD_LOG##*.} + 1))
	rm -f "$TMP/host.sock"
	start_daemon HOSTD_PID "$TMP/host.sock" "$HOSTD_LOG" \
	    env "$@" "$HOSTD" -d -v --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" --commands-dir "$dir" \
	    --builtin-dir "$REPO/commands" &&
	    wait_until 10 guest_cli -e 'exit-with 0'
}
HOSTD_LOG=$TMP/hostd.0

start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID
start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
    "$GUESTBIN" -d --control "$TMP/guest.sock" -c "$TMP/gport" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
check "daemons up and serving" start_hostd "$CMDS"

# --- 1. a directory above the commands directory, someone else's ----------

mkdir "$TMP/u" "$TMP/u/cmds"
chown $NOBODY:$NOBODY "$TMP/u"
chmod 0755 "$TMP/u" "$TMP/u/cmds"
start_hostd "$TMP/u/cmds"
check "uid $NOBODY swaps the commands directory for a link to /usr/bin" \
    as_nobody sh -c "mv '$TMP/u/cmds' '$TMP/u/old' &&
    ln -s /usr/bin '$TMP/u/cmds'"
out=$(within 10 guest_cli -e 'sh -c id' 2>&1)
st=$?
echo "# guest's 'sh -c id': exit $st: $out"
check "'sh -c id' is refused (exit $st, wanted 126)" test "$st" -eq 126
check "... and ran as nobody at all" sh -c "! echo '$out' | grep -q uid="
check "... the log names $TMP/u, owned by uid $NOBODY" \
    grep -q "refused: $TMP/u: owned by uid $NOBODY" "$HOSTD_LOG"

# --- 2. the race between a check and the exec -------------------------------

# a/cmd passes the policy; b/cmd, owned by uid 4321, does not, and would
# leave a marker if it ran.
mkdir -p "$TMP/r/a" "$TMP/r/b"
chmod 0755 "$TMP/r" "$TMP/r/a" "$TMP/r/b"
printf '#!/bin/sh\nexit 0\n' >"$TMP/r/a/cmd"
printf '#!/bin/sh\necho ran >>%s/marker\nexit 0\n' "$TMP" >"$TMP/r/b/cmd"
chmod 0755 "$TMP/r/a/cmd" "$TMP/r/b/cmd"
chown $NOBODY "$TMP/r/b/cmd"
start_hostd "$TMP/r/a"
"$SWAPPER" exchange "$TMP/r/a" "$TMP/r/b" "$TMP/stop" >"$TMP/swaps" &
SWAP_PID=$!
# race_calls: the calls, their statuses one a line in $TMP/statuses.
race_calls() {
	local i
	for i in $(seq $CALLS); do
		guest_cli -e cmd >/dev/null 2>&1
		echo $? >>"$TMP/statuses"
	done
}
t0=$(now_ms)
within 120 race_calls
touch "$TMP/stop"
ran=$(grep -cx 0 "$TMP/statuses")
refused=$(grep -cx 126 "$TMP/statuses")
other=$(( $(wc -l <"$TMP/statuses") - ran - refused ))
reap 10 "$SWAP_PID"; SWAP_PID=
rm -f "$TMP/stop"
echo "# $CALLS calls in $(( $(now_ms) - t0 )) ms while $(cat "$TMP/swaps") swaps: $ran ran, $refused refused, $other other"
check "the script that fails the policy never ran ($(cat "$TMP/marker" 2>/dev/null | wc -l) of $CALLS)" \
    test ! -e "$TMP/marker"
check "all $CALLS calls answered, and both directories were seen: $ran calls ran, $refused were refused" \
    test "$ran" -gt 0 -a "$refused" -gt 0 -a "$other" -eq 0 -a \
    "$((ran + refused))" -eq $CALLS

# --- 3. a script and a static program, through the descriptor ---------------

start_hostd "$CMDS"
out=$(within 10 guest_cli -e 'static-fds fds' | tr '\n' ' ')
check "a static program runs, with fds 0-2 only ($out)" test "$out" = "0 1 2 "
out=$(within 10 guest_cli -e 'script-self a b' | tr '\n' ' ')
check "a #!/bin/sh script runs, and reads itself as /dev/fd/3 ($out)" \
    test "$out" = "/dev/fd/3 a b $CMDS/script-self "

# --- 4. channel sockets: the name and the trust from the same place --------

mkdir -p "$TMP/wchan" "$TMP/gportw"
chmod 0755 "$TMP/wchan"
start_vserial vmw "$TMP/wchan" "$TMP/gportw" VSW_PID
start_daemon HOSTW_PID "$TMP/hostw.sock" "$TMP/hostw.log" \
    "$HOSTD" -d --control "$TMP/hostw.sock" --channel-dir "$TMP/wchan" \
    --commands-dir "$CMDS" --builtin-dir "$REPO/commands"
start_daemon GUESTW_PID "$TMP/guestw.sock" "$TMP/guestw.log" \
    "$GUESTBIN" -d --control "$TMP/guestw.sock" -c "$TMP/gportw" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
guestw() { "$GUESTBIN" --control "$TMP/guestw.sock" -c "$TMP/gportw" "$@"; }
is_vmw() { [ "$(guestw -e env-guest)" = vmw ]; }
check "a guest in a channel directory of mode 0755 is served (as vmw)" \
    wait_until 10 is_vmw
chmod 0777 "$TMP/wchan"
refusal() { grep -q "channel directory $TMP/wchan: .*writable by others.*no guest" \
    "$TMP/hostw.log"; }
check "made writable by others: the daemon says it serves no guest there" \
    wait_until 5 refusal
check "uid $NOBODY renames vmw's root-owned sockets to dbw's" \
    as_nobody sh -c "cd '$TMP/wchan' &&
    mv vmw.negotiator-host-to-guest.0 dbw.negotiator-host-to-guest.0 &&
    mv vmw.negotiator-guest-to-host.0 dbw.negotiator-guest-to-host.0"
sleep 1		# the daemon's inotify settles in 0.05 s
out=$(within 10 guestw -e env-guest 2>/dev/null)
check "the guest is not served as dbw (NEGOTIATOR_GUEST: '$out')" \
    test "$out" != dbw
out=$(within 10 "$HOSTBIN" --control "$TMP/hostw.sock" --channel-dir \
    "$TMP/wchan" -g)
st=$?
check "... nor listed by the daemon (-g exit $st: '$out')" \
    test "$st" -eq 0 -a -z "$out"
# The CLI scanning by itself (no daemon at that control socket) alike.
out=$(within 10 "$HOSTBIN" --control "$TMP/none.sock" --channel-dir \
    "$TMP/wchan" -g 2>"$TMP/scan.err")
check "... nor by the CLI scanning by itself ('$out'), which says why" \
    sh -c "[ -z '$out' ] && grep -q 'writable by others' '$TMP/scan.err'"
chmod 0755 "$TMP/wchan"
out=$(within 10 "$HOSTBIN" --control "$TMP/none.sock" --channel-dir \
    "$TMP/wchan" -g 2>/dev/null)
check "once 0755 again the sockets there are listed (dbw: '$out')" \
    test "$out" = dbw

# libvirt's layout: a domain-* directory others can write names no guest.
mkdir -p "$TMP/lchan/domain-1-vml" "$TMP/lchan/domain-2-vmok"
chmod 0755 "$TMP/lchan" "$TMP/lchan"/*
python3 -c '
import socket, sys
for d in ("domain-1-vml", "domain-2-vmok"):
    for p in ("negotiator-host-to-guest.0", "negotiator-guest-to-host.0"):
        socket.socket(socket.AF_UNIX).bind(sys.argv[1] + "/" + d + "/" + p)
' "$TMP/lchan"
lscan() {
	within 10 "$HOSTBIN" --control "$TMP/none.sock" --channel-dir \
	    "$TMP/lchan" -g 2>"$TMP/scan.err" | tr '\n' ' '
}
out=$(lscan)
check "libvirt's layout, both domain-* directories 0755: both listed ($out)" \
    test "$out" = "vml vmok "
chmod 0777 "$TMP/lchan/domain-1-vml"
out=$(lscan)
check "... domain-1-vml writable by others: vml is not ($out)" \
    test "$out" = "vmok "
check "... and the CLI says why" \
    grep -q "domain-1-vml: writable by others" "$TMP/scan.err"

# Guest names that a script or a terminal could take for something else.
for name in -rf .. '$(id)'; do
	mkdir -p "$TMP/gportx$VSX_PID"
	start_vserial "$name" "$TMP/chan" "$TMP/gportx$VSX_PID" VSX_PID
	ODD_PIDS="$ODD_PIDS $VSX_PID"
done
sleep 1
out=$(within 10 $H -g | tr '\n' ' ')
check "guests named -rf, .. and \$(id) are not served ($out)" \
    test "$out" = "vm1 "
for p in $ODD_PIDS; do stop_pid "$p"; done
ODD_PIDS=

# --- 5. containment ---------------------------------------------------------

# stranger_spared HOW: a call's command exits, reaped at once, while a
# child of it that left its group (setsid) holds its output; another
# process then takes the command's pid (ns_last_pid) and leads a group of
# that number.  When the daemon gives up waiting for the output (2 s), it
# kills what is left of the call, and must not kill that stranger: a
# killpg of the number, as the daemon did, would.  Up to 5 tries to give
# the stranger the pid (another process may take it first).
stranger_spared() {
	local how=$1 try x s cli
	for try in 1 2 3 4 5; do
		rm -f "$TMP/linger.pid"
		guest_cli -e "linger $TMP/linger.pid" >/dev/null 2>&1 &
		cli=$!
		wait_until 5 test -s "$TMP/linger.pid"
		x=$(cat "$TMP/linger.pid" 2>/dev/null)
		wait_until 2 pid_gone "$x"
		echo $((x - 1)) >/proc/sys/kernel/ns_last_pid
		setsid sleep 60 </dev/null >/dev/null 2>&1 &
		s=$!
		if [ "$s" = "$x" ]; then
			reap 10 "$cli"
			check "$how: a stranger given the pid of a command that ended ($x) survives the end of its call" \
			    alive "$s"
			stop_pid "$s"
			return
		fi
		stop_pid "$s"
		reap 10 "$cli"
	done
	fail "$how: no stranger could be given the pid of a command that ended (5 tries)"
}

# contained MECHANISM: section 5 with NEGOTIATOR_CONTAIN=MECHANISM.
contained() {
	local how=$1 n i st base
	start_hostd "$CMDS" NEGOTIATOR_CONTAIN="$how" ||
	    { fail "$how: host daemon up"; return; }
	check "$how: the daemon says how it contains calls" \
	    grep -q "calls contained by $how" "$HOSTD_LOG"
	base=$(sed -n 's/.*calls contained by cgroup: one per call in \([^ ]*\) .*/\1/p' \
	    "$HOSTD_LOG")
	[ -z "$base" ] || echo "$base" >>"$TMP/cgroups"
	for i in $(seq $SPAWN_CALLS); do
		within 10 guest_cli -e "spawner $NAP exit" >/dev/null 2>&1
	done
	wait_until 5 no_sleepers
	n=$(sleepers | wc -l)
	check "$how: after $SPAWN_CALLS calls that left children (setsid or not), none lives on ($n)" \
	    test "$n" -eq 0
	within 20 guest_cli -t 1 -e "spawner $NAP wait" >/dev/null 2>&1
	st=$?
	check "$how: a call that times out is ended (exit $st, wanted 124)" \
	    test "$st" -eq 124
	wait_until 5 no_sleepers
	n=$(sleepers | wc -l)
	check "$how: ... and its children die with it ($n left)" test "$n" -eq 0
	stranger_spared "$how"
	# A running call keeps its children, whatever other calls end.
	guest_cli -t 5 -e "spawner $((NAP + 1)) wait" >/dev/null 2>&1 &
	a=$!
	wait_until 5 sh -c "[ \$(pgrep -c -x -f 'sleep $((NAP + 1))') -ge 4 ]"
	sleep 0.5
	n0=$(sleepers $((NAP + 1)) | wc -l)
	for i in 1 2 3; do
		within 10 guest_cli -e "spawner $NAP exit" >/dev/null 2>&1
	done
	n=$(sleepers $((NAP + 1)) | wc -l)
	check "$how: other calls ended meanwhile, a running call's children live on ($n of $n0)" \
	    test "$n0" -ge 4 -a "$n" -eq "$n0"
	if [ "$how" = cgroup ]; then
		wait_until 5 sh -c "[ -z \"\$(pgrep -x -f 'sleep $NAP')\" ]"
		n=$(sleepers $NAP | wc -l)
		check "cgroup: ... and theirs died with them ($n left)" \
		    test "$n" -eq 0
	else
		echo "# subreaper: $(sleepers $NAP | wc -l) children of calls that ended while an older call ran wait for it (negotiator-commands(7))"
	fi
	reap 15 "$a"
	st=$?
	wait_until 5 no_sleepers
	n=$(sleepers | wc -l)
	check "$how: ... until it ends (exit $st: $n left)" \
	    test "$st" -eq 124 -a "$n" -eq 0
	if [ "$how" = cgroup ]; then
		check "cgroup: each call's cgroup is removed ($base)" \
		    sh -c "[ -d '$base' ] && ! ls -d '$base'/call.* 2>/dev/null"
		stop_pid "$HOSTD_PID" 10; HOSTD_PID=
		check "cgroup: the daemon removes its own at exit" \
		    test -n "$base" -a ! -e "$base"
	fi
}
contained cgroup
contained subreaper

check "both daemons still serving both ways at the end" within 10 serving
finish
