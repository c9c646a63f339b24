#!/bin/bash
# The Ansible plugins on emulated channels: both daemons on this machine
# joined by tests/vserial, the "guest" daemon with sh, put and get, so that
# Debian's ansible-core runs tests/ansible/playbook.yml through negotiator
# onto this machine.  Checks: the inventory plugin (negotiator-host -g
# --json, the state as a variable); a guest without sh, and one that does
# not exist, UNREACHABLE with what to do; the playbook with pipelining off
# and on (no module file copied when on); the remote-host pattern through a
# real sshd on a private port (negotiator_host, and the inventory through
# it).  Assertions are on the json callback's output (check.py).  Needs
# root (sudo to nobody, sshd); installs ansible-core, sudo and openssh.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/tests/ansible
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-ansible.XXXXXX") || exit 1
GUEST=vm1
BIN=$(cd "${NEGOTIATOR_BIN_DIR:-$REPO}" && pwd)
HOSTBIN=$BIN/negotiator-host
GUESTBIN=$BIN/negotiator-guest
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= HOSTD_PID= GUESTD_PID= SSHD_PID=
mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/avail" "$TMP/hcmd" "$TMP/gcmd" \
    "$TMP/g" "$TMP/fetched" "$TMP/ssh" "$TMP/atmp"
for f in "$REPO"/commands/available/*; do
	sed "s|@BINDIR@|$BIN|g" "$f" >"$TMP/avail/${f##*/}"
done
chmod 555 "$TMP/avail"/*
chmod 755 "$TMP" "$TMP/avail" "$TMP/hcmd" "$TMP/gcmd"

cleanup() {
	trap '' INT TERM HUP
	stop_pid "$SSHD_PID"
	end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"
}
trap cleanup EXIT
on_interrupt
die() { fail "$*"; finish; exit 1; }

[ "$(id -u)" = 0 ] || die "the Ansible suite needs root (sudo to nobody, sshd)"
need ansible-playbook ansible-core || die "ansible-core cannot be installed"
need sudo sudo || die "sudo cannot be installed"
need sshd openssh-server || die "openssh-server cannot be installed"
need ssh openssh-client || die "openssh-client cannot be installed"

start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
    "$HOSTBIN" -d -v --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
    --commands-dir "$TMP/hcmd" --builtin-dir "$REPO/tests/commands.d"
start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
    "$GUESTBIN" -d -v --control "$TMP/guest.sock" -c "$TMP/gport" \
    --commands-dir "$TMP/gcmd" --builtin-dir "$REPO/tests/commands.d"
check "daemons up and serving" wait_until 10 serving

. "$REPO/tests/ansible/env.sh"

# The inventory plugin, and a static group "guests" over what it found.
cat >"$TMP/inv.negotiator.yml" <<EOF
plugin: negotiator
negotiator_command: $HOSTBIN
negotiator_args: --control $TMP/host.sock
EOF
cat >"$TMP/static.ini" <<EOF
[guests:children]
negotiator_connected
[guests:vars]
work=$TMP/g
big=$TMP/big
fetched=$TMP/fetched
EOF
head -c $((32 << 20)) /dev/urandom >"$TMP/big"
INV="-i $TMP/inv.negotiator.yml -i $TMP/static.ini"

ansible-inventory -i "$TMP/inv.negotiator.yml" --list >"$TMP/inv.json" 2>"$TMP/inv.err"
check "inventory: $GUEST listed, negotiator_state connected, connection negotiator" \
    python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["_meta"]["hostvars"][sys.argv[2]]
sys.exit(not (v["negotiator_state"] == "connected" and
    v["ansible_connection"] == "negotiator"))' "$TMP/inv.json" "$GUEST"
check "inventory: in the group negotiator_connected" \
    test "$(jq -c '.negotiator_connected.hosts' "$TMP/inv.json")" = "[\"$GUEST\"]"

# ping_json TARGET: an ad-hoc ping of TARGET (an inventory list) to $TMP/ping.json.
ping_json() {
	timeout 120 ansible -i "$1" all -c negotiator -m ping \
	    >"$TMP/ping.json" 2>"$TMP/ping.err"
}
ping_json "$GUEST,"
check "sh not enabled: UNREACHABLE with the command that enables it" \
    "$HERE/check.py" "$TMP/ping.json" "$GUEST" - ping-unreachable \
    "run 'negotiator-guest --enable sh put get' there as root"
ping_json "no-such-guest,"
check "no such guest: UNREACHABLE with negotiator-host's reason" \
    "$HERE/check.py" "$TMP/ping.json" no-such-guest - ping-unreachable \
    "no such guest"

"$GUESTBIN" --commands-dir "$TMP/gcmd" --available-dir "$TMP/avail" \
    --enable sh put get || die "enable sh put get"
ping_json "$GUEST,"
check "ping once sh is enabled" \
    test "$(jq -r ".plays[0].tasks[0].hosts[\"$GUEST\"].ping" "$TMP/ping.json")" = pong

# play PIPELINING: the playbook, its JSON in $TMP/play-P.json, -vvv in .err.
play() {
	rm -rf "$TMP/g"/* "$TMP/fetched"/*
	ANSIBLE_PIPELINING=$1 timeout 300 ansible-playbook $INV -vvv \
	    "$HERE/playbook.yml" >"$TMP/play-$1.json" 2>"$TMP/play-$1.err"
	echo "     (playbook, pipelining $1: exit $?)"
}
for p in False True; do
	play $p
	"$HERE/check.py" "$TMP/play-$p.json" "$GUEST" "$TMP/big" | sed "s/ansible: /ansible (pipelining $p): /"
	r=${PIPESTATUS[0]}
	check "pipelining $p: every check above" test "$r" = 0
done
puts() { grep -c "^<$GUEST> PUT .*AnsiballZ_" "$1"; }
check "pipelining off: modules copied as files ($(puts "$TMP/play-False.err"))" \
    test "$(puts "$TMP/play-False.err")" -ge 10
check "pipelining on: no module copied, each on the command's stdin" \
    test "$(puts "$TMP/play-True.err")" = 0
check "-vvv: the negotiator-host command lines" \
    grep -q "^<$GUEST> NEGOTIATOR .*negotiator-host --control .* -e 'sh " "$TMP/play-True.err"

# --- the remote-host pattern: ssh to the host that runs the guests ------
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/host_key" || die "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/ssh/id" || die "ssh-keygen"
cp "$TMP/ssh/id.pub" "$TMP/ssh/authorized_keys"
chmod 700 "$TMP/ssh"; chmod 600 "$TMP/ssh/authorized_keys"
PORT=$((20000 + $$ % 20000))
cat >"$TMP/ssh/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/ssh/host_key
AuthorizedKeysFile $TMP/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$TMP/ssh/sshd_config" 2>"$TMP/sshd.log" &
SSHD_PID=$!
SSH="ssh -p $PORT -i $TMP/ssh/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
check "sshd on 127.0.0.1:$PORT" wait_until 10 \
    $SSH -o BatchMode=yes root@127.0.0.1 true
cat >"$TMP/remote.negotiator.yml" <<EOF
plugin: negotiator
negotiator_host: root@127.0.0.1
negotiator_ssh: $SSH
negotiator_command: $HOSTBIN
negotiator_args: --control $TMP/host.sock
EOF
# Nothing local may be used: this machine's control socket is not given.
unset NEGOTIATOR_COMMAND NEGOTIATOR_ARGS
# The copy stream of put_file and fetch_file is written and read here.
export NEGOTIATOR_LOCAL_COMMAND=$HOSTBIN
ansible-inventory -i "$TMP/remote.negotiator.yml" --list >"$TMP/rinv.json" 2>"$TMP/rinv.err"
check "inventory through ssh: $GUEST with negotiator_host set" \
    test "$(jq -r "._meta.hostvars[\"$GUEST\"].negotiator_host" "$TMP/rinv.json")" = root@127.0.0.1
rm -rf "$TMP/g"/* "$TMP/fetched"/*
head -c $((4 << 20)) /dev/urandom >"$TMP/small"
cat >"$TMP/remote.yml" <<EOF
- hosts: all
  gather_facts: false
  tasks:
    - name: ping
      ping:
    - name: shell with a pipe
      shell: echo one two | wc -w
    - name: copy
      copy: { src: "$TMP/small", dest: "$TMP/g/small" }
    - name: fetch
      fetch: { src: "$TMP/g/small", dest: "$TMP/fetched/small", flat: true }
EOF
# Each call through ssh starts root's login shell there (seconds where
# its .bashrc does much): one run, pipelining on (the local runs above
# cover both ways).
for p in True; do
	ANSIBLE_PIPELINING=$p timeout 400 ansible-playbook \
	    -i "$TMP/remote.negotiator.yml" -vvv "$TMP/remote.yml" \
	    >"$TMP/remote-$p.json" 2>"$TMP/remote-$p.err"
	check "through ssh (pipelining $p): every task ok, none unreachable" \
	    test "$(jq -c ".stats[\"$GUEST\"] | [.ok, .failures, .unreachable]" \
	    "$TMP/remote-$p.json")" = "[4,0,0]" ||
	    jq -c '.plays[0].tasks[].hosts[] | select(.failed or .unreachable) | .msg' \
	    "$TMP/remote-$p.json" | cut -c1-500
	check "... the pipe's output" test "$(jq -r \
	    ".plays[0].tasks[1].hosts[\"$GUEST\"].stdout" "$TMP/remote-$p.json")" = 2
	check "... the copy both ways, same bytes" cmp -s "$TMP/small" "$TMP/fetched/small"
	check "... each call through ssh" grep -q "^<$GUEST> NEGOTIATOR ssh -p $PORT" \
	    "$TMP/remote-$p.err"
	rm -f "$TMP/fetched/small" "$TMP/g/small"
done
stop_pid "$SSHD_PID"
# A static inventory this time: the plugin's own list needs the host up.
printf '%s ansible_connection=negotiator negotiator_host=root@127.0.0.1 negotiator_ssh="%s" negotiator_command=%s negotiator_args="--control %s"\n' \
    "$GUEST" "$SSH" "$HOSTBIN" "$TMP/host.sock" >"$TMP/remote.ini"
ANSIBLE_PIPELINING=True timeout 120 ansible-playbook \
    -i "$TMP/remote.ini" "$TMP/remote.yml" \
    >"$TMP/remote-down.json" 2>"$TMP/remote-down.err"
check "through ssh, the host down: UNREACHABLE saying ssh failed" \
    jq -e ".plays[0].tasks[0].hosts[\"$GUEST\"] | .unreachable and
    (.msg | contains(\"ssh failed\"))" "$TMP/remote-down.json"
SSHD_PID=

if [ "$FAILED" -gt 0 ]; then
	for f in ping.err play-False.err play-True.err remote-False.err sshd.log; do
		echo "--- $f (tail)"; tail -n 15 "$TMP/$f" 2>/dev/null
	done
fi
finish
