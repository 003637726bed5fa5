#!/usr/bin/env bash
# Engine against fio on the same file, in one run: 4 KiB random reads,
# {page-cache hot, O_DIRECT} x {QD1, QD32}, libioengine's io_uring and AIO
# drivers against fio's own io_uring and libaio engines.
#
# Every repetition runs the four programs back to back, so drift on a busy
# machine hits all of them alike; the table shows medians and the ratio of
# the medians (engine-uring / fio io_uring, engine-aio / fio libaio).
#
# usage: tools/bench-engine.sh [--build-dir DIR] [--file PATH] [--size SIZE]
#                              [--runtime S] [--reps N] [--depths "1 32"]
#                              [--modes "hot direct"] [--workers N] [--quick]
#                              [--raw PATH]   (per-run results, kept)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build_dir="$here/../build-bench"
file=""
size=512M
runtime=5
reps=3
depths="1 32"
modes="hot direct"
workers=0
quick=0
raw=""
target=0.8

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "$0"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--build-dir) build_dir=$2; shift 2 ;;
	--file) file=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--runtime) runtime=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--depths) depths=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	--raw) raw=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench-engine.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
if [ "$quick" = 1 ]; then
	runtime=1
	reps=1
fi

bench="$build_dir/tools/ioengine-benchmark"
if [ ! -x "$bench" ]; then
	echo "bench-engine.sh: $bench not built; run:" >&2
	echo "  cmake -S $here/.. -B $build_dir -DCMAKE_BUILD_TYPE=Release && cmake --build $build_dir -j2" >&2
	exit 1
fi
for tool in fio python3; do
	command -v "$tool" >/dev/null || { echo "bench-engine.sh: $tool not found" >&2; exit 1; }
done
[ -n "$file" ] || file="$build_dir/bench-engine.dat"

# Size in bytes, as fio and the benchmark both understand it.
bytes=$(python3 -c '
import re, sys
m = re.fullmatch(r"(\d+)([kKmMgG]?)(i?[bB])?", sys.argv[1])
if not m:
    sys.exit("bad --size " + sys.argv[1])
print(int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()])
' "$size")

[ -n "$raw" ] || raw="$build_dir/bench-engine-raw.txt"
results=$raw
: >"$results"

# Create (or extend) the file with real data: the benchmark fills it.
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt "$bytes" ]; then
	echo "creating $file ($bytes bytes)" >&2
	"$bench" --file "$file" --size "$bytes" --runtime 0.1 --ramp 0 --depth 1 >/dev/null
fi

warm() {
	cat "$file" >/dev/null
}

# run_engine CASE BACKEND DEPTH DIRECT REP
run_engine() {
	local flags=() line
	[ "$4" = 1 ] && flags+=(--direct)
	line=$("$bench" --file "$file" --size "$bytes" --backend "$2" --depth "$3" \
		--runtime "$runtime" --workers "$workers" "${flags[@]}" | grep '^RESULT ')
	python3 - "$1" "ioe-$2" "$5" "$line" >>"$results" <<'EOF'
import sys
case, eng, rep, line = sys.argv[1:]
kv = dict(f.split("=", 1) for f in line.split()[1:])
print(case, eng, rep, kv["iops"], kv["p50_us"], kv["p99_us"], kv["cpu_pct"])
EOF
}

# run_fio CASE IOENGINE DEPTH DIRECT REP
run_fio() {
	local json
	# --invalidate=0 always: fio would otherwise drop the file's page cache,
	# which turns every later "hot" run cold.
	json=$(fio --name=bench --filename="$file" --size="$bytes" --rw=randread --bs=4k \
		--ioengine="$2" --iodepth="$3" --direct="$4" --invalidate=0 \
		--norandommap --randrepeat=0 --lat_percentiles=1 \
		--time_based --ramp_time=0.5 --runtime="$runtime" --output-format=json)
	python3 - "$1" "fio-$2" "$5" "$json" >>"$results" <<'EOF'
import json, sys
case, eng, rep, text = sys.argv[1:]
# fio may print notes before the JSON document.
job = json.loads(text[text.index("{"):])["jobs"][0]
r = job["read"]
lat = r.get("lat_ns", {}).get("percentile") or r["clat_ns"]["percentile"]
cpu = job["usr_cpu"] + job["sys_cpu"]
print(case, eng, rep, "%.0f" % r["iops"], "%.2f" % (lat["50.000000"] / 1e3),
      "%.2f" % (lat["99.000000"] / 1e3), "%.0f" % cpu)
EOF
}

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# file $file ($bytes bytes), runtime ${runtime}s, reps $reps, workers $workers" >&2
for mode in $modes; do
	case "$mode" in
	hot) direct=0 ;;
	direct) direct=1 ;;
	*) echo "bench-engine.sh: unknown mode '$mode'" >&2; exit 2 ;;
	esac
	for depth in $depths; do
		case_name="$mode-qd$depth"
		for rep in $(seq 1 "$reps"); do
			echo "# $case_name rep $rep/$reps" >&2
			[ "$mode" = hot ] && warm
			run_engine "$case_name" uring "$depth" "$direct" "$rep"
			run_fio "$case_name" io_uring "$depth" "$direct" "$rep"
			[ "$mode" = hot ] && warm
			run_engine "$case_name" aio "$depth" "$direct" "$rep"
			run_fio "$case_name" libaio "$depth" "$direct" "$rep"
		done
	done
done

python3 - "$results" "$target" <<'EOF'
import statistics, sys
from collections import defaultdict

path, target = sys.argv[1], float(sys.argv[2])
rows = defaultdict(list)
order = []
for line in open(path):
    case, eng, rep, iops, p50, p99, cpu = line.split()
    if case not in order:
        order.append(case)
    rows[case, eng].append((float(iops), float(p50), float(p99), float(cpu)))

def med(case, eng, i):
    return statistics.median(r[i] for r in rows[case, eng])

def verdict(case, ratio):
    if not case.endswith("qd32"):
        return ""
    return " ok" if ratio >= target else " LOW"

print()
print("%-12s %10s %12s %7s  %10s %12s %7s" % ("case", "ioe-uring", "fio-io_uring",
      "ratio", "ioe-aio", "fio-libaio", "ratio"))
for case in order:
    u, fu = med(case, "ioe-uring", 0), med(case, "fio-io_uring", 0)
    a, fa = med(case, "ioe-aio", 0), med(case, "fio-libaio", 0)
    ru, ra = u / fu, a / fa
    print("%-12s %10.0f %12.0f %7s  %10.0f %12.0f %7s" % (case, u, fu,
          "%.2f%s" % (ru, verdict(case, ru)), a, fa, "%.2f%s" % (ra, verdict(case, ra))))
print()
print("median latency p50/p99 (us) and CPU (% of one core)")
engines = ["ioe-uring", "fio-io_uring", "ioe-aio", "fio-libaio"]
print("%-12s" % "case" + "".join("  %-22s" % e for e in engines))
for case in order:
    cells = []
    for e in engines:
        cells.append("%.1f/%.1f %3.0f%%" % (med(case, e, 1), med(case, e, 2), med(case, e, 3)))
    print("%-12s" % case + "".join("  %-22s" % c for c in cells))
print()
print("target: ratio >= %.2f at depth 32 (hot and O_DIRECT); IOPS are medians of %d run(s)"
      % (target, len(rows[order[0], "ioe-uring"])))
EOF
echo "# per-run results: $results; load at end $(cut -d' ' -f1-3 /proc/loadavg)"
