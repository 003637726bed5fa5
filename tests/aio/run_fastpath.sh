#!/bin/sh
# SPDX-License-Identifier: MIT
# The fast path of buffered aio_read() (see aio_fastpath.c): taken by a thread
# that waits for one request at a time, and while a round's worth of requests
# waits for the submitter, and never above 64 KiB; otherwise reads are routed.
# Usage: run_fastpath.sh PROGRAM PRELOAD BACKEND DIR
set -u
prog=$1 preload=$2 backend=$3 dir=$4
stats=$(mktemp "$dir/aio-fastpath-stats.XXXXXX") || exit 1
data=$(mktemp "$dir/aio-fastpath-data.XXXXXX") || exit 1
trap 'rm -f "$stats" "$data"' EXIT
fail=0

stat_of() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$stats" | tail -n 1
}

# run MODE: the program under the shim, its summary in $stats, its exit in
# $status (77, skipped, only from backlog: no userfaultfd to hold the engine busy)
run() {
	: > "$stats"
	IOENGINE_BACKEND=$backend IOENGINE_STATS=$stats LD_PRELOAD=$preload timeout 60 "$prog" "$1" "$data"
	status=$?
	[ $status -eq 0 ] || { [ "$1" = backlog ] && [ $status -eq 77 ]; } ||
		{ echo "FAIL: $1 run (status $status)"; fail=1; }
	cat "$stats"
}

run alone
hits=$(stat_of fastpath_hits) routed=$(stat_of routed_reads)
# (A read that meets a busy page is routed: 20 of 200 once in CI.)
[ "${hits:-0}" -ge 150 ] && [ "${routed:-999}" -le 50 ] ||
	{ echo "FAIL: alone: want >= 150 fast path hits, <= 50 routed reads"; fail=1; }

run backlog
if [ $status -ne 77 ]; then
	hits=$(stat_of fastpath_hits) routed=$(stat_of routed_reads)
	[ "${hits:-0}" -ge 1 ] && [ "${routed:-0}" -ge 8 ] ||
		{ echo "FAIL: backlog: want fast path hits and >= 8 routed reads"; fail=1; }
fi
run large
hits=$(stat_of fastpath_hits) routed=$(stat_of routed_reads)
[ "${hits:-1}" -eq 0 ] && [ "${routed:-0}" -ge 20 ] ||
	{ echo "FAIL: large: want no fast path hits, >= 20 routed reads"; fail=1; }
exit $fail
