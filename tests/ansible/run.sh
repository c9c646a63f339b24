#!/bin/sh
# make check-ansible (run.sh) and make bench-ansible (run.sh bench): the
# Ansible plugins of ansible/ with Debian's ansible-core.
#   1. what only these tests need, installed (ansible with community.libvirt,
#      python3-libvirt, libvirt, sudo, openssh, jq);
#   2. local.sh: both daemons on emulated channels (check only);
#   3. make deb, and the Debian 12 system (mkbase.sh bookworm, cached);
#   4. vm.sh: a Debian 12 systemd guest under libvirtd on real channels
#      (with "bench": libvirt_qemu side by side).
# Each stage has a wall-clock limit; about 8 minutes with the image cached.
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "check-ansible: must run as root" >&2; exit 1; }
MODE=${1:-check}

missing=
for p in ansible ansible-core python3-libvirt jq sudo openssh-server \
    openssh-client libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients \
    qemu-system-x86 qemu-utils e2fsprogs debootstrap dpkg-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "check-ansible: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	{ apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
	  { apt-get update -q >/dev/null &&
	    apt-get install -y -q --no-install-recommends $missing >/dev/null; }; } ||
	    { echo "check-ansible: cannot install$missing" >&2; exit 1; }
fi
chmod -R go-w commands tests/commands.d

T=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-check-ansible.XXXXXX") || exit 1
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

[ "$MODE" = bench ] ||
    stage "the plugins on emulated channels" 900 bash tests/ansible/local.sh
mkdir "$T/debs"
vmlimit=1500
[ "$MODE" = bench ] && vmlimit=1500
stage "make deb" 300 make -s --no-print-directory deb DEBDIR="$T/debs" &&
    stage "Debian 12 system (cached in ${NEGOTIATOR_TEST_CACHE:-/var/cache/negotiator-test})" \
    1200 sh -c 'sh tests/distro/mkbase.sh bookworm >"$0"' "$T/base" &&
    base=$(tail -n 1 "$T/base") &&
    stage "Debian 12 systemd guest under libvirtd" "$vmlimit" \
	bash tests/ansible/vm.sh "$base" "$T/debs" \
	"$([ "$MODE" = bench ] && echo bench)"
echo "check-ansible: $(( $(date +%s) - start )) s"
echo "$((suites - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
