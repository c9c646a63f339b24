# The --tty scenarios through a real terminal (tmux), shared by
# tests/tty.sh (emulated channels) and tests/vm/vmtest.sh (a real guest
# kernel).  For suites that set REPO and TMP and source lib.sh; tm
# kill-server in their clean-up ends every session.  Each scenario types
# into a session whose remote side is tests/commands.d/tty-shell (prompt
# "tty$ "), wherever that runs: what it checks is read off the screen.

tm() { tmux -S "$TMP/tmux.sock" "$@"; }

# tty_setup: tmux is there (a failure if not: tests/deps.sh installs it),
# and the panes' program is written.
tty_setup() {
	need tmux tmux ||
	    { fail "tmux is needed (tests/deps.sh installs it)"; return 1; }
	# The panes' program: the terminal's mode before and after the CLI,
	# its pid and its exit status, in files named after the session.
	cat >"$TMP/run" <<'EOF'
#!/bin/bash
name=$1; shift
stty -g >"$T/$name.before"
echo $$ >"$T/$name.pid"
"$@"
st=$?
stty -g >"$T/$name.after"
echo "$st" >"$T/$name.status"
# Stay a moment, so that the screen can be read after the end.
sleep 30
EOF
	chmod +x "$TMP/run"
}

# session NAME COMMAND...: a new tmux session of 80x24 running COMMAND
# under the run wrapper.
session() {
	local name=$1; shift
	tm new-session -d -s "$name" -x 80 -y 24 \
	    env T="$TMP" TERM=xterm "$TMP/run" "$name" "$@"
}
screen() { tm capture-pane -p -t "$1"; }
# shows NAME REGEX: the screen of NAME has a line matching REGEX.
shows() { screen "$1" | grep -Eq -- "$2"; }
# wait_screen NAME REGEX: within 15 s.
wait_screen() { wait_until 15 shows "$1" "$2"; }
keys() { local n=$1; shift; tm send-keys -t "$n" "$@"; }
# line NAME TEXT: types TEXT and Enter.
line() { keys "$1" -l "$2"; keys "$1" Enter; }
# ended NAME WANT: the CLI of NAME ended (within 20 s) with status WANT,
# and the terminal's mode is what it was.
ended() {
	local name=$1 want=$2 got
	if ! wait_until 20 test -s "$TMP/$name.status"; then
		echo "     $name: still running after 20 s; its screen:" >&2
		screen "$name" | tail -5 | sed 's/^/     | /' >&2
		return 1
	fi
	got=$(cat "$TMP/$name.status")
	[ "$got" = "$want" ] ||
	    { echo "     $name: exit $got, wanted $want" >&2; return 1; }
	cmp -s "$TMP/$name.before" "$TMP/$name.after" ||
	    { echo "     $name: stty -g differs" >&2; return 1; }
}
close() { tm kill-session -t "$1" >/dev/null 2>&1; }

# scenario_tty NAME CLI...: a --tty session of CLI (which runs
# tests/commands.d/tty-shell on the other side): prompt, stty size before
# and after a resize, Ctrl-C on sleep 100 ($? 130), exit 3; the terminal's
# mode identical after.
scenario_tty() {
	local S=$1; shift
	session "$S" "$@"
	check "$S: --tty: a shell prompt" wait_screen "$S" '^tty\$'
	line "$S" 'stty size'
	check "$S: stty size 24 80" wait_screen "$S" '^24 80$'
	tm resize-window -t "$S" -x 100 -y 30
	line "$S" 'clear; stty size'
	check "$S: resized: stty size 30 100" wait_screen "$S" '^30 100$'
	line "$S" 'clear; sleep 100'
	sleep 1
	keys "$S" C-c
	line "$S" 'echo "st=$?"'
	check "$S: Ctrl-C interrupts sleep 100 (\$? 130)" \
	    wait_screen "$S" '^st=130$'
	line "$S" 'exit 3'
	check "$S: exit 3: the CLI exits 3, the terminal's mode is back" \
	    ended "$S" 3
	close "$S"
}

# scenario_tty_job NAME: in the open session NAME, Ctrl-Z stops a sleep
# 100, fg brings it back, and Ctrl-C ends it ($? 130).
scenario_tty_job() {
	local S=$1
	line "$S" 'clear; sleep 100'
	sleep 1
	keys "$S" C-z
	check "$S: Ctrl-Z stops sleep 100" wait_screen "$S" 'Stopped'
	line "$S" 'fg'
	sleep 1
	keys "$S" C-c
	line "$S" 'echo "fg=$?"'
	check "$S: fg brings it back, Ctrl-C ends it (130)" \
	    wait_screen "$S" '^fg=130$'
}

# scenario_tty_vi NAME FILE: in the open session NAME, busybox vi edits
# FILE (a path on the remote side, written there first) and saves it; the
# file's md5sum, printed there, is that of the bytes typed (UTF-8 too).
scenario_tty_vi() {
	local S=$1 f=$2 want
	want=$(printf 'one\nzwei \303\274nd drei\n' | md5sum | cut -d' ' -f1)
	line "$S" "clear; printf 'one\\n' >$f; busybox vi $f"
	# Each step waits for vi's screen (the "~" of the lines past the end
	# of the file): a key typed before vi runs goes to the shell, and
	# busybox vi reads a key that follows Escape within its 50 ms as part
	# of an escape sequence (Alt-:), so the command waits a second.
	wait_screen "$S" '^~ *$'
	keys "$S" G o
	keys "$S" -l 'zwei ünd drei'
	wait_screen "$S" '^zwei'
	keys "$S" Escape
	sleep 1
	keys "$S" -l ':wq'
	wait_screen "$S" '^:wq'
	keys "$S" Enter
	wait_screen "$S" '^tty\$ *$'
	line "$S" "echo \"vi=\$?\"; md5sum $f"
	check "$S: busybox vi: edited and saved, byte-exact (md5 $want)" \
	    wait_screen "$S" "^$want "
	check "$S: ... and vi exited 0" shows "$S" '^vi=0$'
}

# scenario_tty_escape NAME CLI...: a --tty session of CLI that ~. after
# Enter ends: exit 125, the terminal's mode identical after.
scenario_tty_escape() {
	local S=$1; shift
	session "$S" "$@"
	check "$S: a session for ~." wait_screen "$S" '^tty\$'
	keys "$S" Enter
	keys "$S" -l '~.'
	check "$S: ~. ends it (125), the terminal's mode is back" \
	    ended "$S" 125
	check "$S: ... with a message" wait_screen "$S" 'ended by ~\.'
	close "$S"
}

# prompted NAME TEXT: TEXT was typed at a prompt (the line "tty$ TEXT" is
# on the screen) and a new prompt has come since (the last line with
# anything on it is a bare "tty$"): what TEXT ran has ended, or has
# started a shell of its own.
prompted() {
	local s
	s=$(screen "$1")
	grep -Fxq -- "tty\$ $2" <<<"$s" &&
	    [ "$(grep -v '^ *$' <<<"$s" | tail -n 1 | sed 's/ *$//')" = 'tty$' ]
}

# scenario_tty_nested NAME CLI...: a --tty session of CLI (the host's, into
# the guest) in which the guest's CLI opens a terminal back on the host,
# `negotiator-guest --tty -e tty-shell`: a prompt there (uname -n is this
# machine's), stty size, a resize of our window reaching through both
# terminals, Ctrl-C on sleep 100 there ($? 130), its exit status back in
# the guest's shell; then exit 3 and the terminal's mode identical after.
scenario_tty_nested() {
	local S=$1 inner='negotiator-guest --tty -e tty-shell'; shift
	session "$S" "$@"
	check "$S: a shell prompt in the guest" wait_screen "$S" '^tty\$'
	line "$S" "$inner"
	check "$S: in it, $inner: a prompt" wait_until 15 prompted "$S" "$inner"
	line "$S" 'clear; echo "on=$(uname -n)"; stty size'
	check "$S: ... of a shell on the host ($(uname -n))" \
	    wait_screen "$S" "^on=$(uname -n)\$"
	check "$S: ... stty size there 24 80" wait_screen "$S" '^24 80$'
	tm resize-window -t "$S" -x 100 -y 30
	line "$S" 'clear; stty size'
	check "$S: ... resized, through both terminals: 30 100" \
	    wait_screen "$S" '^30 100$'
	line "$S" 'clear; sleep 100'
	sleep 1
	keys "$S" C-c
	line "$S" 'echo "st=$?"'
	check "$S: ... Ctrl-C interrupts sleep 100 on the host (\$? 130)" \
	    wait_screen "$S" '^st=130$'
	line "$S" 'exit 4'
	check "$S: ... exit 4 there: back in the guest's shell" \
	    wait_until 15 prompted "$S" 'exit 4'
	line "$S" 'echo "g=$?"'
	check "$S: ... whose \$? is 4" wait_screen "$S" '^g=4$'
	line "$S" 'exit 3'
	check "$S: exit 3: the CLI exits 3, the terminal's mode is back" \
	    ended "$S" 3
	close "$S"
}
