#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run fault_visible under the shim with IOENGINE_FAULT for one mode, and check
# from the stats summary that the IO was routed and the faults were injected.
# Usage: run_fault.sh PROGRAM PRELOAD BACKEND DIR MODE
set -euo pipefail
prog=$1 preload=$2 backend=$3 dir=$4 mode=$5
stats=$(mktemp "$dir/fault-stats.XXXXXX")
trap 'rm -f "$stats"' EXIT

case $mode in
eio) faults=seed=3,eio=1 want=(eio) ;;
mixed) faults=seed=5,eio=0.3 want=(eio) ;;
invisible) faults=seed=7,short=0.5,eagain=0.3,enomem=0.3 want=(short eagain enomem) ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac

IOENGINE_BACKEND=$backend IOENGINE_FASTPATH=0 IOENGINE_FAULT=$faults IOENGINE_STATS=$stats \
	LD_PRELOAD=$preload timeout 120 "$prog" "$mode" "$dir"
cat "$stats"
name=io_uring
[ "$backend" = aio ] && name=aio
# With eio=1 nothing succeeds, so nothing counts as routed: the faults prove it.
grep -q "backend=$name routed_reads=[1-9]" "$stats" || [ "$mode" = eio ] ||
	{ echo "FAIL: not routed through $name"; exit 1; }
grep -q "backend=$name " "$stats" || { echo "FAIL: engine was not $name"; exit 1; }
for k in "${want[@]}"; do
	grep -q " faults_$k=[1-9]" "$stats" || { echo "FAIL: no $k fault injected"; exit 1; }
done
