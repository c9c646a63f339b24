#!/bin/bash
# The libvirt suite: the host daemon and CLI finding guests through libvirt.
# Starts libvirtd (and virtlogd) if they do not run, boots two transient
# TCG domains whose names share their first 20 characters (libvirt's channel
# directory cuts names to 20), with the two channels declared without a
# path, and checks that both are found by their full names, that each call
# reaches the right guest, in direct mode and through the daemon, and that a
# destroyed domain disappears.  Needs root; fails loudly (never skips) if
# libvirt cannot be installed or started.  Stops what it started.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin

ALPHA=negotiator-libvirt-test-alpha
BRAVO=negotiator-libvirt-test-bravo
HOSTBIN=$REPO/negotiator-host
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-lv.XXXXXX") || exit 1
chmod 755 "$TMP"	# QEMU runs as libvirt-qemu and reads the image here
H="$HOSTBIN --control $TMP/host.sock"
VIRSH="virsh -q -c qemu:///system"
HOSTD_PID= LIBVIRTD_PID= VIRTLOGD_PID=

cleanup() {
	local d
	trap '' INT TERM HUP
	stop_pid "$HOSTD_PID"
	for d in "$ALPHA" "$BRAVO"; do timeout 20 $VIRSH destroy "$d" >/dev/null 2>&1; done
	if [ "$FAILED" -gt 0 ]; then
		echo "--- host daemon log (tail)"; tail -n 30 "$TMP/hostd.log" 2>/dev/null
		for d in "$ALPHA" "$BRAVO"; do
			echo "--- console of $d (tail)"; tail -n 15 "$TMP/$d.console" 2>/dev/null
		done
		echo "--- libvirtd log (tail)"; tail -n 15 "$TMP/libvirtd.log" 2>/dev/null
	fi
	stop_pid "$LIBVIRTD_PID" 10
	stop_pid "$VIRTLOGD_PID"
	kill_children
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt
die() { fail "$*"; finish; exit 1; }

[ "$(id -u)" = 0 ] || die "libvirt suite needs root"

# libvirt itself, the way DESIGN.md says it runs here.
pkgs="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	{ apt-get install -y -q --no-install-recommends $missing ||
	  { apt-get update -q && apt-get install -y -q --no-install-recommends $missing; }; } \
	    >"$TMP/apt.log" 2>&1 || { tail -n 20 "$TMP/apt.log"; die "install$missing"; }
fi
# Debian's QEMU driver runs QEMU as libvirt-qemu:libvirt-qemu.
for g in kvm libvirt-qemu; do
	getent group "$g" >/dev/null || groupadd -r "$g" || die "create group $g"
done
id libvirt-qemu >/dev/null 2>&1 ||
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt \
	-s /usr/sbin/nologin libvirt-qemu || die "create user libvirt-qemu"
mkdir -p /var/log/libvirt /var/lib/libvirt/qemu /var/cache/libvirt
if ! pgrep -x virtlogd >/dev/null; then
	virtlogd >>"$TMP/virtlogd.log" 2>&1 &
	VIRTLOGD_PID=$!
fi
if ! pgrep -x libvirtd >/dev/null; then
	libvirtd >>"$TMP/libvirtd.log" 2>&1 &
	LIBVIRTD_PID=$!
fi
# libvirt_up: 0 once libvirtd answers; gives up early if ours died.
libvirt_up() {
	local i
	for i in $(seq 100); do
		virsh -r -c qemu:///system list >/dev/null 2>&1 && return 0
		[ -z "$LIBVIRTD_PID" ] || kill -0 "$LIBVIRTD_PID" 2>/dev/null ||
		    return 1
		sleep 0.2
	done
	return 1
}
check "libvirtd answers on qemu:///system" libvirt_up
[ "$FAILED" = 0 ] || die "libvirtd does not start"

"$REPO/tests/vm/mkimage.sh" "$TMP/image" >/dev/null || die "build image"
KERNEL=$TMP/image/vmlinuz
[ -r "$TMP/image/vmlinux" ] && KERNEL=$TMP/image/vmlinux	# PVH: faster
chmod -R a+rX "$TMP/image"

# domain_xml NAME: a transient TCG domain with the two channels, no path.
domain_xml() {
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$TMP/image/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='$TMP/$1.console'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='negotiator-host-to-guest.0'/>
    </channel>
    <channel type='unix'>
      <target type='virtio' name='negotiator-guest-to-host.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
for d in "$ALPHA" "$BRAVO"; do
	domain_xml "$d" >"$TMP/$d.xml"
	$VIRSH create "$TMP/$d.xml" >"$TMP/$d.create.log" 2>&1 ||
	    { cat "$TMP/$d.create.log"; die "virsh create $d"; }
done
ok "two domains started"
# Both directories are domain-<id>-negotiator-libvirt-t: only libvirt can
# tell the guests apart.
check "channel directory shows only the cut names" test "$(ls /var/lib/libvirt/qemu/channel/target |
    grep -c -- '-negotiator-libvirt-t$')" -ge 2

guests() { $H -g | sort | tr '\n' ' '; }
lists_both() { guests | grep -qx -- "$(printf '%s\n' "$ALPHA" "$BRAVO" | sort | tr '\n' ' ')"; }
serving() { $H -e 'exit-with 0' "$1"; }

# Direct mode: no daemon, the CLI asks libvirt and opens the channel itself.
check "direct -g lists both full names" lists_both
check "direct: $ALPHA boots and serves" wait_until 120 serving "$ALPHA"
check "direct: $BRAVO boots and serves" wait_until 60 serving "$BRAVO"
check "direct -e echo-args on $ALPHA" \
    test "$($H -e 'echo-args hi alpha' "$ALPHA")" = "[hi][alpha]"
check "direct -e echo-args on $BRAVO" \
    test "$($H -e 'echo-args hi bravo' "$BRAVO")" = "[hi][bravo]"

# The daemon, on the default channel discovery (libvirt and the directory).
"$HOSTBIN" -d -v --control "$TMP/host.sock" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands" \
    2>>"$TMP/hostd.log" &
HOSTD_PID=$!
check "host daemon up" wait_until 5 test -S "$TMP/host.sock"
check "daemon -g lists both full names" wait_until 5 lists_both
check "daemon: both guests connected" wait_until 10 sh -c \
    "$H -g -v | grep -c '	connected\$' | grep -qx 2"
for d in "$ALPHA" "$BRAVO"; do
	check "daemon -e echo-args on $d" \
	    test "$($H -e "echo-args via daemon" "$d")" = "[via][daemon]"
	check "$d calls back: NEGOTIATOR_GUEST is the full name" \
	    test "$($H -e 'call-host -e env-guest' "$d")" = "$d"
done
check "no duplicate from the cut directory names" \
    test "$($H -g | wc -l)" -eq 2

$VIRSH destroy "$ALPHA" >/dev/null 2>&1
check "destroyed $ALPHA leaves -g within 5 s" \
    wait_until 5 sh -c "! $H -g | grep -qx -- '$ALPHA'"
check "$BRAVO still listed" sh -c "$H -g | grep -qx -- '$BRAVO'"
check "$BRAVO still answers, as itself" \
    test "$($H -e 'call-host -e env-guest' "$BRAVO")" = "$BRAVO"
check "daemon logged no libvirt failure" \
    sh -c "! grep 'libvirt:' '$TMP/hostd.log' | grep -qv 'connected to'"

# libvirtd gone (only if we started it): the directory is the fallback, and
# the daemon reconnects once libvirtd is back (it retries every 5 s).
if [ -n "$LIBVIRTD_PID" ]; then
	stop_pid "$LIBVIRTD_PID" 10
	CUT=${BRAVO:0:20}
	check "libvirtd stopped: direct -g falls back on the directory" \
	    test "$($HOSTBIN --control "$TMP/none.sock" -g 2>&1)" = "$CUT"
	check "libvirtd stopped: the daemon falls back on the directory" \
	    wait_until 5 sh -c "$H -g | grep -qx -- '$CUT'"
	libvirtd >>"$TMP/libvirtd.log" 2>&1 &
	LIBVIRTD_PID=$!
	check "libvirtd back: the daemon lists $BRAVO again" \
	    wait_until 15 sh -c "$H -g | grep -qx -- '$BRAVO'"
	check "$BRAVO answers as itself again" wait_until 10 sh -c \
	    "test \"\$($H -e 'call-host -e env-guest' '$BRAVO')\" = '$BRAVO'"
fi

finish
