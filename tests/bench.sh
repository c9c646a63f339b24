#!/bin/bash
# tests/bench.sh [emulated|vm|all]   (default: all)
#
# Performance figures, not pass/fail: for each setup, a Markdown table
# (setup | metric | value) on stdout, ready to paste into the README;
# progress goes to stderr.  Setups:
#   emulated  both daemons on this machine, joined by tests/vserial (as in
#             tests/integration.sh), on private sockets in a temp dir
#   vm        negotiator-guest in a throw-away Linux guest under QEMU (KVM
#             if /dev/kvm is usable, else TCG), the host daemon on this
#             machine (as in tests/vm/vmtest.sh)
# Measured: --ping round trips; wall time of whole CLI invocations
# (sequential and 10 in parallel); throughput each way; the daemons' peak
# RSS.  The guest also gets a few bench-only commands (bench-*, generated
# into the temp dir, nothing in the repo changes) so that some costs can
# be timed inside the guest, without the CLI round trip.
# Exits non-zero if a setup step fails or a transfer comes back wrong.
# Needs the binaries built (make all); the VM part needs what
# tests/vm/vmtest.sh needs.  Takes about 35 s (vm, TCG) + 5 s (emulated).
set -u
export LC_ALL=C
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

MODE=${1:-all}
case $MODE in
emulated|vm|all) ;;
*) echo "usage: tests/bench.sh [emulated|vm|all]" >&2; exit 2 ;;
esac

HOSTBIN=$REPO/negotiator-host
GUESTBIN=$REPO/negotiator-guest
VM=$REPO/tests/vm/vm.sh
BULK=16000000			# bytes per throughput run
PINGS=200
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-bench.XXXXXX") || exit 1
VS_PID='' HOSTD_PID='' GUESTD_PID='' VM_UP='' BAD=0

progress() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
stop_all() {
	stop "$HOSTD_PID"; stop "$GUESTD_PID"; stop "$VS_PID"
	HOSTD_PID='' GUESTD_PID='' VS_PID=''
	if [ -n "$VM_UP" ]; then "$VM" stop "$TMP/vm" >/dev/null 2>&1; VM_UP=; fi
}
cleanup() { stop_all; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in "$HOSTBIN" "$GUESTBIN" "$REPO/tests/vserial"; do [ -x "$b" ] ||
    die "$b missing: run 'make all' first"; done
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
	cat >"$dir/bench-hwm" <<-'EOF'
	#!/bin/sh
	# bench: VmHWM (kB) of the daemon that runs this command.
	exec awk '$1 == "VmHWM:" { print $2 }' /proc/$PPID/status
	EOF
	# A cheap sink and source: dd with big blocks (busybox's wc -c and
	# head -c cost far more CPU per byte, and CPU is scarce under TCG).
	cat >"$dir/bench-sink" <<-'EOF'
	#!/bin/sh
	# bench: reads stdin, prints its length in bytes.
	# (busybox dd does not print the byte count: a tmpfs file in the guest.)
	f=$(mktemp) || exit 1
	dd of="$f" bs=65536 2>/dev/null && stat -c %s "$f"
	rm -f "$f"
	EOF
	cat >"$dir/bench-zero" <<-'EOF'
	#!/bin/sh
	# bench: writes $1 zero bytes ($1 a multiple of 64000), in 64000-byte
	# blocks.
	exec dd if=/dev/zero bs=64000 count=$(($1 / 64000)) 2>/dev/null
	EOF
	cat >"$dir/bench-time" <<-EOF
	#!/bin/sh
	# bench: times, inside this machine, WHAT N and prints the milliseconds.
	#   loop-exit N     N x exit-with 0 (fork+exec of /bin/sh + tiny script)
	#   loop-true N     N x bench-true (fork+exec of a tiny C binary)
	#   loop-dyn N      N x bench-true-dyn (the same, dynamically linked)
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

# seq_row LABEL N CMD...: N sequential whole invocations of CMD, row of
# mean and median ms per call.
seq_row() {
	local label=$1 n=$2 i t0 t1; shift 2
	: >"$TMP/seq.ms"
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>"$TMP/seq.err" || die "$label: $(cat "$TMP/seq.err")"
		t1=$EPOCHREALTIME
		ms "$t0" "$t1" >>"$TMP/seq.ms"; echo >>"$TMP/seq.ms"
	done
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
	row "guest->host stdout: \`-t 0 -e 'bench-zero $BULK' \| wc -c\` (dd from /dev/zero, 64000-byte blocks)" \
	    "$(mbps "$BULK" "$dt") MB/s ($(calc "$dt / 1000") s)"
	# host->guest only.
	t0=$EPOCHREALTIME
	got=$("${H[@]}" -t 0 -e bench-sink "$GUEST" <"$TMP/in")
	t1=$EPOCHREALTIME
	[ "$got" = "$BULK" ] || mismatch "bench-sink: got '$got' bytes"
	dt=$(ms "$t0" "$t1")
	row "host->guest stdin: \`-t 0 -e bench-sink < 16 MB file\` (dd to /dev/null, prints the count)" \
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
	row "host->guest->host: \`-t 0 -e cat < 16 MB file \| md5sum\` (16 MB each way at once)" \
	    "$(mbps "$BULK" "$dt") MB/s each way, md5 $([ "$got" = "$IN_MD5" ] && echo ok || echo WRONG) ($(calc "$dt / 1000") s)"
	# A guest CLI call: the host's stream to the guest CLI, whose stdout
	# the guest daemon relays back (16 MB each way again).
	t0=$EPOCHREALTIME
	got=$(guest_cli -t 0 -e "stream $BULK" | wc -c)
	t1=$EPOCHREALTIME
	[ "$got" -eq "$BULK" ] || mismatch "guest CLI stream: got $got bytes"
	dt=$(ms "$t0" "$t1")
	row "$GUEST_CLI_HOW \`-t 0 -e 'stream $BULK'\` (16 MB each way at once)" \
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

bench_vm() {
	SETUP=vm SEQN=20 GUEST=benchvm
	local d=$TMP/vm t0 tb
	mkdir -p "$d/chan" "$d/extra/usr/lib/negotiator/commands"
	make_commands "$d/extra/usr/lib/negotiator/commands" \
	    /usr/lib/negotiator/commands negotiator-guest
	H=("$HOSTBIN" --control "$d/host.sock" --channel-dir "$d/chan")
	# negotiator-guest ARGS run inside the guest (the call-host command).
	guest_cli() {
		local a q=
		for a in "$@"; do q="$q '${a//\'/\'\\\'\'}'"; done
		"${H[@]}" -t 0 -e "call-host$q" "$GUEST"
	}
	guest_hwm() { "${H[@]}" -e bench-hwm "$GUEST"; }
	GUEST_CLI_HOW="guest CLI in the guest (call-host), its stdout relayed back:"

	t0=$EPOCHREALTIME
	progress "vm: building the image"
	VM_IMAGE=$d/image "$REPO/tests/vm/mkimage.sh" "$d/image" "$d/extra" \
	    2>"$d/mkimage.log" || { cat "$d/mkimage.log" >&2; die "mkimage"; }
	progress "vm: booting ($ACCEL)"
	VM_UP=1
	VM_IMAGE=$d/image "$VM" start "$d" "$GUEST" "$d/chan" || die "boot VM"
	"$HOSTBIN" -d --control "$d/host.sock" --channel-dir "$d/chan" \
	    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands" \
	    2>>"$d/hostd.log" &
	HOSTD_PID=$!
	wait_until 120 "${H[@]}" -e 'exit-with 0' "$GUEST" ||
	    { tail -n 20 "$d/console.log" "$d/hostd.log" >&2; die "guest not serving"; }
	tb=$(ms "$t0" "$EPOCHREALTIME")

	bench_setup
	row "image build + boot to the first call" "$(calc "$tb / 1000") s"
	table "negotiator-guest in a Linux guest under QEMU ($ACCEL, -smp 1 -m 512), host daemon on this machine"
	stop_all
	progress "vm: done in $(calc "$(ms "$t0" "$EPOCHREALTIME") / 1000") s"
}

# --- main -------------------------------------------------------------

seq 1 9000000 | head -c "$BULK" >"$TMP/in"
IN_MD5=$(md5sum <"$TMP/in")
if [ -w /dev/kvm ]; then ACCEL=KVM; else ACCEL=TCG; fi
command -v cc >/dev/null || die "cc is needed (for the bench-true command)"

echo "## negotiator benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), negotiator $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo ' (with uncommitted changes)')"
echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), Linux $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- VM accelerator: $ACCEL$( [ "$ACCEL" = TCG ] && echo ' (no usable /dev/kvm: every guest instruction is emulated)')$(command -v qemu-system-x86_64 >/dev/null && echo ", $(qemu-system-x86_64 --version | head -n 1)")"
echo "- MB = 10^6 bytes; bulk runs move $BULK bytes; times are wall clock of whole CLI invocations unless said otherwise"

case $MODE in
emulated) bench_emulated ;;
vm)       bench_vm ;;
all)      bench_emulated; bench_vm ;;
esac

if [ "$MODE" != emulated ]; then
	cat <<-'EOF'

	### For comparison (from DESIGN, not measured here): qemu-ga 7.2 in the same kind of TCG guest

	| setup | metric | value |
	|---|---|---|
	| qemu-ga | guest-ping round trip | ≈ 0.5 ms |
	| qemu-ga | guest-exec of /bin/true | ≈ 8–11 ms |
	| qemu-ga | 16 MB of command output | ≈ 19 s (0.8 MB/s) |
	| raw virtio-serial | guest->host / host->guest | ≈ 15 MB/s / 11 MB/s |

	negotiator's CLI figures include starting the CLI process (see the
	`negotiator-host --version` row); its ping figures are in-session.
	EOF
fi
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on a busy machine the figures are noisy)."
[ "$BAD" -eq 0 ] || die "some transfers came back wrong (see MISMATCH above)"
