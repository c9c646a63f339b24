#!/bin/bash
# make install / uninstall: everything lands under DESTDIR and leaves with
# uninstall; a tree installed under a PREFIX runs from there and finds its
# built-in commands without being told where they are.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-install.XXXXXX") || exit 1
PIDS=
cleanup() {
	trap '' INT TERM HUP
	for p in $PIDS; do stop_pid "$p"; done
	rm -rf "$T"
}
trap cleanup EXIT
on_interrupt

# 1. A staged install with the default prefix.
make -s -C "$REPO" install DESTDIR="$T/stage" >"$T/install.log" 2>&1
check "make install DESTDIR=… succeeds" test $? -eq 0
for f in usr/local/bin/negotiator-host usr/local/bin/negotiator-guest \
    usr/local/lib/negotiator/builtin/disk-usage \
    usr/local/share/man/man8/negotiator-host.8 \
    usr/local/share/man/man8/negotiator-guest.8 \
    usr/local/share/man/man7/negotiator-commands.7 \
    etc/supervisor/conf.d/negotiator-host.conf \
    usr/local/lib/systemd/system/negotiator-guest.service; do
	check "installed $f" test -e "$T/stage/$f"
done
check "supervisor config points at the installed binary" grep -q \
    '^command=/usr/local/bin/negotiator-host -d' \
    "$T/stage/etc/supervisor/conf.d/negotiator-host.conf"
check "built-ins are read-only" \
    test -z "$(find "$T/stage/usr/local/lib/negotiator/builtin" -type f -perm /222)"
make -s -C "$REPO" uninstall DESTDIR="$T/stage" >>"$T/install.log" 2>&1
check "make uninstall leaves no file behind" \
    test -z "$(find "$T/stage" -type f)"

# 2. Installed under a private prefix, with a private copy of the tree so
#    that the prefix is compiled in: the binaries run from there.
mkdir -p "$T/src"
(cd "$REPO" && git ls-files -z | xargs -0 cp --parents -t "$T/src")
P=$T/prefix
make -s -C "$T/src" PREFIX="$P" SYSCONFDIR="$P/etc" LOGDIR="$P/log" \
    install >>"$T/install.log" 2>&1
check "install under PREFIX=$P" test -x "$P/bin/negotiator-host"
check "installed --version runs" "$P/bin/negotiator-guest" --version
mkdir -p "$T/chan" "$T/gport" "$T/none"
"$REPO/tests/vserial" "$T/chan" "$T/gport" vm --pidfile "$T/vs.pid" & PIDS="$PIDS $!"
wait_until 5 test -s "$T/vs.pid"
"$P/bin/negotiator-host" -d -q --control "$T/h.sock" --channel-dir "$T/chan" \
    --commands-dir "$T/none" & PIDS="$PIDS $!"
"$P/bin/negotiator-guest" -d -q --control "$T/g.sock" -c "$T/gport" \
    --commands-dir "$T/none" & PIDS="$PIDS $!"
check "installed daemons find their installed built-ins" wait_until 10 \
    sh -c "'$P/bin/negotiator-host' --control '$T/h.sock' -e uptime vm | grep -q uptime_seconds"
[ "$FAILED" -gt 0 ] && cat "$T/install.log"
finish
