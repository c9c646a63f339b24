#!/bin/bash
# --tty through a real terminal: tmux drives the CLIs (send-keys,
# capture-pane, resize-window) against both daemons on emulated channels
# (tests/vserial), host to guest and guest to host.  Each session runs in a
# tmux pane under tests' run wrapper, which writes the terminal's mode
# (stty -g) before and after the CLI and the CLI's exit status: the mode
# must come back identical after every ending (exit, ~., ~. while the host
# daemon is stopped, SIGTERM, either daemon killed).  The flood case prints
# the time from Ctrl-C to the death of a remote `yes` and bounds both
# daemons' memory meanwhile; another times a Ctrl-C typed behind input
# that the remote command does not read.  The cases shared with the VM
# suite are tests/scenario-tty.sh's.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
. "$REPO/tests/scenario-tty.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-tty.XXXXXX") || exit 1
GUEST=vm1
HOSTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-host
GUESTBIN=${NEGOTIATOR_BIN_DIR:-$REPO}/negotiator-guest
COMMON="--commands-dir $REPO/tests/commands.d --builtin-dir $REPO/commands"
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= HOSTD_PID= GUESTD_PID=
mkdir -p "$TMP/chan" "$TMP/gport"
# Ctrl-C to death of the remote `yes` under a flood, on emulated channels
# (target 100 ms, measured 26-135 ms at a load of 15 on 2 cores; the bound
# leaves room for more load).
KEY_TO_DEATH_MS=${TTY_KEY_TO_DEATH_MS:-500}
# What each daemon's peak RSS may grow while 64 MiB go through a terminal
# (KiB): its flow-control windows are a few hundred KiB; a daemon that held
# the flood would grow by tens of MiB.
RSS_GROWTH_KB=${TTY_RSS_GROWTH_KB:-4096}


start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    "$HOSTBIN" -d -v --max-timeout 0 \
	    --control "$TMP/host.sock" --channel-dir "$TMP/chan" $COMMON
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    "$GUESTBIN" -d -v \
	    --control "$TMP/guest.sock" -c "$TMP/gport" $COMMON
}
serving() { $H -e 'exit-with 0' "$GUEST" && guest_cli -e 'exit-with 0'; }

cleanup() {
	trap '' INT TERM HUP
	[ -z "$HOSTD_PID" ] || kill -CONT "$HOSTD_PID" 2>/dev/null
	tm kill-server >/dev/null 2>&1
	end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"
}
trap cleanup EXIT
on_interrupt

tty_setup || exit 1


trap cleanup EXIT
start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

# --- a flood through the terminal, and Ctrl-C -----------------------------
# flood WHO CLI...: tests/tty-flood.py runs CLI on a pty it reads as fast
# as it can (tmux, busy rendering a flood, would be what is timed), lets a
# remote `yes` write 64 MiB, sends Ctrl-C and prints the time from the key
# to the death of that process; the shell must survive it.  Then both
# daemons' peak RSS is bounded.
flood() {
	local who=$1 out ms st h g h0 g0; shift
	h0=$(awk '/^VmHWM/ { print $2 }' "/proc/$HOSTD_PID/status")
	g0=$(awk '/^VmHWM/ { print $2 }' "/proc/$GUESTD_PID/status")
	rm -f "$TMP/flood.pid"
	out=$(within 200 python3 "$REPO/tests/tty-flood.py" "$TMP/flood.pid" \
	    $((64 << 20)) "$@")
	st=$?
	ms=$(sed -n 's/^key_to_death_ms //p' <<<"$out")
	h=$(awk '/^VmHWM/ { print $2 }' "/proc/$HOSTD_PID/status")
	g=$(awk '/^VmHWM/ { print $2 }' "/proc/$GUESTD_PID/status")
	echo "# $who: 64 MiB through --tty, then Ctrl-C: the remote yes" \
	    "died ${ms:-?} ms after the key; peak RSS: host daemon $h kB," \
	    "guest daemon $g kB"
	if [ -n "${TTY_BENCH_OUT:-}" ] && [ -n "$ms" ]; then
		echo "$who $ms" >>"$TTY_BENCH_OUT"
	fi
	check "$who: 64 MiB, Ctrl-C, the shell survives (\$? 130), exit 3" \
	    test "$st" = 0 -a "$(sed -n 's/^exit //p' <<<"$out")" = 3
	check "... Ctrl-C to death ${ms:-?} ms < $KEY_TO_DEATH_MS ms" \
	    test -n "$ms" -a "${ms:-99999}" -lt "$KEY_TO_DEATH_MS"
	if [ -n "${NEGOTIATOR_BIN_DIR:-}" ]; then
		skip --elsewhere "tests/tty.sh on the plain build" \
		    "RSS bounds (programs from $NEGOTIATOR_BIN_DIR)"
		return
	fi
	check "... daemons' peak RSS grew $((h - h0)), $((g - g0)) kB \
< $RSS_GROWTH_KB kB (measured: $h0 -> $h, $g0 -> $g)" \
	    test "${h0:-0}" -gt 0 -a "${g0:-0}" -gt 0 -a \
	    $((h - h0)) -lt "$RSS_GROWTH_KB" -a $((g - g0)) -lt "$RSS_GROWTH_KB"
}
flood "host -> guest" $H --tty -e tty-shell "$GUEST"
flood "guest -> host" "$GUESTBIN" --control "$TMP/guest.sock" \
    -c "$TMP/gport" --tty -e tty-shell
# tests/tty-bench.sh: the flood alone.
[ -z "${TTY_BENCH_ONLY:-}" ] || { finish; exit; }

# --- not a terminal ------------------------------------------------------
out=$($H --tty -e tty-shell "$GUEST" </dev/null 2>&1); st=$?
check "--tty with stdin not a terminal: exit 125, one line ($out)" \
    test "$st" = 125 -a "$(printf '%s\n' "$out" | wc -l)" = 1
check "... and it says so" grep -q "stdin is not a terminal" <<<"$out"

# --- host to guest: prompt, size, Ctrl-C, Ctrl-Z, vi, exit ---------------
S=h2g
session $S $H --tty -e tty-shell "$GUEST"
check "host -> guest: a shell prompt" wait_screen $S '^tty\$'
line $S 'echo "term=$TERM"; tty; stty size'
check "\$TERM is ours, a pty, the size of the pane (24 80)" \
    wait_screen $S '^24 80$'
check "... TERM=xterm" shows $S '^term=xterm$'
check "... on a pseudo-terminal" shows $S '^/dev/pts/'
tm resize-window -t $S -x 100 -y 30
line $S 'clear; stty size'
check "resized to 100x30: stty size says 30 100" wait_screen $S '^30 100$'
line $S 'clear; sleep 100'
sleep 1
keys $S C-c
line $S 'echo "st=$?"'
check "Ctrl-C interrupts sleep 100, the shell survives, \$? is 130" \
    wait_screen $S '^st=130$'
scenario_tty_job $S
scenario_tty_vi $S "$TMP/edit.txt"
printf 'one\nzwei \303\274nd drei\n' >"$TMP/edit.want"
check "... the file on disk is the bytes typed" \
    cmp "$TMP/edit.txt" "$TMP/edit.want"
line $S 'exit 7'
check "exit 7: the CLI exits 7, the terminal's mode is back" ended $S 7
close $S

# shell_session NAME WHAT: a host -> guest session named NAME, for WHAT;
# the remote shell's pid in $TMP/NAME.remote.
shell_session() {
	session "$1" $H --tty -e tty-shell "$GUEST"
	check "a session for $2" wait_screen "$1" '^tty\$'
	line "$1" 'echo $$ >'"$TMP/$1.remote"
	wait_until 10 test -s "$TMP/$1.remote"
}

# --- ~. ------------------------------------------------------------------
S=escape
shell_session $S "~."
keys $S Enter
keys $S -l '~.'
check "~. ends the session: exit 125, the terminal's mode is back" \
    ended $S 125
check "... with a message" wait_screen $S 'ended by ~\.'
check "... and the remote shell is gone" \
    wait_until 10 pid_gone "$(cat "$TMP/escape.remote")"
close $S

# --- Ctrl-C behind input that backs up ----------------------------------
# The remote sleep reads nothing: pasted lines fill its pty (some 20 KiB
# here) and the rest wait in the guest daemon, within the credit window
# (256 KiB: the CLI reads and sends all of it).  A Ctrl-C typed after them
# must not wait behind them: the daemon sends its signal at once and drops
# what was typed before it (runner.c, pty_interrupt), and what the remote
# terminal holds unread, as the line discipline drops its input on an
# interrupt.  Each pasted line, if a shell ran it, would create
# $TMP/jump.leak: none may run (the remote terminal's 4 KiB of them did,
# up to a line cut in two that swallowed the next line typed, before the
# daemon discarded them too).  JUMP_KB: how much is pasted.
JUMP_KB=${TTY_JUMP_KB:-128}
S=jump
session $S $H --tty -e tty-shell "$GUEST"
check "a session for Ctrl-C behind backed-up input" wait_screen $S '^tty\$'
line $S "L=$TMP/jump.leak"
line $S "sh -c 'echo \$\$ >$TMP/jump.pid; exec sleep 100'"
wait_until 10 test -s "$TMP/jump.pid"
jpid=$(cat "$TMP/jump.pid" 2>/dev/null)
# Lines of 64 bytes, each a command that leaves a trace, then a comment.
awk -v n=$((JUMP_KB * 16)) \
    'BEGIN { for (i = 0; i < n; i++) printf ": >>$L # %053d\n", i }' >"$TMP/paste"
tm load-buffer "$TMP/paste"
tm paste-buffer -d -t $S
# The remote terminal echoes each line it takes: once the echo shows, a
# second more lets the rest back up behind what it holds.
wait_until 10 shows $S '# 0+$'
sleep 1
took=$(screen $S | sed -n 's/^: >>\$L # 0*\([0-9][0-9]*\)$/\1/p' | tail -n 1)
check "... the remote terminal took lines 0-${took:-?} of $((JUMP_KB * 16)): \
the rest waits behind it" test "${took:-99999999}" -lt $((JUMP_KB * 16 - 1))
t0=${EPOCHREALTIME/./}
keys $S C-c
while ! pid_gone "$jpid" 2>/dev/null &&
    [ $(( (${EPOCHREALTIME/./} - t0) / 1000 )) -lt 10000 ]; do
	sleep 0.01
done
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
echo "# Ctrl-C behind $JUMP_KB KiB of pasted input: sleep 100 died $ms ms" \
    "after the key"
check "Ctrl-C behind $JUMP_KB KiB of input the remote does not read: the \
remote sleep ($jpid) died in $ms ms < $KEY_TO_DEATH_MS ms" \
    test "$(is_pid "$jpid" && pid_gone "$jpid" && echo gone)" = gone -a \
    "$ms" -lt "$KEY_TO_DEATH_MS"
# Nothing typed before the key reaches the shell: the line below is the
# next it reads (before the flush, it read up to 2,000 pasted lines first,
# each echoed with a prompt: seconds on a loaded machine).
line $S 'clear; echo "alive"'
check "... the shell survives it" wait_until 90 shows $S '^alive$'
check "... and ran none of the lines typed before the key" \
    test ! -e "$TMP/jump.leak"
line $S 'exit 5'
check "... exit 5: the CLI exits 5, the terminal's mode is back" ended $S 5
close $S

# --- ~. while the daemon does not answer ---------------------------------
# The host daemon stopped (SIGSTOP) mid-session: the CANCEL that ~. sends
# waits in its socket, but the CLI must not wait for it; once the daemon
# runs again, it takes the CANCEL (or the CLI's end) and the remote shell
# goes.
S=stopped
shell_session $S "~. with the host daemon stopped"
kill -STOP "$HOSTD_PID"
t0=$(now_ms)
keys $S Enter
keys $S -l '~.'
check "~. with the host daemon stopped: exit 125 at once, the mode is back" \
    ended $S 125
ms=$(( $(now_ms) - t0 ))
check "... within 2 s ($ms ms)" test "$ms" -lt 2000
kill -CONT "$HOSTD_PID"
check "... the daemon running again, the remote shell goes" \
    wait_until 10 pid_gone "$(cat "$TMP/stopped.remote")"
close $S

# --- either daemon killed mid-session -----------------------------------
# killed WHICH: the WHICH daemon (host or guest) killed (-9) mid-session:
# the CLI exits 125 with the terminal's mode back, the daemon started again
# serves, and the cut session's remote shell is gone.
killed() {
	local S=${1}kill pid
	shell_session $S "the $1 daemon's kill -9"
	if [ "$1" = host ]; then
		pid=$HOSTD_PID HOSTD_PID=
	else
		pid=$GUESTD_PID GUESTD_PID=
	fi
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	check "$1 daemon killed (-9) mid-session: exit 125, the mode is back" \
	    ended $S 125
	close $S
	"start_${1}d"
	check "$1 daemon back" wait_until 10 serving
	check "... the remote shell of the cut session is gone" \
	    wait_until 10 pid_gone "$(cat "$TMP/$S.remote")"
}
killed host

# --- SIGTERM to the CLI --------------------------------------------------
S=term
session $S $H --tty -e tty-shell "$GUEST"
check "a session for SIGTERM" wait_screen $S '^tty\$'
cli=$(pgrep -P "$(cat "$TMP/$S.pid")" -f negotiator-host)
check "the CLI's pid ($cli)" is_pid "$cli"
kill -TERM "$cli"
check "SIGTERM to the CLI: it dies of it (143), the mode is back" \
    ended $S 143
close $S

# --- guest to host -------------------------------------------------------
S=g2h
session $S "$GUESTBIN" --control "$TMP/guest.sock" -c "$TMP/gport" \
    --tty -e tty-shell
check "guest -> host: a shell prompt" wait_screen $S '^tty\$'
line $S 'stty size'
check "... stty size 24 80" wait_screen $S '^24 80$'
tm resize-window -t $S -x 90 -y 20
line $S 'clear; stty size'
check "... resized: 20 90" wait_screen $S '^20 90$'
line $S 'clear; sleep 100'
sleep 1
keys $S C-c
line $S 'echo "st=$?"'
check "... Ctrl-C: 130" wait_screen $S '^st=130$'
keys $S C-d
check "... Ctrl-D ends the shell: exit 0, the mode is back" ended $S 0
close $S

killed guest

finish
