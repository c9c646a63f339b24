#!/bin/sh
# Runs every test suite in order and prints one summary line per suite and
# a total.  Exits non-zero if any suite failed.  `make check` calls it after
# building; set SKIP_VM=1 to leave out the VM suite while iterating.
set -u
cd "$(dirname "$0")/.."

total_failed=0
suites=0

run() {
	name=$1; shift
	suites=$((suites + 1))
	echo "=== $name"
	start=$(date +%s)
	if "$@"; then
		echo "=== $name: passed ($(( $(date +%s) - start )) s)"
	else
		echo "=== $name: FAILED ($(( $(date +%s) - start )) s)"
		total_failed=$((total_failed + 1))
	fi
}

for t in tests/test_proto tests/test_words tests/test_runner tests/test_status; do
	run "unit: $t" "./$t"
done
run "built-in commands" bash tests/commands.sh
run "integration (emulated channels)" bash tests/integration.sh
run "man pages and units" sh tests/manlint.sh
run "supervisord" sh tests/supervisor.sh
run "install and uninstall" bash tests/install.sh
run "fuzz (30 s)" sh tests/fuzz.sh 30
if [ "${SKIP_VM:-0}" != 1 ]; then
	run "libvirt (two TCG domains)" bash tests/libvirt.sh
	run "VM (real kernel under QEMU)" bash tests/vm/vmtest.sh
fi

echo "$((suites - total_failed)) passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
