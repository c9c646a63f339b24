#!/bin/bash
# The daemons' configuration files (config.h) and --control-group, with the
# real daemons on emulated channels: options taken from the file (the
# control socket's path and group), the command line winning over it, a
# bad line refused at start naming FILE:LINE with exit 125 and no daemon
# left running, and a member of the control group calling where a user
# outside it is refused.  Needs root (a test user and group are made and
# removed, even on interrupt).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-conf.XXXXXX") || exit 1
chmod 755 "$TMP"
HOSTBIN=$REPO/negotiator-host
GUESTBIN=$REPO/negotiator-guest
GUEST=vm1
GRP=ngconf$$
VS_PID= HOSTD_PID= GUESTD_PID=
cleanup() {
	end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"
	getent group "$GRP" >/dev/null && groupdel "$GRP"
}
trap cleanup EXIT
on_interrupt

if [ "$(id -u)" -ne 0 ]; then
	skip "not root: a group for the control socket cannot be made"
	finish; exit
fi
groupadd "$GRP" || { fail "groupadd $GRP"; finish; exit; }
GID=$(getent group "$GRP" | cut -d: -f3)

mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/run"
start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID

# The host daemon: control socket, its group and the channel directory
# from the file; --max-jobs-per-peer both there and on the command line.
cat >"$TMP/host.conf" <<EOF
# a comment, then a blank line

control = $TMP/run/host.sock
control-group = $GRP
channel-dir=$TMP/chan
  commands-dir   =   $REPO/tests/commands.d
builtin-dir $REPO/commands
max-jobs-per-peer = 3
verbose
EOF
start_daemon HOSTD_PID "$TMP/run/host.sock" "$TMP/hostd.log" \
    "$HOSTBIN" -d --config "$TMP/host.conf" --max-jobs-per-peer 7
check "the host daemon listens where its file says" test -S "$TMP/run/host.sock"
check "... the socket's group is the file's ($(stat -c %G "$TMP/run/host.sock"))" \
    test "$(stat -c %G "$TMP/run/host.sock")" = "$GRP"
check "... verbose, from the file" grep -q 'control socket' "$TMP/hostd.log"
H="$HOSTBIN --control $TMP/run/host.sock"
start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
    "$GUESTBIN" -d --control "$TMP/guest.sock" -c "$TMP/gport" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
check "calls go through, the channel directory from the file" \
    wait_until 10 serving

# The command line wins: 7 commands at once for the guest, not 3.
callers=
for i in 1 2 3 4 5 6 7; do
	guest_cli -t 20 -e "sleeper 3.$$" >/dev/null 2>&1 &
	callers="$callers $!"
done
# sleeper execs "sleep 3.PID": a duration no other process has.
running() { [ "$(pgrep -fx "sleep 3.$$" | wc -l)" -ge "$1" ]; }
check "the command line's --max-jobs-per-peer 7 wins over the file's 3" \
    wait_until 10 running 7
for p in $callers; do reap 30 "$p"; done

# A member of the group calls; a user outside it is refused.
as() { setpriv --reuid=65534 --regid="$1" --clear-groups "${@:2}"; }
check "a caller of group $GRP (uid 65534) is served" \
    within 10 as "$GID" $H -e 'exit-with 0' "$GUEST"
within 10 as 65534 $H -e 'exit-with 0' "$GUEST" 2>"$TMP/err"
check "a caller of another group is refused (exit $?, want 125)" test $? -eq 125
check "... by the socket's mode: $(cat "$TMP/err")" \
    grep -q 'Permission denied' "$TMP/err"

# Bad files: exit 125 at start, one line naming FILE:LINE, no daemon.
bad_file() {
	local want=$1 line=$2 out rc; shift 2
	printf '%b' "$*" >"$TMP/bad.conf"
	out=$(within 10 "$GUESTBIN" -d --config "$TMP/bad.conf" \
	    --control "$TMP/bad.sock" -c "$TMP/gport" 2>&1); rc=$?
	if [ "$rc" -eq 125 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
	    printf '%s' "$out" | grep -qF "$TMP/bad.conf:$line: $want" &&
	    [ ! -e "$TMP/bad.sock" ]; then
		ok "bad line refused: $out"
	else
		bad "bad line refused (exit $rc, want 125 and one line with" \
		    "$TMP/bad.conf:$line: $want): $out"
	fi
}
bad_file "not an option of this file: colour" 2 'syslog\ncolour = red\n'
bad_file "not an option of this file: daemon" 1 'daemon\n'
bad_file "not an option of this file: execute" 1 'execute = id\n'
bad_file "invalid number of commands (1 to 100000): lots" 3 \
    '# c\n\nmax-jobs = lots\n'
bad_file "no such group" 1 'control-group = no-such-group-here\n'
bad_file "syslog takes no value" 1 'syslog = yes\n'
bad_file "max-timeout needs a value" 1 'max-timeout\n'
bad_file "write the option without its" 1 '--verbose\n'
bad_file 'not an option of this file: \033[31mx' 1 '\033[31mx = 1\n'
expect_status 125 "a --config that does not exist" \
    within 10 "$GUESTBIN" -d --config "$TMP/none.conf" --control \
    "$TMP/bad.sock" -c "$TMP/gport"
expect_status 125 "--config without -d is a usage error" \
    within 10 "$GUESTBIN" -l --config "$TMP/host.conf"

finish
