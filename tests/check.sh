#!/bin/sh
# Runs every test suite in order and prints one summary line per suite and
# a total.  Exits non-zero if any suite failed.  `make check` calls it after
# building; set SKIP_VM=1 to leave out the libvirt and VM suites while
# iterating.
#
# Bounds: each suite has a wall-clock limit (its second field below); at the
# limit it gets SIGTERM, which runs its own clean-up, and SIGKILL 15 s later.
# The whole run is bounded by $CHECK_BUDGET_S (default 1500 s): a suite is
# given no more than what is left, and one that cannot start fails.
# Every suite runs with TMPDIR set to a directory of this run; after each
# one, a process, libvirt domain (one whose XML names that directory) or
# file it left behind there is a failure (and is removed).  Ctrl-C or
# SIGTERM stops the running suite the same way, then this script, leaving
# nothing behind.
# Three lanes: the suites of calls on emulated channels (whose timing
# checks want the calmest lane), those that keep a CPU busy (guests under
# TCG, ASan, the fuzzer, the terminal floods) and those that mostly wait
# run side by side, each lane with a run directory of its own, so that
# make check takes the longest lane's time, not the sum (15 minutes in one
# lane here).  The other lanes' output is printed after the first's; a
# lane's suites still run one at a time.  CHECK_LANES=1 runs everything
# in one lane.
# Again, alone: a suite that fails beside the other lanes is run once more
# after every lane has ended, alone on the machine (as make check ran
# before the lanes).  If it passes then it counts as passed, and the
# summary at the end lists it as passed only when alone, with its first
# failed checks: a check that fails twice fails make check.
# Skips: a suite records each check it skips (tests/lib.sh, skip) in a file
# of its own, $CHECK_SKIPS; at the end, every skip is listed by suite, with
# why and where else its claim is checked.  A skip whose claim is checked
# nowhere else fails its suite here, whatever the suite's own status.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

BUDGET=${CHECK_BUDGET_S:-1500}
START=$(date +%s)
# Short: QEMU's and the daemons' socket paths below it must fit in 107 bytes.
RUN=$(mktemp -d /tmp/ncheck.XXXXXX) || exit 1
chmod 755 "$RUN"	# libvirt's QEMU (user libvirt-qemu) reads images below
export TMPDIR=$RUN
total_failed=0
suites=0
suite_pid=
lane_pids=
# The skips of suite N are in $SKIPS.N until the end; if it failed, its
# name and first failed checks are in $FAILS.N, listed last (where a log
# that keeps only its tail still shows them).
SKIPS=$RUN.skips
FAILS=$RUN.fails
# A suite to run again alone: $AGAIN.N holds its name, limit and argv, a
# line each.
AGAIN=$RUN.again
alone=0
not_run=

# descends_from PID ANCESTOR: true if ANCESTOR is PID or one of its parents.
descends_from() {
	local p=$1
	while [ -n "$p" ] && [ "$p" -gt 1 ]; do
		[ "$p" = "$2" ] && return 0
		p=$(sed 's/.*) . \([0-9]*\).*/\1/' "/proc/$p/stat" 2>/dev/null)
	done
	return 1
}

# leftovers: pids of processes that mention this run's directory in their
# command line or environment, or hold a script there as fd 3 as commands
# do (what a suite started and did not stop; not this script and what it
# runs to look).
leftovers() {
	local p
	for p in $(pgrep -f -- "$RUN"; grep -lsF -- "$RUN" /proc/[0-9]*/environ |
	    cut -d/ -f3; stat -c %N /proc/[0-9]*/fd/3 2>/dev/null |
	    grep -F -- "-> '$RUN" | cut -d/ -f3); do
		alive "$p" && ! descends_from "$p" $$ && echo "$p"
	done | sort -u
}

# sweep NAME: fails NAME for whatever its suite left behind, and removes it.
sweep() {
	local left doms
	left=$(leftovers)
	if [ -n "$left" ]; then
		echo "=== $1: left processes behind:"
		# shellcheck disable=SC2086
		ps -o pid=,args= -p "$(echo $left | tr ' ' ,)" | cut -c1-150
		# shellcheck disable=SC2086
		kill_tree $left
	fi
	doms=
	if command -v virsh >/dev/null && pgrep -x libvirtd >/dev/null; then
		# Only domains of this run: their kernel and console are in $RUN.
		for d in $(timeout 10 virsh -q -c qemu:///system list --all \
		    --name 2>/dev/null); do
			timeout 10 virsh -q -c qemu:///system dumpxml "$d" \
			    2>/dev/null | grep -qF -- "$RUN" && doms="$doms $d"
		done
		for d in $doms; do
			timeout 10 virsh -q -c qemu:///system destroy "$d" >/dev/null 2>&1
			timeout 10 virsh -q -c qemu:///system undefine "$d" >/dev/null 2>&1
		done
		[ -z "$doms" ] || echo "=== $1: left libvirt domains behind:" $doms
	fi
	if [ -n "$(ls -A "$RUN")" ]; then
		echo "=== $1: left files behind in TMPDIR:" "$(ls -A "$RUN")"
		rm -rf "${RUN:?}"/* "${RUN:?}"/.[!.]* 2>/dev/null
	fi
	[ -z "$left$doms$(ls -A "$RUN")" ]
}

# run NAME LIMIT_S COMMAND...: one suite, bounded by LIMIT_S and the budget;
# true if it passed.
run() {
	local name=$1 limit=$2 left rc start; shift 2
	suites=$((suites + 1))
	left=$((BUDGET - ($(date +%s) - START)))
	[ "$limit" -le "$left" ] || limit=$left
	echo "=== $name (at $(( $(date +%s) - START )) s)"
	if [ "$limit" -le 0 ]; then
		echo "=== $name: FAILED (not run: the ${BUDGET} s budget of make check is spent)"
		total_failed=$((total_failed + 1))
		return
	fi
	start=$(date +%s)
	echo "$name" >"$SKIPS.$suites"
	# timeout puts the suite in a process group of its own and signals all
	# of it; the suite is waited for in the background so that a signal to
	# this script is handled at once.  Its output is kept (outside $RUN,
	# which must be empty after it) and printed when it ends.
	CHECK_SKIPS=$SKIPS.$suites timeout -k 15 "$limit" "$@" \
	    >"$RUN.output" 2>&1 &
	suite_pid=$!
	wait "$suite_pid"; rc=$?
	suite_pid=
	cat "$RUN.output"
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "=== $name: did not finish within $limit s"
	fi
	sweep "$name" || rc=1
	if tail -n +2 "$SKIPS.$suites" | grep -q '^-	'; then
		echo "=== $name: skipped a check that nothing else makes"
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		echo "=== $name: passed ($(( $(date +%s) - start )) s)"
	else
		echo "=== $name: FAILED ($(( $(date +%s) - start )) s)"
		total_failed=$((total_failed + 1))
		{
			echo "$name ($(( $(date +%s) - start )) s, status $rc)"
			grep -E '^not ok|FAIL|did not finish|left .* behind' \
			    "$RUN.output" | grep -v '^=== ' | head -n 12 |
			    cut -c 1-300 | sed 's/^/      /'
		} >"$FAILS.$suites"
		if [ "$alone" = 0 ]; then
			printf '%s\n' "$name" "$limit" "$@" >"$AGAIN.$suites"
		fi
	fi
	rm -f "$RUN.output"
	[ "$rc" -eq 0 ]
}

# On Ctrl-C or SIGTERM: the running suite is stopped through timeout (which
# passes the signal on to the suite's group), then everything is swept.
interrupted() {
	trap '' INT TERM HUP
	echo "=== interrupted: stopping the running suite"
	if [ -n "$suite_pid" ]; then
		kill -TERM "$suite_pid" 2>/dev/null
		reap 30 "$suite_pid"
		cat "$RUN.output" 2>/dev/null
	fi
	for p in ${lane_pids:-}; do kill -TERM "$p" 2>/dev/null; done
	for p in ${lane_pids:-}; do reap 45 "$p"; done
	sweep "interrupted run" >/dev/null
	rm -rf "$RUN" "$RUN.output" "$SKIPS".* "$FAILS".* "$AGAIN".* "$RUN".lane*
	exit 130
}
trap interrupted INT TERM HUP
trap 'rm -rf "$RUN" "$RUN.output" "$SKIPS".* "$FAILS".* "$AGAIN".* "$RUN".lane*' EXIT

# The command directories that the suites use must pass the policy of
# negotiator-commands(7), not writable by group or others, whatever the
# umask of the checkout.
chmod -R go-w commands tests/commands.d

# The three lanes (see the top).  lane_calls: the suites of calls on
# emulated channels, whose timing checks want the calmest lane.
lane_calls() {
	for t in $(make -s --no-print-directory list-tests); do
		run "unit: tests/$t" 120 "./tests/$t"
	done
	run "integration (emulated channels)" 300 bash tests/integration.sh
	run "fan-out and channel-directory events (simulated guests)" 120 bash tests/fanout.sh
	run "the CLIs as users hit them (pipes, fan-out truth, -n, escaping)" 150 bash tests/cli.sh
	run "load and liveness (emulated channels)" 240 bash tests/load.sh
	run "hardening (hostile guest and callers)" 120 bash tests/hardening.sh
	run "hostile peer beside an honest guest (decoding cost, job cap, refusals, a guest's share)" \
	    240 bash tests/hostile.sh
	run "hostile local callers (slots per uid, idle timeout, fd limit, log, memory)" \
	    150 bash tests/hostile-local.sh
	run "commands policy, channel trust, containment (race, setsid)" 240 bash tests/policy.sh
	run "daemons: queue, audit, per-call environment (emulated channels)" 180 \
	    bash tests/daemon.sh
}
# lane_cpu: what keeps a CPU busy: guests under TCG, ASan, the fuzzer,
# the terminal floods.
lane_cpu() {
	run "--tty both ways through tmux: keys, resize, ~., endings, flood (emulated channels)" 300 bash tests/tty.sh
	run "unit and integration under ASan and UBSan (build/asan)" 240 \
	    sh tests/sanitized.sh
	run "fuzz (30 s)" 120 sh tests/fuzz.sh 30
	if [ "${SKIP_VM:-0}" != 1 ]; then
		run "libvirt (three TCG domains)" 300 bash tests/libvirt.sh
		run "VM (real kernel under QEMU)" 540 bash tests/vm/vmtest.sh
	fi
}
# lane_system: what mostly waits (bounded waits, files, other programs).
lane_system() {
	run "harness (bounded waits, KVM probe, clean-up)" 240 bash tests/harness.sh
	run "built-in commands" 120 bash tests/commands.sh
	run "--copy both ways, put, get, sh, --enable (emulated channels)" 200 bash tests/copy.sh
	run "man pages and units" 60 sh tests/manlint.sh
	run "shell completion (real bash, bash-completion)" 90 bash tests/completion.sh
	run "configuration files and --control-group" 60 bash tests/config.sh
	run "supervisord" 180 sh tests/supervisor.sh
	run "install and uninstall" 120 bash tests/install.sh
}
[ "${SKIP_VM:-0}" != 1 ] ||
    not_run=", 2 suites not run (SKIP_VM=1: libvirt, VM)"

# start_lane N FUNC: FUNC's suites in a subshell beside this one, with a
# run directory and skip files of its own (what sweep looks for, and what
# a suite's environment names, is its own lane's), its suites numbered
# from N * 1000 so that their skip files do not meet another lane's, its
# output in $RUN.lane.N and its counts in $RUN.lane.N.counts.  Its pid is
# added to $lane_pids.
start_lane() {
	local out=$RUN.lane.$1
	(
		MAIN_RUN=$RUN
		RUN=$(mktemp -d /tmp/ncheck.XXXXXX) || exit 1
		chmod 755 "$RUN"
		export TMPDIR=$RUN
		SKIPS=$RUN.skips FAILS=$RUN.fails AGAIN=$RUN.again
		suites=$(($1 * 1000)) total_failed=0 suite_pid= lane_pids=
		trap interrupted INT TERM HUP
		trap 'rm -rf "$RUN" "$RUN.output" "$SKIPS".* "$FAILS".* "$AGAIN".*' EXIT
		"$2"
		for f in "$SKIPS".* "$FAILS".* "$AGAIN".*; do
			[ -f "$f" ] && mv "$f" "$MAIN_RUN${f#"$RUN"}"
		done
		echo "$((suites - $1 * 1000)) $total_failed" >"$out.counts"
	) >"$out" 2>&1 &
	lane_pids="$lane_pids $!"
}
# end_lane N: its output, and its counts added to ours.
end_lane() {
	local out=$RUN.lane.$1 n f
	cat "$out"
	if read -r n f <"$out.counts" 2>/dev/null; then
		suites=$((suites + n)) total_failed=$((total_failed + f))
	else
		echo "=== lane $1: FAILED (it reported no counts)"
		suites=$((suites + 1)) total_failed=$((total_failed + 1))
	fi
}

if [ "${CHECK_LANES:-3}" = 1 ]; then
	alone=1
	lane_calls
	lane_cpu
	lane_system
else
	start_lane 1 lane_cpu
	start_lane 2 lane_system
	echo "=== (two more lanes run beside this one: their output follows)"
	lane_calls
	echo "=== (waiting for the other lanes)"
	for p in $lane_pids; do wait "$p"; done
	lane_pids=
	end_lane 1
	end_lane 2
fi

# again_alone: each suite that failed beside the other lanes, run once
# more alone.  Its first run's skips are dropped (the second run's count);
# its first run's failures are kept, marked, if it passes alone.
again_alone() {
	local i f a n name limit rc counted
	for i in $(ls "$AGAIN".* 2>/dev/null | sed 's/.*\.//' | sort -n); do
		f=$AGAIN.$i
		name=$(sed -n 1p "$f") limit=$(sed -n 2p "$f") n=0
		set --
		while IFS= read -r a; do
			n=$((n + 1))
			[ "$n" -le 2 ] || set -- "$@" "$a"
		done <"$f"
		rm -f "$f" "$SKIPS.$i"
		echo "=== $name: failed beside the other lanes; once more, alone"
		# Numbered 10000 + N, so that its skip and failure files are its
		# own; one suite, counted failed once before: the second run's
		# count replaces the first's.
		counted=$suites suites=$((10000 + i - 1))
		run "$name (again, alone)" "$limit" "$@"; rc=$?
		suites=$counted total_failed=$((total_failed - 1))
		if [ "$rc" -eq 0 ]; then
			{
				echo "passed when run again alone; its run beside the other lanes:"
				cat "$FAILS.$i"
			} >"$FAILS.$i.alone"
			rm -f "$FAILS.$i"
		fi
	done
}
alone=1
again_alone

# skip_summary: every check a suite skipped, by suite, and why.
skip_summary() {
	local i f n name
	n=$(cat "$SKIPS".* 2>/dev/null | grep -c '	')
	echo "=== skipped: $n checks"
	for i in $(ls "$SKIPS".* 2>/dev/null | sed 's/.*\.//' | sort -n); do
		f=$SKIPS.$i
		[ -f "$f" ] && [ "$(wc -l <"$f")" -gt 1 ] || continue
		name=$(head -n 1 "$f")
		echo "    $name: $(($(wc -l <"$f") - 1))"
		tail -n +2 "$f" | while IFS='	' read -r where why; do
			if [ "$where" = - ]; then
				echo "      - $why (checked nowhere else: failed)"
			else
				echo "      - $why (checked by $where)"
			fi
		done
	done
}
skip_summary
# fail_summary: every failed suite and its first failed checks.
n_alone=$(ls "$FAILS".*.alone 2>/dev/null | wc -l)
fail_summary() {
	local f
	if [ "$n_alone" -gt 0 ]; then
		echo "=== passed only when run alone (their output is above):"
		cat "$FAILS".*.alone | sed 's/^/    /'
	fi
	[ "$total_failed" -gt 0 ] || return 0
	echo "=== failed suites (their output is above):"
	for f in $(ls "$FAILS".* 2>/dev/null | sort -V); do
		case $f in *.alone) continue ;; esac
		[ -f "$f" ] && sed 's/^/    /' "$f"
	done
}
fail_summary
[ "$n_alone" -eq 0 ] || not_run="$not_run, $n_alone passed only when run alone"
echo "$((suites - total_failed)) passed, $total_failed failed" \
    "($(( $(date +%s) - START )) s)$not_run"
[ "$total_failed" -eq 0 ]
