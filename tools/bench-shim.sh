#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fio psync 4 KiB random reads on one file, natively and under the shim
# (tools/ioengine-run), in one run; prints IOPS, p50 latency and ratios.
#   page cache, 1 job          target: shim >= 0.9x native (fast path)
#   the same with preadv (fio pvsync): the vectored calls' fast path
#   O_DIRECT, 4 jobs           target: shim >= 0.9x native
#   page cache, 1 job, --no-fastpath: ratio and added p50 latency (target <= 10 us)
# Each pair runs REPS times, alternating native and shim; medians are shown.
# Environment: DIR (where the file goes), SIZE (MiB, default 256),
# RUNTIME (s per run, default 4), REPS (default 3), BACKEND (auto).
set -eu

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
RUN=$here/ioengine-run
DIR=${DIR:-/var/tmp}
SIZE=${SIZE:-256}
RUNTIME=${RUNTIME:-4}
REPS=${REPS:-3}
BACKEND=${BACKEND:-auto}
file=$DIR/bench-shim.$$.dat
trap 'rm -f "$file"' EXIT

command -v fio >/dev/null || { echo "bench-shim: fio not found" >&2; exit 1; }
"$RUN" --backend "$BACKEND" -- true || exit 1

# fio ... -> "IOPS P50_NS"
fio_run() {
	"$@" --name=bench --ioengine=psync --rw=randread --bs=4k --filename="$file" \
		--size="${SIZE}m" --time_based --runtime="$RUNTIME" --thread \
		--group_reporting --output-format=json 2>/dev/null |
	python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]["read"]
print("%.0f %.0f" % (j["iops"], j["clat_ns"]["percentile"]["50.000000"]))'
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# case-name fio-options... : runs the pair REPS times, prints one table row.
pair() {
	local name=$1 shim_opts=$2 ni np si sp
	shift 2
	: > "$file.n"
	: > "$file.s"
	for _ in $(seq "$REPS"); do
		# An O_DIRECT run invalidates the cache: page-cache runs warm it again.
		cat "$file" > /dev/null
		fio_run fio "$@" >> "$file.n"
		# shellcheck disable=SC2086
		fio_run "$RUN" --backend "$BACKEND" $shim_opts -- fio "$@" >> "$file.s"
	done
	ni=$(cut -d' ' -f1 "$file.n" | median)
	np=$(cut -d' ' -f2 "$file.n" | median)
	si=$(cut -d' ' -f1 "$file.s" | median)
	sp=$(cut -d' ' -f2 "$file.s" | median)
	rm -f "$file.n" "$file.s"
	awk -v n="$name" -v ni="$ni" -v np="$np" -v si="$si" -v sp="$sp" 'BEGIN {
		printf "%-34s %11d %11d %7.2fx %10.1f %10.1f %+9.1f\n", n, ni, si, si / ni,
		       np / 1000, sp / 1000, (sp - np) / 1000 }'
}

echo "bench-shim: load $(cut -d' ' -f1-3 /proc/loadavg), ${SIZE} MiB file in $DIR, ${RUNTIME}s x $REPS per side, backend $BACKEND, $(nproc) CPUs"
fio --name=layout --ioengine=psync --rw=write --bs=1m --filename="$file" --size="${SIZE}m" \
	--output-format=terse >/dev/null
cat "$file" > /dev/null
printf "%-34s %11s %11s %8s %10s %10s %9s\n" "case (fio psync 4k randread)" "native IOPS" "shim IOPS" \
	"ratio" "nat p50us" "shim p50us" "added us"
pair "page cache, 1 job" "" --numjobs=1 --invalidate=0
pair "page cache, 1 job, preadv" "" --numjobs=1 --invalidate=0 --ioengine=pvsync
pair "O_DIRECT, 4 jobs" "" --numjobs=4 --direct=1
pair "page cache, 1 job, --no-fastpath" "--no-fastpath" --numjobs=1 --invalidate=0
