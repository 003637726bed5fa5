#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# tools/ioengine-bench --quick on a small file: the report and the plots are
# produced and well-formed. No timing is asserted: the numbers only have to
# be there and parse.
#
# IOENGINE_BENCH_BUILD: a built tree to use as it is (ctest passes its own);
# without it the tool builds its own Release tree (build-bench-report/).
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

BENCH=$(readlink -f "$BATS_TEST_DIRNAME/../../tools/ioengine-bench")
CONTENDERS="engine-uring engine-aio fio-io_uring fio-libaio posixaio-glibc posixaio-shim-uring
posixaio-shim-aio posixaio-shim-uring-nomerge posixaio-shim-aio-nomerge psync-native psync-shim psync-shim-nofast"

setup_file() {
	local args=(--quick --size small --depths "1 32" --out "$BATS_FILE_TMPDIR/report")
	if [ -n "${IOENGINE_BENCH_BUILD:-}" ]; then
		# Test files next to the build, not in /tmp: O_DIRECT needs a real filesystem.
		args+=(--no-build --build-dir "$IOENGINE_BENCH_BUILD" --dir "$IOENGINE_BENCH_BUILD/bench-data-test")
	fi
	export REPORT=$BATS_FILE_TMPDIR/report
	"$BENCH" "${args[@]}" >"$BATS_FILE_TMPDIR/stdout" 2>"$BATS_FILE_TMPDIR/stderr"
	echo $? >"$BATS_FILE_TMPDIR/status"
}

@test "ioengine-bench --quick exits 0 and says what it wrote" {
	run cat "$BATS_FILE_TMPDIR/status"
	[ "$output" = 0 ] || fail "exit $output: $(tail -n 20 "$BATS_FILE_TMPDIR/stderr")"
	run cat "$BATS_FILE_TMPDIR/stderr"
	assert_output --regexp '\[1/[0-9]+\] engine-uring QD1 hot randread'
	assert_output --partial "done in"
	run cat "$BATS_FILE_TMPDIR/stdout"
	assert_output --partial "## Summary at queue depth 32"
}

@test "every output file exists" {
	for f in report.md iops_vs_depth.svg latency_cdf.svg results.json results.csv meta.json; do
		[ -s "$REPORT/$f" ] || fail "$f missing or empty"
	done
}

@test "report.md: header, every contender in the tables, no failed run" {
	run cat "$REPORT/report.md"
	for k in "| date |" "| machine |" "| kernel |" "| backends |" "| fio | fio-"; do
		assert_output --partial "$k"
	done
	for c in $CONTENDERS merge-uring merge-aio stream-glibc stream-shim-uring stream-shim-aio; do
		assert_output --partial "| $c |"
	done
	refute_output --partial "failed"
	refute_output --partial "## Failed runs"
}

@test "report.md: the numbers of every table row parse" {
	run python3 - "$REPORT/report.md" "$CONTENDERS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
want = set(sys.argv[2].split())
seen, rows = set(), 0
section = None
for line in text.splitlines():
    if line.startswith("## "):
        section = line
    if section != "## All runs" or not line.startswith("| ") or line.startswith("| contender"):
        continue
    cells = [c.strip() for c in line.strip("|").split("|")]
    name, qd, iops, p50, p99, cpu = cells[:6]
    assert int(qd) >= 1, line
    assert float(iops) > 0, line
    assert 0 < float(p50) <= float(p99), line
    float(cpu)
    for m in re.finditer(r"([0-9.]+)× ([A-Za-z0-9_-]+)", cells[6]):
        assert float(m.group(1)) > 0, line
        assert m.group(2) in want, line
    seen.add(name)
    rows += 1
assert seen == want, "missing: %s" % (want - seen)
print("rows", rows)
PY
	assert_success
	assert_output --regexp 'rows [0-9]+'
}

@test "report.md: the POSIX AIO socket rows parse" {
	run python3 - "$REPORT/report.md" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
sec = text.split("## POSIX AIO on sockets", 1)[1].split("\n## ", 1)[0]
rows = 0
for line in sec.splitlines():
    if not line.startswith("| stream-"):
        continue
    cells = [c.strip() for c in line.strip("|").split("|")]
    name, conns, rps, vs, threads = cells
    assert int(conns) >= 1, line
    assert re.fullmatch(r"[0-9.]+[kM]?", rps), line
    assert vs == "—" or re.fullmatch(r"[0-9.]+×", vs), line
    start, peak = (int(t) for t in threads.split(" → "))
    assert 1 <= start <= peak, line
    rows += 1
assert rows == 3, rows
print("rows", rows)
PY
	assert_success
	assert_output "rows 3"
}

@test "SVG plots parse as XML and have axes, labels and a legend" {
	for f in iops_vs_depth.svg latency_cdf.svg; do
		run python3 -c 'import xml.dom.minidom, sys; xml.dom.minidom.parse(sys.argv[1])' "$REPORT/$f"
		assert_success
	done
	run cat "$REPORT/iops_vs_depth.svg"
	assert_output --partial "queue depth"
	assert_output --partial ">IOPS<"
	for c in $CONTENDERS; do
		assert_output --partial ">$c<"
	done
	run cat "$REPORT/latency_cdf.svg"
	assert_output --partial "latency (µs, log scale)"
	assert_output --partial ">percentile<"
	assert_output --partial ">engine-uring<"
	assert_output --partial ">posixaio-shim-aio<"
}

@test "results.json and results.csv hold the raw numbers" {
	run python3 - "$REPORT" <<'PY'
import csv, json, sys
d = json.load(open(sys.argv[1] + "/results.json"))
runs = [r for r in d["runs"] if r.get("group") not in ("merge", "syscalls", "stream")]
assert runs and all(r["ok"] and r["iops"] > 0 and r["pct"] for r in runs)
assert d["meta"]["kernel"] and d["meta"]["fio"].startswith("fio-")
rows = list(csv.DictReader(open(sys.argv[1] + "/results.csv")))
assert len(rows) >= len(runs)
for r in rows:
    float(r["iops"])
print("ok", len(runs))
PY
	assert_success
	assert_output --regexp '^ok [0-9]+'
}

@test "ioengine-bench: usage errors exit 2" {
	run "$BENCH" --frobnicate
	assert_failure 2
	run "$BENCH" --depths "1 x"
	assert_failure 2
	run "$BENCH" --help
	assert_success
	assert_output --partial "--quick"
}

@test "system calls per request: every row, and natively one pread64 per psync read" {
	run python3 - "$REPORT/results.json" <<'PY'
import json, sys
runs = [r for r in json.load(open(sys.argv[1]))["runs"] if r.get("group") == "syscalls"]
got = {(r["contender"], r["rw"], r["mode"], r["depth"]): r for r in runs}
for c in ("psync-native", "psync-shim"):
    for mode in ("hot", "cold", "direct"):
        assert (c, "randread", mode, 1) in got, (c, mode)
for c in ("fio-io_uring", "posixaio-glibc", "posixaio-shim-uring", "posixaio-shim-aio"):
    for d in (1, 32):
        assert (c, "randread", "direct", d) in got, (c, d)
nat = got["psync-native", "randread", "hot", 1]
assert 0.95 <= nat["calls"]["pread64"] <= 1.05, nat	# fio's own calls (clocks, stats) come and go
assert all(r["ok"] and r["per_request"] >= 0 for r in runs)	# QD32 batches: may round to 0
print("ok", len(runs))
PY
	assert_success
	assert_output --regexp '^ok [0-9]+'
	run cat "$REPORT/report.md"
	assert_output --partial "## System calls per request"
}
