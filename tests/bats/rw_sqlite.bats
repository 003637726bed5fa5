#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# sqlite3 builds a 120k-row database under the shim: same output as without
# it, integrity_check ok, for both backends, with and without the fast path.
load rw_common

sqlite_case() {
	OPTS=("$@")
	run sqlite3 "$BATS_TEST_TMPDIR/native.db" < "$BATS_TEST_DIRNAME/rw_sqlite.sql"
	assert_success
	native=$output
	assert_line ok
	shim sqlite3 "$BATS_TEST_TMPDIR/shim.db" < "$BATS_TEST_DIRNAME/rw_sqlite.sql"
	assert_success
	assert_output "$native"
	assert_routed
	[ "$(stat_of routed_writes)" -gt 100 ] || fail "few routed writes: $(cat "$STATS")"
	# The database the shim wrote reads back the same without it.
	run sqlite3 "$BATS_TEST_TMPDIR/shim.db" "PRAGMA integrity_check; SELECT count(*), sum(k) FROM t;"
	assert_success
	assert_line --index 0 ok
}

@test "sqlite3 120k rows: uring" { sqlite_case --backend uring; }
@test "sqlite3 120k rows: aio" { sqlite_case --backend aio; }
@test "sqlite3 120k rows: uring --no-fastpath" { sqlite_case --backend uring --no-fastpath; }
@test "sqlite3 120k rows: aio --no-fastpath" { sqlite_case --backend aio --no-fastpath; }
