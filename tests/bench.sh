#!/bin/bash
# tests/bench.sh [vm|emulated|all|hold]   (default: vm; `make bench` runs vm)
#
# Performance figures, not pass/fail; progress goes to stderr.
#   vm        boots one throw-away TCG guest (tests/vm/mkimage.sh and
#             vm.sh) with four virtio-serial ports: negotiator's two,
#             one for Debian's qemu-ga (the host's /usr/sbin/qemu-ga, copied
#             into the image) and a bare one, and prints ONE Markdown table:
#             for each figure the median for negotiator, qemu-ga and the
#             bare port or the floor, their ratios, and the targets of
#             issues 10, 21 and 24 (the pipe floor each way, the call
#             floor, a 256 MiB --copy each way beside qemu-ga's
#             guest-file-write/-read) and 20 (Ctrl-C through a terminal
#             flooded with 64 MiB, each way), then where each bulk transfer's
#             time goes (CPU and system calls of each party).  The host
#             end of qemu-ga and of the bare port is tests/qga.
#   emulated  both daemons on this machine, joined by tests/vserial, and a
#             table of more detailed figures (CPU, RSS, both ways at once).
#   hold      boots the vm part's guest and daemons, prints how to reach
#             them (for profiling by hand), and waits until interrupted.
# Every process it starts and the guest are gone when it exits, also on
# INT, TERM or HUP.  Exits non-zero if a setup step fails or a transfer
# comes back wrong.  Needs `make all tests/qga`; the vm part needs what
# tests/vm/vmtest.sh needs, and qemu-guest-agent on the host.  Takes about
# 12 minutes (vm, TCG, at a load average of 15; the --tty rows 2 more at
# 11) + 10 s (emulated) + 15 s (the emulated --tty rows); 600 MB
# in $TMPDIR (the 256 MiB file, what comes back, the smaller inputs).
set -u
export LC_ALL=C
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

MODE=${1:-vm}
case $MODE in
emulated|vm|all|hold) ;;
*) echo "usage: tests/bench.sh [vm|emulated|all|hold]" >&2; exit 2 ;;
esac

HOSTBIN=$REPO/negotiator-host
GUESTBIN=$REPO/negotiator-guest
VM=$REPO/tests/vm/vm.sh
QGA=$REPO/tests/qga
BULK=16777216			# bytes per emulated throughput run (16 MiB)
VM_BULK=33554432		# bytes per VM throughput run (32 MiB)
QGA_BULK=4194304		# qemu-ga's (it caps output at 16 MiB, and is slow)
COPY_BULK=268435456		# the file each way (256 MiB)
QGA_CHUNK=4194304		# qemu-ga's guest-file-read/-write per call
# qemu-ga moves the file's first QGA_FILE_BULK bytes: under TCG it takes
# minutes for the whole file (BENCH_QGA_FILE_BYTES=268435456 to do it all).
QGA_FILE_BULK=${BENCH_QGA_FILE_BYTES:-16777216}
TTY_BULK=${BENCH_TTY_BYTES:-67108864}	# through a terminal each way (64 MiB)
VM_MEM=1536			# MiB: the guest's /tmp (half of it) holds the file
PINGS=200
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-bench.XXXXXX") || exit 1
VS_PID='' HOSTD_PID='' GUESTD_PID='' VM_UP='' BAD=0 BG=

progress() { echo "bench: $*" >&2; }
die() {
	echo "bench: FAILED: $*" >&2
	[ -z "${VROWS-}" ] || printf "\nThe rows measured before that:\n\n%s%s" "$VROWS" "${WHERE-}"
	exit 1
}
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
stop_all() {
	local p
	for p in $BG; do stop "$p"; done
	stop "$HOSTD_PID"; stop "$GUESTD_PID"; stop "$VS_PID"
	HOSTD_PID='' GUESTD_PID='' VS_PID='' BG=
	if [ -n "$VM_UP" ]; then "$VM" stop "$TMP/vm" >/dev/null 2>&1; VM_UP=; fi
}
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

for b in "$HOSTBIN" "$GUESTBIN" "$REPO/tests/vserial" "$QGA"; do [ -x "$b" ] ||
    die "$b missing: run 'make all tests/qga' first"; done
[ -z "$(find "$REPO/common" "$REPO/host" "$REPO/guest" -name '*.[ch]' \
    -newer "$HOSTBIN" -o -name '*.[ch]' -newer "$GUESTBIN" 2>/dev/null)" ] ||
    progress "warning: some sources are newer than the binaries (make all)"

# --- numbers ----------------------------------------------------------

# stats FILE: "min median p99 mean" of the numbers in FILE (one a line);
# median and p99 by nearest rank.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1; s += $1 }
	    END {
		if (NR == 0) { print "- - - -"; exit }
		p = int(NR * 0.99); if (p < NR * 0.99) p++
		m = int(NR * 0.5); if (m < NR * 0.5) m++
		printf "%.3f %.3f %.3f %.3f\n", v[1], v[m], v[p], s / NR
	    }'
}
# ms T0 T1: milliseconds between two $EPOCHREALTIME readings.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
# mbps BYTES MS: 10^6 bytes per second.
mbps() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.1f", n / 1e6 / (t / 1000) }'; }
calc() { awk "BEGIN { printf \"%.1f\", $* }"; }

ROWS=
row() { ROWS+="| $SETUP | $1 | $2 |"$'\n'; }
table() {
	echo
	echo "### $SETUP: $1"
	echo
	echo "| setup | metric | value |"
	echo "|---|---|---|"
	printf "%s" "$ROWS"
	ROWS=
}
# mismatch WHAT: a transfer came back wrong; the run goes on, the exit
# status will say so.
mismatch() { BAD=1; progress "MISMATCH: $*"; }

# --- bench-only commands ----------------------------------------------

# make_commands DIR RUNDIR GUESTCLI: writes the bench-* commands into DIR;
# RUNDIR is where they will be found when they run (the test commands are
# there too), GUESTCLI how to call negotiator-guest there.
make_commands() {
	local dir=$1 rundir=$2 gcli=$3
	mkdir -p "$dir"
	# Commands that are not shell scripts: the cost of negotiator's own
	# fork+exec, without /bin/sh; static (no dynamic loader) if possible.
	echo 'int main(void) { return 0; }' >"$TMP/true.c"
	cc -O2 -o "$dir/bench-true-dyn" "$TMP/true.c" || die "cc bench-true-dyn"
	if cc -O2 -static -o "$dir/bench-true" "$TMP/true.c" 2>/dev/null; then
		TRUE_KIND=static
	else
		cp "$dir/bench-true-dyn" "$dir/bench-true"; TRUE_KIND=dynamic
	fi
	# ... and linked static-pie, as negotiator-guestd is (and the guest
	# CLI was until 2026-12-03): the start-up floor of any PIE program in
	# the guest.
	cc -O2 -static-pie -o "$dir/bench-true-spie" "$TMP/true.c" 2>/dev/null ||
	    cp "$dir/bench-true" "$dir/bench-true-spie"
	cat >"$dir/bench-aslr" <<-'EOF'
	#!/bin/sh
	# bench: the guest kernel's randomize_va_space (ASLR): prints it, or
	# sets it to $1 (0: off, 2: the default).
	if [ $# -eq 0 ]; then exec cat /proc/sys/kernel/randomize_va_space; fi
	echo "$1" >/proc/sys/kernel/randomize_va_space
	EOF
	cat >"$dir/bench-hwm" <<-'EOF'
	#!/bin/sh
	# bench: VmHWM (kB) of the daemon that runs this command.
	exec awk '$1 == "VmHWM:" { print $2 }' /proc/$PPID/status
	EOF
	# A cheap sink: reads stdin in 64 KiB blocks, as the bare port's dd
	# reads it, and prints its length in bytes (busybox's wc -c costs far
	# more CPU per byte, and CPU is scarce under TCG; busybox dd does not
	# print the count).  C, static if possible, like bench-true.
	cat >"$TMP/sink.c" <<-'EOF'
	#include <stdio.h>
	#include <time.h>
	#include <unistd.h>
	static double ms(void) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
	}
	int main(void) {
		static char b[65536];
		long long n = 0;
		ssize_t k;
		double t0 = ms();
		while ((k = read(0, b, sizeof(b))) > 0) {
	#ifdef FROM_FIRST_BYTE
			if (n == 0)
				t0 = ms();
	#endif
			n += k;
		}
		if (k < 0)
			return 1;
	#ifdef TIMED
		printf("%lld %.1f\n", n, ms() - t0);
	#else
		(void)t0;
		printf("%lld\n", n);
	#endif
		return 0;
	}
	EOF
	cc -O2 -static -o "$dir/bench-sink" "$TMP/sink.c" 2>/dev/null ||
	    cc -O2 -o "$dir/bench-sink" "$TMP/sink.c" || die "cc bench-sink"
	# ... and timed, as the pipe floor into the guest is (from its start
	# to the end of its input, in the guest): prints "BYTES MS".  The
	# bench's host side builds it too, timed FROM_FIRST_BYTE.
	cc -O2 -static -DTIMED -o "$dir/bench-sink-timed" "$TMP/sink.c" 2>/dev/null ||
	    cc -O2 -DTIMED -o "$dir/bench-sink-timed" "$TMP/sink.c" || die "cc bench-sink-timed"
	# ... and a cheap source: dd with big blocks.
	cat >"$dir/bench-zero" <<-'EOF'
	#!/bin/sh
	# bench: writes $1 zero bytes ($1 a multiple of 65536), in 64 KiB
	# blocks.
	exec dd if=/dev/zero bs=65536 count=$(($1 / 65536)) 2>/dev/null
	EOF
	# ... and the same file as --copy's, as plain -e streams (the copy
	# rows' floors: the same bytes into and out of the same file system).
	cat >"$dir/bench-to-file" <<-'EOF'
	#!/bin/sh
	# bench: writes stdin to /tmp/bench-big, in 64 KiB blocks.
	exec dd of=/tmp/bench-big bs=65536 2>/dev/null
	EOF
	cat >"$dir/bench-from-file" <<-'EOF'
	#!/bin/sh
	# bench: writes /tmp/bench-big to stdout, in 64 KiB blocks.
	exec dd if=/tmp/bench-big bs=65536 2>/dev/null
	EOF
	# The death of a process of the guest, as a caller there hears it
	# (tests/tty-flood.py --watch): pidfd_open, and poll.  C, static if
	# possible, like bench-true.
	cat >"$TMP/waitpid.c" <<-'EOF'
	/* bench-waitpid FILE: removes FILE and says "ready"; once a pid is in
	 * it, "started PID"; once that process has ended, "gone". */
	#include <errno.h>
	#include <poll.h>
	#include <signal.h>
	#include <stdio.h>
	#include <sys/syscall.h>
	#include <unistd.h>
	int main(int argc, char **argv) {
		struct pollfd p = { .events = POLLIN };
		FILE *f;
		long pid = 0;
		int n = 0;
		if (argc != 2)
			return 2;
		unlink(argv[1]);
		printf("ready\n");
		fflush(stdout);
		while (n != 1 || pid <= 0) {
			usleep(10000);
			if ((f = fopen(argv[1], "r")) != NULL) {
				n = fscanf(f, "%ld", &pid);
				fclose(f);
			}
		}
		printf("started %ld\n", pid);
		fflush(stdout);
		if ((p.fd = (int)syscall(SYS_pidfd_open, (int)pid, 0)) != -1)
			while (poll(&p, 1, -1) == -1 && errno == EINTR)
				;
		else
			while (kill((int)pid, 0) == 0)
				usleep(1000);
		printf("gone\n");
		return 0;
	}
	EOF
	cc -O2 -static -o "$dir/bench-waitpid" "$TMP/waitpid.c" 2>/dev/null ||
	    cc -O2 -o "$dir/bench-waitpid" "$TMP/waitpid.c" || die "cc bench-waitpid"
	cat >"$dir/bench-rm" <<-'EOF'
	#!/bin/sh
	# bench: removes the bench's big files in the guest's /tmp.
	exec rm -f /tmp/bench-big /tmp/bench-qga
	EOF
	cat >"$dir/bench-stat" <<-'EOF'
	#!/bin/sh
	# bench: the machine's CPU times (the cpu line of /proc/stat), its
	# MemTotal (kB), and the calling daemon's read and write calls and
	# bytes ("io SYSCR RCHAR SYSCW WCHAR").
	awk '$1 == "cpu" { print } $1 == "MemTotal:" { print $2 }
	    $1 == "rchar:" { rc = $2 } $1 == "wchar:" { wc = $2 }
	    $1 == "syscr:" { sr = $2 } $1 == "syscw:" { sw = $2 }
	    END { print "io", sr, rc, sw, wc }' /proc/stat /proc/meminfo /proc/$PPID/io
	exit 0
	EOF
	cat >"$dir/bench-sleep" <<-'EOF'
	#!/bin/sh
	# bench: a command that takes 0.2 s.
	exec sleep 0.2
	EOF
	# The other two ports, found by name as negotiator-guest finds its own.
	local port='port() { for f in /sys/class/virtio-ports/*/name; do
	    [ "$(cat "$f")" = "$1" ] && { f=${f%/name}; echo "/dev/${f##*/}"; return 0; }
	done; echo "no port $1" >&2; exit 1; }'
	cat >"$dir/bench-qga-start" <<-EOF
	#!/bin/sh
	# bench: runs qemu-ga on the org.qemu.guest_agent.0 port, in the
	# foreground: a call's processes end with it (negotiator-commands(7)),
	# so the call lasts as long as qemu-ga is wanted.
	$port
	dev=\$(port org.qemu.guest_agent.0) || exit 1
	exec qemu-ga -t /run -m virtio-serial -p "\$dev" </dev/null >/dev/null 2>&1
	EOF
	cat >"$dir/bench-raw-send" <<-EOF
	#!/bin/sh
	# bench: writes \$1 zero bytes (a multiple of 65536) to the bare port
	# with dd bs=64k, no protocol; with \$2 = pipe, through a pipe from
	# another dd (the pipe floor: what any agent reading a program's
	# output pays).
	$port
	dev=\$(port negotiator-bench-raw.0) || exit 1
	n=\$((\$1 / 65536))
	if [ "\${2-}" = pipe ]; then
		dd if=/dev/zero bs=65536 count=\$n 2>/dev/null |
		    dd bs=65536 of="\$dev" 2>/dev/null
	else
		exec dd if=/dev/zero of="\$dev" bs=65536 count=\$n 2>/dev/null
	fi
	EOF
	cat >"$dir/bench-raw-recv" <<-EOF
	#!/bin/sh
	# bench: reads \$1 bytes (a multiple of 65536) from the bare port with
	# dd bs=64k, no protocol (with \$2 = pipe, into a pipe to another dd);
	# prints the milliseconds it took.
	$port
	dev=\$(port negotiator-bench-raw.0) || exit 1
	now() { if [ -n "\${EPOCHREALTIME-}" ]; then echo "\$EPOCHREALTIME"; else date +%s.%N; fi; }
	t0=\$(now)
	n=\$((\$1 / 65536))
	if [ "\${2-}" = pipe ]; then
		dd if="\$dev" bs=65536 count=\$n iflag=fullblock 2>/dev/null |
		    dd bs=65536 of=/dev/null 2>/dev/null || exit 1
	else
		dd if="\$dev" of=/dev/null bs=65536 count=\$n iflag=fullblock 2>/dev/null || exit 1
	fi
	t1=\$(now)
	awk -v a="\$t0" -v b="\$t1" 'BEGIN { printf "%.1f\\n", (b - a) * 1000 }'
	EOF
	cat >"$dir/bench-time" <<-EOF
	#!/bin/sh
	# bench: times, inside this machine, WHAT N and prints the milliseconds.
	#   loop-exit N     N x exit-with 0 (fork+exec of /bin/sh + tiny script)
	#   loop-true N     N x bench-true (fork+exec of a tiny C binary)
	#   loop-dyn N      N x bench-true-dyn (the same, dynamically linked)
	#   loop-spie N     N x bench-true-spie (the same, static-pie)
	#   loop-bintrue N  N x /bin/true
	#   loop-version N  N x negotiator-guest --version (the CLI's startup)
	#   loop-call N     N x negotiator-guest -e 'exit-with 0' (to the host)
	#   gen N           the stream command's generator: N bytes of seq, to /dev/null
	#   zero N          bench-zero N | dd of=/dev/null bs=65536, no negotiator
	#   head N          head -c N /dev/zero | wc -c, no negotiator
	now() { if [ -n "\${EPOCHREALTIME-}" ]; then echo "\$EPOCHREALTIME"; else date +%s.%N; fi; }
	i=0 n=\$2
	t0=\$(now)
	case \$1 in
	loop-exit)    while [ \$i -lt \$n ]; do $rundir/exit-with 0; i=\$((i + 1)); done ;;
	loop-true)    while [ \$i -lt \$n ]; do $rundir/bench-true; i=\$((i + 1)); done ;;
	loop-dyn)     while [ \$i -lt \$n ]; do $rundir/bench-true-dyn; i=\$((i + 1)); done ;;
	loop-spie)    while [ \$i -lt \$n ]; do $rundir/bench-true-spie; i=\$((i + 1)); done ;;
	loop-bintrue) while [ \$i -lt \$n ]; do /bin/true; i=\$((i + 1)); done ;;
	loop-version) while [ \$i -lt \$n ]; do $gcli --version >/dev/null; i=\$((i + 1)); done ;;
	loop-call)    while [ \$i -lt \$n ]; do $gcli -e 'exit-with 0' || exit 1; i=\$((i + 1)); done ;;
	gen)          seq 1 9000000 | head -c "\$n" >/dev/null ;;
	zero)         $rundir/bench-zero "\$n" | dd of=/dev/null bs=65536 2>/dev/null ;;
	head)         head -c "\$n" /dev/zero | wc -c >/dev/null ;;
	*)            exit 2 ;;
	esac
	t1=\$(now)
	awk -v a="\$t0" -v b="\$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
	EOF
	chmod 755 "$dir"/bench-*
}

# --- the measurements, for any setup ----------------------------------
# They use: H (array: the host CLI with its sockets), GUEST, HOSTD_PID,
# guest_cli (runs negotiator-guest ARGS in the guest, output to the
# host's stdout), guest_hwm (prints the guest daemon's VmHWM), SEQN (calls
# per sequential run).

# ping_row LABEL CMD...: runs CMD (a --ping with --count $PINGS), row of
# min/median/p99.
ping_row() {
	local label=$1 n; shift
	"$@" >"$TMP/ping.out" 2>&1 || die "$label: $(tail -n 1 "$TMP/ping.out")"
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$TMP/ping.out" >"$TMP/ping.ms"
	n=$(wc -l <"$TMP/ping.ms")
	[ "$n" -eq "$PINGS" ] || die "$label: $n replies out of $PINGS"
	read -r mn md p99 mean <<<"$(stats "$TMP/ping.ms")"
	row "$label ($PINGS, in-session)" "min $mn / median $md / p99 $p99 ms"
}

# time_runs N FILE CMD...: N sequential runs of CMD, wall ms of each into FILE.
time_runs() {
	local n=$1 f=$2 i t0 t1; shift 2
	: >"$f"
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>"$TMP/times.err" || die "$*: $(tail -n 1 "$TMP/times.err")"
		t1=$EPOCHREALTIME
		ms "$t0" "$t1" >>"$f"; echo >>"$f"
	done
}

# seq_row LABEL N CMD...: N sequential whole invocations of CMD, row of
# mean and median ms per call.
seq_row() {
	local label=$1 n=$2; shift 2
	time_runs "$n" "$TMP/seq.ms" "$@"
	read -r mn md p99 mean <<<"$(stats "$TMP/seq.ms")"
	row "$label, $n sequential" "mean $(calc "$mean") / median $(calc "$md") ms per call (min $(calc "$mn"))"
}

# par_row LABEL CMD...: 50 invocations of CMD, 10 at a time, calls/s.
par_row() {
	local label=$1 t0 t1; shift
	t0=$EPOCHREALTIME
	seq 50 | xargs -P 10 -I{} "$@" >/dev/null 2>"$TMP/par.err" ||
	    die "$label in parallel: $(head -n 1 "$TMP/par.err")"
	t1=$EPOCHREALTIME
	row "$label, 50 calls 10 in parallel" "$(calc "50 / $(ms "$t0" "$t1") * 1000") calls/s"
}

# intime_row LABEL WHAT N: bench-time WHAT N run in the guest (timed there);
# ms per run.
intime_row() {
	local label=$1 what=$2 n=$3 t
	t=$("${H[@]}" -t 0 -e "bench-time $what $n" "$GUEST" 2>&1) ||
	    die "bench-time $what: $t"
	row "$label, $n runs in a loop in the guest" "$(calc "$t / $n") ms per run"
}

# cpu_ticks PID: utime+stime of PID (clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

bench_setup() {
	local t0 t1 got dt g0 g1 h0 h1

	progress "$SETUP: ping"
	ping_row "host->guest --ping round trip" "${H[@]}" --ping "$GUEST" --count "$PINGS"
	ping_row "guest->host --ping round trip" guest_cli --ping --count "$PINGS"

	progress "$SETUP: whole CLI calls"
	seq_row "host->guest CLI \`-e 'exit-with 0'\`" "$SEQN" "${H[@]}" -e 'exit-with 0' "$GUEST"
	seq_row "host CLI startup alone, \`negotiator-host --version\`" "$SEQN" "${H[@]}" --version
	seq_row "host->guest CLI \`-e bench-true\` ($TRUE_KIND C binary, no sh)" "$SEQN" "${H[@]}" -e bench-true "$GUEST"
	par_row "host->guest CLI \`-e 'exit-with 0'\`" "${H[@]}" -e 'exit-with 0' "$GUEST"
	intime_row "guest->host CLI \`-e 'exit-with 0'\`" loop-call "$SEQN"
	# What those are made of, timed inside the guest without negotiator.
	intime_row "guest, no negotiator: fork+exec of exit-with 0 (sh script)" loop-exit 50
	intime_row "guest, no negotiator: fork+exec of bench-true ($TRUE_KIND)" loop-true 50
	intime_row "guest, no negotiator: fork+exec of the same, dynamic (glibc)" loop-dyn 20
	intime_row "guest, no negotiator: \`negotiator-guest --version\` (CLI startup)" loop-version 20

	progress "$SETUP: throughput"
	# guest->host: the stream test command (seq | head in the guest).
	g0=$("${H[@]}" -e daemon-cpu "$GUEST" | cut -d' ' -f1)
	h0=$(cpu_ticks "$HOSTD_PID")
	t0=$EPOCHREALTIME
	got=$("${H[@]}" -t 0 -e "stream $BULK" "$GUEST" | wc -c)
	t1=$EPOCHREALTIME
	h1=$(cpu_ticks "$HOSTD_PID")
	g1=$("${H[@]}" -e daemon-cpu "$GUEST" | cut -d' ' -f1)
	[ "$got" -eq "$BULK" ] || mismatch "stream: got $got bytes"
	dt=$(ms "$t0" "$t1")
	row "guest->host stdout: \`-t 0 -e 'stream $BULK' \| wc -c\`" \
	    "$(mbps "$BULK" "$dt") MB/s ($(calc "$dt / 1000") s)"
	row "... CPU used meanwhile by the guest daemon / the host daemon" \
	    "$(calc "($g1 - $g0) / 100") s / $(calc "($h1 - $h0) / $TCK") s"
	t0=$("${H[@]}" -t 0 -e "bench-time gen $BULK" "$GUEST") || die "bench-time gen"
	row "... stream's generator alone, in the guest (\`seq \| head -c\` > /dev/null)" \
	    "$(mbps "$BULK" "$t0") MB/s ($(calc "$t0 / 1000") s)"
	# guest->host with a source that costs next to nothing.
	t0=$EPOCHREALTIME
	got=$("${H[@]}" -t 0 -e "bench-zero $BULK" "$GUEST" | wc -c)
	t1=$EPOCHREALTIME
	[ "$got" -eq "$BULK" ] || mismatch "bench-zero: got $got bytes"
	dt=$(ms "$t0" "$t1")
	row "guest->host stdout: \`-t 0 -e 'bench-zero $BULK' \| wc -c\` (dd from /dev/zero, 64 KiB blocks)" \
	    "$(mbps "$BULK" "$dt") MB/s ($(calc "$dt / 1000") s)"
	# host->guest only.
	t0=$EPOCHREALTIME
	got=$("${H[@]}" -t 0 -e bench-sink "$GUEST" <"$TMP/in")
	t1=$EPOCHREALTIME
	[ "$got" = "$BULK" ] || mismatch "bench-sink: got '$got' bytes"
	dt=$(ms "$t0" "$t1")
	row "host->guest stdin: \`-t 0 -e bench-sink < $BULK-byte file\` (reads 64 KiB blocks, prints the count)" \
	    "$(mbps "$BULK" "$dt") MB/s ($(calc "$dt / 1000") s)"
	t0=$("${H[@]}" -t 0 -e "bench-time zero $BULK" "$GUEST") || die "bench-time zero"
	row "... \`bench-zero \| dd of=/dev/null\` alone, in the guest" \
	    "$(mbps "$BULK" "$t0") MB/s ($(calc "$t0 / 1000") s)"
	t0=$("${H[@]}" -t 0 -e "bench-time head $BULK" "$GUEST") || die "bench-time head"
	row "... busybox/coreutils \`head -c /dev/zero \| wc -c\` alone, in the guest" \
	    "$(mbps "$BULK" "$t0") MB/s ($(calc "$t0 / 1000") s)"
	# Both ways at once: cat.
	t0=$EPOCHREALTIME
	got=$("${H[@]}" -t 0 -e cat "$GUEST" <"$TMP/in" | md5sum)
	t1=$EPOCHREALTIME
	[ "$got" = "$IN_MD5" ] || mismatch "cat: md5 differs"
	dt=$(ms "$t0" "$t1")
	row "host->guest->host: \`-t 0 -e cat < $BULK-byte file \| md5sum\` (both ways at once)" \
	    "$(mbps "$BULK" "$dt") MB/s each way, md5 $([ "$got" = "$IN_MD5" ] && echo ok || echo WRONG) ($(calc "$dt / 1000") s)"
	# A guest CLI call: the host's stream to the guest CLI, whose stdout
	# the guest daemon relays back (16 MB each way again).
	t0=$EPOCHREALTIME
	got=$(guest_cli -t 0 -e "stream $BULK" | wc -c)
	t1=$EPOCHREALTIME
	[ "$got" -eq "$BULK" ] || mismatch "guest CLI stream: got $got bytes"
	dt=$(ms "$t0" "$t1")
	row "$GUEST_CLI_HOW \`-t 0 -e 'stream $BULK'\` (both ways at once)" \
	    "$(mbps "$BULK" "$dt") MB/s each way ($(calc "$dt / 1000") s)"

	row "host daemon peak RSS (VmHWM, after the runs)" \
	    "$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$HOSTD_PID/status") kB"
	row "guest daemon peak RSS (VmHWM, after the runs)" "$(guest_hwm) kB"
}

# --- setups -----------------------------------------------------------

bench_emulated() {
	SETUP=emulated SEQN=50 GUEST=vm1
	local d=$TMP/emu t0
	mkdir -p "$d/chan" "$d/gport" "$d/cmds"
	ln -s "$REPO"/tests/commands.d/* "$d/cmds/"
	make_commands "$d/cmds" "$d/cmds" \
	    "$GUESTBIN --control $d/guest.sock -c $d/gport"
	local common="--commands-dir $d/cmds --builtin-dir $REPO/commands"
	H=("$HOSTBIN" --control "$d/host.sock" --channel-dir "$d/chan")
	guest_cli() { "$GUESTBIN" --control "$TMP/emu/guest.sock" -c "$TMP/emu/gport" "$@"; }
	guest_hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$GUESTD_PID/status"; }
	GUEST_CLI_HOW="guest CLI (on this machine)"

	progress "emulated: starting vserial and both daemons"
	t0=$EPOCHREALTIME
	"$REPO/tests/vserial" "$d/chan" "$d/gport" "$GUEST" --pidfile "$d/vs.pid" \
	    2>>"$d/vserial.log" &
	VS_PID=$!
	wait_until 5 test -s "$d/vs.pid" || die "vserial did not start"
	# shellcheck disable=SC2086
	"$HOSTBIN" -d --control "$d/host.sock" --channel-dir "$d/chan" $common \
	    2>>"$d/hostd.log" &
	HOSTD_PID=$!
	# shellcheck disable=SC2086
	"$GUESTBIN" -d --control "$d/guest.sock" -c "$d/gport" $common \
	    2>>"$d/guestd.log" &
	GUESTD_PID=$!
	wait_until 10 "${H[@]}" -e 'exit-with 0' "$GUEST" ||
	    { tail -n 5 "$d/hostd.log" "$d/guestd.log" >&2; die "emulated daemons not serving"; }
	wait_until 10 guest_cli -e 'exit-with 0' ||
	    { tail -n 5 "$d/hostd.log" "$d/guestd.log" >&2; die "emulated guest->host not serving"; }

	bench_setup
	table "both daemons on this machine, channels emulated by tests/vserial (in the path: one more relay process)"
	stop_all
	progress "emulated: done in $(calc "$(ms "$t0" "$EPOCHREALTIME") / 1000") s"
}

# --- the VM table -----------------------------------------------------

# median FILE: the median (nearest rank) of the numbers in FILE; "-" if
# it has none or a "-" (so that a missing figure meets no target).
median() {
	if [ ! -s "$1" ] || grep -qx -- - "$1"; then echo -; else stats "$1" | cut -d' ' -f2; fi
}
# le A B: true if A <= B (decimals).
le() { [ "$1" != - ] && [ "$2" != - ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
# ratio A B: "A/B" to two digits, or "-" when either is missing.
ratio() {
	case "$1$2" in *-*|'') echo -; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
}
# num N: N rounded for the table (3 significant digits or so).
num() {
	case $1 in -) echo -; return ;; esac
	awk -v v="$1" 'BEGIN { if (v < 1) printf "%.3f\n", v; else if (v < 100) printf "%.1f\n", v; else printf "%.0f\n", v }'
}
VROWS=
# vrow FIGURE NEG QGA FLOOR UNIT TARGET MET: one line of the table; NEG,
# QGA and FLOOR are medians in UNIT ("-" when there is none).
vrow() {
	local fig=$1 neg=$2 qga=$3 floor=$4 unit=$5 target=$6 met=$7 a b c
	a=$(num "$neg"); [ "$a" = - ] || a="$a $unit"
	b=$(num "$qga"); [ "$b" = - ] || b="$b $unit"
	c=$(num "$floor"); [ "$c" = - ] || c="$c $unit"
	VROWS+="| $fig | $a | $b | $c | $(ratio "$neg" "$qga") | $(ratio "$neg" "$floor") | $target | $met |"$'\n'
}
yesno() { if "$@"; then echo yes; else echo "**no**"; fi; }

# rate_runs N BYTES FILE CMD...: N runs of CMD (which must print BYTES,
# or the count it moved, as its first word), MB/s of each whole run into
# FILE; if CMD prints a second word, the milliseconds of its data as the
# pipe floor's are timed, MB/s by those into FILE.first.
rate_runs() {
	local n=$1 bytes=$2 f=$3 i t0 t1 got; shift 3
	: >"$f"; : >"$f.first"
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		got=$("$@") || die "$*"
		t1=$EPOCHREALTIME
		[ "${got%% *}" = "$bytes" ] || mismatch "$*: moved '${got%% *}' bytes, not $bytes"
		mbps "$bytes" "$(ms "$t0" "$t1")" >>"$f"; echo >>"$f"
		if [ "${got#* }" != "$got" ]; then
			mbps "$bytes" "${got#* }" >>"$f.first"; echo >>"$f.first"
			progress "... $1: $(tail -n 1 "$f") MB/s (its data as the floor's is timed: $(tail -n 1 "$f.first"))"
		else
			progress "... $1: $(tail -n 1 "$f") MB/s"
		fi
	done
}

# The bulk streams print "BYTES MS", MS timed as the pipe floor's are:
# out of the guest from the first byte here to the last, into it from the
# sink's start in the guest to the end of its input.
neg_g2h() { "${H[@]}" -t 0 -e "bench-zero $VM_BULK" "$GUEST" | "$TMP/firstbyte"; }
neg_h2g() { "${H[@]}" -t 0 -e bench-sink-timed "$GUEST" <"$TMP/in32"; }
qga_g2h() { "$QGA" "$d/qga.sock" out /bin/dd if=/dev/zero bs=65536 count=$((QGA_BULK / 65536)); }
qga_h2g() { "$QGA" "$d/qga.sock" in "$TMP/in4" /usr/lib/negotiator/commands/bench-sink; }

# raw_g2h FILE [pipe] / raw_h2g FILE [pipe]: 3 runs through the bare port
# (with pipe: through a pipe between two dd in the guest, the pipe floor),
# MB/s into FILE.  guest->host is timed on the host, first byte to last;
# host->guest in the guest, by the dd that reads (the host has written it
# all first).
# Each also adds to FILE.call the MB/s of the whole call that ran it,
# from its start to the last byte: the floor timed as negotiator's rows
# are (the call's and the command's start-up included).
raw_g2h() {
	local i pid out got t0
	: >"$1"; : >"$1.call"
	for i in 1 2 3; do
		"$QGA" "$d/raw.sock" raw-recv "$VM_BULK" >"$TMP/raw.out" & pid=$!
		BG="$BG $pid"
		sleep 0.2	# connected before the guest writes
		t0=$EPOCHREALTIME
		"${H[@]}" -t 0 -e "bench-raw-send $VM_BULK ${2-}" "$GUEST" || die "bench-raw-send"
		wait "$pid" || die "raw-recv"
		mbps "$VM_BULK" "$(ms "$t0" "$EPOCHREALTIME")" >>"$1.call"; echo >>"$1.call"
		BG=${BG% "$pid"}
		read -r got out <"$TMP/raw.out"
		[ "$got" = "$VM_BULK" ] || mismatch "raw guest->host: $got bytes"
		mbps "$VM_BULK" "$out" >>"$1"; echo >>"$1"
		progress "... ${FUNCNAME[0]} ${2-}: $(tail -n 1 "$1") MB/s (whole call $(tail -n 1 "$1.call"))"
	done
}
raw_h2g() {
	local i pid out t0
	: >"$1"; : >"$1.call"
	for i in 1 2 3; do
		"$QGA" "$d/raw.sock" raw-send "$VM_BULK" & pid=$!
		BG="$BG $pid"
		t0=$EPOCHREALTIME
		out=$("${H[@]}" -t 0 -e "bench-raw-recv $VM_BULK ${2-}" "$GUEST") || die "bench-raw-recv"
		mbps "$VM_BULK" "$(ms "$t0" "$EPOCHREALTIME")" >>"$1.call"; echo >>"$1.call"
		stop "$pid"; BG=${BG% "$pid"}
		mbps "$VM_BULK" "$out" >>"$1"; echo >>"$1"
		progress "... ${FUNCNAME[0]} ${2-}: $(tail -n 1 "$1") MB/s (whole call $(tail -n 1 "$1.call"))"
	done
}

# self_runs N BYTES FILE CMD...: N runs of CMD, which prints "BYTES MS"
# itself (what it moved and how long it took); MB/s of each into FILE.
self_runs() {
	local n=$1 bytes=$2 f=$3 i; shift 3
	: >"$f"
	for ((i = 0; i < n; i++)); do self_run "$bytes" "$f" "$@"; done
}
# self_run BYTES FILE CMD...: one run of self_runs, added to FILE.
self_run() {
	local bytes=$1 f=$2 got; shift 2
	got=$("$@") || die "$*"
	[ "${got%% *}" = "$bytes" ] ||
	    { mismatch "$*: moved '${got%% *}' bytes, not $bytes"; return; }
	mbps "$bytes" "${got##* }" >>"$f"; echo >>"$f"
	progress "... $1: $(tail -n 1 "$f") MB/s"
}
# The 256 MiB file each way: --copy, and qemu-ga's guest-file-write/-read
# in 4 MiB calls; and the same file as a plain -e stream each way (the
# copy rows' floors).  Each prints "BYTES MS" ("differs 0" when the file
# that came back is not the one sent).  The guest's /tmp holds one of the
# two at a time.
# into_guest CMD...: CMD moves $TMP/big to the guest's /tmp/bench-big
# (removed first), timed.
into_guest() {
	local t0
	"${H[@]}" -e bench-rm "$GUEST" || return 1
	t0=$EPOCHREALTIME
	"$@" || return 1
	echo "$COPY_BULK $(ms "$t0" "$EPOCHREALTIME")"
}
# out_of_guest CMD...: CMD brings /tmp/bench-big back to $TMP/back, timed,
# then compared with $TMP/big.
out_of_guest() {
	local t0 t1
	rm -f "$TMP/back"
	t0=$EPOCHREALTIME
	"$@" || return 1
	t1=$EPOCHREALTIME
	if cmp -s "$TMP/big" "$TMP/back"; then echo "$COPY_BULK $(ms "$t0" "$t1")"
	else echo "differs 0"; fi
}
stream_to_file() { "${H[@]}" -t 0 -e bench-to-file "$GUEST" <"$TMP/big"; }
stream_from_file() { "${H[@]}" -t 0 -e bench-from-file "$GUEST" >"$TMP/back"; }
neg_copy_h2g() { into_guest "${H[@]}" -q -t 0 --copy "$TMP/big" "$GUEST:/tmp/bench-big"; }
neg_copy_g2h() { out_of_guest "${H[@]}" -q -t 0 --copy "$GUEST:/tmp/bench-big" "$TMP/back"; }
neg_file_h2g() { into_guest stream_to_file; }
neg_file_g2h() { out_of_guest stream_from_file; }
qga_file_h2g() {
	"${H[@]}" -e bench-rm "$GUEST" || return 1
	"$QGA" "$d/qga.sock" file-write "$TMP/qbig" /tmp/bench-qga "$QGA_CHUNK"
}
qga_file_g2h() {
	local got
	rm -f "$TMP/back"
	got=$("$QGA" "$d/qga.sock" file-read /tmp/bench-qga "$TMP/back" "$QGA_CHUNK") ||
	    return 1
	if cmp -s "$TMP/qbig" "$TMP/back"; then echo "$got"; else echo "differs 0"; fi
}

# Where the time of a transfer goes: CPU of each party over one run.
# qemu_ticks: "VCPU OTHER", clock ticks of QEMU's vCPU thread ("CPU 0/TCG")
# and of its other threads (main loop, I/O: the host end of the ports).
qemu_ticks() {
	cat /proc/"$QPID"/task/*/stat 2>/dev/null |
	    sed 's/^[0-9]* (\(.*\)) /\1|/' | awk -F'|' '
	    { split($2, f, " "); n = f[12] + f[13]
	      if ($1 ~ /^CPU /) v += n; else o += n }
	    END { print v + 0, o + 0 }'
}
# guest_cpu: "BUSY TOTAL" jiffies of the guest's one vCPU (idle and
# iowait are not busy).
guest_cpu() {
	"${H[@]}" -e bench-stat "$GUEST" | awk '$1 == "cpu" {
	    for (i = 2; i <= 9; i++) t += $i; b = t - $5 - $6 }
	    $1 == "io" { io = $2 " " $3 " " $4 " " $5 }
	    END { print b, t, io }'
}
# host_io PID: "SYSCR RCHAR SYSCW WCHAR" of PID (a thread too: PID/task/TID).
host_io() {
	awk '$1 == "rchar:" { rc = $2 } $1 == "wchar:" { wc = $2 }
	    $1 == "syscr:" { sr = $2 } $1 == "syscw:" { sw = $2 }
	    END { print sr, rc, sw, wc }' "/proc/$1/io"
}
# io_text NAME SYSCR0 RCHAR0 SYSCW0 WCHAR0 SYSCR1 RCHAR1 SYSCW1 WCHAR1:
# "NAME N reads of B bytes on average, M writes of C".
io_text() {
	awk -v n="$1" -v r0="$2" -v rc0="$3" -v w0="$4" -v wc0="$5" \
	    -v r1="$6" -v rc1="$7" -v w1="$8" -v wc1="$9" 'BEGIN {
		r = r1 - r0; w = w1 - w0
		printf "%s %d reads of %.0f bytes on average, %d writes of %.0f",
		    n, r, r ? (rc1 - rc0) / r : 0, w, w ? (wc1 - wc0) / w : 0 }'
}
# child_cpu: seconds of CPU used by this shell's waited-for children.
child_cpu() {
	times | awk 'NR == 2 { for (i = 1; i <= 2; i++) {
	    split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%.2f\n", s }'
}
# where LABEL FN: one run of FN, and a line of where its time went.
WHERE=
where() {
	local label=$1 fn=$2 gb0 gt0 gb1 gt1 h0 h1 qv0 qo0 qv1 qo1 c0 c1 t0 t1
	local gio0 gio1 hio0 hio1 qio0 qio1
	read -r gb0 gt0 gio0 <<<"$(guest_cpu)"
	h0=$(cpu_ticks "$HOSTD_PID"); read -r qv0 qo0 <<<"$(qemu_ticks)"
	hio0=$(host_io "$HOSTD_PID"); qio0=$(host_io "$QPID/task/$QPID")
	c0=$(child_cpu)
	t0=$EPOCHREALTIME
	"$fn" >/dev/null || die "$fn"
	t1=$EPOCHREALTIME
	c1=$(child_cpu)
	hio1=$(host_io "$HOSTD_PID"); qio1=$(host_io "$QPID/task/$QPID")
	h1=$(cpu_ticks "$HOSTD_PID"); read -r qv1 qo1 <<<"$(qemu_ticks)"
	read -r gb1 gt1 gio1 <<<"$(guest_cpu)"
	WHERE+="- $label: $(calc "$(ms "$t0" "$t1") / 1000") s wall; guest vCPU busy $(calc "($gb1 - $gb0) * 100 / ($gt1 - $gt0)") % of its time (the rest idle, waiting for the host); host CPU: QEMU's vCPU thread $(calc "($qv1 - $qv0) / $TCK") s, QEMU's other threads $(calc "($qo1 - $qo0) / $TCK") s, host daemon $(calc "($h1 - $h0) / $TCK") s, host CLI (and wc) $(calc "$c1 - $c0") s; system calls: $(io_text "the guest daemon" $gio0 $gio1) (of which 2 + 2 of its bench-stat calls), $(io_text "the host daemon" $hio0 $hio1), $(io_text "QEMU's main thread (the ports' host end)" $qio0 $qio1)"$'\n'
}
# audit_ms FILE: the job times (ms) the host daemon's audit lines give for
# the guest's exit-with 0 calls, one a line.
audit_ms() {
	sed -n 's/.*audit: guest .* ran "exit-with" "0".*: exit 0 (\([0-9]*\) ms)$/\1/p' "$1"
}

# vm_tty_rows: issue 20's TCG figure: TTY_BULK bytes of a remote `yes`
# flooding a terminal (tests/tty-flood.py), then Ctrl-C; the time from the
# key to the death of the `yes`: host->guest until the host hears of it
# (bench-waitpid in the guest, an upper bound), guest->host from a
# terminal in the guest opening one here (the `yes` runs here); and how
# much the daemons' peak RSS grew meanwhile.  One run each way.
# key_to_death LABEL MODE-ARGS...: tests/tty-flood.py MODE-ARGS through
# TTY_BULK bytes of a --tty session into the guest; its key-to-death ms in
# KTD, or "-" and BAD=1 (the reason shown) if it printed none.
key_to_death() {
	local label=$1; shift
	KTD=$(python3 "$REPO/tests/tty-flood.py" "$@" "$TTY_BULK" \
	    "${H[@]}" --tty -e tty-shell "$GUEST" 2>"$TMP/tty.err" |
	    sed -n 's/^key_to_death_ms //p')
	[ -n "$KTD" ] || { BAD=1; KTD=-; progress "FAILED: --tty $label: $(tail -n 1 "$TMP/tty.err")"; }
}
vm_tty_rows() {
	local h0 h1 g0 g1 hg gh w t0 ths tgs
	h0=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$HOSTD_PID/status")
	g0=$("${H[@]}" -e bench-hwm "$GUEST") || die "bench-hwm"
	w="$(printf '%q ' "${H[@]}") -t 0 -e 'bench-waitpid /tmp/tty-flood.pid' $GUEST"
	t0=$EPOCHREALTIME
	key_to_death "host->guest" --watch "$w" /tmp/tty-flood.pid
	hg=$KTD ths=$(calc "$(ms "$t0" "$EPOCHREALTIME") / 1000")
	t0=$EPOCHREALTIME
	key_to_death "guest->host" \
	    --nest 'negotiator-guest --tty -e tty-shell' "$TMP/tty-flood.pid"
	gh=$KTD tgs=$(calc "$(ms "$t0" "$EPOCHREALTIME") / 1000")
	h1=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$HOSTD_PID/status")
	g1=$("${H[@]}" -e bench-hwm "$GUEST") || die "bench-hwm"
	vrow "\`--tty\` host→guest: $((TTY_BULK >> 20)) MiB of \`yes\` through a terminal in the guest, then Ctrl-C: from the key to the host hearing of its death (one run; the session took $ths s)" \
	    "$hg" - - ms "< 500 ms" "$(yesno le "$hg" 499.999)"
	vrow "... guest→host: a terminal in the guest opens one on the host, \`yes\` there: from the key to its death (one run; $tgs s)" \
	    "$gh" - - ms "< 500 ms" "$(yesno le "$gh" 499.999)"
	vrow "... the daemons' peak RSS over both floods: host daemon $h0 → $h1 kB, guest daemon $g0 → $g1 kB" \
	    - - - kB "each grows < 4096 kB" \
	    "$(yesno test "${h0:-0}" -gt 0 -a "${g0:-0}" -gt 0 -a \
	    $((${h1:-0} - ${h0:-0})) -lt 4096 -a $((${g1:-0} - ${g0:-0})) -lt 4096)"
}

# bulk_rows WAY VAR DATA WHOLE OLD BARE: the rows of one way's bulk
# stream (WAY g2h or h2g, from $TMP/WAY*, $TMP/qWAY, $TMP/pWAY*,
# $TMP/rWAY), each against the pipe floor timed alike, both targets: the
# data alone (the floor's own timing), labelled DATA, and the whole call
# (each from the CLI's start), its floor and qemu-ga's said by WHOLE; then
# our whole call against the floor's data alone (OLD: that floor), and the
# pipe floor against the bare port (BARE).  Sets VAR to our whole call's
# median, for the copy rows.
bulk_rows() {
	local way=$1 var=$2 pipe neg whole qga floor
	pipe=$(median "$TMP/p$way")
	neg=$(median "$TMP/$way.first")
	vrow "$3" "$neg" - "$pipe" MB/s "≥ 0.80 × pipe floor" \
	    "$(yesno le "$(calc "$pipe * 0.8")" "$neg")"
	whole=$(median "$TMP/$way"); qga=$(median "$TMP/q$way")
	floor=$(median "$TMP/p$way.call")
	vrow "... the same as whole calls, from the CLI's start to its end ($4)" \
	    "$whole" "$qga" "$floor" MB/s "≥ 0.80 × pipe floor" \
	    "$(yesno le "$(calc "$floor * 0.8")" "$whole")"
	vrow "... our whole call against the floor's data alone (floor: $5; the target's row until 2026-12-03)" \
	    "$whole" - "$pipe" MB/s - -
	vrow "... the pipe floor $6" "$pipe" - "$(median "$TMP/r$way")" MB/s - -
	printf -v "$var" %s "$whole"
}

bench_vm() {
	SETUP=vm GUEST=benchvm
	local d=$TMP/vm t0 tb accel neg qga floor a b c
	local cmds=$d/extra/usr/lib/negotiator/commands
	mkdir -p "$d/chan" "$cmds" "$d/extra/usr/sbin"
	make_commands "$cmds" /usr/lib/negotiator/commands negotiator-guest
	# Debian's qemu-ga, for the guest image (only the bench needs it).
	if [ ! -x /usr/sbin/qemu-ga ]; then
		[ "$(id -u)" = 0 ] || die "no /usr/sbin/qemu-ga: apt-get install qemu-guest-agent"
		progress "installing qemu-guest-agent (for the guest image)"
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-guest-agent ||
		  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-guest-agent; }
		} >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; die "cannot install qemu-guest-agent"; }
	fi
	cp /usr/sbin/qemu-ga "$d/extra/usr/sbin/"
	# hold: files of your own for the image (profiling tools, say).
	[ -z "${BENCH_EXTRA-}" ] || cp -a "$BENCH_EXTRA/." "$d/extra/"
	H=("$HOSTBIN" --control "$d/host.sock" --channel-dir "$d/chan")
	head -c "$VM_BULK" /dev/zero >"$TMP/in32"
	head -c "$QGA_BULK" /dev/zero >"$TMP/in4"
	# The timed sink (make_commands) for this host, timed from its first
	# byte to the end, as tests/qga's raw-recv times the pipe floor.
	cc -O2 -DTIMED -DFROM_FIRST_BYTE -o "$TMP/firstbyte" "$TMP/sink.c" ||
	    die "cc firstbyte"

	t0=$EPOCHREALTIME
	progress "vm: building the image"
	VM_IMAGE=$d/image "$REPO/tests/vm/mkimage.sh" "$d/image" "$d/extra" \
	    2>"$d/mkimage.log" || { cat "$d/mkimage.log" >&2; die "mkimage"; }
	progress "vm: booting"
	VM_UP=1
	# Two more ports: qemu-ga's and a bare one.  The daemons run at their
	# defaults: calls beyond 32 at once wait in the guest daemon's queue.
	# -m: the last one QEMU is given counts (vm.sh gives 512), and the
	# guest's /tmp, a tmpfs of half its RAM, must hold the 256 MiB file.
	# debug-threads: QEMU names its vCPU thread "CPU 0/TCG" (else every
	# thread is "qemu-system-x86"), for qemu_ticks.
	VM_EXTRA_QEMU_ARGS="-chardev socket,id=qga,path=$d/qga.sock,server=on,wait=off
	    -device virtserialport,bus=vs0.0,chardev=qga,name=org.qemu.guest_agent.0
	    -chardev socket,id=raw,path=$d/raw.sock,server=on,wait=off
	    -device virtserialport,bus=vs0.0,chardev=raw,name=negotiator-bench-raw.0
	    -m $VM_MEM -name $GUEST,debug-threads=on" \
	    VM_IMAGE=$d/image "$VM" start "$d" "$GUEST" "$d/chan" || die "boot VM"
	[ -S "$d/raw.sock" ] || die "vm.sh has no VM_EXTRA_QEMU_ARGS: no bare port"
	accel=$(cat "$d/accel" 2>/dev/null || echo "${NEGOTIATOR_VM_ACCEL:-?}")
	# The host daemon starts once the guest daemon holds its ports: started
	# while the guest still boots, it can end up (HEAD of 2026-11-23) in
	# sessions that restart on every call ("peer restarted").
	"$VM" wait-console "$d" "port negotiator-guest-to-host.0: opened" 120 ||
	    die "the guest daemon did not open its ports"
	"$HOSTBIN" -d --control "$d/host.sock" --channel-dir "$d/chan" \
	    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands" \
	    2>>"$d/hostd.log" &
	HOSTD_PID=$!
	wait_until 120 "${H[@]}" -e 'exit-with 0' "$GUEST" ||
	    { tail -n 20 "$d/console.log" "$d/hostd.log" >&2; die "guest not serving"; }
	tb=$(ms "$t0" "$EPOCHREALTIME")
	"${H[@]}" -t 0 -e bench-qga-start "$GUEST" &
	BG="$BG $!"
	wait_until 20 timeout 5 "$QGA" "$d/qga.sock" ping 1 ||
	    die "qemu-ga does not answer in the guest"
	"${H[@]}" -t 0 -e "call-host --enable put get" "$GUEST" >/dev/null ||
	    die "negotiator-guest --enable put get, in the guest"
	QPID=$(cat "$d/qemu.pid") || die "no qemu.pid"
	GUEST_MEM_KB=$("${H[@]}" -e bench-stat "$GUEST" | awk 'NF == 1 { print }') ||
	    die "bench-stat"
	head -c "$COPY_BULK" /dev/urandom >"$TMP/big" || die "no room for $TMP/big"
	head -c "$QGA_FILE_BULK" "$TMP/big" >"$TMP/qbig" || die "no room for $TMP/qbig"
	if [ "$MODE" = hold ]; then
		echo "host CLI: $(printf '%q ' "${H[@]}")... $GUEST"
		echo "qemu-ga: $QGA $d/qga.sock; bare port: $d/raw.sock; guest files: $TMP"
		echo "(Ctrl-C or SIGTERM stops the guest and the daemons)"
		sleep infinity & BG="$BG $!"
		wait $!
		return
	fi

	progress "vm: CLI start-up"
	time_runs 50 "$TMP/hv" "$HOSTBIN" --version
	time_runs 50 "$TMP/gv" "$GUESTBIN" --version
	neg=$(median "$TMP/hv"); floor=$(median "$TMP/gv")
	vrow "host CLI start-up, \`negotiator-host --version\` (floor: \`negotiator-guest --version\`, on the host)" \
	    "$neg" - "$floor" ms "≤ 1.5 × floor" "$(yesno le "$neg" "$(calc "$floor * 1.5")")"

	progress "vm: round trips"
	"${H[@]}" --ping "$GUEST" --count "$PINGS" >"$TMP/ping.out" 2>&1 || die "--ping"
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$TMP/ping.out" >"$TMP/ping.ms"
	"$QGA" "$d/qga.sock" ping "$PINGS" >"$TMP/qping.ms" || die "qemu-ga ping"
	neg=$(median "$TMP/ping.ms"); qga=$(median "$TMP/qping.ms")
	vrow "round trip, no fork, in-session (\`--ping\` / guest-ping)" \
	    "$neg" "$qga" - ms "< qemu-ga" "$(yesno le "$neg" "$qga")"

	progress "vm: a trivial command"
	time_runs 30 "$TMP/exec.ms" "${H[@]}" -e 'exit-with 0' "$GUEST"
	"$QGA" "$d/qga.sock" exec 30 /usr/lib/negotiator/commands/exit-with 0 \
	    >"$TMP/qexec.ms" || die "qemu-ga guest-exec"
	floor=$("${H[@]}" -t 0 -e "bench-time loop-exit 50" "$GUEST") || die "loop-exit"
	floor=$(calc "$floor / 50")
	neg=$(median "$TMP/exec.ms"); qga=$(median "$TMP/qexec.ms")
	vrow "trivial sh script host→guest: whole \`negotiator-host -e 'exit-with 0'\` / guest-exec + status polls (1 ms apart), in-session / fork+exec in a guest shell loop" \
	    "$neg" "$qga" "$floor" ms "≤ qemu-ga and ≤ floor + 5 ms" \
	    "$(yesno le "$neg" "$qga") / $(yesno le "$neg" "$(calc "$floor + 5")")"

	progress "vm: guest->host throughput"
	rate_runs 3 "$VM_BULK" "$TMP/g2h" neg_g2h
	rate_runs 3 "$QGA_BULK" "$TMP/qg2h" qga_g2h
	raw_g2h "$TMP/pg2h" pipe
	raw_g2h "$TMP/rg2h"
	bulk_rows g2h NEG_G2H \
	    "guest→host, $((VM_BULK >> 20)) MiB of stdout, the data alone: from the first byte to the last on the host (floor: the pipe floor, \`dd \| dd of=PORT\` bs=64k, timed so)" \
	    "qemu-ga: $((QGA_BULK >> 20)) MiB, captured; floor: the whole call of \`-e 'bench-raw-send N pipe'\`, its start to the host's last byte" \
	    "the pipe floor from its first byte" \
	    "guest→host itself (floor: the bare port, \`dd of=PORT\` bs=64k)"

	progress "vm: host->guest throughput"
	rate_runs 3 "$VM_BULK" "$TMP/h2g" neg_h2g
	rate_runs 3 "$QGA_BULK" "$TMP/qh2g" qga_h2g
	raw_h2g "$TMP/ph2g" pipe
	raw_h2g "$TMP/rh2g"
	bulk_rows h2g NEG_H2G \
	    "host→guest, $((VM_BULK >> 20)) MiB of stdin, the data alone: from the sink's start to the end of its input, in the guest (floor: the pipe floor, \`dd if=PORT \| dd\` bs=64k, timed so)" \
	    "qemu-ga: $((QGA_BULK >> 20)) MiB as base64 input-data; floor: the whole call of \`-e 'bench-raw-recv N pipe'\`" \
	    "the pipe floor from its reader's start" \
	    "host→guest itself (floor: the bare port, \`dd if=PORT\` bs=64k)"

	progress "vm: where the time goes (one more run each way)"
	where "host→guest, $((VM_BULK >> 20)) MiB, \`-e bench-sink\`" neg_h2g
	where "guest→host, $((VM_BULK >> 20)) MiB, \`-e bench-zero\`" neg_g2h

	progress "vm: a $((COPY_BULK >> 20)) MiB file each way"
	# Each copy run right after its floor's, three times over, so that
	# a copy and its floor meet the same state of the machine and guest
	# (run in blocks of three, their ratio into the guest moved by ±30 %
	# between runs).
	: >"$TMP/fh2g"; : >"$TMP/fg2h"; : >"$TMP/ch2g"; : >"$TMP/cg2h"
	for i in 1 2 3; do
		self_run "$COPY_BULK" "$TMP/fh2g" neg_file_h2g
		self_run "$COPY_BULK" "$TMP/ch2g" neg_copy_h2g
		self_run "$COPY_BULK" "$TMP/fg2h" neg_file_g2h
		self_run "$COPY_BULK" "$TMP/cg2h" neg_copy_g2h
	done
	self_runs 3 "$QGA_FILE_BULK" "$TMP/qch2g" qga_file_h2g
	self_runs 3 "$QGA_FILE_BULK" "$TMP/qcg2h" qga_file_g2h
	"${H[@]}" -e bench-rm "$GUEST" || die "bench-rm"
	# Two floors for a copy: the same bytes as a plain -e stream into (out
	# of) the same file in the guest's /tmp, which pays what the file
	# system costs as the copy does; and the sink stream of the rows above,
	# which pays nothing for a file.
	neg=$(median "$TMP/ch2g"); qga=$(median "$TMP/qch2g"); floor=$(median "$TMP/fh2g")
	vrow "\`negotiator-host --copy\` of a $((COPY_BULK >> 20)) MiB file host→guest into the guest's /tmp (qemu-ga: its first $((QGA_FILE_BULK >> 20)) MiB by guest-file-write, $((QGA_CHUNK >> 20)) MiB a call; floor: the same file as a plain \`-e\` stream, \`dd of=/tmp/FILE bs=64k\` in the guest; against the sink stream above, $(num "$NEG_H2G") MB/s: $(ratio "$neg" "$NEG_H2G")×)" \
	    "$neg" "$qga" "$floor" MB/s "≥ 0.90 × the same \`-e\` stream into the file; ≥ 0.90 × the sink stream; > qemu-ga" \
	    "$(yesno le "$(calc "$floor * 0.9")" "$neg") / $(yesno le "$(calc "$NEG_H2G * 0.9")" "$neg") / $(yesno le "$qga" "$neg")"
	neg=$(median "$TMP/cg2h"); qga=$(median "$TMP/qcg2h"); floor=$(median "$TMP/fg2h")
	vrow "\`negotiator-host --copy\` of the same file guest→host, compared with the original (qemu-ga: those $((QGA_FILE_BULK >> 20)) MiB by guest-file-read, $((QGA_CHUNK >> 20)) MiB a call; floor: the same file as a plain \`-e\` stream, \`dd if=/tmp/FILE bs=64k\` in the guest into a file here; against the zero stream above, $(num "$NEG_G2H") MB/s: $(ratio "$neg" "$NEG_G2H")×)" \
	    "$neg" "$qga" "$floor" MB/s "≥ 0.90 × the same \`-e\` stream out of the file; ≥ 0.90 × the zero stream; > qemu-ga" \
	    "$(yesno le "$(calc "$floor * 0.9")" "$neg") / $(yesno le "$(calc "$NEG_G2H * 0.9")" "$neg") / $(yesno le "$qga" "$neg")"

	progress "vm: the guest CLI calling the host"
	: >"$TMP/gcall.ms"; : >"$TMP/btrue.ms"; : >"$TMP/gspie.ms"
	: >"$TMP/gver.ms"; : >"$TMP/gcall0.ms"; : >"$TMP/gver0.ms"
	: >"$d/hostd.log"	# from here on, its audit lines are the calls below
	# intime WHAT N FILE: bench-time WHAT N in the guest, ms per run into FILE.
	intime() {
		local t
		t=$("${H[@]}" -t 0 -e "bench-time $1 $2" "$GUEST") || die "$1: $t"
		calc "$t / $2" >>"$3"; echo >>"$3"
	}
	for a in 1 2 3; do
		intime loop-call 20 "$TMP/gcall.ms"
		intime loop-bintrue 50 "$TMP/btrue.ms"
		intime loop-spie 50 "$TMP/gspie.ms"
		intime loop-version 20 "$TMP/gver.ms"
		# The same with the guest's ASLR off, for these loops only:
		# under TCG a program at a new address is translated anew.
		"${H[@]}" -e "bench-aslr 0" "$GUEST" || die "bench-aslr 0"
		intime loop-call 20 "$TMP/gcall0.ms"
		intime loop-version 20 "$TMP/gver0.ms"
		"${H[@]}" -e "bench-aslr 2" "$GUEST" || die "bench-aslr 2"
	done
	[ "$("${H[@]}" -e bench-aslr "$GUEST")" = 2 ] || die "the guest's ASLR is not back on"
	# The same, counted: the translation blocks QEMU makes per call (HMP
	# "info jit"), a figure the load does not change; "-" if QEMU flushed
	# its translations meanwhile.
	jit() {
		echo "info jit" | timeout 5 socat - "UNIX-CONNECT:$d/monitor.sock" 2>/dev/null |
		    tr -d '\r' | awk '$1 == "TB" && $2 == "count" { n = $3 }
			$1 == "TB" && $2 == "flush" { f = $4 }
			END { if (n == "" || f == "") exit 1; print n, f }'
	}
	# tbs WHAT N: blocks made per run over bench-time WHAT N in the guest.
	tbs() {
		local n0 f0 n1 f1
		read -r n0 f0 <<<"$(jit)" && "${H[@]}" -t 0 -e "bench-time $1 $2" "$GUEST" >/dev/null &&
		    read -r n1 f1 <<<"$(jit)" && [ -n "$n1" ] && [ "$f0" = "$f1" ] ||
		    { echo -; return; }
		echo $(( (n1 - n0) / $2 ))
	}
	TB_CALL=$(tbs loop-call 20)
	"${H[@]}" -e "bench-aslr 0" "$GUEST" || die "bench-aslr 0"
	tbs loop-call 20 >/dev/null	# the first run at the one address
	TB_CALL0=$(tbs loop-call 20)
	"${H[@]}" -e "bench-aslr 2" "$GUEST" || die "bench-aslr 2"
	"${H[@]}" -t 0 -e "call-host --ping --count $PINGS" "$GUEST" >"$TMP/gping.out" 2>&1 ||
	    die "guest --ping: $(tail -n 1 "$TMP/gping.out")"
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$TMP/gping.out" >"$TMP/gping.ms"
	audit_ms "$d/hostd.log" >"$TMP/job.ms"
	[ -s "$TMP/job.ms" ] || die "no audit lines of the guest's calls in the host daemon's log"
	[ -s "$TMP/gping.ms" ] || die "no times from the guest's --ping"
	a=$(median "$TMP/btrue.ms"); b=$(median "$TMP/job.ms"); c=$(median "$TMP/gping.ms")
	neg=$(median "$TMP/gcall.ms"); floor=$(calc "$a + $b + $c")
	vrow "guest CLI calling the host, \`negotiator-guest -e 'exit-with 0'\` in a guest shell loop (call floor: \`/bin/true\` there $(num "$a") ms + the host daemon's job time for the script $(num "$b") ms, median of $(wc -l <"$TMP/job.ms") audit lines + one guest \`--ping\` $(num "$c") ms)" \
	    "$neg" - "$floor" ms "≤ call floor + 2 ms; ≤ 2 × \`/bin/true\`" \
	    "$(yesno le "$neg" "$(calc "$floor + 2")") / $(yesno le "$neg" "$(calc "$a * 2")")"
	# Why the guest CLI is not PIE: a PIE program's start-up there (QEMU
	# 7.2's TCG translates the code of a program loaded at a random
	# address anew, each run: docs/benchmarks.md); with the guest's ASLR
	# off, the CLI's call costs the same as with it on.
	neg=$(median "$TMP/gcall0.ms")
	vrow "... the same call with the guest's ASLR off (\`randomize_va_space=0\` for that loop only; floor: the call floor)" \
	    "$neg" - "$floor" ms - -
	b=$(median "$TMP/gspie.ms")
	vrow "... a PIE program's start-up in the guest: \`int main() { return 0; }\` linked static-pie, as negotiator-guestd is and the guest CLI is not (floor: \`/bin/true\`, static busybox, not PIE)" \
	    "$b" - "$a" ms - -
	neg=$(median "$TMP/gver.ms"); c=$(median "$TMP/gver0.ms")
	vrow "... \`negotiator-guest --version\` in the guest, ASLR on (floor: the same with ASLR off, $(num "$c") ms)" \
	    "$neg" - "$c" ms - -
	vrow "... QEMU's translation blocks made per guest CLI call, ASLR on (HMP \`info jit\`; floor: the same with ASLR off, once warm)" \
	    "$TB_CALL" - "$TB_CALL0" TBs - -

	progress "vm: 50 calls of a 0.2 s command"
	: >"$TMP/par.ms"
	for a in 1 2 3; do
		b=$EPOCHREALTIME
		# A failed call is a failed run (and the bench's status), not
		# the end of the table: under heavy load on the host it was
		# "not answering (nothing heard for 5 s)".
		if seq 50 | xargs -P 50 -I{} "${H[@]}" -e bench-sleep "$GUEST" \
		    >/dev/null 2>"$TMP/par.err"; then
			ms "$b" "$EPOCHREALTIME" >>"$TMP/par.ms"; echo >>"$TMP/par.ms"
		else
			BAD=1
			progress "FAILED: run $a of 50 calls at once: $(sort "$TMP/par.err" | uniq -c | head -n 3)"
			tail -n 20 "$d/hostd.log" >&2
		fi
	done
	[ -s "$TMP/par.ms" ] || echo - >"$TMP/par.ms"
	"$QGA" "$d/qga.sock" par 50 /usr/lib/negotiator/commands/bench-sleep \
	    >"$TMP/qpar.ms" || { progress "qemu-ga par failed"; echo - >"$TMP/qpar.ms"; }
	time_runs 1 "$TMP/ser.ms" bash -c "for i in \$(seq 50); do $(printf '%q ' "${H[@]}") -e bench-sleep $GUEST || exit 1; done"
	neg=$(median "$TMP/par.ms"); qga=$(median "$TMP/qpar.ms"); floor=$(median "$TMP/ser.ms")
	vrow "50 calls of a 0.2 s command at once, whole CLI calls (qemu-ga: 50 guest-execs, then polls; floor column: the same 50 calls one after another)" \
	    "$neg" "$qga" "$floor" ms "< 1000 ms" "$(yesno le "$neg" 999.999)"

	progress "vm: --tty, $((TTY_BULK >> 20)) MiB through a terminal each way, then Ctrl-C"
	vm_tty_rows

	echo
	echo "### One TCG guest, four ports ($accel, -smp 1 -m $VM_MEM, the guest sees $GUEST_MEM_KB kB; image build + boot to the first call $(calc "$tb / 1000") s)"
	echo
	echo "| figure | negotiator | qemu-ga | bare port / floor | negotiator ÷ qemu-ga | negotiator ÷ bare/floor | target | met |"
	echo "|---|---|---|---|---|---|---|---|"
	printf "%s" "$VROWS"
	echo
	echo "Medians: CLI start-up of 50 runs, round trips of $PINGS, trivial commands of 30, throughput and files of 3 runs (MB = 10^6 bytes/s, wall clock of the whole CLI call for negotiator and of the whole guest-exec or file transfer for qemu-ga), the guest CLI call of 3 loops of 20 (its floor's parts of 3 × 50, 60 and $PINGS; with ASLR off, 3 × 20; start-up rows 3 × 50 and 3 × 20), 50-call figures of 3 runs (qemu-ga and the serial run: 1)."
	echo
	echo "Where the time goes (CPU of each party over one more run; the host has $(nproc) CPUs, shared with whatever else runs):"
	echo
	printf "%s" "$WHERE"
	stop_all
	progress "vm: done in $(calc "$(ms "$t0" "$EPOCHREALTIME") / 1000") s"
}

# --- main -------------------------------------------------------------

seq 1 9000000 | head -c "$BULK" >"$TMP/in"
IN_MD5=$(md5sum <"$TMP/in")
command -v cc >/dev/null || die "cc is needed (for the bench-true command)"

echo "## negotiator benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), negotiator $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $(command -v qemu-system-x86_64 >/dev/null && qemu-system-x86_64 --version | head -n 1); qemu-ga: $(/usr/sbin/qemu-ga --version 2>/dev/null | head -n 1)"
echo "- MB = 10^6 bytes; times are wall clock of whole CLI invocations unless said otherwise"

# tty_rows: issue 20's figure, the time from a Ctrl-C typed into a remote
# terminal flooded with 64 MiB to the death of the remote process, each
# way, on emulated channels (tests/tty-bench.sh; target under 100 ms).
tty_rows() {
	local out
	progress "tty: 64 MiB through a remote terminal, then Ctrl-C"
	if out=$(bash "$REPO/tests/tty-bench.sh"); then
		echo
		echo "--tty on emulated channels (tests/tty-bench.sh):"
		echo
		printf '%s\n' "$out" | sed 's/^/- /'
	else
		echo "FAILED: tests/tty-bench.sh measured nothing"
		BAD=$((BAD + 1))
	fi
}

case $MODE in
emulated) bench_emulated; tty_rows ;;
vm)       bench_vm; tty_rows ;;
hold)     bench_vm ;;
all)      bench_emulated; bench_vm; tty_rows ;;
esac

echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on a busy machine the figures are noisy)."
[ "$BAD" -eq 0 ] || die "some transfers came back wrong or calls failed (see MISMATCH and FAILED above)"
