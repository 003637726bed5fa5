#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A program built with -O2 -D_FORTIFY_SOURCE=2 calls __pread_chk or
# __pread64_chk where its source says pread: the shim routes those as
# pread, after glibc's own check (a count larger than the buffer aborts with
# "*** buffer overflow detected ***: terminated", under the shim too).
load rw_common
bats_require_minimum_version 1.5.0

CC=${CC:-cc}

setup_file() {
	local dir=$BATS_FILE_TMPDIR
	"$CC" -O2 -D_FORTIFY_SOURCE=2 -o "$dir/fortify" "$BATS_TEST_DIRNAME/rw_fortify.c"
	"$CC" -O2 -D_FORTIFY_SOURCE=2 -D_FILE_OFFSET_BITS=64 -o "$dir/fortify64" \
		"$BATS_TEST_DIRNAME/rw_fortify.c"
	head -c $((64 * 1024)) /dev/urandom > "$dir/data"
}

# The program calls the fortified name, not pread (or the test proves nothing).
assert_calls() {
	run nm -D "$1"
	assert_success
	assert_output --partial " U $2"
	refute_output --regexp " U pread(64)?(@|$)"
}

fortify_case() {
	local prog=$BATS_FILE_TMPDIR/$1 sym=$2
	shift 2
	OPTS=("$@")
	assert_calls "$prog" "$sym"
	run "$prog" "$BATS_FILE_TMPDIR/data" 4096 200
	assert_success
	native=$output
	shim "$prog" "$BATS_FILE_TMPDIR/data" 4096 200
	assert_success
	assert_output "$native"
	assert_routed
	[ "$(stat_of routed_reads)" -ge 200 ] || fail "not every read routed: $(cat "$STATS")"
}

@test "fortified pread (__pread_chk): uring --no-fastpath" { fortify_case fortify __pread_chk --backend uring --no-fastpath; }
@test "fortified pread (__pread_chk): aio --no-fastpath" { fortify_case fortify __pread_chk --backend aio --no-fastpath; }
@test "fortified pread64 (__pread64_chk): uring --no-fastpath" { fortify_case fortify64 __pread64_chk --backend uring --no-fastpath; }
@test "fortified pread64 (__pread64_chk): aio --no-fastpath" { fortify_case fortify64 __pread64_chk --backend aio --no-fastpath; }

@test "fortified pread: a count beyond the buffer aborts as in glibc" {
	local prog
	for prog in fortify fortify64; do
		run -134 "$BATS_FILE_TMPDIR/$prog" "$BATS_FILE_TMPDIR/data" 4097 1
		assert_output --partial "*** buffer overflow detected ***: terminated"
		OPTS=(--no-fastpath)
		shim "$BATS_FILE_TMPDIR/$prog" "$BATS_FILE_TMPDIR/data" 4097 1
		assert_failure 134
		assert_output --partial "*** buffer overflow detected ***: terminated"
	done
}
