#!/bin/sh
# mkdeb.sh OUTDIR: builds the Debian packages negotiator-host,
# negotiator-guest and negotiator-common into OUTDIR ("make deb").
#
# Each package is a staged install of a private copy of this tree ("make
# install-host DESTDIR=…" with PREFIX=/usr), so the working tree's binaries,
# built for its own PREFIX, are left alone.  What both sides install alike
# (the built-ins, put, get and sh in /usr/lib/negotiator/available, enabled
# by neither package, negotiator-commands(7)) goes to negotiator-common, on which
# the other two depend; all three own /usr/lib/negotiator/commands.  The
# supervisord program becomes an example: the package enables the systemd
# unit instead, and the two must not both start a daemon.  Depends: is
# computed by dpkg-shlibdeps from the ELF files staged, so a static binary
# depends on no library.  Control files and maintainer scripts come from
# the templates beside this script.
set -eu
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
die() { echo "mkdeb.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: mkdeb.sh OUTDIR"
[ -d "$1" ] || die "no such directory: $1"
OUT=$(cd "$1" && pwd)
VERSION=${VERSION:?VERSION must be set (make deb sets it)}
for c in dpkg-deb dpkg-shlibdeps dpkg-buildflags readelf strip gzip; do
	command -v "$c" >/dev/null 2>&1 ||
	    die "$c is missing (apt-get install dpkg-dev binutils)"
done
ARCH=$(dpkg --print-architecture)
MAINT=$(sed -n 's/^Maintainer: //p' "$HERE/negotiator-common.control")
DATE=$(git -C "$TOP" log -1 --format=%cD 2>/dev/null || date -R)
YEAR=$(echo "$DATE" | awk '{ print $4 }')

W=$(mktemp -d /tmp/negotiator-deb.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A private tree, built for /usr.
mkdir "$W/src"
(cd "$TOP" && tar cf - --exclude='*.o' Makefile common host guest commands \
    man supervisor ansible) | tar xf - -C "$W/src"
# Debian's build flags (hardening), through the environment so that the
# Makefile's own CPPFLAGS and LDLIBS still add to them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+bindnow
CFLAGS=$(dpkg-buildflags --get CFLAGS)
CPPFLAGS=$(dpkg-buildflags --get CPPFLAGS)
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS CPPFLAGS LDFLAGS
DEBVARS="PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/lib/systemd/system \
    LOGDIR=/var/log/negotiator"
for side in host guest common; do
	# shellcheck disable=SC2086
	make -s -C "$W/src" --no-print-directory $DEBVARS \
	    DESTDIR="$W/negotiator-$side" "install-$side" >"$W/make.log" 2>&1 ||
	    { cat "$W/make.log" >&2; die "make install-$side failed"; }
done

# is_elf FILE
is_elf() { [ "$(od -An -c -N4 "$1" | tr -d ' ')" = '177ELF' ]; }

# shlibs_depends ROOT: the Depends computed for the ELF files under ROOT.
shlibs_depends() {
	elfs=$(find "$1" -type f | while read -r f; do
		if is_elf "$f"; then echo "$f"; fi; done)
	[ -n "$elfs" ] || return 0
	mkdir -p "$W/shlibs/debian"
	printf 'Source: negotiator\n\nPackage: negotiator\nArchitecture: any\n' \
	    >"$W/shlibs/debian/control"
	# shellcheck disable=SC2086
	(cd "$W/shlibs" && dpkg-shlibdeps -O $elfs 2>"$W/shlibdeps.log") |
	    sed -n 's/^shlibs:Depends=//p' ||
	    { cat "$W/shlibdeps.log" >&2; die "dpkg-shlibdeps failed"; }
}

for side in host guest common; do
	pkg=negotiator-$side
	root=$W/$pkg
	doc=$root/usr/share/doc/$pkg
	arch=$ARCH
	depends=
	mkdir -p "$doc"
	if [ "$side" = common ]; then
		arch=all
		# Read-only in a source install; dpkg's files are root's anyway.
		chmod 755 "$root"/usr/lib/negotiator/builtin/*
	else
		# Shared files belong to negotiator-common.
		(cd "$W/negotiator-common" && find . -type f) | while read -r f; do
			rm -f "$root/$f"; done
		mkdir -p "$doc/examples"
		mv "$root/etc/supervisor/conf.d/$pkg.conf" "$doc/examples/"
		rm -r "$root/etc/supervisor"
		find "$root" -depth -type d -empty ! -path '*/negotiator/commands' \
		    ! -path '*/log/negotiator' -delete
		for f in "$root"/usr/bin/* "$root"/usr/lib/negotiator/*; do
			[ -f "$f" ] && is_elf "$f" || continue
			strip --strip-unneeded --remove-section=.comment \
			    --remove-section=.note "$f"
			readelf -l "$f" | grep -q 'Requesting program interpreter' &&
			    continue
			# Static on purpose (no loader time in a TCG guest).
			mkdir -p "$root/usr/share/lintian/overrides"
			echo "$pkg: statically-linked-binary [${f#"$root"/}]" \
			    >>"$root/usr/share/lintian/overrides/$pkg"
		done
		depends=$(shlibs_depends "$root")
		depends="${depends:+$depends, }negotiator-common (= $VERSION)"
		mkdir "$root/DEBIAN"
		for s in postinst prerm postrm; do
			sed "s|@UNIT@|$pkg.service|g" "$HERE/deb-$s" \
			    >"$root/DEBIAN/$s"
			chmod 755 "$root/DEBIAN/$s"
		done
	fi
	mkdir -p "$root/DEBIAN"
	# The daemon's configuration file is the admin's: a conffile.
	if [ -d "$root/etc" ]; then
		(cd "$root" && find etc -type f | sed 's|^|/|') \
		    >"$root/DEBIAN/conffiles"
	fi
	find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
	sed "s|@YEAR@|$YEAR|" "$HERE/deb-copyright" >"$doc/copyright"
	printf '%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n' \
	    negotiator "$VERSION" 'Built from the source tree by "make deb".' \
	    "$MAINT" "$DATE" | gzip -9n >"$doc/changelog.gz"
	size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
	sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" \
	    -e "s|@INSTALLED_SIZE@|$size|" -e "s|@DEPENDS@|$depends|" \
	    -e '/^Depends: $/d' "$HERE/$pkg.control" >"$root/DEBIAN/control"
	(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print |
	    sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
	chmod 755 "$root"
	deb=$OUT/${pkg}_${VERSION}_$arch.deb
	dpkg-deb -Zxz --root-owner-group --build "$root" "$deb" >/dev/null
	echo "$deb: Depends: ${depends:-(none)}; installed size ${size} KiB"
done
