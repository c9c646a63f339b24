#!/bin/bash
# lvtest.sh DEBDIR HOSTBASE SUITE:BASEDIR...: the user journey of the
# README's Install section, under a real libvirtd (started as
# tests/libvirt.sh starts it, if none runs).
#
# The host package is installed with apt into a scratch root (HOSTBASE's
# minbase.tar, Debian 12), not on this machine: installing it here would
# put /etc/negotiator/host.conf where every developer build in every
# checkout reads it (SYSCONFDIR=/etc), and this machine runs no systemd
# to start the unit anyway.  There, systemctl.sh stands in for systemctl
# (with /run/systemd/system present), so the package's own maintainer
# scripts start its daemon as the unit says (/usr/bin/negotiator-host -d,
# as root) on install, restart it on upgrade and stop it on removal;
# libvirt's socket and /var/lib/libvirt are bound into the root in a mount
# namespace of its own, and the user libvirt-qemu is there as
# libvirt-daemon-system would have made it.
#
# Each SUITE (bookworm, trixie; one is enough, to try a change) boots one
# guest from domain XML, the system of BASEDIR (mkbase.sh) on a
# copy-on-write overlay, TCG, defined WITHOUT our channels and with
# qemu-guest-agent's, through which the test acts inside the guest (the
# image's own first-boot installer is masked).  The guests run in
# parallel; per guest, in order:
#   1. boot (no network: the guest has no NIC, its networkd is masked, as
#      is e2scrub_reap, 6 minutes of a TCG boot under load);
#      apt-get install ./negotiator-common_….deb
#      ./negotiator-guest_….deb from a payload disk; the daemon runs idle
#      (no ports: its CPU time over 10 s is bounded);
#   2. negotiator-host --attach: the first answer comes without a reboot
#      (within ATTACH_BOUND s);
#   3. calls both ways, exit codes;
#   4. a newer build of negotiator-guest installed while a call runs: the
#      daemon restarts, the call ends with 125, the next call answers
#      within 5 s of apt-get's return, no command of the old daemon is left;
#   5. virsh reboot: the daemon answers again;
#   6. virsh shutdown (the guest agent's, then ACPI's power button, which
#      needs <acpi/> in the domain: without it QEMU has no ACPI, the
#      guest's kernel cannot power the machine off and halts it, and the
#      domain stays "running"), virsh start: a cold boot with the channels
#      in the domain's definition connects;
# then, with every guest that got this far:
#   7. a newer build of negotiator-host installed in the scratch root while
#      a call runs each way with each guest: the postinst restarts the
#      daemon, the calls end with 125, the next call answers within 5 s
#      of apt-get's return, no command of either side is left;
#   8. apt-get purge in each guest: nothing of the packages is left (file,
#      link, unit, socket, process; the user's own command in
#      /usr/lib/negotiator/commands stays, as documented), and whatever
#      is left is printed; then the same in the scratch root.
# Prints the time of each part.  Every wait is bounded; guests, daemons
# and files go on exit, interrupted or not.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/tests/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
[ $# -ge 3 ] || { echo "usage: lvtest.sh DEBDIR HOSTBASE SUITE:BASEDIR..." >&2; exit 2; }
DEBS=$(cd "$1" && pwd)
HOSTBASE=$2
shift 2
CACHE=${NEGOTIATOR_TEST_CACHE:-/var/cache/negotiator-test}
ATTACH_BOUND=10		# s from --attach to the first answer (~1 s measured)
# CPU ticks (1/100 s) an idle guest daemon may use in 10 s.
IDLE_BOUND=3	# measured 0 on Debian 12 and 13 since the daemon waits for
		# its ports on uevents; 24-30 with its old two looks a second
# s a boot may take, to the first answer: TCG on a 2-core machine at load
# 10-18 took 416-759 s to start qemu-guest-agent.
BOOT_BOUND=1200
# s from virsh shutdown to "shut off".
SHUTDOWN_BOUND=300
T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-lvtest.XXXXXX") || exit 1
chmod 755 "$T"	# QEMU runs as libvirt-qemu and opens the disks here
R=$T/hostroot
DOMS= LIBVIRTD_PID= VIRTLOGD_PID= LEFT=
START=$SECONDS
# hostd_pid: the host daemon's pid, as the systemctl stand-in started it.
hostd_pid() { cat "$R/run/lvtest/negotiator-host.service.pid" 2>/dev/null; }
# stop_foreign SECONDS PID...: SIGTERM to each PID (not this shell's
# child), then SIGKILL to what is left of them and their descendants past
# SECONDS.
stop_foreign() {
	local limit=$1 p='' n; shift
	for p; do is_pid "$p" && kill -TERM "$p" 2>/dev/null; done
	for n in $(seq $((limit * 10))); do
		for p; do is_pid "$p" && alive "$p" && break; p=; done
		[ -n "$p" ] || return 0
		sleep 0.1
	done
	for p; do is_pid "$p" && kill_tree "$p"; done
}

cleanup() {
	local d
	trap '' INT TERM HUP
	for d in $DOMS; do
		timeout 20 $VIRSH destroy "$d" >/dev/null 2>&1
		timeout 20 $VIRSH undefine "$d" >/dev/null 2>&1
	done
	# The host daemon, and what a failed check found left behind.
	stop_foreign 10 $(hostd_pid) $LEFT
	if [ -n "$LIBVIRTD_PID" ]; then
		VIRTLOGD_PID=$(pgrep -P "$LIBVIRTD_PID" -x virtlogd)
		[ -z "$VIRTLOGD_PID" ] || kill -TERM "$VIRTLOGD_PID"
		stop_pid "$LIBVIRTD_PID" 10
	fi
	kill_children
	rm -rf --one-file-system "$T"
}
trap cleanup EXIT
on_interrupt
die() { fail "$*"; finish; exit 1; }
# part NAME T0: prints the time since T0, and keeps it for the summary.
part() { echo "time - $1: $(( SECONDS - $2 )) s" | tee -a "$T/times"; }

[ "$(id -u)" = 0 ] || die "lvtest.sh needs root"
for c in jq virsh libvirtd virtlogd qemu-img mkfs.ext4 dpkg-deb unshare nsenter; do
	command -v "$c" >/dev/null || die "$c is missing"
done
for sb in "$@"; do
	[ -f "${sb#*:}/rootfs.img" ] || die "no ${sb#*:}/rootfs.img (mkbase.sh ${sb%%:*})"
done
COMMON=$(ls "$DEBS"/negotiator-common_*_all.deb) &&
    GUESTDEB=$(ls "$DEBS"/negotiator-guest_*_amd64.deb) &&
    HOSTDEB=$(ls "$DEBS"/negotiator-host_*_amd64.deb) ||
    die "no packages in $DEBS; run make deb"
VERSION=$(dpkg-deb -f "$GUESTDEB" Version)
NEWER=$VERSION+t1

# --- libvirtd, of its own -------------------------------------------------
# libvirtd and virtlogd as tests/libvirt.sh starts them, but in a mount
# namespace of their own, with /run, /var/lib/libvirt, /var/cache/libvirt
# and /var/log/libvirt fresh tmpfs: other suites on this machine boot
# guests with our channels under the machine's libvirtd, and a host daemon
# serves every guest its libvirt shows it, so each side would take the
# other's guests.  virsh, the host daemon and QEMU run in that namespace.
t0=$SECONDS
libvirt_users
unshare --mount --propagation private sh -c '
    for d in /run /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
	mkdir -p "$d" && mount -t tmpfs -o mode=755 tmpfs "$d" || exit 1
    done
    mkdir -p /run/libvirt /var/lib/libvirt/qemu &&
    chown libvirt-qemu:libvirt-qemu /var/lib/libvirt/qemu &&
    chmod 751 /var/lib/libvirt/qemu || exit 1
    virtlogd >>"$0/virtlogd.log" 2>&1 &
    exec libvirtd >>"$0/libvirtd.log" 2>&1' "$T" &
LIBVIRTD_PID=$!
# in_ns CMD...: CMD in libvirtd's mount namespace.
in_ns() { nsenter --mount="/proc/$LIBVIRTD_PID/ns/mnt" -- "$@"; }
VIRSH="nsenter --mount=/proc/$LIBVIRTD_PID/ns/mnt -- virsh -q -c qemu:///system"
# ours_up: libvirtd answers, in a namespace that is not this one.
ours_up() {
	[ "$(readlink "/proc/$LIBVIRTD_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
	    in_ns virsh -r -c qemu:///system list
}
check "our libvirtd answers on qemu:///system, in its own namespace" \
    wait_until 30 ours_up
[ "$FAILED" = 0 ] || { cat "$T/libvirtd.log"; die "libvirtd does not start"; }

# --- the host package, in a scratch root ---------------------------------
mkdir "$R"
tar -C "$R" --numeric-owner -xf "$HOSTBASE/minbase.tar" || die "unpack minbase"
cp /etc/resolv.conf "$R/etc/resolv.conf"
mkdir -p "$CACHE/apt-archives" "$R/tmp/debs" "$R/run/libvirt" \
    "$R/var/lib/libvirt" "$R/run/systemd/system" "$R/usr/local/sbin"
install -m 755 "$HERE/systemctl.sh" "$R/usr/local/sbin/systemctl"
# apt runs dpkg with PATH=DPkg::Path, /usr/sbin:/usr/bin:/sbin:/bin by
# default; deb-systemd-invoke looks for systemctl in it.
echo 'DPkg::Path "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";' \
    >"$R/etc/apt/apt.conf.d/99lvtest"
cp "$COMMON" "$HOSTDEB" "$R/tmp/debs/"
# A newer build of the host package: the same files, a higher version.
dpkg-deb -R "$HOSTDEB" "$T/hostnewer" &&
    sed -i "s/^Version: .*/Version: $NEWER/" "$T/hostnewer/DEBIAN/control" &&
    dpkg-deb --root-owner-group -b "$T/hostnewer" \
    "$R/tmp/negotiator-host_${NEWER}_amd64.deb" >/dev/null ||
    die "a newer build of negotiator-host"
cp "$CACHE"/apt-archives/*.deb "$R/var/cache/apt/archives/" 2>/dev/null
getent passwd libvirt-qemu >>"$R/etc/passwd"
getent group libvirt-qemu >>"$R/etc/group"
# in_host CMD...: CMD in the scratch root, which sees libvirt's socket and
# channel directory; the mounts live as long as CMD, in its own namespace.
in_host() {
	in_ns unshare --mount --fork sh -c 'mount -t proc proc "$0/proc" &&
	    mount --bind /run/libvirt "$0/run/libvirt" &&
	    mount --bind /var/lib/libvirt "$0/var/lib/libvirt" &&
	    exec chroot "$0" "$@"' "$R" env -i \
	    PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
	    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}
in_host sh -c 'apt-get update -q && cd /tmp/debs &&
    apt-get install -y -q --no-install-recommends ./*.deb' >"$T/hostapt.log" 2>&1
check "host: apt-get install ./negotiator-common_….deb ./negotiator-host_….deb (scratch root)" \
    test $? -eq 0
[ "$FAILED" -eq 0 ] || { tail -n 20 "$T/hostapt.log"; die "host package"; }
cp -n "$R"/var/cache/apt/archives/*.deb "$CACHE/apt-archives/" 2>/dev/null
check "host: the unit is ordered after libvirtd" grep -qx \
    'After=libvirtd.service virtqemud.service' "$R/lib/systemd/system/negotiator-host.service"
check "host: the unit is enabled" test -L \
    "$R/etc/systemd/system/multi-user.target.wants/negotiator-host.service"
check "host: the postinst started the unit" \
    grep -q ' start negotiator-host.service$' "$R/run/lvtest/systemctl.log"
for c in whoami-guest t-run; do
	case $c in
	whoami-guest) printf '#!/bin/sh\nprintf "%%s\\n" "$NEGOTIATOR_GUEST"\n' ;;
	t-run) printf '#!/bin/sh\n# t-run: the test runs anything through it.\nexec "$@"\n' ;;
	esac >"$R/usr/lib/negotiator/commands/$c"
	chmod 755 "$R/usr/lib/negotiator/commands/$c"
done
check "host: the packaged daemon's control socket appears" wait_until 30 \
    test -S "$R/run/negotiator/host.sock"
# root_pid PID: PID is a process of root's.
root_pid() { is_pid "$1" && [ "$(stat -c %u "/proc/$1")" = 0 ]; }
check "host: the daemon runs as root (pid $(hostd_pid))" root_pid "$(hostd_pid)"
part "libvirtd and the host package" "$t0"

# hx ARGS...: the packaged CLI, in the scratch root.
hx() { in_host /usr/bin/negotiator-host "$@"; }

# ga DOM SECONDS CMD: sh -c CMD in guest DOM through qemu-guest-agent;
# prints its stdout, returns its status (254 past SECONDS, 255 no agent).
ga() {
	local dom=$1 limit=$2 out pid st deadline
	out=$($VIRSH qemu-agent-command "$dom" --timeout 10 "$(jq -nc --arg c "$3" \
	    '{execute: "guest-exec", arguments: {path: "/bin/sh",
	    arg: ["-c", $c], "capture-output": true}}')" 2>/dev/null) || return 255
	pid=$(jq -r .return.pid <<<"$out")
	deadline=$((SECONDS + limit))
	while [ "$SECONDS" -le "$deadline" ]; do
		st=$($VIRSH qemu-agent-command "$dom" --timeout 10 \
		    "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}" \
		    2>/dev/null) || return 255
		if [ "$(jq -r .return.exited <<<"$st")" = true ]; then
			jq -r '.return["out-data"] // ""' <<<"$st" | base64 -d
			jq -r '.return["err-data"] // ""' <<<"$st" | base64 -d >&2
			return "$(jq -r '.return.exitcode // 255' <<<"$st")"
		fi
		sleep 0.5
	done
	return 254
}
agent_up() { $VIRSH qemu-agent-command "$1" --timeout 5 '{"execute":"guest-ping"}'; }

# journey SUITE:BASEDIR: one guest's parts 1-6; exits with its failures.
journey() {
	local s=${1%%:*} base=${1#*:} t0 t1 pid oldpid boot rc n
	local dom=negotiator-distro-$s
	FAILED=0 PASSED=0
	answers() { hx -t 10 -e 't-run true' "$dom"; }
	grun() { hx -t 60 -e "t-run $1" "$dom"; }
	echo "=== $s"
	t0=$SECONDS
	mkdir -p "$T/$s/payload/commands"
	cp "$COMMON" "$GUESTDEB" "$T/$s/payload/"
	# A newer build of the guest package: the same files, a higher version.
	dpkg-deb -R "$GUESTDEB" "$T/$s/newer" &&
	    sed -i "s/^Version: .*/Version: $NEWER/" "$T/$s/newer/DEBIAN/control" &&
	    dpkg-deb --root-owner-group -b "$T/$s/newer" \
	    "$T/$s/payload/negotiator-guest_${NEWER}_amd64.deb" >/dev/null ||
	    { fail "$s: a newer build of negotiator-guest"; return 1; }
	printf '#!/bin/sh\n# t-run: the test runs anything through it.\nexec "$@"\n' \
	    >"$T/$s/payload/commands/t-run"
	chmod 755 "$T/$s/payload/commands/t-run"
	truncate -s 64M "$T/$s/payload.img"
	mkfs.ext4 -q -L negotiator-pay -d "$T/$s/payload" "$T/$s/payload.img" &&
	    qemu-img create -q -f qcow2 -F raw -b "$base/rootfs.img" "$T/$s/root.qcow2" ||
	    { fail "$s: disks"; return 1; }
	chown libvirt-qemu: "$T/$s" "$T/$s/payload.img" "$T/$s/root.qcow2"
	cat >"$T/$s/domain.xml" <<EOF
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>768</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$base/vmlinuz</kernel>
    <initrd>$base/initrd.img</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 panic=-1 systemd.mask=negotiator-test-setup.service systemd.mask=systemd-networkd.service systemd.mask=systemd-networkd-wait-online.service systemd.mask=e2scrub_reap.service</cmdline>
  </os>
  <!-- ACPI: the power button of virsh shutdown's acpi mode, and the only
       way the guest's kernel can power the machine off (without it the
       guest halts and the domain stays running). -->
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <!-- The base image is shared with other suites: no relabelling. -->
  <seclabel type='none' model='dac'/>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$T/$s/root.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$T/$s/payload.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
    <serial type='file'>
      <source path='$T/$s/console.log'/>
      <target port='0'/>
    </serial>
    <controller type='virtio-serial' index='0'/>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	$VIRSH define "$T/$s/domain.xml" >"$T/$s/virsh.log" 2>&1 &&
	    $VIRSH start "$dom" >>"$T/$s/virsh.log" 2>&1 ||
	    { cat "$T/$s/virsh.log"; fail "$s: virsh define, start"; return 1; }
	check "$s: booted (qemu-guest-agent answers)" wait_until "$BOOT_BOUND" agent_up "$dom"
	[ "$FAILED" -eq 0 ] || return 1
	part "$s: boot" "$t0"

	# 1. The packages, by apt, from the payload disk.
	t0=$SECONDS
	ga "$dom" 300 'mkdir -p /mnt/p && mount -o ro /dev/vdb /mnt/p &&
	    cd /mnt/p && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    ./negotiator-common_*_all.deb ./negotiator-guest_'"$VERSION"'_amd64.deb &&
	    cp commands/t-run /usr/lib/negotiator/commands/' >"$T/$s/apt.log" 2>&1
	check "$s: apt-get install ./negotiator-common_….deb ./negotiator-guest_….deb" \
	    test $? -eq 0
	[ "$FAILED" -eq 0 ] || { tail -n 20 "$T/$s/apt.log"; return 1; }
	check "$s: the unit is enabled and active" test "$(ga "$dom" 30 \
	    'systemctl is-enabled negotiator-guest; systemctl is-active negotiator-guest' |
	    tr '\n' ' ')" = "enabled active "
	part "$s: install" "$t0"
	pid=$(ga "$dom" 30 'systemctl show -p MainPID --value negotiator-guest')
	n=$(ga "$dom" 30 "a=\$(cut -d' ' -f14,15 /proc/$pid/stat); sleep 10;
	    b=\$(cut -d' ' -f14,15 /proc/$pid/stat);
	    echo \$(( \${b% *} + \${b#* } - \${a% *} - \${a#* } ))")
	check "$s: without channels the daemon idles: ${n:-?} ticks of CPU in 10 s (bound $IDLE_BOUND)" \
	    test -n "$n" -a "${n:-99999}" -le "$IDLE_BOUND"

	# 2. --attach to the running guest.
	t0=$SECONDS
	t1=$(now_ms)
	hx --attach "$dom" >"$T/$s/attach.log" 2>&1
	rc=$?
	check "$s: negotiator-host --attach" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || cat "$T/$s/attach.log"
	check "$s: --attach: answers without a reboot within $ATTACH_BOUND s" \
	    wait_until "$ATTACH_BOUND" answers
	echo "    ($s: first answer $(( $(now_ms) - t1 )) ms after --attach)"

	# 3. Calls both ways.
	check "$s: host -> guest: lsb-release-codename is $s" \
	    test "$(hx -t 30 -e lsb-release-codename "$dom")" = "$s"
	expect_status 7 "$s: a command's exit status" hx -t 30 -e "t-run sh -c 'exit 7'" "$dom"
	expect_status 127 "$s: no such command" hx -t 30 -e no-such-command "$dom"
	check "$s: guest -> host: the host command names the guest" \
	    test "$(ga "$dom" 60 'negotiator-guest -t 30 -e whoami-guest')" = "$dom"
	part "$s: attach and calls" "$t0"

	# 4. Upgrade while a call runs.
	t0=$SECONDS
	oldpid=$(ga "$dom" 30 'systemctl show -p MainPID --value negotiator-guest')
	(hx -t 600 -e 't-run sleep 555' "$dom" >/dev/null 2>&1; echo $? >"$T/$s/inflight") &
	check "$s: a call runs (sleep 555 in the guest)" wait_until 60 \
	    ga "$dom" 20 'pgrep -x -f "sleep 555"'
	ga "$dom" 300 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    /mnt/p/negotiator-guest_'"$NEWER"'_amd64.deb' >>"$T/$s/apt.log" 2>&1
	check "$s: apt-get install of the newer build ($NEWER) during the call" test $? -eq 0
	t1=$SECONDS
	check "$s: the next call answers within 5 s" wait_until 5 answers
	check "$s: the call in flight ended" wait_until 30 test -s "$T/$s/inflight"
	check "$s: ... with 125 (got $(cat "$T/$s/inflight" 2>/dev/null))" \
	    test "$(cat "$T/$s/inflight" 2>/dev/null)" = 125
	pid=$(ga "$dom" 30 'systemctl show -p MainPID --value negotiator-guest')
	check "$s: the daemon was restarted (pid $oldpid before, $pid now)" \
	    test -n "$pid" -a "$pid" != 0 -a "$pid" != "$oldpid"
	check "$s: the new version is installed" test "$(ga "$dom" 30 \
	    "dpkg-query -W -f='\${Version}' negotiator-guest")" = "$NEWER"
	check "$s: nothing of the call is left in the guest" \
	    ga "$dom" 30 '! pgrep -x -f "sleep 555"'
	part "$s: upgrade during a call" "$t0"

	# 5. virsh reboot.
	t0=$SECONDS
	boot=$(grun 'cat /proc/sys/kernel/random/boot_id')
	rebooted() { local b; b=$(grun 'cat /proc/sys/kernel/random/boot_id') &&
	    [ -n "$b" ] && [ "$b" != "$boot" ]; }
	$VIRSH reboot "$dom" --mode agent >>"$T/$s/virsh.log" 2>&1
	check "$s: virsh reboot: the daemon answers again" wait_until "$BOOT_BOUND" rebooted
	part "$s: virsh reboot" "$t0"

	# 6. virsh shutdown, virsh start: the channels are in the definition.
	t0=$SECONDS
	check "$s: qemu-guest-agent answers before the shutdown" \
	    wait_until 120 agent_up "$dom"
	check "$s: virsh shutdown --mode agent,acpi" \
	    $VIRSH shutdown "$dom" --mode agent,acpi
	check "$s: virsh shutdown: shut off within $SHUTDOWN_BOUND s" \
	    wait_until "$SHUTDOWN_BOUND" sh -c "$VIRSH domstate '$dom' | grep -qx 'shut off'"
	part "$s: virsh shutdown" "$t0"
	t0=$SECONDS
	check "$s: virsh start" $VIRSH start "$dom"
	check "$s: virsh start: the daemon answers after a cold boot" \
	    wait_until "$BOOT_BOUND" answers
	check "$s: ... and guest -> host works" test \
	    "$(grun 'negotiator-guest -t 30 -e whoami-guest')" = "$dom"
	check "$s: qemu-guest-agent is back" wait_until 120 agent_up "$dom"
	part "$s: virsh start" "$t0"
	echo "$s: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# purge SUITE: apt-get purge in the guest, and what is left.
purge() {
	local s=$1 dom=negotiator-distro-$1 t0=$SECONDS
	FAILED=0 PASSED=0
	echo "=== $s: purge"
	ga "$dom" 300 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
	    negotiator-guest negotiator-common' >>"$T/$s/apt.log" 2>&1
	check "$s: apt-get purge" test $? -eq 0
	# What is left of ours, one line each.  Not ours, so not looked at:
	# the user's command in /usr/lib/negotiator/commands (meant to
	# stay), the image's negotiator-test-setup (mkbase.sh's first-boot
	# installer, masked), udev's /dev/virtio-ports/negotiator-* and
	# /dev/disk/by-label/negotiator-* links, its records of them in
	# /run/udev, and systemd's device units for them (the host's
	# channels, the test's disks).
	ga "$dom" 60 'dpkg-query -W -f="\${Package} \${Status}\n" \
	        negotiator-guest negotiator-common 2>/dev/null | grep -v not-installed
	    find / /run -xdev \( -path /proc -o -path /mnt/p \
	        -o -path /run/udev -o -path /usr/lib/negotiator \
	        -o -name "negotiator-test*" \) -prune \
	        -o -name "*negotiator*" -print 2>/dev/null
	    find /usr/lib/negotiator -mindepth 1 ! -path "*/commands" \
	        ! -path "*/commands/t-run" 2>/dev/null
	    systemctl list-units --all --plain --no-legend "negotiator-guest*"
	    systemctl list-unit-files --no-legend "negotiator-guest*"
	    pgrep -a -x negotiator-gues
	    getent passwd | grep -i negotiator; getent group | grep -i negotiator
	    true' >"$T/$s/left" 2>&1
	check "$s: the look at what is left ran" test $? -eq 0
	check "$s: purge leaves no file, link, unit, socket, process or user" \
	    test ! -s "$T/$s/left"
	sed "s/^/    left: /" "$T/$s/left"
	part "$s: purge" "$t0"
	echo "$s: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# answer_all DOM...: a call into each DOM answers.
answer_all() {
	local d
	for d; do hx -t 10 -e 't-run true' "$d" >/dev/null || return 1; done
}
# restarted OLD NEW: NEW is a live process and another than OLD, which is
# gone.
restarted() { is_pid "$2" && [ "$1" != "$2" ] && alive "$2" && pid_gone "$1"; }
# left_here PATTERN: LEFT_NOW, the pids of this machine whose command line
# is PATTERN; they are killed on exit.
left_here() {
	LEFT_NOW=$(pgrep -x -f "$1" | paste -sd ' ')
	LEFT="$LEFT $LEFT_NOW"
}

# host_upgrade SUITE...: a newer negotiator-host into the scratch root
# while a call runs each way with each SUITE's guest.
host_upgrade() {
	local s d doms='' t0=$SECONDS old new
	echo "=== host: upgrade during calls"
	old=$(hostd_pid)
	for s; do
		d=negotiator-distro-$s
		doms="$doms $d"
		(hx -t 600 -e 't-run sleep 557' "$d" >/dev/null 2>&1
		    echo $? >"$T/$s/h-inflight") &
		(ga "$d" 900 'negotiator-guest -t 600 -e "t-run sleep 558"' \
		    >/dev/null 2>&1; echo $? >"$T/$s/g-inflight") &
	done
	for s; do
		check "host: a call into $s runs (sleep 557 there)" wait_until 60 \
		    ga "negotiator-distro-$s" 20 'pgrep -x -f "sleep 557"'
	done
	check "host: a call from each guest runs (sleep 558 here, $# of them)" \
	    wait_until 60 sh -c "[ \$(pgrep -c -x -f 'sleep 558') -eq $# ]"
	in_host apt-get install -y -q "/tmp/negotiator-host_${NEWER}_amd64.deb" \
	    >>"$T/hostapt.log" 2>&1
	check "host: apt-get install of the newer build ($NEWER) during the calls" \
	    test $? -eq 0
	# shellcheck disable=SC2086
	check "host: the next call into each guest answers within 5 s" \
	    wait_until 5 answer_all $doms
	left_here 'sleep 558'
	check "host: nothing of the guests' calls is left here (${LEFT_NOW:-none})" \
	    test -z "$LEFT_NOW"
	new=$(hostd_pid)
	check "host: the postinst restarted the daemon (pid $old before, $new now)" \
	    restarted "$old" "$new"
	check "host: ... through systemctl restart" grep -q \
	    ' restart negotiator-host.service$' "$R/run/lvtest/systemctl.log"
	check "host: ... and the old daemon left on SIGTERM, within TimeoutStopSec" \
	    sh -c "! grep -q SIGKILL '$R/run/lvtest/systemctl.log'"
	check "host: the new version is installed" test "$(in_host \
	    dpkg-query -W -f='${Version}' negotiator-host)" = "$NEWER"
	for s; do
		d=negotiator-distro-$s
		check "host: the call into $s ended" wait_until 30 \
		    test -s "$T/$s/h-inflight"
		check "host: ... with 125 (got $(cat "$T/$s/h-inflight" 2>/dev/null))" \
		    test "$(cat "$T/$s/h-inflight" 2>/dev/null)" = 125
		check "host: the call from $s ended" wait_until 60 \
		    test -s "$T/$s/g-inflight"
		check "host: ... with 125 (got $(cat "$T/$s/g-inflight" 2>/dev/null))" \
		    test "$(cat "$T/$s/g-inflight" 2>/dev/null)" = 125
		check "host: nothing of the call is left in $s" wait_until 30 \
		    ga "$d" 20 '! pgrep -x -f "sleep 557"'
		check "host: $s -> host works again" \
		    test "$(ga "$d" 60 'negotiator-guest -t 30 -e whoami-guest')" = "$d"
	done
	part "host: upgrade during calls" "$t0"
}

# host_purge: apt-get purge in the scratch root, and what is left.
host_purge() {
	local t0=$SECONDS old p
	echo "=== host: purge"
	old=$(hostd_pid)
	in_host apt-get purge -y -q negotiator-host negotiator-common \
	    >>"$T/hostapt.log" 2>&1
	check "host: apt-get purge (scratch root)" test $? -eq 0
	check "host: the prerm stopped the unit" grep -q \
	    ' stop negotiator-host.service$' "$R/run/lvtest/systemctl.log"
	check "host: the daemon is gone (pid $old)" pid_gone "$old"
	{
		in_host dpkg-query -W -f='${Package} ${Status}\n' negotiator-host \
		    negotiator-common 2>/dev/null | grep -v not-installed
		find "$R" -xdev \( -path "$R/proc" -o -path "$R/tmp" \
		    -o -path "$R/run/lvtest" -o -path "$R/usr/lib/negotiator" \) \
		    -prune -o -name '*negotiator*' -print 2>/dev/null
		find "$R/usr/lib/negotiator" -mindepth 1 ! -path '*/commands' \
		    ! -path '*/commands/t-run' ! -path '*/commands/whoami-guest' \
		    2>/dev/null
		for p in $(pgrep -x negotiator-host); do
			[ "$(readlink "/proc/$p/root")" != "$R" ] ||
			    echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline")"
		done
	} >"$T/hostleft"
	check "host: purge leaves no file, link, unit, socket or process" \
	    test ! -s "$T/hostleft"
	sed "s/^/    left: /" "$T/hostleft"
	part "host: purge" "$t0"
}

# in_parallel FUNC ARG...: FUNC ARG (ARG is SUITE or SUITE:BASEDIR) for
# each ARG at once; prints each one's output when all are done, counts
# its checks, and leaves in OK the suites whose FUNC passed.
in_parallel() {
	local f=$1 a s i=0 rc n
	local -a pid
	shift
	for a; do
		"$f" "$a" >"$T/${a%%:*}.$f.out" 2>&1 &
		pid[i++]=$!
	done
	OK= i=0
	for a; do
		s=${a%%:*}
		wait "${pid[i++]}"
		rc=$?
		cat "$T/$s.$f.out"
		PASSED=$((PASSED + $(grep -c '^ok' "$T/$s.$f.out")))
		n=$(grep -c '^FAIL' "$T/$s.$f.out")
		if [ "$rc" -eq 0 ]; then
			OK="$OK $s"
		else
			FAILED=$((FAILED + (n > 0 ? n : 1)))
			echo "--- $s: console (tail)"
			tail -n 25 "$T/$s/console.log" 2>/dev/null
		fi
	done
}

for sb; do
	DOMS="$DOMS negotiator-distro-${sb%%:*}"
done
in_parallel journey "$@"
# shellcheck disable=SC2086
if [ -n "$OK" ]; then
	host_upgrade $OK
	in_parallel purge $OK
fi
host_purge
if [ "$FAILED" -gt 0 ]; then
	echo "--- host daemon log (tail)"
	tail -n 30 "$R/run/lvtest/negotiator-host.service.log"
	echo "--- systemctl calls"
	cat "$R/run/lvtest/systemctl.log"
fi
echo "--- time per part"
cat "$T/times" 2>/dev/null
echo "time - the whole: $((SECONDS - START)) s"
finish
