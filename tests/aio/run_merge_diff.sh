#!/bin/sh
# SPDX-License-Identifier: MIT
# Merged POSIX AIO requests: aio_merge_diff's transcript against glibc and
# under the shim (one backend, fast path off, depth 1 so that the requests
# wait together: see aio_merge_diff.c) must be identical; the shim must have
# merged sequential requests (its stats), and no random one nor any read of
# a character device.
# Usage: run_merge_diff.sh PROGRAM PRELOAD BACKEND DIR
set -u
prog=$1 preload=$2 backend=$3 dir=$4
tmp=$(mktemp -d "$dir/aio-merge.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
for mode in seq random chardev; do
	timeout 120 "$prog" "$tmp" $mode >"$tmp/native" || { echo "native $mode run failed"; fail=1; }
	IOENGINE_BACKEND=$backend IOENGINE_FASTPATH=0 IOENGINE_DEPTH=1 IOENGINE_STATS="$tmp/stats" \
		LD_PRELOAD=$preload timeout 120 "$prog" "$tmp" $mode >"$tmp/shim" || { echo "shim $mode run failed"; fail=1; }
	if ! diff -u "$tmp/native" "$tmp/shim"; then
		echo "FAIL: glibc and shim ($backend) transcripts differ ($mode)"
		fail=1
	fi
	runs=$(sed -n 's/.* merged_runs=\([0-9]*\) .*/\1/p' "$tmp/stats")
	echo "$mode: $(grep -o 'routed_reads=[0-9]* routed_writes=[0-9]*.*merged_requests=[0-9]*' "$tmp/stats")"
	case $mode in
	seq) [ "${runs:-0}" -ge 7 ] || { echo "FAIL: sequential requests not merged"; fail=1; } ;;
	random) [ "${runs:-x}" = 0 ] || { echo "FAIL: random requests merged"; fail=1; } ;;
	chardev) [ "${runs:-x}" = 0 ] || { echo "FAIL: reads of a character device merged"; fail=1; } ;;
	esac
	rm -f "$tmp/stats"
done
[ "$fail" = 0 ] && echo "PASS aio_merge_diff $backend"
exit $fail
