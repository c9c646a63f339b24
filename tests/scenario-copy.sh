# scenario_copy GDIR: negotiator-host --copy into and out of the guest, for
# the emulated suite (tests/copy.sh) and the VM suite (tests/vm/vmtest.sh):
# sizes from 0 to 64 MiB (sha256 at both ends), a sparse file, a tree with
# modes and links, Ctrl-C mid-file, a full tmpfs in the guest.  Needs H,
# GUEST, TMP (on this side), put, get and sh enabled in the guest, and root
# there (to mount a tmpfs); GDIR is a directory in the guest, created here
# and removed at the end.  Sourced; uses tests/lib.sh.

# gsh STRING: /bin/sh -c STRING in the guest, through its sh.
gsh() { $H -t 0 -e "sh '${1//\'/\'\\\'\'}'" "$GUEST"; }
# g_no_temp DIR: no temporary of a copy left in DIR in the guest.
g_no_temp() { ! gsh "ls -A '$1'" | grep -q '^\.negotiator-copy\.'; }
g_temp() { gsh "ls -A '$1'" | grep -q '^\.negotiator-copy\.'; }

scenario_copy() {
	local gd=$1 l=$TMP/sc f pid rc t0
	rm -rf "$l"; mkdir -p "$l/back"
	gsh "rm -rf '$gd' && mkdir -p '$gd'"
	: >"$l/empty"
	printf x >"$l/one"
	head -c $((64 << 20)) /dev/urandom >"$l/big"
	truncate -s 100M "$l/sparse"; echo end >>"$l/sparse"
	for f in empty one big sparse; do
		t0=$(now_ms)
		expect_status 0 "copy into the guest: $f" \
		    $H --copy "$l/$f" "$GUEST:$gd/$f"
		[ $f != big ] || echo "# 64 MiB into the guest: $(( $(now_ms) - t0 )) ms"
		check "... sha256 the same in the guest" test \
		    "$(gsh "sha256sum <'$gd/$f'" | cut -c1-64)" = \
		    "$(sha256sum <"$l/$f" | cut -c1-64)"
		t0=$(now_ms)
		expect_status 0 "copy out of the guest: $f" \
		    $H --copy "$GUEST:$gd/$f" "$l/back/$f"
		[ $f != big ] || echo "# 64 MiB out of the guest: $(( $(now_ms) - t0 )) ms"
		check "... the same bytes back" cmp -s "$l/$f" "$l/back/$f"
	done
	check "the sparse file is sparse in the guest (under 1 MiB used)" \
	    test "$(gsh "du -k '$gd/sparse'" | cut -f1)" -lt 1024
	gsh "rm -f '$gd/big' '$gd/sparse'"
	rm -f "$l/back/big" "$l/back/sparse"

	mkdir -p "$l/tree/sub/deeper"
	echo a >"$l/tree/a"; echo b >"$l/tree/sub/b"
	chmod 750 "$l/tree/sub"; chmod 600 "$l/tree/a"
	ln -s ../a "$l/tree/sub/link"
	expect_status 0 "a tree into the guest (-r)" \
	    $H -r --copy "$l/tree" "$GUEST:$gd/"
	check "... its link a link there" \
	    test "$(gsh "readlink '$gd/tree/sub/link'")" = ../a
	check "... its modes kept there" \
	    test "$(gsh "stat -c %a '$gd/tree/sub' '$gd/tree/a'" | tr '\n' :)" = 750:600:
	expect_status 0 "... and out again" \
	    $H -r --copy "$GUEST:$gd/tree" "$l/back/tree"
	check "... the same tree" diff -r --no-dereference "$l/tree" "$l/back/tree"
	check "... modes kept both ways" test "$(stat -c %a "$l/back/tree/sub" \
	    "$l/back/tree/a" | tr '\n' :)" = 750:600:

	# Ctrl-C mid-file: the old file stays, and no temporary.
	truncate -s 1G "$l/huge"
	gsh "echo old >'$gd/target'"
	set -m
	$H --copy "$l/huge" "$GUEST:$gd/target" 2>/dev/null &
	pid=$!
	set +m
	wait_until 30 g_temp "$gd" || echo "     (no temporary seen in the guest)"
	kill -INT -- "-$pid"
	reap 20 "$pid"; rc=$?
	check "Ctrl-C mid-file into the guest: exit 130 ($rc)" test "$rc" = 130
	check "... no temporary left in the guest" wait_until 10 g_no_temp "$gd"
	check "... the old file intact" test "$(gsh "cat '$gd/target'")" = old

	rm -f "$l/huge"

	# A full tmpfs in the guest: a clear failure, the old file kept.
	if gsh "mkdir -p '$gd/full' && mount -t tmpfs -o size=1m tmpfs '$gd/full' && echo old >'$gd/full/f'"; then
		head -c $((4 << 20)) /dev/urandom >"$l/4m"
		$H --copy "$l/4m" "$GUEST:$gd/full/f" 2>"$l/err"
		rc=$?
		check "copy into a full tmpfs in the guest fails ($rc)" test "$rc" = 1
		check "... saying so, naming the path" \
		    grep -q "$gd/full/f: No space left on device" "$l/err"
		check "... the old file intact" test "$(gsh "cat '$gd/full/f'")" = old
		check "... no temporary left" g_no_temp "$gd/full"
		gsh "umount '$gd/full'"
	else
		fail "a tmpfs mounted in the guest"
	fi
	gsh "rm -rf '$gd'"
	rm -rf "$l"
}

# scenario_copy_daemon_killed GDIR: kill -9 of the guest daemon mid-file
# into GDIR in the guest, for a guest whose init restarts its daemon (the
# VM suite; tests/copy.sh kills its own): the copy fails, the put it ran
# dies with it, and neither a temporary nor a changed target is left.
scenario_copy_daemon_killed() {
	local gd=$1 l=$TMP/sck pid rc
	rm -rf "$l"; mkdir -p "$l"
	gsh "rm -rf '$gd' && mkdir -p '$gd' && echo old >'$gd/target'"
	truncate -s 1G "$l/huge"
	$H --copy "$l/huge" "$GUEST:$gd/target" 2>/dev/null &
	pid=$!
	wait_until 30 g_temp "$gd" || echo "     (no temporary seen in the guest)"
	$H -e kill-daemon "$GUEST" >/dev/null 2>&1
	reap 20 "$pid"; rc=$?
	check "kill -9 of the guest daemon mid-file: the copy fails ($rc)" \
	    test "$rc" -ne 0 -a "$rc" -ne 137 -a "$rc" -ne 255
	check "... the guest daemon serves again" wait_until 20 serving
	check "... no temporary left in the guest" wait_until 10 g_no_temp "$gd"
	check "... the old file intact" test "$(gsh "cat '$gd/target'")" = old
	gsh "rm -rf '$gd'"
	rm -rf "$l"
}
