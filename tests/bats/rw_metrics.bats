#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Live reports: --stats-interval (a summary line every interval) and
# --metrics (a Prometheus textfile, replaced whole), on a python3 program
# doing os.pread/os.pwrite (rw_metrics_io.py) that runs until the checks
# (rw_metrics_check.py) tell it through a FIFO to end.
load rw_common
bats_require_minimum_version 1.5.0

IO=$BATS_TEST_DIRNAME/rw_metrics_io.py
CHECK=$BATS_TEST_DIRNAME/rw_metrics_check.py

setup() {
	"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
		skip "python3-prometheus-client is not installed (the metrics file's parser)"
	D=$BATS_TEST_TMPDIR/m
	mkdir -p "$D"
	mkfifo "$D/ctl"
	STATS=$D/stats
	M=$D/metrics.prom
	PROG=
}

teardown() {
	[ -z "$PROG" ] || kill -KILL "$PROG" 2>/dev/null || true
}

# start_io BACKEND [MODE ARGS...]: the IO program under the wrapper, in the
# background (PROG: its pid, the wrapper execs), stderr in $D/err.
start_io() {
	"$RUN" --backend "$1" --no-fastpath --stats="$STATS" --metrics "$M" --stats-interval 1 -- \
		"$PY" "$IO" "$D/data" "$D/ctl" "${@:2}" 2>"$D/err" 3>&- &
	PROG=$!
}

# Wait for the IO program; its exit status in $st.
wait_io() {
	st=0
	wait "$PROG" || st=$?
	PROG=
}

check() {
	run "$PY" "$CHECK" "$@"
	echo "$output"
	[ "$status" -ne 77 ] || skip "$output"
	assert_success
}

live() {
	start_io "$1"
	check watch "$STATS" "$M" "$D/ctl" 3
	wait_io
	assert_equal "$st" 0
	check final "$STATS" "$M"
	assert_equal "$(stat_of backend)" "$2"
	[ "$(stat -c %a "$M")" = 600 ]
	[ ! -s "$D/err" ] || fail "stderr: $(cat "$D/err")"
}

@test "live: lines every second, counters grow, metrics never half-written, final values = exit summary (io_uring)" {
	live uring io_uring
}

@test "live: lines every second, counters grow, metrics never half-written, final values = exit summary (aio)" {
	live aio aio
}

@test "_exit(): the periodic output written so far stays, complete" {
	start_io uring
	check watch "$STATS" "$M" "$D/ctl" 2 _
	wait_io
	assert_equal "$st" 0
	check complete "$STATS" "$M"
}

@test "killed by a signal: the periodic output written so far stays, complete" {
	start_io aio
	check watch "$STATS" "$M" "$D/ctl" 2 k
	kill -TERM "$PROG"
	wait_io
	assert_equal "$st" $((128 + 15))
	check complete "$STATS" "$M"
	# Only a hidden temporary file could be left (killed in the middle of a rewrite).
	run find "$D" -name '*.prom' ! -name metrics.prom
	assert_output ""
}

@test "fork: the child has no writer thread, reports only its own exit summary" {
	start_io uring fork "$D/child_threads"
	check watch "$STATS" "$M" "$D/ctl" 2 q "$D/child_threads"
	parent=$PROG
	wait_io
	assert_equal "$st" 0
	run cat "$D/child_threads"
	refute_output --partial ioe-stats
	# Every periodic line is the parent's; the child's one line is its exit summary.
	run grep -c "pid=$parent .*interval_s=" "$STATS"
	[ "$output" -ge 2 ]
	run grep -v "pid=$parent " "$STATS"
	assert_equal "${#lines[@]}" 1
	refute_output --partial interval_s=
	check final "$STATS" "$M"
}

@test "the writer thread: there once the program does IO, with signals blocked; none without an interval or IO" {
	threads() {
		"$PY" "$IO" "$D/data" "$D/ctl" threads
	}
	IOENGINE_STATS=$STATS IOENGINE_STATS_INTERVAL=1 LD_PRELOAD=${IOENGINE_PRELOAD:-} run threads
	[ -n "${IOENGINE_PRELOAD:-}" ] || skip "IOENGINE_PRELOAD does not name this build's library (ctest sets it)"
	assert_success
	assert_output --partial ioe-stats
	# Without an interval, or before any IO: no thread.
	IOENGINE_STATS=$STATS LD_PRELOAD=$IOENGINE_PRELOAD run threads
	refute_output --partial ioe-stats
	IOENGINE_STATS=$STATS IOENGINE_STATS_INTERVAL=1 LD_PRELOAD=$IOENGINE_PRELOAD \
		run "$PY" -c 'import os; print(sorted(open("/proc/self/task/%s/comm" % t).read() for t in os.listdir("/proc/self/task")))'
	refute_output --partial ioe-stats
	# Exit does not wait for the interval: the thread's sleep is cut short.
	run timeout 60 "$RUN" --stats="$STATS" --metrics "$M" --stats-interval 86400 -- "$PY" "$IO" "$D/data" "$D/ctl" threads
	assert_success
	assert_output --partial ioe-stats
	check final "$STATS" "$M"
	# Every signal the kernel lets a thread block is blocked in it.
	run "$RUN" --stats="$STATS" --stats-interval 1 -- "$PY" -c '
import os
fd = os.open("'"$D"'/data", os.O_RDWR | os.O_CREAT, 0o600)
os.pwrite(fd, b"x", 0)
for t in os.listdir("/proc/self/task"):
    if open("/proc/self/task/%s/comm" % t).read().strip() == "ioe-stats":
        m = int([l.split()[1] for l in open("/proc/self/task/%s/status" % t) if l.startswith("SigBlk:")][0], 16)
        # All but SIGKILL and SIGSTOP (glibc may keep its own 32 and 33 out).
        print("all blocked" if m | 3 << 31 == ((1 << 64) - 1) & ~(1 << 8 | 1 << 18) else "SigBlk %x" % m)'
	assert_success
	assert_output "all blocked"
}

@test "bad IOENGINE_STATS_INTERVAL and IOENGINE_METRICS: one warning each, the defaults" {
	prog='import os; fd = os.open("'"$D"'/data", os.O_RDWR | os.O_CREAT, 0o600); os.pwrite(fd, b"x", 0); print("ok")'
	OPTS=()
	IOENGINE_STATS_INTERVAL=soon IOENGINE_METRICS=$D/metrics.txt shim "$PY" -c "$prog"
	assert_success
	assert_line ok
	assert_line "ioengine: IOENGINE_STATS_INTERVAL=soon is not a number in 0..86400, using 0"
	assert_line "ioengine: IOENGINE_METRICS=$D/metrics.txt is not a file name ending in .prom, writing no metrics"
	[ "$(grep -c '^ioengine: ' <<<"$output")" -eq 2 ]
	[ ! -e "$D/metrics.txt" ]
	[ "$(wc -l <"$STATS")" -eq 1 ]
	IOENGINE_STATS_INTERVAL=-1 IOENGINE_METRICS=$D/.prom shim "$PY" -c "$prog"
	assert_line "ioengine: IOENGINE_STATS_INTERVAL=-1 is not a number in 0..86400, using 0"
	assert_line --partial "IOENGINE_METRICS=$D/.prom is not a file name"
	[ "$(grep -c '^ioengine: ' <<<"$output")" -eq 2 ]
	# An interval with nothing to write says so.
	IOENGINE_STATS_INTERVAL=5 run "$RUN" -- "$PY" -c "$prog"
	assert_success
	assert_output "ioengine: IOENGINE_STATS_INTERVAL is set without IOENGINE_STATS or IOENGINE_METRICS: nothing to write
ok"
	# The wrapper refuses them itself.
	run "$RUN" --stats-interval 0 true
	assert_failure 2
	assert_output --partial "--stats-interval must be in 1..86400"
	run "$RUN" --metrics "$D/m.txt" true
	assert_failure 2
	assert_output --partial "--metrics needs a file name ending in .prom"
}

@test "metrics file: never through a symlink, never another user's or a shared one; an existing one's read bits kept" {
	prog='import os; fd = os.open("'"$D"'/data", os.O_RDWR | os.O_CREAT, 0o600); os.pwrite(fd, b"x", 0)'
	echo precious >"$D/target"
	ln -s "$D/target" "$D/link.prom"
	IOENGINE_METRICS=$D/link.prom run "$RUN" -- "$PY" -c "$prog"
	assert_success
	assert_output --partial "IOENGINE_METRICS file $D/link.prom is not a regular file of this user"
	assert_equal "$(cat "$D/target")" precious
	[ -L "$D/link.prom" ]
	# Group-writable: refused too.
	echo precious >"$D/shared.prom"
	chmod 664 "$D/shared.prom"
	IOENGINE_METRICS=$D/shared.prom run "$RUN" -- "$PY" -c "$prog"
	assert_output --partial "IOENGINE_METRICS file $D/shared.prom is not a regular file of this user"
	assert_equal "$(cat "$D/shared.prom")" precious
	# The program's own, made readable for a collector of another user: stays so.
	IOENGINE_METRICS=$M run "$RUN" -- "$PY" -c "$prog"
	assert_output ""
	chmod 644 "$M"
	IOENGINE_METRICS=$M run "$RUN" -- "$PY" -c "$prog"
	assert_output ""
	[ "$(stat -c %a "$M")" = 644 ]
	grep -q '^ioengine_requests_total{.*op="write",path="plain_syscall"} 1$' "$M"
	run find "$D" -name '*.tmp'
	assert_output ""
	# Another user's file (as root, one can be made).
	[ "$(id -u)" = 0 ] || skip "not root: cannot make a file of another user"
	echo precious >"$D/other.prom"
	chown 65534 "$D/other.prom"
	IOENGINE_METRICS=$D/other.prom run "$RUN" -- "$PY" -c "$prog"
	assert_output --partial "IOENGINE_METRICS file $D/other.prom is not a regular file of this user"
	assert_equal "$(cat "$D/other.prom")" precious
	# As root, a file of root's own with other content is not replaced either.
	echo precious >"$D/root.prom"
	chmod 600 "$D/root.prom"
	IOENGINE_METRICS=$D/root.prom run "$RUN" -- "$PY" -c "$prog"
	assert_output --partial "IOENGINE_METRICS file $D/root.prom is not a regular file of this user"
	assert_equal "$(cat "$D/root.prom")" precious
}

@test "a refused metrics file: one warning for the whole run, the lines still written" {
	ln -s "$D/target" "$M"
	start_io uring
	check watch "$STATS" - "$D/ctl" 2
	wait_io
	assert_equal "$st" 0
	run grep -c 'IOENGINE_METRICS file' "$D/err"
	assert_output 1
	[ ! -e "$D/target" ]
}

@test "README's systemd drop-in: the wrapper takes its options as shown" {
	readme=$BATS_TEST_DIRNAME/../../README.md
	line=$(grep -m1 '^ExecStart=/usr/local/bin/ioengine-run ' "$readme")
	[ -n "$line" ] || fail "no ExecStart= with ioengine-run in README.md"
	opts=${line#ExecStart=/usr/local/bin/ioengine-run }
	opts=${opts%% -- *}
	opts=${opts//\/var\/log\/myservice.ioengine/$STATS}
	opts=${opts//\/var\/lib\/node_exporter\/textfile\/myservice.prom/$M}
	[[ $opts != */var/* ]] || fail "README example has other paths: $opts"
	# shellcheck disable=SC2086 # the options as README.md has them
	run "$RUN" $opts -- "$PY" -c 'import os; fd = os.open("'"$D"'/data", os.O_RDWR | os.O_CREAT, 0o600); os.pwrite(fd, b"x", 0)'
	assert_success
	assert_output ""
	check final "$STATS" "$M"
}

@test "metrics labels: the program's name escaped as the format wants; --help names the options" {
	[ -n "${IOENGINE_PRELOAD:-}" ] || skip "IOENGINE_PRELOAD does not name this build's library (ctest sets it)"
	name='we"ird\na me'
	IOENGINE_METRICS=$M LD_PRELOAD=$IOENGINE_PRELOAD run bash -c 'exec -a "$1" "$2" -c "$3"' - "$name" "$PY" \
		'import os; fd = os.open("'"$D"'/data", os.O_RDWR | os.O_CREAT, 0o600); os.pwrite(fd, b"x", 0)'
	assert_success
	grep -qF 'program="we\"ird\\na me"' "$M" || fail "$(head -3 "$M")"
	run "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
names = {s.labels["program"] for f in text_string_to_metric_families(open(sys.argv[1]).read()) for s in f.samples}
print(names)
assert names == {sys.argv[2]}' "$M" "$name"
	assert_success
	run "$RUN" --help
	assert_output --partial "--stats-interval S"
	assert_output --partial "--metrics FILE"
}
