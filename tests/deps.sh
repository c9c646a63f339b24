#!/bin/sh
# Installs, on Debian 12 as root, every package that building, testing and
# the demo need and that is not installed yet.  Idempotent and quiet when
# nothing is missing; fails loudly when a package cannot be had.  The test
# suites' tools are here too (jq, valgrind, checkbashisms of devscripts, tmux,
# python3, man of man-db, strace): a suite fails, never skips, when one is
# missing.
set -eu

PACKAGES="gcc make pkg-config libev-dev libmsgpack-dev libbsd-dev libmd-dev libc6-dev
libcriterion-dev socat supervisor busybox-static qemu-system-x86
linux-image-amd64 cpio kmod xz-utils mandoc systemd procps bc git clang
libclang-rt-14-dev libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu
libvirt-clients libxml2-dev iproute2 jq valgrind devscripts python3 man-db
zlib1g-dev libxxhash-dev tmux bash-completion strace"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine's own apt jobs (apt-daily) may hold the locks for a while.
apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
    $missing >/dev/null
