#!/bin/sh
# SPDX-License-Identifier: MIT
# Run fastpath_busy MODE under the shim (IOENGINE_DEPTH=1), then check where
# its reads ran from the stats summary (fastpath_busy.c says what each mode
# does). Usage: run_fastpath_busy.sh PROGRAM PRELOAD BACKEND DIR MODE
set -eu
prog=$1 preload=$2 backend=$3 dir=$4 mode=$5
mkdir -p "$dir"
stats=$(mktemp "$dir/fastpath-busy-stats.XXXXXX")
trap 'rm -f "$stats"' EXIT
rc=0
out=$(IOENGINE_BACKEND=$backend IOENGINE_DEPTH=1 IOENGINE_FASTPATH=1 IOENGINE_STATS=$stats \
	IOENGINE_TEST_DIR=$dir LD_PRELOAD=$preload "$prog" "$mode") || rc=$?
echo "$out"
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
cat "$stats"
held=1048576	# the held aio_read: one routed read on the shared queue
case $mode in
basic)
	# Idle, busy, idle: two reads on the plain path, one fast-path hit.
	want="routed_reads=3 fastpath_hits=1 plain_syscalls=2 shared_queue=1" ;;
fd_change)
	# Seven changes to /dev/zero: seven hits on the file before, seven real
	# calls after (fallbacks: /dev/zero is not routed). F_SETFL O_DIRECT:
	# one hit before, one routed read after, queued behind the held one.
	want="routed_reads=2 read_bytes=$((held + 4096)) fastpath_hits=8 fastpath_bytes=32768"
	want="$want plain_syscalls=0 shared_queue=2 fallbacks=7" ;;
partial)
	# Each try: the first page read on the idle engine (plain), then,
	# busy, 8 KiB. Tries read whole by the fast path (whole=K: a hit of
	# 8 KiB each), then the partial one: the first page by the fast path
	# (its bytes, no hit), the second routed, queued behind the held read.
	k=$(echo "$out" | sed -n 's/^whole=//p')
	[ -n "$k" ] || { echo "FAIL: no whole= line"; exit 1; }
	want="routed_reads=$((2 * k + 3)) read_bytes=$(((k + 1) * (held + 4096) + 4096))"
	want="$want fastpath_hits=$k fastpath_bytes=$((8192 * k + 4096))"
	want="$want plain_syscalls=$((k + 1)) shared_queue=$((k + 2))" ;;
*)
	echo "FAIL: unknown mode $mode"; exit 1 ;;
esac
for w in $want; do
	grep -q " $w " "$stats" || { echo "FAIL: want $w"; exit 1; }
done
