#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# tools/ioengine-run itself, and the shim's configuration handling.
load rw_common
bats_require_minimum_version 1.5.0

@test "ioengine-run --help" {
	run "$RUN" --help
	assert_success
	assert_output --partial "Usage: ioengine-run"
	assert_output --partial "--no-fastpath"
}

@test "ioengine-run: unknown option, bad values, no command" {
	run "$RUN" --frobnicate true
	assert_failure 2
	assert_output --partial "unknown option '--frobnicate'"
	run "$RUN" --depth 0 true
	assert_failure 2
	assert_output --partial "--depth must be in 1..4096"
	run "$RUN" --backend spdk true
	assert_failure 2
	run "$RUN" --log loud true
	assert_failure 2
	run "$RUN" --depth
	assert_failure 2
	run "$RUN" --
	assert_failure 2
	assert_output --partial "no command"
}

@test "ioengine-run: missing command or library" {
	run -127 "$RUN" -- no-such-command-ioe
	assert_failure 127
	assert_output --partial "command not found: no-such-command-ioe"
	IOENGINE_PRELOAD=/nonexistent/lib.so run -127 "$RUN" true
	assert_failure 127
	assert_output --partial "no such file"
}

@test "ioengine-run: exit status, environment, existing LD_PRELOAD kept" {
	run "$RUN" -- sh -c 'exit 7'
	assert_failure 7
	run "$RUN" --backend aio --depth 8 --workers 2 --no-fastpath --log info -- env
	assert_success
	assert_line IOENGINE_BACKEND=aio
	assert_line IOENGINE_DEPTH=8
	assert_line IOENGINE_WORKERS=2
	assert_line IOENGINE_FASTPATH=0
	assert_line IOENGINE_LOG=info
	assert_line --regexp '^LD_PRELOAD=/.*/libioengine-preload\.so$'
	other=$(ldconfig -p | awk '/libm\.so\.6 .*x86-64/ { print $NF; exit }')
	[ -n "$other" ] || skip "no libm.so.6 to preload"
	LD_PRELOAD=$other run "$RUN" -- env
	assert_line --regexp "^LD_PRELOAD=/.*/libioengine-preload\.so $other\$"
}

@test "bad IOENGINE_* values: one message each, defaults, program works" {
	OPTS=()
	IOENGINE_DEPTH=lots IOENGINE_BACKEND=spdk IOENGINE_FASTPATH=maybe IOENGINE_WORKERS=-1 \
		shim "$PY" -c 'import os; fd = os.open("/etc/hostname", os.O_RDONLY); print(len(os.pread(fd, 1 << 16, 0)) > 0)'
	assert_success
	assert_line True
	assert_line "ioengine: IOENGINE_DEPTH=lots is not a number in 1..4096, using 128"
	assert_line "ioengine: IOENGINE_BACKEND=spdk is not auto|uring|aio, using auto"
	assert_line "ioengine: IOENGINE_FASTPATH=maybe is not 0 or 1, using 1"
	assert_line --partial "IOENGINE_WORKERS=-1 is not a number"
	[ "$(grep -c '^ioengine: ' <<< "$output")" -eq 4 ]
	IOENGINE_LOG=chatty run "$RUN" -- "$PY" -c 'print(1)'
	assert_output --partial "IOENGINE_LOG=chatty is not off|error|warn|info|debug, using warn"
}

@test "no output at all unless asked" {
	run "$RUN" -- "$PY" -c 'import os; fd = os.open("/etc/hostname", os.O_RDWR if False else os.O_RDONLY); os.pread(fd, 10, 0); print("x")'
	assert_success
	assert_output x
}

@test "--stats to stderr; --stats=FILE is 0600 and never follows a symlink" {
	run "$RUN" --stats --no-fastpath -- "$PY" -c 'import os; fd = os.open("/etc/hostname", os.O_RDONLY); os.pread(fd, 10, 0)'
	assert_success
	assert_output --regexp '^ioengine: stats pid=[0-9]+ backend=(io_uring|aio) routed_reads=1 '
	f=$BATS_TEST_TMPDIR/stats.txt
	run "$RUN" --stats="$f" --no-fastpath -- "$PY" -c 'import os; fd = os.open("/etc/hostname", os.O_RDONLY); os.pread(fd, 10, 0)'
	assert_success
	assert_output ""
	[ "$(stat -c %a "$f")" = 600 ]
	grep -q 'routed_reads=1 ' "$f"
	echo precious > "$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$BATS_TEST_TMPDIR/link"
	run "$RUN" --stats="$BATS_TEST_TMPDIR/link" -- "$PY" -c 'import os; fd = os.open("/etc/hostname", os.O_RDONLY); os.pread(fd, 10, 0)'
	assert_success
	assert_output --partial "cannot open IOENGINE_STATS file"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/target")" precious
}

@test "ioengine-run: takes build/, never a newer sanitizer or fault-injection build beside it" {
	lib=$(readlink -f "${IOENGINE_PRELOAD:-}")
	[ -f "$lib" ] || skip "IOENGINE_PRELOAD does not name this build's library (ctest sets it)"
	# A copy of the source tree's layout, as .ci/run leaves it: build/, then
	# build-asan/ and build-tsan/ built after it.
	t=$(readlink -f "$BATS_TEST_TMPDIR")/tree
	mkdir -p "$t/tools"
	cp "$RUN" "$t/tools/"
	for b in build build-asan build-tsan; do
		mkdir -p "$t/$b/shim"
		cp "$lib" "$t/$b/shim/libioengine-preload.so"
	done
	cp "$lib" "$t/build/shim/libioengine-preload-fault.so"
	touch -d '-1 hour' "$t/build/shim/libioengine-preload.so"
	run env -u IOENGINE_PRELOAD "$t/tools/ioengine-run" -- printenv LD_PRELOAD
	assert_success
	assert_output "$t/build/shim/libioengine-preload.so"
	# Named by IOENGINE_PRELOAD, a sanitizer build is used.
	IOENGINE_PRELOAD=$t/build-asan/shim/libioengine-preload.so run "$t/tools/ioengine-run" -- printenv LD_PRELOAD
	assert_output "$t/build-asan/shim/libioengine-preload.so"
	# build/ itself configured with a sanitizer is not taken either: an
	# installed library if there is one, else status 127 and why.
	echo "IOENGINE_ASAN:BOOL=ON" >"$t/build/CMakeCache.txt"
	got=$(env -u IOENGINE_PRELOAD "$t/tools/ioengine-run" -- printenv LD_PRELOAD 2>"$t/err") || true
	[[ $got != *"$t/build"* ]] || fail "took the sanitizer build: $got"
	[ -n "$got" ] || grep -q "$t/build is a sanitizer build" "$t/err" || fail "no reason given: $(cat "$t/err")"
}

# Writes, and O_DIRECT reads on an idle engine, run as plain system calls
# in the caller; each is counted where it ran, and no other path is printed.
path_stats() {
	local prog=$BATS_TEST_TMPDIR/paths.py
	cat >"$prog" <<'PY'
import mmap, os, sys
buf = mmap.mmap(-1, 4096)	# page-aligned, for O_DIRECT
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
for i in range(3):
    os.pwrite(fd, b"w" * 4096, i * 4096)
os.fsync(fd)
fd2 = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
print(sum(os.preadv(fd2, [buf], (i % 3) * 4096) for i in range(4)))
PY
	OPTS=(--backend "$1")
	shim "$PY" -I -S "$prog" "$BATS_TEST_TMPDIR/paths.dat"
	assert_success
	assert_output 16384
	assert_routed
	assert_equal "$(stat_of routed_writes)" 3
	assert_equal "$(stat_of routed_reads)" 4
	assert_equal "$(stat_of plain_syscalls)" 7
	assert_equal "$(stat_of shared_queue)" 0
	assert_equal "$(stat_of own_queue)" ""
}

@test "stats: each request is counted on the path it ran: uring" { path_stats uring; }
@test "stats: each request is counted on the path it ran: aio" { path_stats aio; }

# A fork child's reads are routed by an engine of its own (the parent's is
# not its own), as plain system calls on the idle engine.
fork_child_reads() {
	local prog=$BATS_TEST_TMPDIR/fork.py
	cat >"$prog" <<'PY'
import mmap, os, sys
buf = mmap.mmap(-1, 4096)
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.pwrite(fd, b"w" * 8192, 0)
os.fsync(fd)
fd2 = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
os.preadv(fd2, [buf], 0)
pid = os.fork()
if pid == 0:
    print(os.getpid(), sum(os.preadv(fd2, [buf], i * 4096) for i in range(2)))
    sys.exit(0)
os.waitpid(pid, 0)
PY
	OPTS=(--backend "$1")
	shim "$PY" -I -S "$prog" "$BATS_TEST_TMPDIR/fork.dat"
	assert_success
	local child=${output%% *}
	assert_equal "${output#* }" 8192
	grep -q "pid=$child .* routed_reads=2 .* plain_syscalls=2 shared_queue=0 " "$STATS" ||
		fail "the child's reads were not routed as plain system calls: $(cat "$STATS")"
}

@test "a fork child's reads are routed by its own engine: uring" { fork_child_reads uring; }
@test "a fork child's reads are routed by its own engine: aio" { fork_child_reads aio; }
