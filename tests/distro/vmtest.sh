#!/bin/bash
# vmtest.sh BASEDIR DEBDIR: boots the Debian 12 system of BASEDIR (mkbase.sh:
# systemd, udev, journald, its own kernel and initramfs) under QEMU, on a
# copy-on-write overlay, with the two virtio-serial ports of DESIGN.md.  On
# first boot the guest installs DEBDIR's negotiator-common and
# negotiator-guest packages from a payload disk, with the systemd running;
# the package enables and starts the unit.  The host side is this tree's
# ./negotiator-host daemon on the QEMU sockets.  Checks the unit, udev's
# /dev/virtio-ports links, the built-ins on real data, exit codes, calls
# both ways, the journal's priorities, a command that restarts its own
# daemon, `systemctl kill`, and a reboot.
#
# TCG unless NEGOTIATOR_VM_ACCEL=kvm (some machines' /dev/kvm never gets a
# guest to init).  Every wait is bounded; QEMU, the host daemon and the
# temporary files go on exit, interrupted or not.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/tests/lib.sh"
[ $# -eq 2 ] || { echo "usage: vmtest.sh BASEDIR DEBDIR" >&2; exit 2; }
BASE=$(cd "$1" && pwd)
DEBS=$(cd "$2" && pwd)
G=deb12
ACCEL=${NEGOTIATOR_VM_ACCEL:-tcg}
T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-distro.XXXXXX") || exit 1
HOSTD_PID=
cleanup() {
	trap '' INT TERM HUP
	local pid
	pid=$(cat "$T/qemu.pid" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		wait_until 5 sh -c "! kill -0 $pid" || kill -9 "$pid"
	fi
	if [ -n "$HOSTD_PID" ]; then
		kill "$HOSTD_PID" 2>/dev/null
		wait "$HOSTD_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
START=$SECONDS
elapsed() { echo $((SECONDS - START)); }

# gx ARGS...: negotiator-host ARGS... against the guest, through our daemon.
gx() { "$REPO/negotiator-host" --control "$T/host.sock" "$@" "$G"; }
# grun CMD: CMD's output in the guest, run by the test command t-run.
grun() { gx -t 60 -e "t-run $1"; }
# detached CMD: runs CMD in the guest a second after this call returned,
# in a transient unit outside negotiator-guest's own.
detached() { grun "systemd-run --quiet --on-active=1 $1"; }
answers() { gx -t 10 -e 't-run true' >/dev/null 2>&1; }
unit_prop() { grun "systemctl show -p $1 --value negotiator-guest"; }

# The payload disk: the packages, and the test's own guest commands.
mkdir -p "$T/payload/commands" "$T/chan" "$T/hostcmds"
cp "$DEBS"/negotiator-common_*.deb "$DEBS"/negotiator-guest_*.deb "$T/payload/" ||
    { echo "vmtest.sh: no packages in $DEBS; run make deb" >&2; exit 1; }
printf '#!/bin/sh\n# t-run: the test runs anything through it.\nexec "$@"\n' \
    >"$T/payload/commands/t-run"
# As negotiator-commands(7) recommends.
printf '#!/bin/sh\nexec systemd-run --quiet --on-active=2 systemctl restart negotiator-guest\n' \
    >"$T/payload/commands/restart-agent"
chmod 755 "$T/payload/commands/"*
truncate -s 64M "$T/payload.img"
mkfs.ext4 -q -L negotiator-test -d "$T/payload" "$T/payload.img" || exit 1
qemu-img create -q -f qcow2 -F raw -b "$BASE/rootfs.img" "$T/root.qcow2" || exit 1
printf '#!/bin/sh\nprintf "%%s\\n" "$NEGOTIATOR_GUEST"\n' >"$T/hostcmds/whoami-guest"
chmod 755 "$T/hostcmds/whoami-guest"

"$REPO/negotiator-host" -d -v --channel-dir "$T/chan" --control "$T/host.sock" \
    --commands-dir "$T/hostcmds" 2>"$T/host.log" &
HOSTD_PID=$!
qemu-system-x86_64 -machine "q35,accel=$ACCEL" -m 1024 -smp 1 \
    -nodefaults -display none -daemonize -pidfile "$T/qemu.pid" \
    -serial "file:$T/console.log" \
    -kernel "$BASE/vmlinuz" -initrd "$BASE/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.journald.forward_to_console=1" \
    -drive "file=$T/root.qcow2,if=virtio,format=qcow2" \
    -drive "file=$T/payload.img,if=virtio,format=raw,readonly=on" \
    -nic user,model=virtio-net-pci -device virtio-rng-pci \
    -device virtio-serial-pci,id=vs0 \
    -chardev "socket,id=h2g,path=$T/chan/$G.negotiator-host-to-guest.0,server=on,wait=off" \
    -device virtserialport,bus=vs0.0,chardev=h2g,name=negotiator-host-to-guest.0 \
    -chardev "socket,id=g2h,path=$T/chan/$G.negotiator-guest-to-host.0,server=on,wait=off" \
    -device virtserialport,bus=vs0.0,chardev=g2h,name=negotiator-guest-to-host.0 \
    >"$T/qemu.log" 2>&1
check "QEMU starts ($ACCEL)" test $? -eq 0 || { cat "$T/qemu.log"; exit 1; }

# First boot: systemd, then the payload installed, the daemon started.
if ! check "first boot: the packaged daemon answers" wait_until 300 answers; then
	tail -n 40 "$T/console.log"; cat "$T/host.log"; exit 1
fi
echo "    (first boot and install: $(elapsed) s)"

# The unit, as the package left it.
check "negotiator-guest.service enabled" test "$(grun 'systemctl is-enabled negotiator-guest')" = enabled
check "negotiator-guest.service active" test "$(grun 'systemctl is-active negotiator-guest')" = active
check "the unit is the package's" test "$(unit_prop FragmentPath)" = /lib/systemd/system/negotiator-guest.service
check "/usr/lib/negotiator/commands belongs to the package" grep -q negotiator-guest \
    <(grun 'dpkg -S /usr/lib/negotiator/commands')

# udev's links, to the ports the daemon opened.
for p in negotiator-host-to-guest.0 negotiator-guest-to-host.0; do
	node=$(grun "readlink -f /dev/virtio-ports/$p")
	check "udev link /dev/virtio-ports/$p -> $node" grep -qx '/dev/vport[0-9]*p[0-9]*' <<<"$node"
	check "the daemon opened $node for $p" grep -qF "port $p: opened $node" \
	    <(grun 'journalctl -u negotiator-guest -o cat')
done

# The built-ins, on the guest's own data.
check "lsb-release-id: Debian" test "$(gx -e lsb-release-id)" = Debian
check "lsb-release-codename: bookworm" test "$(gx -e lsb-release-codename)" = bookworm
check "lsb-release-number: 12" test "$(gx -e lsb-release-number)" = 12
check "disk-usage: the root file system, its size and use" awk \
    '$1 == "/dev/vda" && $2 == "/" && $3 > 1000000000 && $4 > 100000000 { ok = 1 } END { exit !ok }' \
    <(gx -e disk-usage)
check "ip-addresses: the DHCP address" wait_until 30 sh -c \
    "'$REPO/negotiator-host' --control '$T/host.sock' -e ip-addresses $G | grep -qx '10.0.2.15/24'"
check "memory: about 1 GB" awk '$1 == "mem_total_kb" && $2 > 800000 && $2 < 1048576 { ok = 1 } END { exit !ok }' \
    <(gx -e memory)

# Exit codes, and a call from the guest to the host.
expect_status 7 "a command's own exit status" gx -e "t-run sh -c 'exit 7'"
expect_status 127 "no such command" gx -e no-such-command
expect_status 124 "timeout" gx -t 1 -e 't-run sleep 30'
check "guest -> host: the host command sees the guest's name" test \
    "$(grun 'negotiator-guest -e whoami-guest')" = "$G"

# The journal: priorities from the "<N>" prefixes, no program name twice.
journal() { grun "journalctl -u negotiator-guest -o cat $1"; }
check "the journal has the daemon's info lines" grep -q 'exit 7 (' <(journal '-p info')
# lacks PATTERN TEXT: TEXT has no line matching PATTERN.
lacks() { ! grep -q -- "$1" <<<"$2"; }
check "an info line is not a warning" lacks 'exit 7 (' "$(journal '-p warning')"
check "no line repeats the program name" lacks '^negotiator-guest:' "$(journal '')"
check "no priority prefix is left in the text" lacks '^<[0-7]>' "$(journal '')"
# A warning: the daemon restarted while something else holds a port.
detached "sh -c 'systemctl stop negotiator-guest;
    exec 3<>/dev/virtio-ports/negotiator-guest-to-host.0;
    systemctl start negotiator-guest; sleep 4'" >/dev/null
check "journalctl -p warning shows the daemon's warning (port busy)" wait_until 60 \
    sh -c "'$REPO/negotiator-host' --control '$T/host.sock' -t 20 -e \
    't-run journalctl -u negotiator-guest -p warning -o cat' $G | grep -q 'busy'"
check "the daemon takes the port once it is free" wait_until 60 \
    sh -c "test \"\$('$REPO/negotiator-host' --control '$T/host.sock' -t 20 -e \
    't-run negotiator-guest -e whoami-guest' $G)\" = $G"

# A command that restarts its own daemon (negotiator-commands(7)).
# newpid OLD: the daemon runs, with another pid than OLD.
newpid() {
	local now
	now=$(unit_prop MainPID) && [ -n "$now" ] && [ "$now" != 0 ] &&
	    [ "$now" != "$1" ]
}
oldpid=$(unit_prop MainPID)
expect_status 0 "restart-agent returns its own status" gx -e restart-agent
check "... and the daemon was restarted (pid $oldpid before)" wait_until 60 newpid "$oldpid"

# systemctl kill: Restart=always brings the daemon back.
restarts=$(unit_prop NRestarts)
oldpid=$(unit_prop MainPID)
detached 'systemctl kill -s KILL negotiator-guest' >/dev/null
t0=$SECONDS
check "systemctl kill -s KILL: the daemon is back" wait_until 60 newpid "$oldpid"
echo "    (back and answering after $((SECONDS - t0)) s)"
check "... restarted by systemd (NRestarts $restarts -> $(unit_prop NRestarts))" \
    test "$(unit_prop NRestarts)" -eq $((restarts + 1))

# A reboot: the unit starts at boot, the host daemon reconnects by itself.
boot=$(grun 'cat /proc/sys/kernel/random/boot_id')
detached 'systemctl reboot' >/dev/null
t0=$SECONDS
rebooted() {
	local now
	now=$(grun 'cat /proc/sys/kernel/random/boot_id') && [ -n "$now" ] &&
	    [ "$now" != "$1" ]
}
check "guest reboot: the daemon answers again" wait_until 240 rebooted "$boot"
echo "    (reboot: $((SECONDS - t0)) s)"
check "after the reboot the unit is active" test "$(grun 'systemctl is-active negotiator-guest')" = active
check "after the reboot guest -> host works" test \
    "$(grun 'negotiator-guest -e whoami-guest')" = "$G"

echo "    (distro VM test: $(elapsed) s)"
[ "$FAILED" -gt 0 ] && { echo "--- console tail"; tail -n 30 "$T/console.log"; echo "--- host log tail"; tail -n 20 "$T/host.log"; }
finish
