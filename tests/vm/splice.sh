#!/bin/bash
# splice.sh KERNEL...: is splice(2) from a pipe into a virtio-serial port
# byte-exact on these guest kernels?  Each KERNEL is "host" (the newest
# /boot/vmlinuz-* with its /lib/modules), a tests/distro/mkbase.sh cache
# directory (its vmlinuz, the modules taken out of its rootfs.img with
# debugfs), or a directory a linux-image .deb was unpacked into
# (dpkg-deb -x: boot/vmlinuz-*, lib/modules or usr/lib/modules).  For each, it boots a busybox initramfs under QEMU (vm.sh: TCG
# unless KVM is shown to work) whose /init runs `splicetest send` into the
# port negotiator-guest-to-host.0, while `splicetest check` reads QEMU's end
# with pauses and checks every byte (tests/vm/splicetest.c says how).
# Checks per kernel: the host got every byte exact, the guest saw no splice
# that took bytes from the pipe without reporting them, and the guest
# kernel logged no soft lockup, BUG or WARNING.  $SPLICE_PHASES (default
# one,whole,small,nonblock: what is correct, see common/channel.h) names
# splicetest's phases, $SPLICE_MIB (default 4) their size.  Leaves nothing
# behind.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-splice.XXXXXX") || exit 1
VM=$REPO/tests/vm/vm.sh
MIB=${SPLICE_MIB:-4}
PHASES=${SPLICE_PHASES:-one,whole,small,nonblock}
TOTAL=0
for p in ${PHASES//,/ }; do
	case $p in
	one|whole|cut|nonblock) TOTAL=$((TOTAL + MIB * 1024 * 1024)) ;;
	small) TOTAL=$((TOTAL + MIB * 1024 * 1024 / 4)) ;;
	*) echo "splice.sh: unknown phase $p" >&2; exit 2 ;;
	esac
done
CHECKER=
cleanup() {
	trap '' INT TERM HUP
	[ -z "$CHECKER" ] || stop_pid "$CHECKER"
	"$VM" stop "$TMP/vm" >/dev/null 2>&1
	kill_children
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt
[ $# -ge 1 ] || { echo "usage: splice.sh host|MKBASE_DIR..." >&2; exit 2; }

cc -D_GNU_SOURCE -O2 -Wall -Wextra -static -o "$TMP/splicetest" \
    "$REPO/tests/vm/splicetest.c" || { fail "build splicetest"; finish; exit 1; }
need busybox busybox-static && need cpio cpio && need debugfs e2fsprogs &&
    need modprobe kmod || { fail "busybox, cpio, debugfs, kmod"; finish; exit 1; }

# modules KERNEL ROOT: the virtio modules (decompressed) and their insmod
# order into ROOT/lib/modules; prints the kernel version.
modules() {
	local k=$1 root=$2 kver dep ko name
	mkdir -p "$root/lib/modules" "$TMP/mods"
	if [ "$k" = host ]; then
		kver=$(ls /boot/vmlinuz-* | sort -V | tail -n 1)
		kver=${kver##*/vmlinuz-}
		cp "/boot/vmlinuz-$kver" "$TMP/vmlinuz"
		dep=/lib/modules/$kver/modules.dep
		cp "$dep" "$TMP/modules.dep"
		get() { cat "/lib/modules/$kver/$1"; }
	elif [ ! -e "$k/rootfs.img" ]; then
		kver=$(ls "$k"/boot/vmlinuz-* | sort -V | tail -n 1)
		kver=${kver##*/vmlinuz-}
		cp "$k/boot/vmlinuz-$kver" "$TMP/vmlinuz"
		local mdir=$k/lib/modules/$kver
		[ -d "$mdir" ] || mdir=$k/usr/lib/modules/$kver
		# An unpacked package has no modules.dep: depmod makes one.
		depmod -b "${mdir%/lib/modules/*}" "$kver" || return 1
		cp "$mdir/modules.dep" "$TMP/modules.dep"
		MDIR=$mdir
		get() { cat "$MDIR/$1"; }
	else
		kver=$(debugfs -R 'ls -p /usr/lib/modules' "$k/rootfs.img" \
		    2>/dev/null | awk -F/ '$6 ~ /^[0-9]/ { print $6 }' | sort -V | tail -n 1)
		[ -n "$kver" ] || return 1
		cp "$k/vmlinuz" "$TMP/vmlinuz"
		debugfs -R "cat /usr/lib/modules/$kver/modules.dep" \
		    "$k/rootfs.img" >"$TMP/modules.dep" 2>/dev/null
		get() { debugfs -R "cat /usr/lib/modules/$kver/$1" \
		    "$k/rootfs.img" 2>/dev/null; }
	fi
	# modules.dep lists a module's dependencies, the deepest last.
	for ko in $(awk -F': *' '$1 ~ /\/virtio_(pci|console)\.ko/ {
	    n = split($2, d, " "); for (i = n; i >= 1; i--) print d[i]; print $1 }' \
	    "$TMP/modules.dep" | awk '!seen[$0]++'); do
		name=${ko##*/}; name=${name%%.ko*}
		get "$ko" >"$TMP/mods/$name.raw" || return 1
		case $ko in
		*.xz)  xz -dc ;; *.zst) zstd -qdc ;; *.gz) gzip -dc ;; *) cat ;;
		esac <"$TMP/mods/$name.raw" >"$root/lib/modules/$name.ko" || return 1
		echo "$name" >>"$root/lib/modules/load-order"
	done
	touch "$root/lib/modules/load-order"
	# Debian's 6.12 has virtio_pci and virtio_console built in.
	grep -qx virtio_console "$root/lib/modules/load-order" ||
	    get modules.builtin | grep -q '/virtio_console\.ko$' || return 1
	echo "$kver"
}

# image KERNEL: the initramfs and kernel in $TMP/image; prints the version.
image() {
	local root=$TMP/root kver
	rm -rf "$root" "$TMP/mods" "$TMP/image"
	mkdir -p "$root"/{bin,dev,proc,sys,usr/bin} "$TMP/image"
	kver=$(modules "$1" "$root") || return 1
	cp -L "$(command -v busybox)" "$root/bin/busybox"
	for a in sh mount insmod cat grep dmesg poweroff sleep; do
		ln -s busybox "$root/bin/$a"
	done
	cp "$TMP/splicetest" "$root/usr/bin/splicetest"
	cat >"$root/init" <<-EOF
	#!/bin/sh
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	for m in \$(cat /lib/modules/load-order); do
		[ -d /sys/module/\$m ] || insmod /lib/modules/\$m.ko
	done
	echo "init: splicetest starting"
	splicetest send negotiator-guest-to-host.0 $MIB $PHASES &
	pid=\$!
	while kill -0 \$pid 2>/dev/null; do
		sleep 10
		echo "init: wchan \$(cat /proc/\$pid/wchan) \$(cat /proc/\$pid/stack 2>/dev/null | head -5 | tr '\\n' ' ')"
	done
	wait \$pid
	echo "init: splicetest exit \$?"
	dmesg | grep -E 'soft lockup|BUG:|WARNING:|Call Trace' | sed 's/^/dmesg: /'
	echo "init: done"
	poweroff -f
	EOF
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) |
	    gzip -1 >"$TMP/image/initrd.img"
	cp "$TMP/vmlinuz" "$TMP/image/vmlinuz"
	echo "$kver"
}

run_kernel() {
	local k=$1 kver t0 rc chan=$TMP/chan
	kver=$(image "$k") || { fail "$k: a kernel with virtio_console modules"; return; }
	rm -rf "$TMP/vm" "$chan"
	VM_IMAGE=$TMP/image "$VM" start "$TMP/vm" st "$chan" ||
	    { fail "$kver: start QEMU"; return; }
	t0=$(date +%s)
	# The guest's splices block until the checker connects (a checker
	# that connects while the guest boots is not always seen as the host
	# end opening: the port stays closed for the guest).
	"$VM" wait-console "$TMP/vm" "init: splicetest starting" 120 ||
	    { fail "$kver: guest reached /init within 120 s"; return; }
	"$TMP/splicetest" check "$chan/st.negotiator-guest-to-host.0" "$TOTAL" \
	    >"$TMP/check.out" 2>&1 &
	CHECKER=$!
	reap 240 "$CHECKER"; rc=$?
	CHECKER=
	"$VM" wait-console "$TMP/vm" "init: done" 60 >/dev/null 2>&1
	sed -n 's/^\(init\|splicetest\|dmesg\)/# &/p' "$TMP/vm/console.log"
	echo "# $kver: $(cat "$TMP/check.out") ($(( $(date +%s) - t0 )) s)"
	check "$kver: splice into the port ($PHASES), $TOTAL bytes exact on the host" \
	    test "$rc" -eq 0
	check "$kver: no splice took bytes from the pipe without reporting them" \
	    grep -q 'splicetest exit 0' "$TMP/vm/console.log"
	check "$kver: no soft lockup, BUG or WARNING in the guest kernel" \
	    eval "! grep -q -E 'soft lockup|BUG:|WARNING:' '$TMP/vm/console.log'"
	[ "$rc" -eq 0 ] || tail_on_failure 20 "QEMU's log" "$TMP/vm/qemu.log" \
	    "guest console" "$TMP/vm/console.log"
	"$VM" stop "$TMP/vm" >/dev/null 2>&1
}

for k in "$@"; do
	run_kernel "$k"
done
finish
