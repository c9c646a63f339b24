# What the shell test suites share (POSIX sh and bash): counting checks,
# waiting with a wall-clock deadline, killing what a test started, and
# starting the daemons on emulated channels.  Source it; call `finish` last
# (prints "N passed, M failed, K skipped").
#
# Every wait here is bounded in wall-clock seconds, whatever the command
# waited on does: a try that is still running at the deadline is killed
# with all its descendants.

PASSED=0
FAILED=0
SKIPPED=0
HIDDEN=0	# skips that hide a claim: finish fails

ok()   { PASSED=$((PASSED + 1)); echo "ok   - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
# bad DESCRIPTION [DETAILS]: fails DESCRIPTION, with the lines of DETAILS
# indented below it.
bad() {
	fail "$1"
	[ -z "${2-}" ] || printf '%s\n' "$2" | sed 's/^/     /'
}
# skip [--elsewhere WHERE] DESCRIPTION: a check that is not run here, and
# why.  The rule: a skip may only stand for a claim that cannot be checked
# on this machine and that WHERE (another suite, named) checks; it then
# counts neither way.  Any other skip hides a claim: `finish` fails the
# suite, however many checks passed.  Each skip is also appended to the
# file $CHECK_SKIPS if set (tests/check.sh lists them at the end of make
# check), one line "WHERE<TAB>DESCRIPTION", WHERE "-" for a hiding skip.
skip() {
	local where=
	if [ "${1-}" = --elsewhere ]; then
		where=$2
		shift 2
	fi
	SKIPPED=$((SKIPPED + 1))
	if [ -n "$where" ]; then
		echo "skip - $* (checked by $where)"
	else
		HIDDEN=$((HIDDEN + 1))
		echo "skip - $* (checked nowhere else: the suite fails)"
	fi
	[ -z "${CHECK_SKIPS-}" ] ||
	    printf '%s\t%s\n' "${where:--}" "$*" >>"$CHECK_SKIPS"
}

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_status WANT DESCRIPTION COMMAND...: passes when COMMAND exits WANT.
expect_status() {
	local want=$1 what=$2 got; shift 2
	"$@"; got=$?
	if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"
	else fail "$what (exit $got, wanted $want)"; fi
}

# now_ms: milliseconds on the wall clock.
now_ms() { date +%s%3N; }

# kill_tree PID...: stops each process, then kills its descendants and it.
# Stopping first keeps a shell from starting new children meanwhile.
kill_tree() {
	local p
	for p in "$@"; do
		kill -STOP "$p" 2>/dev/null || continue
		# shellcheck disable=SC2046
		kill_tree $(pgrep -P "$p")
		kill -KILL "$p" 2>/dev/null
	done
}

# within SECONDS COMMAND...: runs COMMAND (a program or a shell function) and
# returns its status, or 137 once SECONDS have passed (a decimal such as 2.5
# is fine), after killing it and everything it started.  COMMAND runs in a
# background subshell (it cannot set this shell's variables), stdin
# /dev/null.
within() {
	local limit=$1 pid dog rc; shift
	"$@" </dev/null &
	pid=$!
	{ sleep "$limit"; kill_tree "$pid"; } </dev/null >/dev/null 2>&1 &
	dog=$!
	{ wait "$pid"; } 2>/dev/null; rc=$?
	kill_tree "$dog"
	wait "$dog" 2>/dev/null
	return "$rc"
}

# wait_until SECONDS COMMAND...: tries COMMAND (output discarded) until it
# succeeds, 0.1 s apart; 0 then.  1 once SECONDS (whole seconds) of wall
# clock have passed since the call, a try still running then included.
wait_until() {
	local limit=$1 deadline left; shift
	deadline=$(( $(now_ms) + limit * 1000 ))
	while :; do
		left=$(( deadline - $(now_ms) ))
		[ "$left" -gt 0 ] || return 1
		within "$((left / 1000)).$(printf %03d $((left % 1000)))" \
		    "$@" >/dev/null 2>&1 && return 0
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# alive PID: true while PID exists and is not a zombie.
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	case $st in Z*|X*|'') return 1 ;; esac
}

# reap SECONDS PID: waits for PID, a child of this shell, for at most
# SECONDS; returns its status, or kills it and everything it started and
# returns 137.
reap() {
	local deadline=$(( $(now_ms) + $1 * 1000 )) pid=$2
	while alive "$pid" && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	alive "$pid" && kill_tree "$pid"
	{ wait "$pid"; } 2>/dev/null
}

# stop_pid PID [SECONDS]: SIGTERM to PID, a child of this shell (a daemon
# under test), then SIGKILL to it and its descendants if it is not gone
# within SECONDS (default 5).  Returns PID's status; quiet if PID is empty.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	reap "${2:-5}" "$1"
}

# kill_children: kills what this shell started and is still running, with
# its descendants (a try or watchdog of `within` cut short by a signal).
# Last in a clean-up, after the orderly stops.
kill_children() {
	local kids
	kids=$(pgrep -P $$)
	# shellcheck disable=SC2086
	kill_tree $kids
}

# on_interrupt: makes INT, TERM and HUP end the script through its EXIT
# trap (dash runs no EXIT trap on a signal by itself).
on_interrupt() {
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

finish() {
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	if [ "$HIDDEN" -gt 0 ]; then
		echo "FAIL - $HIDDEN skipped check(s) not made elsewhere (skip lines above)"
		return 1
	fi
	[ "$FAILED" -eq 0 ]
}

# is_pid WORD: true if WORD is a process id as written in decimal (digits
# only, no leading zero, not empty).
is_pid() {
	case ${1-} in
	''|0*|*[!0-9]*) return 1 ;;
	esac
}

# start_time PID: when PID started (clock ticks since boot, field 22 of
# /proc/PID/stat); empty once it is gone.  A pid and its start time name
# one process; a pid alone may be another's once the first is gone (make
# check goes round the machine's 32,768 pids within a minute), so a pid
# learnt earlier is signalled only through kill_same.
start_time() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}
# same_process PID START: PID is still the process that started at START.
same_process() {
	[ -n "${2-}" ] && [ "$(start_time "$1")" = "$2" ]
}
# kill_same SIGNAL PID START: SIGNAL to PID if it is still that process.
kill_same() {
	same_process "$2" "$3" && kill "-$1" "$2" 2>/dev/null
}

# pid_gone PID: 0 only when PID is a pid (is_pid) and no process of this
# machine has it (no /proc/PID); 1 while one does (a zombie too); 2, saying
# why on stderr, when PID is not a pid or /proc is not mounted.  A pid that
# was never obtained, or a look that failed, is never "gone".
pid_gone() {
	is_pid "${1-}" || { echo "pid_gone: not a pid: '${1-}'" >&2; return 2; }
	[ -d /proc/self ] ||
	    { echo "pid_gone: /proc is not mounted" >&2; return 2; }
	[ ! -e "/proc/$1" ]
}

# need COMMAND PACKAGE: installs PACKAGE with apt-get if COMMAND is missing
# ("apt-get update" only when a plain install fails: stale or no lists);
# true if COMMAND is there then.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "     installing $2" >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q "$2" \
	    >/dev/null 2>&1 ||
	    { apt-get update -q >/dev/null 2>&1 &&
	    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -q "$2" \
	    >/dev/null 2>&1; }
	command -v "$1" >/dev/null 2>&1
}

# --- libvirt, as the design notes say it runs here ----------------------
# libvirt_users: the groups and the user Debian's QEMU driver runs QEMU as
# (libvirt-qemu:libvirt-qemu, in kvm); dies (die, the suite's) if it
# cannot make one.
libvirt_users() {
	local g
	for g in kvm libvirt-qemu; do
		getent group "$g" >/dev/null || groupadd -r "$g" || die "create group $g"
	done
	id libvirt-qemu >/dev/null 2>&1 ||
	    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt \
		-s /usr/sbin/nologin libvirt-qemu || die "create user libvirt-qemu"
}

# libvirt_start DIR: the users above, libvirt's directories, and virtlogd
# and libvirtd unless they run, logging into DIR; VIRTLOGD_PID and
# LIBVIRTD_PID are the ones started here (empty if none was), for the
# suite's cleanup to stop.  The suite waits for libvirtd to answer.
libvirt_start() {
	libvirt_users
	mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /var/cache/libvirt
	VIRTLOGD_PID= LIBVIRTD_PID=
	if ! pgrep -x virtlogd >/dev/null; then
		virtlogd >>"$1/virtlogd.log" 2>&1 &
		VIRTLOGD_PID=$!
	fi
	if ! pgrep -x libvirtd >/dev/null; then
		libvirtd >>"$1/libvirtd.log" 2>&1 &
		LIBVIRTD_PID=$!
	fi
}

# --- the daemons on emulated channels (tests/vserial) --------------------
# For the suites that set REPO, TMP and GUESTBIN: the guest daemon under
# test has its control socket at $TMP/guest.sock and its ports in
# $TMP/gport.

# guest_cli ARG...: the guest CLI, through the guest daemon under test.
guest_cli() { "$GUESTBIN" --control "$TMP/guest.sock" -c "$TMP/gport" "$@"; }

# start_vserial NAME CHANDIR PORTDIR PIDVAR: an emulated guest NAME, its
# host ends in CHANDIR and its guest ends in PORTDIR, its pid in PIDVAR;
# 0 once it is up (within 5 s).
start_vserial() {
	rm -f "$TMP/vs.$1.pid"
	"$REPO/tests/vserial" "$2" "$3" "$1" --pidfile "$TMP/vs.$1.pid" &
	eval "$4=\$!"
	wait_until 5 test -s "$TMP/vs.$1.pid"
}

# start_daemon PIDVAR SOCKET LOG COMMAND...: a daemon, COMMAND in the
# background with its stderr appended to LOG, its pid in PIDVAR; 0 once its
# control socket SOCKET is there (within 20 s: under valgrind it is slow).
start_daemon() {
	local var=$1 sock=$2 log=$3; shift 3
	"$@" 2>>"$log" &
	eval "$var=\$!"
	wait_until 20 test -S "$sock"
}

# serving: true once a call goes through each way: the host CLI ($H) to
# $GUEST, and guest_cli to the host.
serving() { $H -e 'exit-with 0' "$GUEST" && guest_cli -e 'exit-with 0'; }

# end_suite PID...: the clean-up (EXIT trap) of a suite that runs both
# daemons: stops each PID (stop_pid: the daemons, vserial), then whatever
# else this shell still runs; shows the end of both daemons' logs
# ($TMP/hostd.log, $TMP/guestd.log) if a check failed; removes $TMP.
end_suite() {
	local p
	trap '' INT TERM HUP
	for p in "$@"; do stop_pid "$p"; done
	kill_children
	tail_on_failure 30 "host daemon log" "$TMP/hostd.log" \
	    "guest daemon log" "$TMP/guestd.log"
	rm -rf "$TMP"
}

# skipped_bytes LOG LINE LABEL: how many bytes lines LINE.. of the daemon
# log LOG say were skipped as bad input from the peer whose label starts
# with LABEL: the sum of their "skipped bad input: ... (N bytes)" (one line
# per batch of reads, channel.c).  Carriage returns (a console) are ignored.
skipped_bytes() {
	tail -n "+$2" "$1" | tr -d '\r' |
	    sed -n "s/^[^:]*: $3[^:]*: skipped bad input: .* (\([0-9]*\) bytes)\$/\1/p" |
	    awk '{ n += $1 } END { print n + 0 }'
}
# skipped_at_least LOG LINE LABEL N: skipped_bytes is N or more.
skipped_at_least() { [ "$(skipped_bytes "$1" "$2" "$3")" -ge "$4" ]; }

# tail_on_failure LINES TITLE FILE [TITLE FILE...]: once a check has
# failed, the last LINES lines of each FILE under "--- TITLE (tail)".
tail_on_failure() {
	local n=$1; shift
	[ "$FAILED" -gt 0 ] || return 0
	while [ $# -ge 2 ]; do
		echo "--- $1 (tail)"; tail -n "$n" "$2"
		shift 2
	done
}
