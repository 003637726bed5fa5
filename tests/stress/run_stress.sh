#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The stress program under the preloaded shim on one backend with fault
# injection; the stats summary must show the IO routed, the faults injected
# and the sequential batches merged (each run has thousands: at least 10).
# Usage: run_stress.sh PROGRAM PRELOAD BACKEND DIR faults|eio SECONDS [STRESS_OPTION...]
set -euo pipefail
prog=$1 preload=$2 backend=$3 dir=$4 mode=$5 secs=$6
shift 6
stats=$(mktemp "$dir/stress-stats.XXXXXX")
trap 'rm -f "$stats" "$stats.out"' EXIT

case $mode in
faults) faults=seed=$RANDOM,short=0.2,eagain=0.1,enomem=0.1 args=() fast=0 want=(short eagain enomem) ;;
eio) faults=seed=$RANDOM,eio=0.02,short=0.1,eagain=0.05 args=(--eio) fast=1 want=(eio short eagain) ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
args+=("$@")
echo "IOENGINE_FAULT=$faults IOENGINE_FASTPATH=$fast"
# The limit leaves room for stalls of the whole virtual machine (a minute or
# more seen here, logged by the kernel as workqueue lockups). A run that
# still reaches it shows where each of its threads and children's threads waits.
limit=$((secs + 240))
IOENGINE_BACKEND=$backend IOENGINE_FASTPATH=$fast IOENGINE_FAULT=$faults IOENGINE_STATS=$stats \
	LD_PRELOAD=$preload "$prog" --dir "$dir" --duration "$secs" "${args[@]}" >"$stats.out" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ $SECONDS -lt $limit ]; do
	sleep 1
done
if kill -0 $pid 2>/dev/null; then
	cat "$stats.out"
	echo "FAIL: stress still running after $limit s; where its threads wait (comm wchan syscall):"
	for p in $pid $(pgrep -P $pid); do
		for t in /proc/$p/task/*; do
			c=$(cat "$t/comm" 2>/dev/null) || continue	# a thread that ended meanwhile
			echo "  $p/${t##*/} $c $(cat "$t/wchan" 2>/dev/null) $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
		done
	done
	echo "kernel workqueue lockups logged since boot: $(dmesg 2>/dev/null | grep -c "workqueue lockup" || true)"
	kill -9 $pid $(pgrep -P $pid) 2>/dev/null || true
	exit 1
fi
rc=0
wait $pid || rc=$?
[ $rc = 0 ] || { cat "$stats.out"; echo "FAIL: stress exited with $rc"; exit 1; }
out=$(cat "$stats.out")
echo "$out"
# The summary of the stress process itself; its forked children append theirs.
pid=$(sed -n 's/^stress: pid \([0-9]*\)$/\1/p' <<<"$out")
main=$(grep "^ioengine: stats pid=$pid " "$stats" || true)
echo "children's summaries: $(grep -vc "^ioengine: stats pid=$pid " "$stats" || true)"
echo "$main"
name=io_uring
[ "$backend" = aio ] && name=aio
grep -q "backend=$name routed_reads=[1-9][0-9]* routed_writes=[1-9]" <<<"$main" ||
	{ echo "FAIL: not routed through $name"; exit 1; }
for k in "${want[@]}"; do
	grep -q " faults_$k=[1-9]" <<<"$main" || { echo "FAIL: no $k fault injected"; exit 1; }
done
grep -q " merged_runs=[1-9][0-9]" <<<"$main" || { echo "FAIL: fewer than 10 merged IOs"; exit 1; }
