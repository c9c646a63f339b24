#!/bin/bash
# debtest.sh BASEDIR DEBDIR: what "make deb" left in DEBDIR (dpkg-buildpackage
# -b and -S from debian/), checked the way Debian checks it: lintian on both
# .changes (no error, no warning; overrides only in the packages, with their
# reasons), blhc on the build log (the distribution's build flags reached
# every compile and link), maintainer scripts made by debhelper (with
# debian/*.postrm, written by hand for what it cannot do, at its token).  Then
# the .debs into a clean Debian 12 chroot (BASEDIR/minbase.tar, from
# mkbase.sh) with `apt-get install ./….deb`, what they installed and
# enabled, remove and purge, and what is left.  Needs root and Debian's
# mirror.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/../lib.sh"
[ $# -eq 2 ] || { echo "usage: debtest.sh BASEDIR DEBDIR" >&2; exit 2; }
BASE=$1
DEBS=$(cd "$2" && pwd)
CACHE=${NEGOTIATOR_TEST_CACHE:-/var/cache/negotiator-test}
T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-debtest.XXXXXX") || exit 1
R=$T/root
cleanup() {
	trap '' INT TERM HUP
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# in_root CMD...: runs CMD in the chroot, with /proc mounted in a mount
# namespace of its own, so that nothing stays mounted whatever happens.
in_root() {
	unshare --mount --fork sh -c 'mount -t proc proc "$0/proc" &&
	    exec chroot "$0" "$@"' "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	    DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
}

set -- "$DEBS"/negotiator-common_*_all.deb "$DEBS"/negotiator-host_*_amd64.deb \
    "$DEBS"/negotiator-guest_*_amd64.deb
for d in "$@" "$DEBS"/negotiator_*_amd64.changes "$DEBS"/negotiator_*_source.changes \
    "$DEBS"/build-b.log; do
	[ -f "$d" ] || { echo "debtest.sh: no $d; run make deb" >&2; exit 1; }
done

echo "--- lintian"
lintian --fail-on error,warning --tag-display-limit 0 \
    "$DEBS"/negotiator_*_amd64.changes "$DEBS"/negotiator_*_source.changes \
    >"$T/lintian.txt" 2>&1
check "lintian on both .changes: no error, no warning (exit $?)" test $? -eq 0
grep -v 'running with root privileges' "$T/lintian.txt"

blhc "$DEBS/build-b.log" >"$T/blhc.txt" 2>&1
check "blhc: the build log has the hardening flags everywhere" test $? -eq 0 ||
    head -n 5 "$T/blhc.txt"
check "the build log has compiler lines for blhc to read" grep -q \
    -- '-fstack-protector-strong.*-c -o common/conn.o' "$DEBS/build-b.log"
# not_dh SCRIPT: the lines of SCRIPT outside debhelper's snippets, blank
# lines left out.
not_dh() {
	awk '/^# Automatically added by dh_/ { in_dh = 1 }
	    !in_dh && !/^$/ { print }
	    /^# End automatically added section/ { in_dh = 0 }' "$1"
}
# by_dh PKG SCRIPT FILE: FILE, PKG's SCRIPT as built, is debhelper's
# snippets in the shebang and set -e that dh_installdeb writes around
# them, or in debian/PKG.SCRIPT, where that exists (written by hand for
# what debhelper cannot do, and saying why), at its #DEBHELPER# token.
by_dh() {
	local want
	if [ -f "$REPO/debian/$1.$2" ]; then
		want=$(grep -v -e '^#DEBHELPER#$' -e '^$' "$REPO/debian/$1.$2")
	else
		want=$(printf '#!/bin/sh\nset -e')
	fi
	[ "$(not_dh "$3")" = "$want" ] || { not_dh "$3" | sed "s|^|$1.$2: |"; return 1; }
}
for d in "$DEBS"/negotiator-host_*_amd64.deb "$DEBS"/negotiator-guest_*_amd64.deb; do
	p=$(dpkg-deb -f "$d" Package)
	dpkg-deb -e "$d" "$T/ctl-$p"
	for s in postinst prerm postrm; do
		if [ -f "$REPO/debian/$p.$s" ]; then
			w="debhelper's and debian/$p.$s"
		else
			w="debhelper's alone"
		fi
		check "$p: $s is $w" by_dh "$p" "$s" "$T/ctl-$p/$s"
	done
	check "$p: dh_installsystemd restarts the daemon after an upgrade" \
	    grep -q '_dh_action=restart' "$T/ctl-$p/postinst"
	# The static programs: static-pie (PIE, RELRO, BIND_NOW), but the
	# guest CLI, linked at a fixed address (RELRO; a static program at
	# a fixed address has no dynamic section, so no lazy binding).
	case $p in
	negotiator-host) progs="usr/bin/negotiator-host:pie" ;;
	*) progs="usr/bin/negotiator-guest:fixed usr/lib/negotiator/negotiator-guestd:pie" ;;
	esac
	for b in $progs; do
		f=${b%:*} t=${b##*:} bin=$T/$(basename "${b%:*}").bin
		dpkg-deb --fsys-tarfile "$d" | tar xO "./$f" >"$bin"
		case $t in
		pie) check "$p: $f is static-pie (PIE, RELRO, BIND_NOW): $(file - <"$bin" | cut -d, -f1-3)" sh -c \
		    "readelf -h '$bin' | grep -q 'Type: *DYN' &&
		    ! readelf -l '$bin' | grep -q INTERP &&
		    readelf -l '$bin' | grep -q GNU_RELRO &&
		    readelf -d '$bin' | grep -q 'FLAGS.*BIND_NOW'" ;;
		*) check "$p: $f is static at a fixed address, RELRO: $(file - <"$bin" | cut -d, -f1-3)" sh -c \
		    "readelf -h '$bin' | grep -q 'Type: *EXEC' &&
		    ! readelf -l '$bin' | grep -q INTERP &&
		    readelf -l '$bin' | grep -q GNU_RELRO" ;;
		esac
	done
done

mkdir "$R"
tar -C "$R" --numeric-owner -xf "$BASE/minbase.tar" || exit 1
cp /etc/resolv.conf "$R/etc/resolv.conf"
mkdir -p "$CACHE/apt-archives" "$R/tmp/debs"
cp "$@" "$R/tmp/debs/"
cp "$CACHE"/apt-archives/*.deb "$R/var/cache/apt/archives/" 2>/dev/null
in_root apt-get update -q >"$T/apt.log" 2>&1
check "apt-get update in the chroot" test $? -eq 0
(cd "$R/tmp/debs" && ls) | sed 's|^|./tmp/debs/|' >"$T/list"
# shellcheck disable=SC2046
in_root sh -c 'cd / && apt-get install -y -q --no-install-recommends "$@"' \
    sh $(cat "$T/list") >>"$T/apt.log" 2>&1
check "apt-get install ./negotiator-{common,host,guest}_….deb" test $? -eq 0
cp -n "$R"/var/cache/apt/archives/*.deb "$CACHE/apt-archives/" 2>/dev/null

for p in negotiator-common negotiator-host negotiator-guest; do
	check "$p is installed" sh -c "chroot '$R' dpkg-query -W -f='\${Status}' $p |
	    grep -q 'install ok installed'"
done
check "negotiator-host runs in the chroot" in_root negotiator-host --version
check "negotiator-guest runs in the chroot" in_root negotiator-guest --version
# libs_resolved FILE...: every ELF file's libraries are found in the chroot.
libs_resolved() {
	local f out
	for f; do
		out=$(in_root ldd "$f" 2>&1)
		case $out in
		*"not found"*) echo "$f: $out"; return 1 ;;
		esac
	done
}
check "every installed binary finds its libraries" libs_resolved \
    $(cd "$R" && ls usr/bin/negotiator-* usr/lib/negotiator/negotiator-* 2>/dev/null | sed 's|^|/|')
for side in host guest; do
	check "negotiator-$side.service enabled by the postinst" test -L \
	    "$R/etc/systemd/system/multi-user.target.wants/negotiator-$side.service"
	check "no supervisord program of $side starts a second daemon" test ! -e \
	    "$R/etc/supervisor/conf.d/negotiator-$side.conf"
done
check "a built-in is installed" test -x "$R/usr/lib/negotiator/builtin/uptime"
check "the built-in runs" grep -q uptime_seconds \
    <(in_root /usr/lib/negotiator/builtin/uptime)
check "/usr/lib/negotiator/commands exists" test -d "$R/usr/lib/negotiator/commands"
owners=$(chroot "$R" dpkg -S /usr/lib/negotiator/commands | cut -d: -f1)
for p in negotiator-common negotiator-host negotiator-guest; do
	check "$p owns /usr/lib/negotiator/commands" grep -qw "$p" <<<"$owners"
done

# A user's command stays when the packages go.
printf '#!/bin/sh\necho mine\n' >"$R/usr/lib/negotiator/commands/mine"
chmod 755 "$R/usr/lib/negotiator/commands/mine"
in_root apt-get remove -y -q negotiator-host negotiator-guest negotiator-common \
    >>"$T/apt.log" 2>&1
check "apt-get remove" test $? -eq 0
check "binaries gone" test ! -e "$R/usr/bin/negotiator-host" -a ! -e "$R/usr/bin/negotiator-guest"
check "built-ins gone" test ! -e "$R/usr/lib/negotiator/builtin"
check "units gone" sh -c "! ls '$R'/lib/systemd/system/negotiator-* 2>/dev/null | grep -q ."
check "the user's command stays" test -x "$R/usr/lib/negotiator/commands/mine"
in_root apt-get purge -y -q negotiator-host negotiator-guest negotiator-common \
    >>"$T/apt.log" 2>&1
check "apt-get purge" test $? -eq 0
check "no enablement link or mask left" sh -c \
    "! find '$R/etc/systemd' -name 'negotiator-*' | grep -q ."
check "dpkg forgets the packages" sh -c \
    "! chroot '$R' dpkg-query -W -f='\${Status}\n' negotiator-common negotiator-host negotiator-guest 2>/dev/null | grep -q installed"
[ "$FAILED" -gt 0 ] && tail -n 40 "$T/apt.log"
finish
