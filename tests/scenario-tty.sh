# The --tty scenario through a real terminal (tmux), shared by tests/tty.sh
# (emulated channels) and tests/vm/vmtest.sh (a real guest kernel).  For
# suites that set REPO and TMP and source lib.sh; tm kill-server in their
# clean-up ends every session.

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
