#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The A/B of two builds (tools/ioengine-bench --ab): tools/bench/ab.py's
# table from a raw.jsonl whose figures the test chose, and the option's
# checks of the base tree.
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

AB=$(readlink -f "$BATS_TEST_DIRNAME/../../tools/bench/ab.py")
BENCH=$(readlink -f "$BATS_TEST_DIRNAME/../../tools/ioengine-bench")

# rec CONTENDER SIDE ROUND IOPS: one fio run's record, as report.py writes it.
rec() {
	printf '{"ok": true, "group": "psync", "contender": "%s", "rw": "randread", "mode": "direct", "depth": 1, "side": "%s", "round": "%s", "iops": %s}\n' "$@"
}

@test "ab.py: new/base per round, the median and range over the rounds, medians below 0.95 flagged" {
	raw=$BATS_TEST_TMPDIR/raw.jsonl
	{
		# psync-shim: rounds give 0.9, 1.0 and 1.1: median 1.000.
		rec psync-shim base 1 1000; rec psync-shim new 1 900
		rec psync-shim new 2 2000; rec psync-shim base 2 2000
		rec psync-shim base 3 500; rec psync-shim new 3 550
		# psync-shim-nofast: 0.8, 0.9, 1.5: median 0.900, flagged.
		rec psync-shim-nofast base 1 1000; rec psync-shim-nofast new 1 800
		rec psync-shim-nofast base 2 1000; rec psync-shim-nofast new 2 900
		rec psync-shim-nofast base 3 1000; rec psync-shim-nofast new 3 1500
		# A round with one side only (a failed run) is left out.
		rec psync-shim-nofast base 4 1000
		echo '{"ok": false, "group": "psync", "contender": "psync-shim-nofast", "rw": "randread", "mode": "direct", "depth": 1, "side": "new", "round": "4"}'
		# The merge benchmark: its own merged/unmerged ratio is compared.
		echo '{"ok": true, "group": "merge", "contender": "merge-uring", "op": "read", "side": "base", "round": "1", "ratio": 2.0, "merged_iops": 1, "unmerged_iops": 1}'
		echo '{"ok": true, "group": "merge", "contender": "merge-uring", "op": "read", "side": "new", "round": "1", "ratio": 3.0, "merged_iops": 1, "unmerged_iops": 1}'
	} >"$raw"
	run python3 "$AB" "$raw" "$BATS_TEST_TMPDIR/ab.md" base-dir new-dir
	assert_success
	assert_line '| psync-shim | randread | direct | 1 | 3 | 1.000 | 0.900–1.100 | 1000 | 900 |'
	assert_line '| psync-shim-nofast | randread | direct | 1 | 3 | 0.900 **below 0.95** | 0.800–1.500 | 1000 | 900 |'
	assert_line '| merge-uring | read | merged/unmerged | 0 | 1 | 1.500 | 1.500–1.500 | 2 | 3 |'
	assert_line '1 of 3 medians below 0.95'
	run diff "$BATS_TEST_TMPDIR/ab.md" <(python3 "$AB" "$raw" /dev/null base-dir new-dir)
	assert_success
}

@test "ioengine-bench --ab refuses a base tree without the programs, and a bad --rounds" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	build=${IOENGINE_BENCH_BUILD:-}
	[ -n "$build" ] || skip "IOENGINE_BENCH_BUILD not set (ctest sets it)"
	run "$BENCH" --no-build --build-dir "$build" --ab "$BATS_TEST_TMPDIR/empty"
	assert_failure 2
	assert_output --partial "tools/ioengine-benchmark missing (build the base revision there)"
	run "$BENCH" --no-build --build-dir "$build" --ab "$build" --rounds 0
	assert_failure 2
	assert_output --partial "bad --rounds '0'"
	run "$BENCH" --no-build --build-dir "$build" --ab "$BATS_TEST_TMPDIR/none"
	assert_failure 2
	assert_output --partial "--ab: no directory"
}
