#!/bin/bash
# tty-bench.sh: the --tty row of make bench: 64 MiB through a remote
# terminal, then Ctrl-C; the time from the key to the death of the remote
# process, host to guest and guest to host, on emulated channels
# (tests/tty.sh's flood, alone).  Prints one line a direction,
#	tty Ctrl-C to death, DIRECTION: N ms
# and exits 0 if both were measured (whatever their value: tests/tty.sh
# bounds them).  For tests/bench.sh: bash tests/tty-bench.sh
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp "${TMPDIR:-/tmp}/negotiator-tty-bench.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
TTY_BENCH_ONLY=1 TTY_BENCH_OUT=$out TTY_KEY_TO_DEATH_MS=100000 \
    bash "$REPO/tests/tty.sh" >/dev/null 2>&1
[ "$(wc -l <"$out")" -eq 2 ] || { echo "tty-bench: not measured" >&2; exit 1; }
sed 's/^\(.*\) \([0-9]*\)$/tty Ctrl-C to death, \1: \2 ms (target 100)/' "$out"
