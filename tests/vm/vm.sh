#!/usr/bin/env bash
# vm.sh: boot and control one negotiator test VM (QEMU, KVM if it is shown to
# work, else TCG).
#
#   vm.sh accel [IMAGE_DIR]
#       Prints the accelerator to use, "kvm" or "tcg", on stdout, and one
#       line on stderr saying which and why.  $NEGOTIATOR_VM_ACCEL (kvm or
#       tcg) forces one.  Otherwise KVM is chosen only when a probe boot of
#       the test image (IMAGE_DIR, $VM_IMAGE, or one built into a temporary
#       directory) under KVM reaches /init within $NEGOTIATOR_KVM_PROBE_S
#       seconds (default 8); a /dev/kvm that exists but does not boot a
#       guest in that time (nested or half-working KVM) means TCG.  The
#       probe leaves no process or file behind.
#   vm.sh start STATE_DIR GUEST_NAME CHANDIR
#       Boots the image in $VM_IMAGE (a mkimage.sh OUT_DIR; if unset, one is
#       built into STATE_DIR/image first) in the background and returns as
#       soon as QEMU is up, without waiting for the guest.  On success:
#       STATE_DIR/qemu.pid holds QEMU's pid, STATE_DIR/console.log receives
#       the serial console, STATE_DIR/monitor.sock is the HMP monitor, and the
#       listening sockets CHANDIR/GUEST_NAME.negotiator-host-to-guest.0 and
#       CHANDIR/GUEST_NAME.negotiator-guest-to-host.0 exist (virtio-serial
#       ports of the same names in the guest).  Kernel command line:
#       "console=ttyS0 quiet panic=-1 $VM_APPEND".  QEMU's own messages go
#       to STATE_DIR/qemu.log.  Fails if a VM already runs in STATE_DIR.
#       The accelerator is $NEGOTIATOR_VM_ACCEL, else the one recorded in
#       STATE_DIR/accel by an earlier start, else what `vm.sh accel` picks
#       (then recorded).  QEMU is given $VM_START_S seconds (default 30) to
#       come up, else killed.
#       $VM_EXTRA_QEMU_ARGS, split on blanks, is added to QEMU's arguments.
#   vm.sh wait-console STATE_DIR PATTERN TIMEOUT_S
#       Returns 0 once console.log contains PATTERN (fixed string); fails,
#       printing the console's tail, on timeout or if QEMU has exited.
#   vm.sh stop STATE_DIR
#       Quits QEMU (monitor "quit", SIGKILL after 5 s) and returns once the
#       process is gone (or only a zombie awaiting its reaper, PID 1).
#       Deletes only qemu.pid.  A clean quit makes QEMU unlink its own
#       sockets; after SIGKILL they stay (start replaces them).
#   vm.sh console STATE_DIR
#       Prints console.log.
# $NEGOTIATOR_QEMU names the QEMU binary (default qemu-system-x86_64) and
# $NEGOTIATOR_KVM_DEV the KVM device (default /dev/kvm): the harness test
# puts a QEMU that never boots under KVM there.
set -euo pipefail

QEMU=${NEGOTIATOR_QEMU:-qemu-system-x86_64}
KVM_DEV=${NEGOTIATOR_KVM_DEV:-/dev/kvm}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "vm.sh: $*" >&2; exit 1; }
usage() { die "usage: vm.sh accel [IMAGE_DIR] | start STATE_DIR GUEST CHANDIR | wait-console STATE_DIR PATTERN TIMEOUT_S | stop STATE_DIR | console STATE_DIR"; }

# need CMD PKG: make sure CMD exists, installing PKG as root if it does not.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || die "'$1' is missing; install $2"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2 ||
	    { apt-get update -q >&2 &&
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >&2; } ||
	    die "cannot install $2"
}

# running STATE_DIR: true if the VM's QEMU process is alive (not a zombie).
running() {
	local pid
	pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null &&
	    ! grep -q '^[^)]*) Z' "/proc/$pid/stat" 2>/dev/null
}

# kernel_of IMAGE_DIR: the kernel to boot (the PVH ELF image when present:
# it skips the BIOS and the self-decompression, about 3 s under TCG).
kernel_of() {
	if [ -r "$1/vmlinux" ]; then echo "$1/vmlinux"; else echo "$1/vmlinuz"; fi
}

# probe_kvm IMAGE_DIR SECONDS: 0 when the image, booted under KVM, prints
# the probe line of init.sh within SECONDS; QEMU is killed either way.
probe_kvm() {
	local image=$1 limit=$2 dir pid rc=1 deadline
	dir=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-kvmprobe.XXXXXX")
	"$QEMU" -machine q35,accel=kvm -m 256 -smp 1 -nodefaults \
	    -display none -no-reboot -serial "file:$dir/console.log" \
	    -kernel "$(kernel_of "$image")" -initrd "$image/initrd.img" \
	    -append "console=ttyS0 quiet panic=-1 negotiator.probe=1" \
	    </dev/null >"$dir/qemu.log" 2>&1 &
	pid=$!
	deadline=$((SECONDS + limit))
	# The probe guest powers off once it has printed its line.
	until grep -qF 'init: probe' "$dir/console.log" 2>/dev/null && rc=0; do
		[ $SECONDS -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null ||
		    break
		sleep 0.1
	done
	grep -qF 'init: probe' "$dir/console.log" 2>/dev/null && rc=0
	kill -KILL "$pid" 2>/dev/null || true
	# The QEMU may be a wrapper: take its children too.
	pkill -KILL -f -- "$dir/console.log" 2>/dev/null || true
	{ wait "$pid"; } 2>/dev/null || true
	rm -rf "$dir"
	return $rc
}

# choose_accel IMAGE_DIR: see "vm.sh accel".
choose_accel() {
	local image=$1 limit=${NEGOTIATOR_KVM_PROBE_S:-8}
	case ${NEGOTIATOR_VM_ACCEL:-} in
	kvm|tcg)
		echo "vm.sh: accelerator $NEGOTIATOR_VM_ACCEL (forced by NEGOTIATOR_VM_ACCEL)" >&2
		echo "$NEGOTIATOR_VM_ACCEL"; return ;;
	'')	;;
	*)	die "NEGOTIATOR_VM_ACCEL must be kvm or tcg, not '$NEGOTIATOR_VM_ACCEL'" ;;
	esac
	if [ ! -w "$KVM_DEV" ]; then
		echo "vm.sh: accelerator tcg (no writable $KVM_DEV)" >&2
		echo tcg
	elif probe_kvm "$image" "$limit"; then
		echo "vm.sh: accelerator kvm (a probe guest reached /init under KVM within $limit s)" >&2
		echo kvm
	else
		echo "vm.sh: accelerator tcg ($KVM_DEV exists, but a probe guest did not reach /init under KVM within $limit s)" >&2
		echo tcg
	fi
}

cmd_accel() {
	[ $# -le 1 ] || usage
	local image=${1:-${VM_IMAGE:-}} tmp=
	need "$QEMU" qemu-system-x86
	if [ -z "$image" ] && [ -z "${NEGOTIATOR_VM_ACCEL:-}" ] && [ -w "$KVM_DEV" ]; then
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-accel.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		image=$tmp/image
		"$HERE/mkimage.sh" "$image" 2>/dev/null || die "cannot build the probe image"
	fi
	choose_accel "$image"
}

cmd_start() {
	[ $# = 3 ] || usage
	local state=$1 guest=$2 chandir=$3 image=${VM_IMAGE:-} accel
	need "$QEMU" qemu-system-x86
	mkdir -p "$state" "$chandir"
	state=$(cd "$state" && pwd); chandir=$(cd "$chandir" && pwd)
	! running "$state" || die "a VM already runs in $state"
	local h2g=$chandir/$guest.negotiator-host-to-guest.0
	local g2h=$chandir/$guest.negotiator-guest-to-host.0
	for s in "$h2g" "$g2h" "$state/monitor.sock"; do
		[ ${#s} -lt 108 ] || die "socket path too long (max 107): $s"
	done
	if [ -z "$image" ]; then
		image=$state/image
		"$HERE/mkimage.sh" "$image"
	fi
	[ -r "$image/vmlinuz" ] && [ -r "$image/initrd.img" ] || die "no image in $image"
	if [ -n "${NEGOTIATOR_VM_ACCEL:-}" ]; then
		accel=$(choose_accel "$image")
	elif [ -s "$state/accel" ]; then
		accel=$(cat "$state/accel")
	else
		accel=$(choose_accel "$image")
		echo "$accel" >"$state/accel"
	fi
	rm -f "$h2g" "$g2h" "$state/monitor.sock" "$state/qemu.pid" "$state/console.log"
	timeout -k 2 "${VM_START_S:-30}" "$QEMU" -machine q35,accel=$accel -m 512 -smp 1 \
	    -nodefaults -display none -no-reboot -daemonize \
	    -pidfile "$state/qemu.pid" \
	    -serial "file:$state/console.log" \
	    -monitor "unix:$state/monitor.sock,server=on,wait=off" \
	    -kernel "$(kernel_of "$image")" -initrd "$image/initrd.img" \
	    -append "console=ttyS0 quiet panic=-1 ${VM_APPEND:-}" \
	    -device virtio-serial-pci,id=vs0 \
	    -chardev "socket,id=h2g,path=$h2g,server=on,wait=off" \
	    -device virtserialport,bus=vs0.0,chardev=h2g,name=negotiator-host-to-guest.0 \
	    -chardev "socket,id=g2h,path=$g2h,server=on,wait=off" \
	    -device virtserialport,bus=vs0.0,chardev=g2h,name=negotiator-guest-to-host.0 \
	    ${VM_EXTRA_QEMU_ARGS:-} \
	    </dev/null >"$state/qemu.log" 2>&1 ||
	    { cat "$state/qemu.log" >&2; die "qemu failed to start within ${VM_START_S:-30} s (accel=$accel)"; }
	# -daemonize returns after the chardevs are set up; check anyway.
	[ -S "$h2g" ] && [ -S "$g2h" ] && running "$state" ||
	    { cat "$state/qemu.log" >&2; die "qemu is not running with its sockets"; }
}

cmd_wait_console() {
	[ $# = 3 ] || usage
	local state=$1 pattern=$2 deadline=$((SECONDS + $3))
	until grep -qF -- "$pattern" "$state/console.log" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ] || ! running "$state"; then
			echo "vm.sh: '$pattern' not on the console after $3 s" \
			    "($(running "$state" && echo running || echo 'qemu exited')); console tail:" >&2
			tail -n 40 "$state/console.log" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.2
	done
}

cmd_stop() {
	[ $# = 1 ] || usage
	local state=$1
	running "$state" || { rm -f "$state/qemu.pid"; return 0; }
	local pid; pid=$(cat "$state/qemu.pid")
	need socat socat
	echo quit | timeout 2 socat - "UNIX-CONNECT:$state/monitor.sock" >/dev/null 2>&1 || true
	for _ in $(seq 50); do running "$state" || break; sleep 0.1; done
	if running "$state"; then
		kill -9 "$pid" 2>/dev/null || true
		for _ in $(seq 50); do running "$state" || break; sleep 0.1; done
		! running "$state" || die "qemu $pid does not die"
	fi
	rm -f "$state/qemu.pid"
}

[ $# -ge 1 ] || usage
case $1 in
accel)        shift; cmd_accel "$@" ;;
start)        shift; cmd_start "$@" ;;
wait-console) shift; cmd_wait_console "$@" ;;
stop)         shift; cmd_stop "$@" ;;
console)      [ $# = 2 ] || usage; cat "$2/console.log" ;;
*)            usage ;;
esac
