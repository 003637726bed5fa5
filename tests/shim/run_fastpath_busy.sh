#!/bin/sh
# SPDX-License-Identifier: MIT
# Run fastpath_busy under the shim (IOENGINE_DEPTH=1), then check where its
# reads ran from the stats summary. Usage: run_fastpath_busy.sh PROGRAM PRELOAD BACKEND DIR
set -eu
prog=$1 preload=$2 backend=$3 dir=$4
mkdir -p "$dir"
stats=$(mktemp "$dir/fastpath-busy-stats.XXXXXX")
trap 'rm -f "$stats"' EXIT
rc=0
IOENGINE_BACKEND=$backend IOENGINE_DEPTH=1 IOENGINE_FASTPATH=1 IOENGINE_STATS=$stats IOENGINE_TEST_DIR=$dir \
	LD_PRELOAD=$preload "$prog" || rc=$?
[ "$rc" = 77 ] && exit 77
[ "$rc" = 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
cat "$stats"
for want in routed_reads=3 fastpath_hits=1 plain_syscalls=2 shared_queue=1; do
	grep -q " $want " "$stats" || { echo "FAIL: want $want"; exit 1; }
done
