#!/bin/bash
# vm.sh BASEDIR DEBDIR [bench]: Debian's ansible-core against a Debian 12
# systemd guest (BASEDIR from mkbase.sh bookworm: python3, sudo,
# qemu-guest-agent) booted under a real libvirtd, with our two channels and
# qemu-ga's, the guest package of DEBDIR installed from a payload disk on
# first boot.  The host daemon is this tree's, finding the guest through
# libvirt.  Checks, on the json callback's output (check.py): the
# inventory plugin; sh not enabled and a guest that is not there
# UNREACHABLE; tests/ansible/playbook.yml (ping, setup, command, shell with
# a pipe, a 32 MiB copy checked by sha256, fetch, template, file,
# lineinfile, become through sudo, a failing task, a task past its timeout)
# with pipelining off and on.
#
# With "bench": the same playbook with community.libvirt's libvirt_qemu
# (over qemu-ga) on the same guest, and a 32 MiB copy task through each:
# wall times side by side and the ratios, against the targets (the
# playbook in at most half libvirt_qemu's time, the copy at least 20 times
# faster), the copy also split into its transfer (put_file, timed in the
# -vvv log) and Ansible's own cost (the same task with a 1-byte file).
#
# Needs root.  Every wait is bounded; the domain, the daemons it started
# and the temporary files go on exit, interrupted or not.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$REPO/tests/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
[ $# -ge 2 ] || { echo "usage: vm.sh BASEDIR DEBDIR [bench]" >&2; exit 2; }
BASE=$(cd "$1" && pwd)
DEBS=$(cd "$2" && pwd)
BENCH=${3:-}
G=negotiator-ansible
TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-ansible-vm.XXXXXX") || exit 1
chmod 755 "$TMP"	# QEMU runs as libvirt-qemu and reads the images here
HOSTBIN=$REPO/negotiator-host
H="$HOSTBIN --control $TMP/host.sock"
VIRSH="virsh -q -c qemu:///system"
HOSTD_PID= LIBVIRTD_PID= VIRTLOGD_PID=
START=$SECONDS

cleanup() {
	trap '' INT TERM HUP
	stop_pid "$HOSTD_PID"
	timeout 30 $VIRSH destroy "$G" >/dev/null 2>&1
	if [ "$FAILED" -gt 0 ]; then
		echo "--- host daemon log (tail)"; tail -n 30 "$TMP/hostd.log" 2>/dev/null
		echo "--- console (tail)"; tail -n 30 "$TMP/console.log" 2>/dev/null
		for f in ping.err play-False.err play-True.err; do
			echo "--- $f (tail)"; tail -n 10 "$TMP/$f" 2>/dev/null | cut -c1-400
		done
	fi
	stop_pid "$LIBVIRTD_PID" 10
	stop_pid "$VIRTLOGD_PID"
	kill_children
	rm -rf "$TMP"
}
trap cleanup EXIT
on_interrupt
die() { fail "$*"; finish; exit 1; }

[ "$(id -u)" = 0 ] || die "the Ansible VM suite needs root"
for c in ansible-playbook jq virsh libvirtd qemu-img mkfs.ext4; do
	command -v "$c" >/dev/null || die "$c missing (tests/ansible/run.sh installs it)"
done

# libvirt, as tests/libvirt.sh starts it.
libvirt_start "$TMP"
check "libvirtd answers on qemu:///system" wait_until 20 \
    virsh -r -c qemu:///system list
[ "$FAILED" = 0 ] || die "libvirtd does not start"
timeout 30 $VIRSH destroy "$G" >/dev/null 2>&1	# one an earlier run left

# The payload: the packages, and t-run, the test's way in before sh is on.
mkdir -p "$TMP/payload/commands"
cp "$DEBS"/negotiator-common_*.deb "$DEBS"/negotiator-guest_*.deb "$TMP/payload/" ||
    die "no packages in $DEBS; run make deb"
printf '#!/bin/sh\n# t-run: the test runs anything through it.\nexec "$@"\n' \
    >"$TMP/payload/commands/t-run"
chmod 755 "$TMP/payload/commands/t-run"
truncate -s 64M "$TMP/payload.img"
mkfs.ext4 -q -L negotiator-test -d "$TMP/payload" "$TMP/payload.img" || die "mkfs payload"
qemu-img create -q -f qcow2 -F raw -b "$BASE/rootfs.img" "$TMP/root.qcow2" ||
    die "qemu-img create"
cp "$BASE/vmlinuz" "$BASE/initrd.img" "$TMP/"
chmod 644 "$TMP"/*.img "$TMP"/*.qcow2 "$TMP/vmlinuz"
chmod 666 "$TMP/root.qcow2"

# What this guest does not need and a loaded TCG machine pays minutes
# for at boot: it has no network interface.
# systemd's start timeouts (90 s: the payload disk's device, journald)
# raised for the same reason.
MASK="systemd.default_timeout_start_sec=900 systemd.default_device_timeout_sec=900"
for u in systemd-networkd.service systemd-networkd-wait-online.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service man-db.timer fstrim.timer dpkg-db-backup.timer; do
	MASK="$MASK systemd.mask=$u"
done
cat >"$TMP/$G.xml" <<EOF
<domain type='qemu'>
  <name>$G</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$TMP/vmlinuz</kernel>
    <initrd>$TMP/initrd.img</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 panic=-1 quiet $MASK</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$TMP/root.qcow2'/>
      <backingStore type='file'><format type='raw'/><source file='$BASE/rootfs.img'/></backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$TMP/payload.img'/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
    <serial type='file'>
      <source path='$TMP/console.log'/>
      <target port='0'/>
    </serial>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <controller type='virtio-serial' index='0'/>
    <channel type='unix'>
      <target type='virtio' name='negotiator-host-to-guest.0'/>
    </channel>
    <channel type='unix'>
      <target type='virtio' name='negotiator-guest-to-host.0'/>
    </channel>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
"$HOSTBIN" -d -v --control "$TMP/host.sock" 2>"$TMP/hostd.log" &
HOSTD_PID=$!
$VIRSH create "$TMP/$G.xml" >"$TMP/create.log" 2>&1 ||
    { cat "$TMP/create.log"; die "virsh create $G"; }
ok "virsh create $G (TCG, our two channels and qemu-ga's)"
answers() { $H -t 10 -e 't-run true' "$G" >/dev/null 2>&1; }
# On a loaded machine udev can take past systemd's 90 s for the payload
# disk, and the unit that installs it fails: answers_or_retry starts it
# again through qemu-ga (guest-exec) at most every 60 s until the daemon
# answers.
# (wait_until runs it in a subshell: the time of the last retry and the
# count are files.)
date +%s >"$TMP/retry.at"
: >"$TMP/retries"
answers_or_retry() {
	answers && return 0
	[ $(( $(date +%s) - $(cat "$TMP/retry.at") )) -ge 60 ] || return 1
	date +%s >"$TMP/retry.at"
	timeout 20 $VIRSH qemu-agent-command "$G" --timeout 10 \
	    '{"execute":"guest-exec","arguments":{"path":"/bin/systemctl","arg":["start","negotiator-test-setup.service"]}}' \
	    >/dev/null 2>&1 && echo x >>"$TMP/retries"
	return 1
}
check "first boot: the packaged guest daemon answers" wait_until 900 answers_or_retry ||
    die "the guest never answered"
echo "     (boot and install: $((SECONDS - START)) s; the install started again through qemu-ga $(wc -l <"$TMP/retries") times)"

. "$REPO/tests/ansible/env.sh"
mkdir -p "$TMP/atmp" "$TMP/fetched"
head -c $((32 << 20)) /dev/urandom >"$TMP/big"

cat >"$TMP/inv.negotiator.yml" <<EOF
plugin: negotiator
negotiator_command: $HOSTBIN
negotiator_args: --control $TMP/host.sock
EOF
ansible-inventory -i "$TMP/inv.negotiator.yml" --list >"$TMP/inv.json" 2>"$TMP/inv.err"
check "inventory: $G, negotiator_state connected, connection negotiator" \
    test "$(jq -r "._meta.hostvars[\"$G\"] | .negotiator_state + \" \" +
    .ansible_connection" "$TMP/inv.json")" = "connected negotiator"

ping_json() {
	timeout 120 ansible -i "$1" all -c negotiator -m ping \
	    >"$TMP/ping.json" 2>"$TMP/ping.err"
}
ping_json "$G,"
check "sh not enabled in the guest: UNREACHABLE with the command that enables it" \
    "$HERE/check.py" "$TMP/ping.json" "$G" - ping-unreachable \
    "run 'negotiator-guest --enable sh put get' there as root"
ping_json "not-$G,"
check "a guest that is not there: UNREACHABLE with negotiator-host's reason" \
    "$HERE/check.py" "$TMP/ping.json" "not-$G" - ping-unreachable "no such guest"
$H -t 60 -e 't-run negotiator-guest --enable sh put get' "$G" >"$TMP/enable.out" 2>&1 ||
    { cat "$TMP/enable.out"; die "negotiator-guest --enable sh put get in the guest"; }
ok "the guest enables sh put get (as root there)"

cat >"$TMP/static.ini" <<EOF
[guests:children]
negotiator_connected
[guests:vars]
work=/root/ansible-test
big=$TMP/big
fetched=$TMP/fetched
EOF
# play NAME PIPELINING INVENTORY...: the playbook; its JSON in
# $TMP/play-NAME.json, -vvv in .err, its wall time in ms in .ms.
play() {
	local name=$1 p=$2 t0; shift 2
	rm -rf "$TMP/fetched"/*
	$H -t 60 -e "sh 'rm -rf /root/ansible-test; mkdir /root/ansible-test'" "$G"
	t0=$(now_ms)
	ANSIBLE_PIPELINING=$p timeout 600 ansible-playbook "$@" -vvv \
	    "$HERE/playbook.yml" >"$TMP/play-$name.json" 2>"$TMP/play-$name.err"
	echo "     (playbook $name, pipelining $p: exit $?, $(( $(now_ms) - t0 )) ms)"
	echo $(( $(now_ms) - t0 )) >"$TMP/play-$name.ms"
}
INV="-i $TMP/inv.negotiator.yml -i $TMP/static.ini"
for p in False True; do
	play $p $p $INV
	"$HERE/check.py" "$TMP/play-$p.json" "$G" "$TMP/big" |
	    sed "s/ansible: /ansible (pipelining $p): /"
	check "real guest, pipelining $p: every check above" test "${PIPESTATUS[0]}" = 0
done
puts() { grep -c "^<$G> PUT .*AnsiballZ_" "$1"; }
check "pipelining off: modules copied as files ($(puts "$TMP/play-False.err"))" \
    test "$(puts "$TMP/play-False.err")" -ge 10
check "pipelining on: no module copied" test "$(puts "$TMP/play-True.err")" = 0

if [ "$BENCH" = bench ]; then
	# libvirt_qemu on the same guest: its own inventory name, same domain.
	cat >"$TMP/qga.ini" <<EOF
[guests]
qga ansible_host=$G ansible_connection=community.libvirt.libvirt_qemu
[guests:vars]
work=/root/ansible-test
big=$TMP/big
fetched=$TMP/fetched
EOF
	play qga False -i "$TMP/qga.ini"
	jq -c '.stats' "$TMP/play-qga.json"
	# copy NAME FILE INVENTORY...: a copy module call alone, of FILE; its
	# wall time in ms in $TMP/copy-NAME.ms, its JSON in .json, its -vvv
	# log with times in .log.
	copy() {
		local t0 name=$1 src=$2; shift 2
		$H -t 60 -e "sh 'rm -f /root/big32'" "$G"
		rm -f "$TMP/copy-$name.log"
		t0=$(now_ms)
		ANSIBLE_PIPELINING=True ANSIBLE_LOG_PATH="$TMP/copy-$name.log" \
		    timeout 900 ansible "$@" guests -vvv -m copy \
		    -a "src=$src dest=/root/big32" >"$TMP/copy-$name.json" \
		    2>"$TMP/copy-$name.err"
		echo $(( $(now_ms) - t0 )) >"$TMP/copy-$name.ms"
	}
	# put_ms NAME SRC: the milliseconds of the connection's put_file of
	# SRC in the copy's log: from its "PUT SRC TO" line to the next "EXEC"
	# line (the copy module's, after it; libvirt_qemu's file calls log
	# "GA" lines between); "-" if the log has no such pair.  Other PUTs
	# (libvirt_qemu cannot pipeline: it puts each module as a file) are
	# not the transfer.
	put_ms() {
		python3 - "$TMP/copy-$1.log" "$2" <<-'PY'
		import datetime, re, sys
		src = 'PUT ' + sys.argv[2] + ' TO '
		t = []
		for line in open(sys.argv[1], errors='replace'):
		    m = re.match(r'(\d+-\d+-\d+ \d+:\d+:\d+,\d+) .*?\| (.*)', line)
		    if m:
		        t.append((datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S,%f'), m.group(2)))
		for i, (ts, text) in enumerate(t):
		    if re.match(r'<[^>]*> ', text) and src in text:
		        nxt = [u for u, x in t[i + 1:] if re.match(r'<[^>]*> EXEC ', x)]
		        print(int((nxt[0] - ts).total_seconds() * 1000) if nxt else '-')
		        break
		else:
		    print('-')
		PY
	}
	printf x >"$TMP/one"
	copy negotiator "$TMP/big" $INV
	copy qga "$TMP/big" -i "$TMP/qga.ini"
	for n in negotiator qga; do
		check "bench: the 32 MiB copy through $n changed the file" \
		    jq -e '[.plays[0].tasks[0].hosts[]][0] | .changed and (.failed | not)' \
		    "$TMP/copy-$n.json"
	done
	tn=$(put_ms negotiator "$TMP/big") tq=$(put_ms qga "$TMP/big")
	cn=$(cat "$TMP/copy-negotiator.ms") cq=$(cat "$TMP/copy-qga.ms")
	# The same task with a 1-byte file: what Ansible itself costs around
	# a transfer (its start, the stat and copy modules in the guest).
	copy negotiator1 "$TMP/one" $INV
	copy qga1 "$TMP/one" -i "$TMP/qga.ini"
	on=$(cat "$TMP/copy-negotiator1.ms") oq=$(cat "$TMP/copy-qga1.ms")
	pn=$(cat "$TMP/play-True.ms") pq=$(cat "$TMP/play-qga.ms")
	ratio() { awk "BEGIN { printf \"%.1f\", $2 / $1 }"; }
	printf '%-46s %12s %14s %8s\n' "" negotiator libvirt_qemu ratio
	printf '%-46s %10s ms %12s ms %7sx\n' "playbook (pipelining on)" "$pn" "$pq" \
	    "$(ratio "$pn" "$pq")"
	printf '%-46s %10s ms %12s ms %7sx\n' "copy task, 32 MiB (whole ansible call)" "$cn" "$cq" \
	    "$(ratio "$cn" "$cq")"
	printf '%-46s %10s ms %12s ms %7sx\n' "... of which the transfer (put_file)" "$tn" "$tq" \
	    "$(ratio "$tn" "$tq")"
	printf '%-46s %10s ms %12s ms %7sx\n' "copy task, 1 byte (Ansible's own cost)" "$on" "$oq" \
	    "$(ratio "$on" "$oq")"
	check "bench: put_file's time found in both copies' logs ($tn, $tq ms)" \
	    test "$tn" != - -a "$tq" != -
	check "bench: libvirt_qemu ran the playbook (the comparison is real)" \
	    jq -e '.stats.qga.ok >= 10' "$TMP/play-qga.json"
	check "bench: the playbook in at most half libvirt_qemu's time" \
	    test $((2 * pn)) -le "$pq"
	check "bench: the copy task at least 20 times faster" test $((20 * cn)) -le "$cq"
	[ "$tn" = - ] || [ "$tq" = - ] ||
	    check "bench: the copy's transfer at least 20 times faster" test $((20 * tn)) -le "$tq"
fi
echo "     (suite: $((SECONDS - START)) s)"
finish
