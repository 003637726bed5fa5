#!/bin/sh
# SPDX-License-Identifier: MIT
# Differential POSIX AIO test: the same program against glibc and under the
# shim (one backend, fast path off); the transcripts must be identical, and
# the shim must have routed the requests (IOENGINE_STATS).
# Usage: run_diff.sh PROGRAM PRELOAD BACKEND DIR EXPECTED_SHIM_ONLY [nolimit]
# nolimit: PROGRAM has no "limit" run (IOENGINE_AIO_MAX=1 must give EAGAIN).
set -u
prog=$1 preload=$2 backend=$3 dir=$4 expected=$5 limit=${6:-limit}
tmp=$(mktemp -d "$dir/aio-diff.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
shim() {
	IOENGINE_BACKEND=$backend IOENGINE_FASTPATH=0 IOENGINE_STATS="$tmp/stats" \
		LD_PRELOAD=$preload timeout 120 "$@"
}
fail=0

timeout 120 "$prog" "$tmp" > "$tmp/native" || { echo "native run failed"; fail=1; }
shim "$prog" "$tmp" > "$tmp/shim" || { echo "shim run failed"; fail=1; }
if ! diff -u "$tmp/native" "$tmp/shim"; then
	echo "FAIL: glibc and shim ($backend) transcripts differ"
	fail=1
fi
# The fast path (page-cache reads done in the caller's thread) must not change anything.
IOENGINE_BACKEND=$backend LD_PRELOAD=$preload timeout 120 "$prog" "$tmp" > "$tmp/shim-fast" ||
	{ echo "shim fast-path run failed"; fail=1; }
if ! diff -u "$tmp/native" "$tmp/shim-fast"; then
	echo "FAIL: glibc and shim ($backend, fast path on) transcripts differ"
	fail=1
fi
shim "$prog" "$tmp" shim-only > "$tmp/shim-only" || { echo "shim-only run failed"; fail=1; }
if ! diff -u "$expected" "$tmp/shim-only"; then
	echo "FAIL: shim-only scenarios ($backend)"
	fail=1
fi
if [ "$limit" = limit ]; then
	IOENGINE_AIO_MAX=1 shim "$prog" "$tmp" limit > "$tmp/limit" || fail=1
fi
if [ "$limit" = limit ] && ! grep -q "EAGAIN seen: 1, other errors 0, bad results 0" "$tmp/limit"; then
	cat "$tmp/limit"
	echo "FAIL: IOENGINE_AIO_MAX=1 did not give EAGAIN"
	fail=1
fi

# Routed: every shim run's summary names the backend and counts reads.
want=io_uring
[ "$backend" = aio ] && want=aio
if ! grep -q "backend=$want routed_reads=[1-9]" "$tmp/stats"; then
	cat "$tmp/stats" 2>/dev/null
	echo "FAIL: no reads routed through $want"
	fail=1
fi
[ $fail = 0 ] && echo "ok: $(wc -l < "$tmp/native") transcript lines identical, routed via $want"
exit $fail
