#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fio posixaio 4 KiB random reads at depth 32 on one file, page-cache hot
# (--invalidate=0, file read first) and O_DIRECT: glibc's POSIX AIO
# (native), the same fio under the shim on each backend, and fio's own
# io_uring engine; one table with IOPS and ratios. Targets:
#   shim >= 0.9x fio io_uring;  shim >= 5x glibc (O_DIRECT), >= 2x (hot)
# A last column, for the hot case only: fio psync with one job per CPU,
# each a thread calling pread() (no AIO, no hand-off between threads, one
# syscall per read): what every CPU copying from the page cache gives.
# A second table gives each variant's CPU time per IO: with every CPU
# busy, IOPS cannot exceed CPUs / (CPU per IO), so it tells how much CPU
# per IO the 2x-glibc target leaves, against what the shim uses.
# Each row is the median of REPS runs; the variants alternate within a rep.
# Environment: DIR (where the file goes), SIZE (MiB, default 256),
# RUNTIME (s per run, default 4), REPS (default 3), DEPTH (default 32).
set -eu

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
RUN=$here/ioengine-run
DIR=${DIR:-/var/tmp}
SIZE=${SIZE:-256}
RUNTIME=${RUNTIME:-4}
REPS=${REPS:-3}
DEPTH=${DEPTH:-32}
file=$DIR/bench-aio.$$.dat
res=$(mktemp -d)
trap 'rm -rf "$file" "$res"' EXIT

command -v fio >/dev/null || { echo "bench-aio: fio not found" >&2; exit 1; }
"$RUN" -- true || exit 1

# engine direct fio-wrapper... -> "IOPS CPU-us-per-IO" (all jobs'; JOBS jobs,
# default 1). The CPU is the whole process's (user and system, its engine
# threads too), sampled from 1 s after the start to RUNTIME s, inside the
# timed run: fio's set-up and exit are left out. "-" for RUNTIME < 3.
fio_run() {
	local engine=$1 direct=$2
	shift 2
	python3 -c '
import json, os, subprocess, sys, time
def cpu(pid):
	with open("/proc/%d/stat" % pid) as f:
		v = f.read().rsplit(")", 1)[1].split()
	return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
runtime = float(sys.argv[1])
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
window = None
if runtime >= 3:
	time.sleep(1)
	c0, t1 = cpu(p.pid), time.monotonic()
	time.sleep(runtime - 1)
	window = (cpu(p.pid) - c0, time.monotonic() - t1)
r = json.loads(p.communicate()[0])["jobs"][0]["read"]
print("%.0f %s" % (r["iops"], "%.3f" % (window[0] * 1e6 / (window[1] * r["iops"])) if window else "-"))' \
	"$RUNTIME" "$@" fio --name=bench --ioengine="$engine" --iodepth="$DEPTH" --rw=randread --bs=4k \
		--filename="$file" --size="${SIZE}m" --direct="$direct" --invalidate=0 \
		--numjobs="${JOBS:-1}" --group_reporting \
		--time_based --runtime="$RUNTIME" --thread --output-format=json
}

# median of column $1 (default 1)
median() {
	awk -v c="${1:-1}" '{ print $c }' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

fio --name=prep --rw=write --bs=1m --size="${SIZE}m" --filename="$file" --output=/dev/null

cpus=$(nproc)
variants="glibc shim-uring shim-aio fio-io_uring psync-x$cpus"
for mode in hot direct; do
	direct=0
	[ $mode = direct ] && direct=1
	for _ in $(seq "$REPS"); do
		[ $mode = hot ] && cat "$file" > /dev/null
		fio_run posixaio $direct env >> "$res/$mode.glibc"
		fio_run posixaio $direct "$RUN" --backend uring -- >> "$res/$mode.shim-uring"
		fio_run posixaio $direct "$RUN" --backend aio -- >> "$res/$mode.shim-aio"
		fio_run io_uring $direct env >> "$res/$mode.fio-io_uring"
		# Page cache only (on O_DIRECT fio io_uring shows what the disk gives).
		if [ $mode = hot ]; then
			DEPTH=1 JOBS=$cpus fio_run psync 0 env >> "$res/$mode.psync-x$cpus"
		fi
	done
done

printf "fio randread 4k, iodepth %s, %s MiB file, %s s x %s reps (median IOPS)\n" \
	"$DEPTH" "$SIZE" "$RUNTIME" "$REPS"
printf "%-8s %12s %12s %12s %12s %12s   %-11s %-11s %-11s %-11s %-11s\n" mode glibc shim-uring \
	shim-aio fio-io_uring "psync-x$cpus" "uring/glibc" "aio/glibc" "uring/fio" "aio/fio" \
	"psync/glibc"
for mode in hot direct; do
	set --
	for v in $variants; do
		set -- "$@" "$(cat "$res/$mode.$v" 2>/dev/null | median)"
	done
	awk -v m="$mode" -v g="$1" -v u="$2" -v a="$3" -v f="$4" -v c="${5:-0}" 'BEGIN {
		printf "%-8s %12d %12d %12d %12d %12s   %9.2fx  %9.2fx  %9.2fx  %9.2fx  %10s\n",
			m, g, u, a, f, c ? c : "-", u / g, a / g, u / f, a / f,
			c ? sprintf("%.2fx", c / g) : "-" }'
done
echo "targets: shim >= 0.9x fio io_uring; shim >= 5x glibc (direct), >= 2x glibc (hot)"
echo "psync-x$cpus: $cpus threads calling pread(), no AIO, one syscall per read (page cache only)"

# CPU per IO bounds IOPS on these CPUs: at most cpus / (CPU per IO) with every CPU busy.
echo
printf "CPU us per IO (median; user+system, whole process)\n"
printf "%-8s %12s %12s %12s %12s %12s\n" mode glibc shim-uring shim-aio fio-io_uring "psync-x$cpus"
for mode in hot direct; do
	set --
	for v in $variants; do
		set -- "$@" "$(cat "$res/$mode.$v" 2>/dev/null | median 2)"
	done
	printf "%-8s %12s %12s %12s %12s %12s\n" "$mode" "$1" "$2" "$3" "$4" "${5:--}"
done
g=$(median < "$res/hot.glibc")
u=$(median 2 < "$res/hot.shim-uring")
[ "$u" = - ] || awk -v n="$cpus" -v g="$g" -v u="$u" 'BEGIN {
	printf "hot: 2x glibc on %d CPUs needs <= %.2f us CPU per IO; shim-uring used %.2f (at most %.0f IOPS, %.2fx glibc)\n",
		n, n * 1e6 / (2 * g), u, n * 1e6 / u, n * 1e6 / u / g }'
