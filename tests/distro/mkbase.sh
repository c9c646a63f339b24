#!/bin/sh
# mkbase.sh [SUITE]: prints the directory that holds a Debian test system of
# SUITE (bookworm, the default, or trixie), building it first unless the
# cache already has it.
#
#   minbase.tar   a clean debootstrap --variant=minbase chroot, for installing
#                 the packages into (debtest.sh)
#   rootfs.img    an ext4 image (raw) of a second debootstrap with systemd,
#                 udev, the kernel and networkd, python3 and sudo (what
#                 Ansible's modules and become need) and qemu-guest-agent
#                 (what the libvirt_qemu comparison talks to), made with
#                 mkfs.ext4 -d: no mount needed; the tests boot a
#                 copy-on-write overlay of it
#   vmlinuz, initrd.img   that system's own kernel and initramfs
#
# The cache is $NEGOTIATOR_TEST_CACHE (default /var/cache/negotiator-test),
# one directory per suite and hash of this script and the mirror, so any
# change here builds afresh; older ones of the suite are removed once a day
# has passed (parallel checkouts with different scripts do not evict each
# other's).  The packages come from the mirror
# this machine's apt uses (or $NEGOTIATOR_DEBIAN_MIRROR).  Run as root.
set -eu
umask 022

die() { echo "mkbase.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"
for c in debootstrap mkfs.ext4 sha256sum flock; do
	command -v "$c" >/dev/null 2>&1 || die "$c is missing"
done

CACHE=${NEGOTIATOR_TEST_CACHE:-/var/cache/negotiator-test}
SUITE=${1:-bookworm}
case $SUITE in
bookworm|trixie) ;;
*) die "unknown suite $SUITE (bookworm or trixie)" ;;
esac
MIRROR=${NEGOTIATOR_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
[ -n "$MIRROR" ] || MIRROR=$(sed -n 's/^deb  *\(http[^ ]*\/debian\)\/* .*/\1/p' \
    /etc/apt/sources.list 2>/dev/null | head -n 1)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
KEY=$( (cat "$0"; echo "$SUITE $MIRROR") | sha256sum | cut -c1-16)
DIR=$CACHE/$SUITE-$KEY

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 1800 9 || die "cannot lock $CACHE/.lock"
if [ -f "$DIR/done" ]; then
	echo "$DIR"
	exit 0
fi

B=$(mktemp -d "$CACHE/.build.XXXXXX")
chmod 755 "$B"
JOB=
# debootstrap mounts /proc and /sys in its target while it runs: end it,
# unmount what it left, and never let rm cross into a mount.
cleanup() {
	trap '' INT TERM HUP
	if [ -n "$JOB" ]; then kill "$JOB" 2>/dev/null; wait "$JOB"; fi
	findmnt -rno TARGET | grep "^$B/" | sort -r | while read -r m; do
		umount -l "$m"; done
	rm -rf --one-file-system "$B"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
start=$(date +%s)
log() { echo "mkbase.sh: $* ($(( $(date +%s) - start )) s)" >&2; }

# 1. The clean chroot.
log "debootstrap minbase from $MIRROR"
# bootstrap DIR LOG ARGS...: debootstrap in the background, so that a
# signal reaches our traps at once.
bootstrap() {
	dir=$1 blog=$2
	shift 2
	debootstrap --variant=minbase "$@" "$SUITE" "$dir" "$MIRROR" >"$blog" 2>&1 &
	JOB=$!
	wait "$JOB" || { tail -n 20 "$blog" >&2; die "debootstrap failed"; }
	JOB=
}
bootstrap "$B/minbase" "$B/minbase.log"
tar -C "$B/minbase" --numeric-owner -cf "$B/minbase.tar" .
rm -rf "$B/minbase"

# 2. The system to boot.  The guest package needs no run-time library in it
#    (the guest binary is static; the guest has no apt lists).
log "debootstrap the system to boot"
bootstrap "$B/root" "$B/root.log" \
    --include=systemd,systemd-sysv,udev,dbus,linux-image-amd64,initramfs-tools,kmod,iproute2,procps,python3,sudo,qemu-guest-agent
R=$B/root
echo negotiator-test >"$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 negotiator-test\n' >"$R/etc/hosts"
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$R/etc/fstab"
: >"$R/etc/machine-id"
cat >"$R/etc/systemd/network/50-wired.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=yes
EOF
ln -sf /lib/systemd/system/systemd-networkd.service \
    "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# The one-shot installer of what the test brings on its payload disk
# (LABEL=negotiator-test): *.deb, then the test's own commands.
cat >"$R/usr/local/sbin/negotiator-test-setup" <<'EOF'
#!/bin/sh
set -eu
mkdir -p /mnt/payload
mount -o ro LABEL=negotiator-test /mnt/payload
dpkg -i /mnt/payload/*.deb
if [ -d /mnt/payload/commands ]; then
	cp /mnt/payload/commands/* /usr/lib/negotiator/commands/
fi
umount /mnt/payload
mkdir -p /var/lib/negotiator-test
touch /var/lib/negotiator-test/installed
echo "negotiator-test: payload installed"
EOF
chmod 755 "$R/usr/local/sbin/negotiator-test-setup"
cat >"$R/etc/systemd/system/negotiator-test-setup.service" <<'EOF'
[Unit]
Description=negotiator test: install the payload disk's packages
ConditionPathExists=!/var/lib/negotiator-test/installed
Requires=dev-disk-by\x2dlabel-negotiator\x2dtest.device
After=dev-disk-by\x2dlabel-negotiator\x2dtest.device local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/negotiator-test-setup
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/negotiator-test-setup.service \
    "$R/etc/systemd/system/multi-user.target.wants/negotiator-test-setup.service"
cp -L "$R/vmlinuz" "$B/vmlinuz"
cp -L "$R/initrd.img" "$B/initrd.img"
rm -rf "$R/var/cache/apt/archives/"*.deb "$R/var/lib/apt/lists/"* \
    "$R/usr/share/doc" "$R/usr/share/man" "$R/usr/share/locale"
log "mkfs.ext4 -d"
size=$(du -sm "$R" | cut -f1)
truncate -s $((size * 3 / 2 + 512))M "$B/rootfs.img"
mkfs.ext4 -q -L negotiator-root -d "$R" "$B/rootfs.img"
rm -rf "$R"

touch "$B/done"
find "$CACHE" -mindepth 1 -maxdepth 1 -type d \( -name "$SUITE-*" -o -name 'debian12-*' \) \
    ! -name "$(basename "$DIR")" -mmin +1440 -exec rm -rf {} +
mv "$B" "$DIR"
trap - EXIT
log "built $DIR"
echo "$DIR"
