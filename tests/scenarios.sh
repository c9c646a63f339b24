# The end-to-end scenarios of a host and a guest daemon, written once and run
# by both the emulated-channel suite (tests/integration.sh) and the VM suite
# (tests/vm/vmtest.sh).  The caller defines:
#   H        the host CLI with its options, e.g. "negotiator-host --control X"
#   GUEST    the guest's name
#   TMP      a scratch directory
#   guest_cli ARGS...  runs negotiator-guest ARGS inside the guest
# and has the commands of tests/commands.d installed on both sides.

# Prints the first line of FILE once it has one.
first_line() { [ -s "$1" ] && head -n 1 "$1"; }

# remote_gone PID: true only when PID is a pid (is_pid) and the guest's
# alive command answered that no process has it (exit 1); not when the
# call failed (125, 124, 127: no daemon, no guest, a timeout) or PID is
# empty.
remote_gone() {
	is_pid "${1-}" || { echo "remote_gone: not a pid: '${1-}'" >&2; return 2; }
	$H -e "alive $1" "$GUEST"
	[ $? -eq 1 ]
}

scenario_exit_codes() {
	expect_status 0 "exit code 0" $H -e 'exit-with 0' "$GUEST"
	expect_status 3 "exit code 3" $H -e 'exit-with 3' "$GUEST"
	expect_status 137 "death by SIGKILL is 128+9" $H -e 'suicide KILL' "$GUEST"
	expect_status 143 "death by SIGTERM is 128+15" $H -e 'suicide TERM' "$GUEST"
	expect_status 127 "unknown command" $H -e 'no-such-command' "$GUEST"
	expect_status 127 "../../bin/sh refused" $H -e '../../bin/sh -c id' "$GUEST"
	expect_status 127 "leading dot refused" $H -e '.hidden' "$GUEST"
	expect_status 127 "over-long name refused" \
	    $H -e "$(printf 'x%.0s' $(seq 1 65))" "$GUEST"
	expect_status 127 "empty name refused" $H -e "''" "$GUEST"
	expect_status 125 "unbalanced quote is a usage error" \
	    $H -e "echo-args 'oops" "$GUEST"
	expect_status 125 "unknown guest" $H -e 'exit-with 0' no-such-guest
	expect_status 127 "a script whose interpreter is missing" \
	    $H -e bad-interp "$GUEST"
	check "... says why on stderr" sh -c "$H -e bad-interp '$GUEST' 2>&1 |
	    grep -qx 'negotiator: cannot run bad-interp: No such file or directory'"
	expect_status 126 "a file that is not a program" $H -e not-a-program "$GUEST"
}

scenario_streams() {
	$H -e both "$GUEST" >"$TMP/out" 2>"$TMP/err"
	check "stdout and stderr kept apart" \
	    test "$(cat "$TMP/out")|$(cat "$TMP/err")" = "to-stdout|to-stderr"
	check "arguments split like sh" test "$($H -e \
	    "echo-args a 'b c' \"d \\\"e\\\"\" '' f\\ g" "$GUEST")" = \
	    '[a][b c][d "e"][][f g]'
	$H -e env-all "$GUEST" >"$TMP/env"
	check "clean environment (PATH, LANG, HOME; nothing of the daemon's)" \
	    sh -c "grep -qx 'LANG=C.UTF-8' '$TMP/env' && grep -qx 'HOME=/' \
	    '$TMP/env' && grep -q '^PATH=/' '$TMP/env' && \
	    ! grep -q NEGOTIATOR_TEST_LEAK '$TMP/env'"
	check "a command starts with no signal blocked or ignored, in its own process group, in /" \
	    clean_start $H -e proc-state "$GUEST"
	check "so does a command of the host, for the guest" \
	    clean_start guest_cli -e proc-state
}

# clean_start CLI...: the output of the proc-state command run by CLI says
# the command started clean.
clean_start() {
	"$@" >"$TMP/state" 2>&1 && [ "$(tr '\n' ' ' <"$TMP/state")" = \
	    "SigBlk:	0000000000000000 SigIgn:	0000000000000000 pgrp: own cwd: / " ] ||
	    { cat "$TMP/state" >&2; return 1; }
}

# bulk_out_is N MD5: N bytes streamed from the guest have this md5sum.
bulk_out_is() { test "$($H -t 0 -e "stream $1" "$GUEST" | md5sum)" = "$2"; }
# bulk_echo_is MD5: $TMP/in through the guest's cat has this md5sum.
bulk_echo_is() { test "$($H -t 0 -e cat "$GUEST" <"$TMP/in" | md5sum)" = "$1"; }

# scenario_bulk N: N bytes each way, byte-exact, each within 120 s.
scenario_bulk() {
	local n=$1 want
	want=$(seq 1 9000000 | head -c "$n" | md5sum)
	check "$n bytes of stdout byte-exact" within 120 bulk_out_is "$n" "$want"
	seq 1 9000000 | head -c "$n" >"$TMP/in"
	check "$n bytes of stdin echoed byte-exact" within 120 bulk_echo_is "$want"
}

# scenario_parallel_bulk N BYTES: N calls each way at once with -t 0 (the
# guest's cat of BYTES of stdin, and the guest calling the host's stream of
# BYTES), all byte-exact within 300 s; then --ping answers within 2 s.
scenario_parallel_bulk() {
	local n=$1 size=$2 want i p pids= bad=0 t0
	seq 1 9000000 | head -c "$size" >"$TMP/pin"
	want=$(md5sum <"$TMP/pin")
	t0=$(date +%s%3N)
	for i in $(seq 1 "$n"); do
		$H -t 0 -e cat "$GUEST" <"$TMP/pin" | md5sum >"$TMP/pb.h$i" &
		pids="$pids $!"
		guest_cli -t 0 -e "stream $size" | md5sum >"$TMP/pb.g$i" &
		pids="$pids $!"
	done
	for p in $pids; do reap 300 "$p" || bad=$((bad + 1)); done
	echo "# $n parallel calls each way of $size bytes: $(( $(date +%s%3N) - t0 )) ms"
	for i in $(seq 1 "$n"); do
		[ "$(cat "$TMP/pb.h$i")" = "$want" ] || bad=$((bad + 1))
		[ "$(cat "$TMP/pb.g$i")" = "$want" ] || bad=$((bad + 1))
	done
	check "$n parallel calls each way of $size bytes, byte-exact" \
	    test "$bad" -eq 0
	check "--ping answers at once after the parallel bulk" \
	    within 2 $H --ping "$GUEST" >/dev/null
}

scenario_concurrent() {
	local i pids= bad=0
	for i in $(seq 1 20); do
		$H -e "echo-args call $i" "$GUEST" >"$TMP/c.$i" 2>&1 &
		pids="$pids $!"
	done
	for i in $pids; do reap 30 "$i" || bad=$((bad + 1)); done
	for i in $(seq 1 20); do
		[ "$(cat "$TMP/c.$i")" = "[call][$i]" ] || bad=$((bad + 1))
	done
	check "20 concurrent calls to one guest" test "$bad" -eq 0
}

scenario_timeout() {
	local pid
	expect_status 124 "timeout" $H -t 1 -e 'sleeper 300' "$GUEST" \
	    >"$TMP/sleeper"
	pid=$(first_line "$TMP/sleeper")
	check "timed-out process is gone (pid $pid)" remote_gone "$pid"
}

scenario_cli_killed() {
	local cli pid
	$H -t 0 -e 'sleeper 300' "$GUEST" >"$TMP/sleeper2" &
	cli=$!
	wait_until 20 first_line "$TMP/sleeper2"
	pid=$(first_line "$TMP/sleeper2")
	kill -9 "$cli"
	reap 5 "$cli"
	check "CLI killed mid-call: remote process $pid gone" \
	    wait_until 10 remote_gone "$pid"
}

guest_lists_echo_args() { guest_cli -l | grep -qx echo-args; }

scenario_guest_to_host() {
	check "guest->host call sees NEGOTIATOR_GUEST" \
	    test "$(guest_cli -e env-guest)" = "$GUEST"
	expect_status 3 "guest->host exit code" guest_cli -e 'exit-with 3'
	check "guest->host list of commands" guest_lists_echo_args
}

scenario_listing() {
	check "-g lists the guest" sh -c "$H -g | grep -qx '$GUEST'"
	check "-c lists the guest's commands" \
	    sh -c "$H -c '$GUEST' | grep -qx disk-usage"
	check "--ping" sh -c "$H --ping '$GUEST' | grep -q 'time='"
}

run_all_scenarios() {
	scenario_listing
	scenario_exit_codes
	scenario_streams
	scenario_concurrent
	scenario_timeout
	scenario_cli_killed
	scenario_guest_to_host
}
