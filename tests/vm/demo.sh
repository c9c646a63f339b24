#!/bin/bash
# make demo: boots a throw-away Linux guest under QEMU with negotiator-guest
# inside, runs the host daemon next to it, and shows calls both ways with
# their exit codes.  Leaves no process or file behind.
set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-demo.XXXXXX") || exit 1
GUEST=demo-vm
VM=$REPO/tests/vm/vm.sh
export VM_IMAGE=$TMP/image
HOSTD_PID=
# What a user types, with this demo's private sockets added.
negotiator-host() {
	"$REPO/negotiator-host" --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" "$@"
}
H=negotiator-host

cleanup() {
	trap '' INT TERM HUP
	echo
	echo "== shutting down"
	stop_pid "$HOSTD_PID"
	"$VM" stop "$TMP" >/dev/null 2>&1
	kill_children
	rm -rf "$TMP"
	if pgrep -f "$TMP" >/dev/null; then
		echo "processes left behind:"; pgrep -af "$TMP"
	else
		echo "done: VM stopped, host daemon stopped, nothing left behind"
	fi
}
trap cleanup EXIT
on_interrupt

# show COMMAND...: prints the command, runs it (for 30 s at most), prints
# its exit status.
show() {
	local rc
	echo
	echo "\$ $1 $(shift; printf '%q ' "$@")"
	within 30 "$@"
	rc=$?
	echo "  -> exit status $rc"
}

mkdir -p "$TMP/chan"
echo "== building the guest image (Debian kernel, busybox, negotiator-guest)"
"$REPO/tests/vm/mkimage.sh" "$VM_IMAGE" || exit 1
echo "== booting guest '$GUEST' under QEMU (a few seconds)"
"$VM" start "$TMP" "$GUEST" "$TMP/chan" || exit 1
# vm.sh prints the console's tail when the guest does not get there.
"$VM" wait-console "$TMP" "init: starting negotiator-guest" "${VM_BOOT_S:-60}" ||
    { echo "the guest did not reach /init within ${VM_BOOT_S:-60} s"; exit 1; }
echo "== starting the host daemon (log: $TMP/hostd.log)"
"$REPO/negotiator-host" -d --control "$TMP/host.sock" \
    --channel-dir "$TMP/chan" --commands-dir "$REPO/tests/commands.d" \
    --builtin-dir "$REPO/commands" 2>"$TMP/hostd.log" &
HOSTD_PID=$!
if ! wait_until 30 $H -e 'exit-with 0' "$GUEST"; then
	echo "the guest did not come up; its console:"; "$VM" console "$TMP"
	exit 1
fi

echo
echo "== host -> guest"
show $H -g -v
show $H -c "$GUEST"
show $H -e lsb-release-id "$GUEST"
show $H -e uptime "$GUEST"
show $H -e memory "$GUEST"
show $H -e 'echo-args "quoted words" stay\ together' "$GUEST"
show $H -e 'exit-with 3' "$GUEST"
show $H -e 'suicide TERM' "$GUEST"
show $H -t 2 -e 'sleeper 60' "$GUEST"
show $H -e no-such-command "$GUEST"
show $H --ping "$GUEST" --count 3
echo
echo "\$ printf 'hello\\nfrom the host\\n' | negotiator-host -e cat $GUEST"
printf 'hello\nfrom the host\n' | $H -t 10 -e cat "$GUEST"
echo "  -> exit status $?"

echo
echo "== guest -> host (negotiator-guest -e run inside the guest)"
show $H -e 'call-host -e env-guest' "$GUEST"
show $H -e 'call-host -e lsb-release-id' "$GUEST"
show $H -e "call-host -e 'exit-with 7'" "$GUEST"

echo
echo "== host daemon log (one line per call)"
grep -E 'exit|killed|refused' "$TMP/hostd.log" | tail -n 5
