#!/bin/sh
# Fuzzes the wire protocol decoder (tests/fuzz_proto.c) and the session
# layer (tests/fuzz_conn.c) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer for SECONDS in all (default 30), half each.
#
#	sh tests/fuzz.sh [SECONDS [LIBFUZZER-FLAG ...]]
#
# Works in build/fuzz (FUZZ_DIR to change it), whose corpus/ grows from run
# to run.  Exits non-zero on a crash, a leak, undefined behaviour or a
# timeout; the input that did it is left as build/fuzz/crash-* (or leak-*,
# timeout-*, oom-*): replay it with build/fuzz/fuzz_proto FILE.
# FUZZ_CFLAGS adds compiler flags and ASAN_OPTIONS is passed on, to look
# past a known finding, e.g.
#	FUZZ_CFLAGS=-fno-sanitize=nonnull-attribute \
#	ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1024 \
#	    sh tests/fuzz.sh 60
set -eu

secs=${1:-30}
case $secs in
''|*[!0-9]*)
	echo "usage: $0 [SECONDS [LIBFUZZER-FLAG ...]]" >&2
	exit 2
	;;
esac
[ $# -gt 0 ] && shift

cd "$(dirname "$0")/.."
dir=${FUZZ_DIR:-build/fuzz}
mkdir -p "$dir/corpus" "$dir/seeds" "$dir/corpus-conn"

# clang with its libFuzzer runtime; install them on Debian if missing.
can_fuzz() {
	command -v clang >/dev/null 2>&1 || return 1
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)%s\n' \
	    '{ (void)d; (void)n; return 0; }' >"$dir/probe.c"
	clang -fsanitize=fuzzer,address,undefined -o "$dir/probe" \
	    "$dir/probe.c" >/dev/null 2>&1
}
if ! can_fuzz; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "fuzz.sh: installing clang and its fuzzer runtime" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    clang libclang-rt-14-dev >&2 ||
		    { apt-get update -q >&2 &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		    clang libclang-rt-14-dev >&2; }
	fi
	if ! can_fuzz; then
		echo "fuzz.sh: clang with -fsanitize=fuzzer is needed" \
		    "(apt-get install clang libclang-rt-14-dev)" >&2
		exit 1
	fi
fi
rm -f "$dir/probe" "$dir/probe.c"

srcs="common/proto.c common/frame.c common/checksum.c common/buf.c common/clock.c
common/xmalloc.c common/log.c"
cflags="-g -O1 -D_GNU_SOURCE -Icommon $(pkg-config --cflags libbsd-overlay msgpack)"
extra=${FUZZ_CFLAGS:-}
libs=$(pkg-config --libs libbsd-overlay msgpack libxxhash zlib)

# The target; -fno-sanitize-recover makes undefined behaviour a crash.
# shellcheck disable=SC2086
clang $cflags -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $extra -o "$dir/fuzz_proto" \
    tests/fuzz_proto.c $srcs $libs

# Seeds: one valid frame of each type, and all of them in one stream with
# garbage between, as a reader that lost sync would see them.
# shellcheck disable=SC2086
clang $cflags -DFUZZ_SEEDS -o "$dir/fuzz_seeds" tests/fuzz_proto.c $srcs \
    $libs
rm -f "$dir/seeds/"*
"$dir/fuzz_seeds" "$dir/seeds"
for f in "$dir/seeds/"*; do
	cat "$f"
	printf 'garbage NEGO \001\002\003'
done >"$dir/stream"
mv "$dir/stream" "$dir/seeds/stream"

# The session layer: conn.c over channel.c, fed a program of frames.  A
# conn that grows memory without bound trips -malloc_limit_mb or the
# target's own checks of its queues.
# shellcheck disable=SC2086
clang $cflags -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined $extra -o "$dir/fuzz_conn" \
    tests/fuzz_conn.c common/conn.c common/channel.c $srcs -lev -pthread \
    $libs

conn_secs=$((secs / 2))
secs=$((secs - conn_secs))
echo "fuzz.sh: fuzzing proto_parse for $secs s in $dir" >&2
status=0
"$dir/fuzz_proto" -max_len=70000 -max_total_time="$secs" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$dir/" "$@" \
    "$dir/corpus" "$dir/seeds" || status=$?
if [ "$status" -ne 0 ]; then
	echo "fuzz.sh: FAILED (status $status); see $dir/crash-* etc." >&2
	exit 1
fi
if [ "$conn_secs" -gt 0 ]; then
	echo "fuzz.sh: fuzzing the session layer for $conn_secs s" >&2
	# Its log lines (the conn's warnings) are left out of the output.
	"$dir/fuzz_conn" -max_len=4096 -max_total_time="$conn_secs" \
	    -timeout=10 -malloc_limit_mb=64 -print_final_stats=1 \
	    -artifact_prefix="$dir/conn-" "$@" "$dir/corpus-conn" \
	    2>"$dir/conn.log" || status=$?
	grep -v '^negotiator: ' "$dir/conn.log" | tail -n 25 >&2
	if [ "$status" -ne 0 ]; then
		echo "fuzz.sh: FAILED (status $status); see $dir/conn-crash-*" \
		    "etc." >&2
		exit 1
	fi
fi
echo "fuzz.sh: no crash in $((secs + conn_secs)) s" >&2
