#!/usr/bin/env bash
# mkimage.sh OUT_DIR [EXTRA_FILES_DIR...]
#
# Builds a tiny initramfs guest for the negotiator VM tests.  Guarantees, on
# success (exit 0):
#   OUT_DIR/vmlinuz     the host's newest /boot/vmlinuz-* (or $VM_KERNEL)
#   OUT_DIR/vmlinux     the same kernel uncompressed, if it has a PVH entry
#                       point (best effort; vm.sh boots it when present)
#   OUT_DIR/initrd.img  gzip'd cpio (newc), replaced atomically, holding:
#     /init                        tests/vm/init.sh
#     /bin/busybox + applet links  (static busybox preferred)
#     /lib/modules/*.ko            virtio_pci + virtio_console and their
#                                  dependencies, decompressed; their insmod
#                                  order is in /lib/modules/load-order
#                                  (modules built into the kernel are omitted)
#     /usr/bin/negotiator-guest    $NEGOTIATOR_GUEST_BIN (default
#                                  $REPO/negotiator-guest)
#     /usr/local/lib/negotiator/negotiator-guestd
#                                  the negotiator-guestd beside that
#                                  binary, where a default build's -d
#                                  looks for it
#     /usr/lib/negotiator/builtin/  $REPO/commands/* (and a symlink to it
#                                  at /usr/local/lib/negotiator/builtin)
#     /usr/lib/negotiator/commands/ $REPO/tests/commands.d/* (if present)
#     /etc/os-release (the host's), /etc/passwd, /etc/group (root only)
#     the contents of each EXTRA_FILES_DIR, copied over the root last
#   and every shared library (and the dynamic loader) that any executable in
#   the image needs, at the same path as on the host.
# It always rebuilds (about a second).  Missing host packages are installed
# with apt-get when run as root; otherwise, or if anything is missing (the
# guest binary, a library), it fails with a message on stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
GUEST_BIN=${NEGOTIATOR_GUEST_BIN:-$REPO/negotiator-guest}
GUESTD_BIN=$(dirname "$GUEST_BIN")/negotiator-guestd
export PATH=$PATH:/usr/sbin:/sbin

die() { echo "mkimage: $*" >&2; exit 1; }

# apt_install PKG...: install Debian packages (root only), or fail loudly.
apt_install() {
	[ "$(id -u)" = 0 ] || die "not root; please install: $*"
	local apt="apt-get install -y -q --no-install-recommends"
	export DEBIAN_FRONTEND=noninteractive
	$apt "$@" >&2 || { apt-get update -q >&2 && $apt "$@" >&2; } || die "cannot install $*"
}
# need CMD PKG...: make sure CMD exists, installing PKG... if it does not.
need() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null 2>&1 && return 0
	apt_install "$@"
	command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' still missing after installing $*"
}

[ $# -ge 1 ] || die "usage: mkimage.sh OUT_DIR [EXTRA_FILES_DIR...]"
OUT=$1; shift
for d in "$@"; do [ -d "$d" ] || die "no such directory: $d"; done
[ -x "$GUEST_BIN" ] || die "guest binary $GUEST_BIN not found (run make, or set NEGOTIATOR_GUEST_BIN)"
[ -x "$GUESTD_BIN" ] || die "guest daemon $GUESTD_BIN not found (run make)"

need busybox busybox-static
need cpio cpio
need gzip gzip
need modprobe kmod
newest_kernel() { ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1; }
[ -n "${VM_KERNEL:-}" ] || [ -n "$(newest_kernel)" ] || apt_install linux-image-amd64
KERNEL=${VM_KERNEL:-$(newest_kernel)}
[ -r "$KERNEL" ] || die "no readable kernel in /boot (apt-get install linux-image-amd64)"
KVER=${KERNEL##*/vmlinuz-}
[ -d "/lib/modules/$KVER" ] || die "no /lib/modules/$KVER for $KERNEL"

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-image.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,var,lib/modules} \
    "$ROOT"/usr/lib/negotiator/{builtin,commands}
ln -s ../run "$ROOT/var/run"
# The kernel opens /dev/console for /init before devtmpfs is mounted.
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || true

# Busybox and its applets.
cp -L "$(command -v busybox)" "$ROOT/bin/busybox"
need perl perl-base	# one process instead of ~270 ln (2 s)
"$ROOT/bin/busybox" --list-full | ROOT=$ROOT perl -lne \
	'-e "$ENV{ROOT}/$_" or symlink("/bin/busybox", "$ENV{ROOT}/$_") or die "$_: $!\n"'

# Kernel modules, in dependency order, decompressed (busybox insmod may not
# read .ko.xz/.ko.zst).
{ modprobe -S "$KVER" --show-depends virtio_pci &&
  modprobe -S "$KVER" --show-depends virtio_console; } >"$ROOT/deps" ||
	die "modprobe cannot resolve virtio modules for $KVER"
for ko in $(awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$ROOT/deps"); do
	name=${ko##*/}; name=${name%%.ko*}
	case $ko in
	*.ko.xz)  need xz xz-utils; xz -dc <"$ko" ;;
	*.ko.zst) need zstd zstd;   zstd -qdc <"$ko" ;;
	*.ko.gz)  gzip -dc <"$ko" ;;
	*.ko)     cat <"$ko" ;;
	*)        die "unknown module file $ko" ;;
	esac >"$ROOT/lib/modules/$name.ko"
	echo "$name" >>"$ROOT/lib/modules/load-order"
done
rm "$ROOT/deps"
touch "$ROOT/lib/modules/load-order"

# The negotiator pieces.
install -m 755 "$HERE/init.sh" "$ROOT/init"
install -m 755 "$GUEST_BIN" "$ROOT/usr/bin/negotiator-guest"
# negotiator's compiled-in default (PREFIX=/usr/local) is looked up too:
# -d runs the daemon from there (guest/full.c).
mkdir -p "$ROOT/usr/local/lib/negotiator"
install -m 755 "$GUESTD_BIN" "$ROOT/usr/local/lib/negotiator/negotiator-guestd"
ln -s /usr/lib/negotiator/builtin "$ROOT/usr/local/lib/negotiator/builtin"
shopt -s nullglob dotglob
for f in "$REPO"/commands/*; do [ -d "$f" ] || cp -a "$f" "$ROOT/usr/lib/negotiator/builtin/"; done
for f in "$REPO"/tests/commands.d/*; do cp -a "$f" "$ROOT/usr/lib/negotiator/commands/"; done
shopt -u nullglob dotglob
# put, get and sh where the guest's --enable looks for them (tests/copy.sh).
mkdir -p "$ROOT/usr/local/lib/negotiator/available"
for f in "$REPO"/commands/available/*; do
	sed 's|@BINDIR@|/usr/bin|g' "$f" >"$ROOT/usr/local/lib/negotiator/available/${f##*/}"
done
chmod 555 "$ROOT"/usr/local/lib/negotiator/available/*

cp -L /etc/os-release "$ROOT/etc/os-release"
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"

for d in "$@"; do cp -a "$d/." "$ROOT/"; done

# Shared libraries of every executable in the image, at the host's paths.
while IFS= read -r -d '' exe; do
	libs=$(ldd "$exe" 2>/dev/null) || continue	# not dynamic: nothing to do
	! grep -q 'not found' <<<"$libs" || die "${exe#"$ROOT"}: missing libraries:"$'\n'"$libs"
	for lib in $(grep -o '/[^ ]*' <<<"$libs"); do
		[ -e "$ROOT$lib" ] && continue
		mkdir -p "$ROOT${lib%/*}"
		cp -L "$lib" "$ROOT$lib"
	done
done < <(find "$ROOT" -type f -perm /111 -print0)

mkdir -p "$OUT"
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -6 >"$OUT/.initrd.img.$$"
mv -f "$OUT/.initrd.img.$$" "$OUT/initrd.img"

# The kernel, plus (if the kernel supports a PVH entry) its uncompressed ELF
# image: booting that skips the BIOS path and the self-decompression, about
# 3 s faster under TCG.  vm.sh prefers it.  Redone only if the kernel changed.
if ! cmp -s "$KERNEL" "$OUT/vmlinuz"; then
	rm -f "$OUT/vmlinux"
	cp "$KERNEL" "$OUT/.vmlinuz.$$" && mv -f "$OUT/.vmlinuz.$$" "$OUT/vmlinuz"
fi
if [ ! -e "$OUT/vmlinux" ] && grep -qx 'CONFIG_PVH=y' "/boot/config-$KVER" 2>/dev/null; then
	need xz xz-utils	# Debian kernels are xz-compressed
	for fmt in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -qdc' '\x1f\x8b\x08:gzip -dc'; do
		off=$(LC_ALL=C grep -m 1 -aboP "${fmt%%:*}" "$KERNEL" | cut -d: -f1) || continue
		tail -c +$((off + 1)) "$KERNEL" | ${fmt#*:} >"$OUT/.vmlinux.$$" 2>/dev/null || true
		[ "$(head -c 4 "$OUT/.vmlinux.$$")" = $'\x7fELF' ] && mv -f "$OUT/.vmlinux.$$" "$OUT/vmlinux" && break
	done
	rm -f "$OUT/.vmlinux.$$"
fi
echo "mkimage: $OUT/initrd.img ($(du -k "$OUT/initrd.img" | cut -f1) KiB), kernel $KVER" >&2
