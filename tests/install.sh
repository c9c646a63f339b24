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
    usr/local/lib/negotiator/negotiator-hostd \
    usr/local/lib/negotiator/negotiator-guestd \
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

# 1b. One side at a time; the user commands directory, and what is in it,
#     stay until the last side goes.
S=$T/side
make -s -C "$REPO" install-guest DESTDIR="$S" >>"$T/install.log" 2>&1
check "make install-guest succeeds" test $? -eq 0
check "install-guest: the guest's binaries, unit and supervisord program" test \
    -x "$S/usr/local/bin/negotiator-guest" -a \
    -x "$S/usr/local/lib/negotiator/negotiator-guestd" -a \
    -f "$S/usr/local/lib/systemd/system/negotiator-guest.service" -a \
    -f "$S/etc/supervisor/conf.d/negotiator-guest.conf"
check "install-guest: nothing of the host" test -z \
    "$(find "$S" -name 'negotiator-host*' -o -name 'negotiator-hostd')"
check "install-guest creates /usr/lib/negotiator/commands" \
    test -d "$S/usr/lib/negotiator/commands"
touch "$S/usr/lib/negotiator/commands/mine"
make -s -C "$REPO" install-host DESTDIR="$S" >>"$T/install.log" 2>&1
check "make install-host beside it" test -x "$S/usr/local/bin/negotiator-host"
make -s -C "$REPO" uninstall-guest DESTDIR="$S" >>"$T/install.log" 2>&1
check "uninstall-guest removes the guest's files only" test \
    ! -e "$S/usr/local/bin/negotiator-guest" -a \
    ! -e "$S/usr/local/lib/negotiator/negotiator-guestd" -a \
    ! -e "$S/usr/local/lib/systemd/system/negotiator-guest.service" -a \
    -x "$S/usr/local/bin/negotiator-host" -a \
    -x "$S/usr/local/lib/negotiator/builtin/uptime"
make -s -C "$REPO" uninstall-host DESTDIR="$S" >>"$T/install.log" 2>&1
check "uninstall-host, the last side, leaves only the user's command" test \
    "$(find "$S" -type f)" = "$S/usr/lib/negotiator/commands/mine"

# 2. Installed under a private prefix, with a private copy of the tree so
#    that the prefix is compiled in: the binaries run from there.
mkdir -p "$T/src"
(cd "$REPO" && git ls-files -z | xargs -0 cp --parents -t "$T/src")
P=$T/prefix
make -s -C "$T/src" PREFIX="$P" SYSCONFDIR="$P/etc" LOGDIR="$P/log" \
    COMMANDS_DIR="$P/commands" install >>"$T/install.log" 2>&1
check "install under PREFIX=$P" test -x "$P/bin/negotiator-host"
check "installed --version runs" "$P/bin/negotiator-guest" --version
mkdir -p "$T/chan" "$T/gport" "$T/none"
"$REPO/tests/vserial" "$T/chan" "$T/gport" vm --pidfile "$T/vs.pid" & PIDS="$PIDS $!"
wait_until 5 test -s "$T/vs.pid"
"$P/bin/negotiator-host" -d -q --control "$T/h.sock" --channel-dir "$T/chan" \
    --commands-dir "$T/none" & PIDS="$PIDS $!"
printf '#!/bin/sh\necho hello\n' >"$P/commands/hello"
chmod 755 "$P/commands/hello"
"$P/bin/negotiator-guest" -d -q --control "$T/g.sock" -c "$T/gport" \
    & PIDS="$PIDS $!"
check "installed daemons find their installed built-ins" wait_until 10 \
    sh -c "'$P/bin/negotiator-host' --control '$T/h.sock' -e uptime vm | grep -q uptime_seconds"
check "the guest daemon finds a user command in COMMANDS_DIR" test \
    "$("$P/bin/negotiator-host" --control "$T/h.sock" -e hello vm)" = hello

# 3. Logging to the journal: systemd says which file is the journal stream
#    in JOURNAL_STREAM (device:inode); a line written there carries its
#    priority (<4> warning, <6> info), not the program name.  The same
#    variable with stderr elsewhere (a redirection) changes nothing.
mkdir -p "$T/jport/negotiator-host-to-guest.0"	# a directory: open fails
: >"$T/journal"
J=$(stat -c '%d:%i' "$T/journal")
JOURNAL_STREAM=$J "$REPO/negotiator-guest" -d --control "$T/j.sock" \
    -c "$T/jport" --commands-dir "$T/none" 2>>"$T/journal" & PIDS="$PIDS $!"
wait_until 10 grep -q '^<4>' "$T/journal"
check "journal stream: a warning starts with <4>" grep -q '^<4>open .*negotiator-host-to-guest.0: ' "$T/journal"
check "journal stream: an info line starts with <6>" grep -q '^<6>guest daemon started' "$T/journal"
check "journal stream: no program name" sh -c "! grep -q 'negotiator-guest:' '$T/journal'"
JOURNAL_STREAM=$J "$REPO/negotiator-guest" -d --control "$T/k.sock" \
    -c "$T/jport" --commands-dir "$T/none" 2>"$T/plain" & PIDS="$PIDS $!"
wait_until 10 grep -q 'open' "$T/plain"
check "stderr not the journal stream: today's format" grep -q \
    '^negotiator-guest: open .*negotiator-host-to-guest.0: ' "$T/plain"
[ "$FAILED" -gt 0 ] && cat "$T/install.log"
finish
