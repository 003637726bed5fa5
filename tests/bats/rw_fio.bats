#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# fio ioengine=psync writes and verifies (crc32c) under the shim, buffered
# and O_DIRECT, for both backends, with and without the fast path.
# --thread: fio forks its jobs otherwise, and a job process leaves with
# _exit(), which writes no summary.
load rw_common

fio_case() {
	OPTS=("$@")
	shim fio --name=verify --ioengine=psync --filename="$BATS_TEST_TMPDIR/fio.dat" \
		--size=8m --bs=4k --rw=randwrite --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --numjobs=1 --thread --invalidate=0 --output-format=terse
	assert_success
	assert_routed
	[ "$(stat_of routed_writes)" -ge 2048 ] || fail "writes not routed: $(cat "$STATS")"
	shim fio --name=verify-direct --ioengine=psync --direct=1 --filename="$BATS_TEST_TMPDIR/fio.dat" \
		--size=4m --bs=16k --rw=randrw --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --numjobs=1 --thread --output-format=terse
	assert_success
	# O_DIRECT reads are routed, fast path or not.
	[ "$(stat_of routed_reads)" -gt 0 ] || fail "O_DIRECT reads not routed: $(cat "$STATS")"
}

@test "fio psync verify=crc32c: uring" { fio_case --backend uring; }
@test "fio psync verify=crc32c: aio" { fio_case --backend aio; }
@test "fio psync verify=crc32c: uring --no-fastpath" { fio_case --backend uring --no-fastpath; }
@test "fio psync verify=crc32c: aio --no-fastpath" { fio_case --backend aio --no-fastpath; }
