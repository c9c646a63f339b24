#!/bin/bash
# --copy both ways and the management set (put, get, sh) on emulated
# channels with both daemons: files of every size, trees, links, sparse
# files, interruptions that must leave the old file and no temporary, a
# full and a read-only file system, hostile streams into put, enabling and
# the host's refusal, and the memory of all four processes during a 1 GiB
# copy.  Needs root for the tmpfs mounts (skipped otherwise).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"
. "$REPO/tests/scenario-copy.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-copytest.XXXXXX") || exit 1
GUEST=vm1
BIN=$(cd "${NEGOTIATOR_BIN_DIR:-$REPO}" && pwd)
HOSTBIN=$BIN/negotiator-host
GUESTBIN=$BIN/negotiator-guest
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
RSS_BOUND_KB=$((64 * 1024))	# tests/load.sh's bound for the daemons
CLI_RSS_BOUND_KB=$((16 * 1024))
VS_PID= HOSTD_PID= GUESTD_PID= MOUNTS=
mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/avail" "$TMP/hcmd" "$TMP/gcmd" \
    "$TMP/h" "$TMP/g"
# The management set as make install writes it, pointing at these programs.
for f in "$REPO"/commands/available/*; do
	sed "s|@BINDIR@|$BIN|g" "$f" >"$TMP/avail/${f##*/}"
done
chmod 555 "$TMP/avail"/*
chmod 755 "$TMP" "$TMP/avail" "$TMP/hcmd" "$TMP/gcmd"

cleanup() {
	local m
	trap '' INT TERM HUP
	for m in $MOUNTS; do umount "$m" 2>/dev/null; done
	end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID"
}
trap cleanup EXIT
on_interrupt

start_hostd() {
	start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
	    "$HOSTBIN" -d -v --control "$TMP/host.sock" \
	    --channel-dir "$TMP/chan" --commands-dir "$TMP/hcmd" \
	    --builtin-dir "$REPO/tests/commands.d"
}
start_guestd() {
	start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
	    "$GUESTBIN" -d -v --control "$TMP/guest.sock" -c "$TMP/gport" \
	    --commands-dir "$TMP/gcmd" --builtin-dir "$REPO/tests/commands.d"
}
start_vserial "$GUEST" "$TMP/chan" "$TMP/gport" VS_PID
start_hostd
start_guestd
check "daemons up and serving" wait_until 10 serving

# ht: the host CLI's --copy; gt: the guest CLI's.  Errors into $TMP/err.
ht() { $H "$@" 2>"$TMP/err"; }
gt() { guest_cli "$@" 2>"$TMP/err"; }
err_has() { grep -q -- "$1" "$TMP/err" || { echo "     stderr:"; sed 's/^/     /' "$TMP/err"; return 1; }; }
no_temp() { ! ls -A "$@" | grep -q "^\.negotiator-copy\."; }
same() { cmp -s "$1" "$2"; }

# --- nothing enabled: both sides refuse, naming the command --------------
echo data >"$TMP/h/f"
expect_status 127 "host --copy into a guest without put" \
    ht --copy "$TMP/h/f" "$GUEST:$TMP/g/f"
check "... names the command to run in the guest" \
    err_has "run 'negotiator-guest --enable put' there"
expect_status 127 "guest --copy from the host without get" \
    gt --copy host:"$TMP/h/f" "$TMP/g/f"
check "... names the command to run on the host" \
    err_has "run 'negotiator-host --enable-giving-guests-root --enable get' there"
check "... and wrote nothing" test ! -e "$TMP/g/f"

# --- enabling --------------------------------------------------------------
EN_H="$HOSTBIN --commands-dir $TMP/hcmd --available-dir $TMP/avail"
EN_G="$GUESTBIN --commands-dir $TMP/gcmd --available-dir $TMP/avail"
for c in sh put get; do
	expect_status 1 "the host refuses to enable $c" $EN_H --enable $c \
	    2>"$TMP/err"
	check "... saying why and what would force it" \
	    err_has "gives every guest root here (give --enable-giving-guests-root"
	check "... and links nothing" test ! -e "$TMP/hcmd/$c"
done
expect_status 0 "the guest enables put get sh" $EN_G --enable put get sh
check "... as links to the available commands" \
    test "$(readlink "$TMP/gcmd/put")" = "$TMP/avail/put"
expect_status 0 "the host enables get put sh when forced" \
    $EN_H --enable get put sh --enable-giving-guests-root
expect_status 1 "an unknown name is refused" $EN_G --enable rm 2>"$TMP/err"
check "... naming the ones there are" err_has "not one of put, get, sh"
echo mine >"$TMP/gcmd/mine"
expect_status 1 "--disable leaves a file that is not our link" \
    $EN_G --disable mine 2>"$TMP/err"
check "... in place" test -f "$TMP/gcmd/mine"
rm -f "$TMP/gcmd/mine"
$EN_G --disable sh
check "--disable removes the link" test ! -L "$TMP/gcmd/sh"
chmod 775 "$TMP/avail"
expect_status 1 "--enable refuses a link the policy would refuse" \
    $EN_G --enable sh 2>"$TMP/err"
check "... saying why" err_has "refused by the commands policy"
check "... and leaves no link" test ! -L "$TMP/gcmd/sh"
chmod 755 "$TMP/avail"
$EN_G --enable sh

# sh runs /bin/sh -c STRING, arguments unexpanded.
check "sh runs its string in the guest" \
    test "$($H -e "sh 'echo \$1; exit 0' x 'a b'" "$GUEST")" = "a b"
expect_status 3 "sh: the string's exit status" $H -e "sh 'exit 3'" "$GUEST"

# --- files, each way --------------------------------------------------------
head -c 0 /dev/urandom >"$TMP/h/empty"
head -c 1 /dev/urandom >"$TMP/h/one"
head -c $((64 << 20)) /dev/urandom >"$TMP/h/big"
truncate -s 100M "$TMP/h/sparse"; echo end >>"$TMP/h/sparse"
printf 'odd\n' >"$TMP/h/it's a \"name\" with \$(spaces)"
chmod 604 "$TMP/h/one"
for f in empty one big sparse "it's a \"name\" with \$(spaces)"; do
	expect_status 0 "host -> guest: $f" \
	    ht --copy "$TMP/h/$f" "$GUEST:$TMP/g/$f"
	check "... same bytes" same "$TMP/h/$f" "$TMP/g/$f"
	expect_status 0 "guest -> host: $f" \
	    gt --copy host:"$TMP/h/$f" "$TMP/g/back-$f"
	check "... same bytes" same "$TMP/h/$f" "$TMP/g/back-$f"
done
check "64 MiB random: sha256 the same at both ends" test \
    "$(sha256sum <"$TMP/h/big")" = "$(sha256sum <"$TMP/g/big")"
check "the mode kept (604)" test "$(stat -c %a "$TMP/g/one")" = 604
# Owner and group by name, when the receiver is root and the names exist.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody:"$(id -gn nobody)" "$TMP/h/one"
	expect_status 0 "a file owned by nobody, host -> guest" \
	    ht --copy "$TMP/h/one" "$GUEST:$TMP/g/owned"
	check "... owned by nobody there (the receiver is root)" \
	    test "$(stat -c %U:%G "$TMP/g/owned")" = "$(stat -c %U:%G "$TMP/h/one")"
	chown root:root "$TMP/h/one"
else
	skip "owner kept by name (needs root and a user nobody)"
fi
check "a sparse file stays sparse (under 1 MiB used of 100)" \
    test "$(du -k "$TMP/g/sparse" | cut -f1)" -lt 1024
rm -f "$TMP/g/back-"*
ht --copy "$TMP/h/big" "$GUEST:$TMP/g/pbar" && check "no progress line when stderr is not a terminal" test ! -s "$TMP/err"
# On a terminal (script(1) gives the CLI one): the file's size, a rate.
script -qec "$H --copy '$TMP/h/big' '$GUEST:$TMP/g/pbar'" /dev/null \
    >"$TMP/pty" 2>&1
check "a progress line on a terminal, host -> guest: size and rate" \
    grep -q "big  64.0 MiB / 64.0 MiB  .*/s" "$TMP/pty"
script -qec "$GUESTBIN --control '$TMP/guest.sock' -c '$TMP/gport' --copy 'host:$TMP/h/big' '$TMP/g/pbar'" \
    /dev/null >"$TMP/pty" 2>&1
check "... guest -> host" grep -q "pbar  64.0 MiB / 64.0 MiB  .*/s" "$TMP/pty"
script -qec "$H -q --copy '$TMP/h/big' '$GUEST:$TMP/g/pbar'" /dev/null \
    >"$TMP/pty" 2>&1
check "... none with -q" test ! -s "$TMP/pty"
rm -f "$TMP/g/pbar"
expect_status 0 "host -> guest into a directory: DIR/NAME" \
    ht --copy "$TMP/h/one" "$GUEST:$TMP/g/"
touch -d '2001-02-03 04:05:06' "$TMP/h/one"
expect_status 0 "-p keeps the times" ht -p --copy "$TMP/h/one" "$GUEST:$TMP/g/p"
check "... mtime 2001" test "$(stat -c %Y "$TMP/g/p")" = "$(stat -c %Y "$TMP/h/one")"
expect_status 0 "a relative remote path is relative to /" \
    ht --copy "$TMP/h/one" "$GUEST:${TMP#/}/g/rel"
check "... there" same "$TMP/h/one" "$TMP/g/rel"
expect_status 1 "a missing remote source fails" \
    gt --copy host:"$TMP/h/nothing" "$TMP/g/nothing"
check "... naming it" err_has "$TMP/h/nothing: No such file"
check "... and writes nothing" test ! -e "$TMP/g/nothing"

# --- a tree, each way ---------------------------------------------------
mkdir -p "$TMP/h/tree/sub/deeper" "$TMP/h/tree/empty-dir"
echo a >"$TMP/h/tree/a"; echo b >"$TMP/h/tree/sub/b"
chmod 751 "$TMP/h/tree/sub"; chmod 600 "$TMP/h/tree/a"
ln -s ../a "$TMP/h/tree/sub/link"; ln -s /etc/passwd "$TMP/h/tree/abs"
mkfifo "$TMP/h/tree/fifo"
expect_status 1 "a directory without -r is refused" \
    ht --copy "$TMP/h/tree" "$GUEST:$TMP/g/tree"
check "... saying so" err_has "give -r"
expect_status 1 "host -> guest: a tree with a fifo in it (copied, fifo skipped)" \
    ht -r --copy "$TMP/h/tree" "$GUEST:$TMP/g/"
check "... the fifo said" err_has "fifo: a fifo: not copied"
rm "$TMP/h/tree/fifo"
expect_status 0 "guest -> host: the tree" gt -r --copy host:"$TMP/h/tree" "$TMP/g/tree2"
for t in tree tree2; do
	check "$t: same contents" diff -r --no-dereference "$TMP/h/tree" "$TMP/g/$t"
	check "$t: modes kept" test "$(stat -c %a "$TMP/g/$t/sub"):$(stat -c %a \
	    "$TMP/g/$t/a")" = 751:600
	check "$t: links copied as links" test "$(readlink "$TMP/g/$t/sub/link"):$(readlink \
	    "$TMP/g/$t/abs")" = ../a:/etc/passwd
done

# --- hostile streams into put: nothing outside the target -------------------
mkdir -p "$TMP/g/jail" "$TMP/outside"
python3 - "$TMP" <<'PY'
import struct, sys
tmp = sys.argv[1]
def ent(t, name=b"", mode=0o644, size=0, body=b""):
    return struct.pack(">BHBBIQqIqI", ord(t), len(name), 0, 0, mode, size,
                       0, 0, 0, 0) + name + body
M = b"negotiator-copy 1\n"
M2 = b"negotiator-copy 2\n"
streams = {
  "dotdot": M + ent("d", b"root", 0o755) + ent("f", b"..", 0o644, 3, b"bad") + ent("u") + ent("e"),
  "slash": M + ent("d", b"root", 0o755) + ent("f", b"x/../../../outside/p", 0o644, 3, b"bad") + ent("u") + ent("e"),
  "absolute": M + ent("f", tmp.encode() + b"/outside/abs", 0o644, 3, b"bad") + ent("e"),
  "through-link": M + ent("d", b"root", 0o755)
      + ent("l", b"esc", 0o777, len(tmp) + 8, tmp.encode() + b"/outside")
      + ent("d", b"esc", 0o755) + ent("f", b"pwn", 0o644, 3, b"bad") + ent("u")
      + ent("u") + ent("e"),
  "lying-size": M + ent("f", b"short", 0o644, 1000, b"only ten b"),
  "lying-size-spliced": M2 + ent("f", b"short", 0o644, 1000, b"only ten b"),
  "nul": M + ent("f", b"a\0b", 0o644, 1, b"x") + ent("e"),
  "garbage": b"GET / HTTP/1.0\r\n\r\n",
  # Version 2's COPY_MODE_HOLES, where it may not be.
  "holes-on-a-dir": M2 + ent("d", b"root", 0o755 | 0x10000) + ent("u") + ent("e"),
  "holes-in-version-1": M + ent("f", b"h", 0o644 | 0x10000, 1, b"x") + ent("e"),
  "version-3": b"negotiator-copy 3\n" + ent("f", b"v", 0o644, 1, b"x") + ent("e"),
}
# Version 1, still read: its zero blocks become holes, dense or not.
open(f"{tmp}/v1.zeros", "wb").write(M + ent("f", b"z", 0o644, 4 << 20, bytes(4 << 20)) + ent("e"))
for k, v in streams.items():
    open(f"{tmp}/s.{k}", "wb").write(v)
PY
for s in dotdot slash absolute through-link lying-size lying-size-spliced nul garbage \
    holes-on-a-dir holes-in-version-1 version-3; do
	expect_status 1 "hostile stream into put (through the guest daemon): $s" \
	    $H -e "put $TMP/g/jail/$s" "$GUEST" <"$TMP/s.$s" 2>"$TMP/err"
	check "... said in one line" test "$(wc -l <"$TMP/err")" -eq 1
done
check "... nothing written outside the target" test -z "$(ls -A "$TMP/outside")"
check "... no temporary left anywhere" no_temp -R "$TMP/g/jail"
$H -e "put $TMP/g/jail/v3" "$GUEST" <"$TMP/s.version-3" 2>"$TMP/err"
check "a stream of a later version: says to update this side" \
    err_has "a copy stream of version 3, newer than this negotiator reads (1 and 2): update it here"

# --- stream versions, holes and splice (copy.h) ---------------------------
# Version 2 makes holes only of a file that has them (as cp --sparse=auto);
# version 1 made them of every zero block, and is still read so.
expect_status 0 "a version 1 stream is still read" \
    $H -e "put $TMP/g/v1z" "$GUEST" <"$TMP/v1.zeros"
check "... its zero blocks made holes (under 1 MiB used of 4)" \
    test "$(du -k "$TMP/g/v1z" | cut -f1)" -lt 1024
check "... the same bytes" cmp -s "$TMP/g/v1z" <(head -c $((4 << 20)) /dev/zero)
head -c $((4 << 20)) /dev/zero >"$TMP/h/dense-zeros"
expect_status 0 "host -> guest: 4 MiB of zeros written out, not sparse" \
    ht --copy "$TMP/h/dense-zeros" "$GUEST:$TMP/g/dense-zeros"
check "... dense there too (4 MiB used), the same bytes" \
    test "$(du -k "$TMP/g/dense-zeros" | cut -f1)" -ge 4096 -a \
    -n "$(cmp "$TMP/h/dense-zeros" "$TMP/g/dense-zeros" && echo same)"
# The receiver splices a file from a pipe (no copy through it), and reads
# and writes where it cannot: a stream in a regular file.
strace -f -qq -e trace=splice -o "$TMP/strace.file" \
    "$HOSTBIN" --send-files "$TMP/h/big" >"$TMP/s.v2" 2>"$TMP/err"
check "--send-files writes a version 2 stream" \
    test "$(head -c 18 "$TMP/s.v2")" = "negotiator-copy 2"
# The sender splices each file into a pipe (no copy through it), and reads
# and writes where it cannot: into that regular file.
check "... into a file: read and written (one splice tried, EINVAL; none moved a byte)" \
    test "$(grep -c 'splice(.*= -1 EINVAL' "$TMP/strace.file")" -eq 1 -a \
    "$(grep -c 'splice(.*) = [1-9]' "$TMP/strace.file")" -eq 0
strace -f -qq -e trace=splice -o "$TMP/strace.send" \
    "$HOSTBIN" --send-files "$TMP/h/big" 2>"$TMP/err" | cat >"$TMP/s.piped"
mkdir -p "$TMP/g/sent"
"$HOSTBIN" --receive-files "$TMP/g/sent/big" <"$TMP/s.piped" 2>"$TMP/err"
check "--send-files into a pipe: the same bytes come out" \
    same "$TMP/h/big" "$TMP/g/sent/big"
check "... spliced from the file: $(grep -c 'splice(.*) = [1-9]' "$TMP/strace.send") splices moved bytes, none failed" \
    test "$(grep -c 'splice([0-9]*, NULL, 1, NULL, .*) = [1-9]' "$TMP/strace.send")" -gt 0 -a \
    "$(grep -c 'splice(.*= -1' "$TMP/strace.send")" -eq 0
mkdir -p "$TMP/g/spliced"
cat "$TMP/s.v2" | strace -f -qq -e trace=splice -o "$TMP/strace" \
    "$HOSTBIN" --receive-files "$TMP/g/spliced/big" 2>"$TMP/err"
check "from a pipe: the same bytes" same "$TMP/h/big" "$TMP/g/spliced/big"
check "... spliced: $(grep -c '^[0-9]* *splice(0, NULL, [0-9]*, NULL, [0-9]*, SPLICE_F_MOVE) = [1-9]' "$TMP/strace") splices moved bytes, none failed" \
    test "$(grep -c 'splice(0, .*) = [1-9]' "$TMP/strace")" -gt 0 -a \
    "$(grep -c 'splice(.*= -1' "$TMP/strace")" -eq 0
"$HOSTBIN" --receive-files "$TMP/g/spliced/from-file" <"$TMP/s.v2" 2>"$TMP/err"
check "from a regular file (no splice): the same bytes" \
    same "$TMP/h/big" "$TMP/g/spliced/from-file"
rm -rf "$TMP/g/spliced" "$TMP/s.v2" "$TMP/g/v1z" "$TMP/g/dense-zeros"

# --- interrupted copies: the old file stays, no temporary -------------------
truncate -s 1G "$TMP/h/huge"
echo old >"$TMP/g/target"
echo old >"$TMP/h/target"
# temp_in DIR: a temporary is being written there (the copy is mid-file).
temp_in() { ls -A "$1" | grep -q "^\.negotiator-copy\."; }
# interrupt SIGNAL WHO DIR CMD...: starts CMD in a process group of its own,
# waits for a temporary in DIR, sends SIGNAL to the group (Ctrl-C) or to
# the guest daemon (WHO=guestd); CMD's status.
interrupt() {
	local sig=$1 who=$2 dir=$3 pid; shift 3
	set -m
	"$@" 2>"$TMP/err" &
	pid=$!
	set +m
	wait_until 20 temp_in "$dir" || echo "     (no temporary seen)"
	if [ "$who" = guestd ]; then kill "-$sig" "$GUESTD_PID"
	else kill "-$sig" -- "-$pid"; fi
	reap 20 "$pid"
}
expect_status 130 "Ctrl-C mid-file, host -> guest" \
    interrupt INT cli "$TMP/g" $H --copy "$TMP/h/huge" "$GUEST:$TMP/g/target"
check "... no temporary left (within 5 s)" wait_until 5 no_temp "$TMP/g"
check "... the old file intact" test "$(cat "$TMP/g/target")" = old
expect_status 130 "Ctrl-C mid-file, guest -> host" \
    interrupt INT cli "$TMP/h" guest_cli --copy host:"$TMP/h/huge" "$TMP/h/target"
check "... no temporary left" wait_until 5 no_temp "$TMP/h"
check "... the old file intact" test "$(cat "$TMP/h/target")" = old
interrupt KILL guestd "$TMP/g" $H --copy "$TMP/h/huge" "$GUEST:$TMP/g/target"
rc=$?
check "kill -9 of the guest daemon mid-file: the copy fails ($rc)" \
    test "$rc" -ne 0 -a "$rc" -ne 137
check "... no temporary left" wait_until 5 no_temp "$TMP/g"
check "... the old file intact" test "$(cat "$TMP/g/target")" = old
start_guestd
check "guest daemon restarted" wait_until 10 serving
expect_status 124 "-t 1 on a copy that takes longer, host -> guest" \
    ht -t 1 --copy "$TMP/h/huge" "$GUEST:$TMP/g/target"
check "... no temporary left (within 5 s)" wait_until 5 no_temp "$TMP/g"
check "... the old file intact" test "$(cat "$TMP/g/target")" = old
expect_status 124 "-t 1 on a copy that takes longer, guest -> host" \
    gt -t 1 --copy host:"$TMP/h/huge" "$TMP/h/target"
check "... no temporary left" wait_until 5 no_temp "$TMP/h"
check "... the old file intact" test "$(cat "$TMP/h/target")" = old

# --- a full and a read-only file system ------------------------------------
if [ "$(id -u)" = 0 ] && mkdir -p "$TMP/g/full" "$TMP/g/ro" &&
    mount -t tmpfs -o size=1m tmpfs "$TMP/g/full" && MOUNTS="$TMP/g/full" &&
    echo old >"$TMP/g/full/f" &&
    mount -t tmpfs -o size=1m,ro tmpfs "$TMP/g/ro" && MOUNTS="$MOUNTS $TMP/g/ro"; then
	expect_status 1 "host -> guest into a full tmpfs" \
	    ht --copy "$TMP/h/big" "$GUEST:$TMP/g/full/f"
	check "... says so, naming the path" err_has "$TMP/g/full/f: No space left on device"
	check "... the old file intact" test "$(cat "$TMP/g/full/f")" = old
	check "... no temporary left" no_temp "$TMP/g/full"
	expect_status 1 "host -> guest into a read-only file system" \
	    ht --copy "$TMP/h/one" "$GUEST:$TMP/g/ro/f"
	check "... says so" err_has "Read-only file system"
	expect_status 1 "guest -> host into a full tmpfs (the local side fails)" \
	    gt --copy host:"$TMP/h/big" "$TMP/g/full/f"
	check "... says so, naming the path" err_has "$TMP/g/full/f: No space left on device"
	check "... the old file intact" test "$(cat "$TMP/g/full/f")" = old
	check "... no temporary left" no_temp "$TMP/g/full"
else
	skip "full and read-only file systems (needs root for a tmpfs)"
fi

# --- make install: the management set where --enable looks, enabled nowhere
make -s -C "$REPO" install-guest DESTDIR="$TMP/stage" >"$TMP/install.log" 2>&1
A=$TMP/stage/usr/local/lib/negotiator/available
check "install-guest: put, get, sh in PREFIX/lib/negotiator/available, mode 555" \
    test "$(stat -c %a "$A/put" "$A/get" "$A/sh" 2>&1 | sort -u)" = 555
check "... put runs the installed program, not a placeholder" \
    grep -q '^for p in /usr/local/bin/negotiator-guest /usr/local/bin/negotiator-host; do$' "$A/put"
check "... and none is enabled" test -z "$(ls -A "$TMP/stage/usr/lib/negotiator/commands")"
make -s -C "$REPO" uninstall-guest DESTDIR="$TMP/stage" >>"$TMP/install.log" 2>&1
check "uninstall-guest removes them" test -z "$(find "$TMP/stage" -type f)"

# --- the scenario the VM suite runs too ------------------------------------
scenario_copy "$TMP/g/scenario"

# --- memory: a 1 GiB copy each way ------------------------------------------
# peak PID: the highest sum of VmRSS (kB) of PID and its children (the
# CLI and the call it forked), sampled every 50 ms until PID is gone.
peak() {
	local m=0 sum r p
	while alive "$1"; do
		sum=0
		for p in "$1" $(pgrep -P "$1"); do
			r=$(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null)
			sum=$((sum + ${r:-0}))
		done
		[ "$sum" -gt "$m" ] && m=$sum
		sleep 0.05
	done
	echo "$m"
}
# Each way with each CLI: host->guest pushed by the host CLI and pulled by
# the guest CLI, guest->host pulled by the host CLI and pushed by the guest
# CLI (from the file the first run wrote).
for way in to-guest from-host from-guest to-host; do
	case $way in
	to-guest)   rm -f "$TMP/g/huge"; dst=$TMP/g/huge
		    $H --copy "$TMP/h/huge" "$GUEST:$dst" & pid=$! ;;
	from-host)  rm -f "$TMP/g/huge"; dst=$TMP/g/huge
		    guest_cli --copy host:"$TMP/h/huge" "$dst" & pid=$! ;;
	from-guest) rm -f "$TMP/h/back"; dst=$TMP/h/back
		    $H --copy "$GUEST:$TMP/g/huge" "$dst" & pid=$! ;;
	to-host)    rm -f "$TMP/h/back"; dst=$TMP/h/back
		    guest_cli --copy "$TMP/g/huge" host:"$dst" & pid=$! ;;
	esac
	t0=$(now_ms)
	cli=$(peak "$pid")
	reap 120 "$pid"; rc=$?
	ms=$(( $(now_ms) - t0 ))
	h=$(awk '/^VmHWM/ { print $2 }' "/proc/$HOSTD_PID/status")
	g=$(awk '/^VmHWM/ { print $2 }' "/proc/$GUESTD_PID/status")
	echo "# 1 GiB $way: $ms ms; peak RSS: CLI (both processes) $cli kB, host daemon $h kB, guest daemon $g kB"
	check "1 GiB $way: done ($rc), same size" test "$rc" = 0 -a \
	    "$(stat -c %s "$dst")" = $((1 << 30))
	# The sanitizers' shadow memory and quarantine are not ours to bound.
	if [ -n "${NEGOTIATOR_BIN_DIR:-}" ]; then
		skip --elsewhere "tests/copy.sh on the plain build" \
		    "RSS bounds (programs from $NEGOTIATOR_BIN_DIR)"
		continue
	fi
	check "... CLI RSS $cli kB < $CLI_RSS_BOUND_KB kB (and measured)" \
	    test "$cli" -gt 0 -a "$cli" -lt "$CLI_RSS_BOUND_KB"
	check "... daemons' peak RSS $h, $g kB < $RSS_BOUND_KB kB" \
	    test "$h" -lt "$RSS_BOUND_KB" -a "$g" -lt "$RSS_BOUND_KB"
done
rm -f "$TMP/g/huge" "$TMP/h/back"

finish
