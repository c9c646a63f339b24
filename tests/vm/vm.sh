#!/usr/bin/env bash
# vm.sh: boot and control one negotiator test VM (QEMU, KVM if usable, else TCG).
#
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
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "vm.sh: $*" >&2; exit 1; }
usage() { die "usage: vm.sh start STATE_DIR GUEST CHANDIR | wait-console STATE_DIR PATTERN TIMEOUT_S | stop STATE_DIR | console STATE_DIR"; }

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

cmd_start() {
	[ $# = 3 ] || usage
	local state=$1 guest=$2 chandir=$3 image=${VM_IMAGE:-} accel=tcg
	need qemu-system-x86_64 qemu-system-x86
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
	local kernel=$image/vmlinuz
	[ -r "$image/vmlinux" ] && kernel=$image/vmlinux	# PVH boot: much faster
	[ -w /dev/kvm ] && accel=kvm
	rm -f "$h2g" "$g2h" "$state/monitor.sock" "$state/qemu.pid" "$state/console.log"
	qemu-system-x86_64 -machine q35,accel=$accel -m 512 -smp 1 \
	    -nodefaults -display none -no-reboot -daemonize \
	    -pidfile "$state/qemu.pid" \
	    -serial "file:$state/console.log" \
	    -monitor "unix:$state/monitor.sock,server=on,wait=off" \
	    -kernel "$kernel" -initrd "$image/initrd.img" \
	    -append "console=ttyS0 quiet panic=-1 ${VM_APPEND:-}" \
	    -device virtio-serial-pci,id=vs0 \
	    -chardev "socket,id=h2g,path=$h2g,server=on,wait=off" \
	    -device virtserialport,bus=vs0.0,chardev=h2g,name=negotiator-host-to-guest.0 \
	    -chardev "socket,id=g2h,path=$g2h,server=on,wait=off" \
	    -device virtserialport,bus=vs0.0,chardev=g2h,name=negotiator-guest-to-host.0 \
	    >"$state/qemu.log" 2>&1 || { cat "$state/qemu.log" >&2; die "qemu failed to start"; }
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
start)        shift; cmd_start "$@" ;;
wait-console) shift; cmd_wait_console "$@" ;;
stop)         shift; cmd_stop "$@" ;;
console)      [ $# = 2 ] || usage; cat "$2/console.log" ;;
*)            usage ;;
esac
