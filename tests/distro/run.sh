#!/bin/sh
# make check-distro: the packages and the guest on a real Debian 12.
#   1. make deb, into a temporary directory;
#   2. the Debian 12 systems to test on (mkbase.sh bookworm: cached, built once);
#   3. debtest.sh: the .debs into a clean chroot and out again, lintian;
#   4. vmtest.sh: a systemd guest under QEMU with the guest package.
# Each stage has a wall-clock limit; the whole is about 15 minutes from
# nothing and 2-3 from the cache.  Needs root and Debian's mirror.
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "check-distro: must run as root" >&2; exit 1; }

# What only this test needs, beyond tests/deps.sh.
missing=
for p in debootstrap lintian qemu-utils e2fsprogs dpkg-dev binutils util-linux; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "check-distro: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null &&
	    # shellcheck disable=SC2086
	    apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	    { echo "check-distro: cannot install$missing" >&2; exit 1; }
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-check-distro.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
start=$(date +%s)
failed=0
suites=0

# stage NAME LIMIT_S CMD...
stage() {
	name=$1 limit=$2
	shift 2
	suites=$((suites + 1))
	echo "=== $name"
	t0=$(date +%s)
	if timeout -k 10 "$limit" "$@"; then
		echo "=== $name: passed ($(( $(date +%s) - t0 )) s)"
	else
		echo "=== $name: FAILED ($(( $(date +%s) - t0 )) s)"
		failed=$((failed + 1))
		return 1
	fi
}

mkdir "$T/debs"
stage "make deb" 300 make -s --no-print-directory deb DEBDIR="$T/debs" &&
    stage "Debian 12 systems (cached in ${NEGOTIATOR_TEST_CACHE:-/var/cache/negotiator-test})" \
    1200 sh -c 'sh tests/distro/mkbase.sh bookworm >"$0"' "$T/base" &&
    base=$(tail -n 1 "$T/base") && {
	stage "packages in a clean chroot" 600 bash tests/distro/debtest.sh "$base" "$T/debs"
	stage "systemd guest under QEMU" 900 bash tests/distro/vmtest.sh "$base" "$T/debs"
}
echo "check-distro: $(( $(date +%s) - start )) s"
echo "$((suites - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
