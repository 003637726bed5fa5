#!/bin/sh
# SPDX-License-Identifier: MIT
# Concurrency test, against glibc (sanity of the test itself) and under the
# shim on one backend; the shim run must have routed its IO (IOENGINE_STATS).
# Usage: run_stress.sh PROGRAM PRELOAD BACKEND DIR [noglibc]
set -u
prog=$1 preload=$2 backend=$3 dir=$4 glibc=${5:-glibc}
stats=$(mktemp "$dir/aio-stress-stats.XXXXXX") || exit 1
trap 'rm -f "$stats"' EXIT
fail=0
if [ "$glibc" = glibc ]; then
	echo "glibc:"
	timeout 120 "$prog" "$dir" 4 40 || { echo "FAIL: glibc run"; fail=1; }
else
	echo "glibc: not run"
fi
echo "shim ($backend):"
IOENGINE_BACKEND=$backend IOENGINE_FASTPATH=0 IOENGINE_STATS=$stats LD_PRELOAD=$preload \
	timeout 120 "$prog" "$dir" 8 150 || { echo "FAIL: shim run (status $?)"; fail=1; }
want=io_uring
[ "$backend" = aio ] && want=aio
grep -q "backend=$want routed_reads=[1-9][0-9]* routed_writes=[1-9][0-9]* routed_syncs=[1-9]" "$stats" || {
	cat "$stats"
	echo "FAIL: not routed through $want"
	fail=1
}
exit $fail
