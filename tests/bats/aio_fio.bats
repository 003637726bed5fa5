#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# fio ioengine=posixaio (glibc's POSIX AIO API, unmodified fio) under the
# shim: sequential and random writes, reads and mixed IO at depth 1 and 32,
# data checked with verify=crc32c, both backends, routed (stats summary).
# --thread: fio forks its jobs otherwise, and a job process leaves with
# _exit(), which writes no summary.
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

RUN=$(readlink -f "$BATS_TEST_DIRNAME/../../tools/ioengine-run")

# fio under the wrapper with the summary in $STATS.
shim_fio() {
	local backend=$1
	shift
	STATS=$BATS_TEST_TMPDIR/stats.$RANDOM
	run "$RUN" --backend "$backend" --no-fastpath --stats="$STATS" -- \
		fio --ioengine=posixaio --filename="$BATS_TEST_TMPDIR/fio.dat" --thread \
		--numjobs=1 --verify=crc32c --verify_fatal=1 --output-format=terse "$@"
}

stat_of() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$STATS" | tail -n 1
}

# At least MIN reads and MIN writes went through the engine of BACKEND.
assert_routed() {
	local want=$1 min=$2 r w
	[ -f "$STATS" ] || fail "no stats summary"
	sed "s/^/# /" "$STATS" >&3 2>/dev/null || true
	case $want in uring) want=io_uring ;; esac
	assert_equal "$(stat_of backend)" "$want"
	r=$(stat_of routed_reads)
	w=$(stat_of routed_writes)
	[ "$r" -ge "$min" ] && [ "$w" -ge "$min" ] || fail "not routed: $(cat "$STATS")"
}

fio_matrix() {
	local b=$1
	# Sequential write then verify, depth 1.
	shim_fio "$b" --name=seq1 --rw=write --bs=4k --size=4m --iodepth=1 --do_verify=1
	assert_success
	assert_routed "$b" 1024
	# Sequential read of what was written, verified, depth 32.
	shim_fio "$b" --name=seqread --rw=read --bs=4k --size=4m --iodepth=32 --verify_only=1
	assert_success
	[ "$(stat_of routed_reads)" -ge 1024 ] || fail "reads not routed: $(cat "$STATS")"
	# Random write then verify, depth 32.
	shim_fio "$b" --name=rand32 --rw=randwrite --bs=4k --size=8m --iodepth=32 --do_verify=1
	assert_success
	assert_routed "$b" 2048
	# Random read (verify_only) at depth 1.
	shim_fio "$b" --name=randread1 --rw=randread --bs=4k --size=8m --iodepth=1 --verify_only=1
	assert_success
	[ "$(stat_of routed_reads)" -ge 2048 ] || fail "reads not routed: $(cat "$STATS")"
	# Mixed random read/write, depth 32, buffered and O_DIRECT.
	shim_fio "$b" --name=randrw32 --rw=randrw --bs=4k --size=8m --iodepth=32 --do_verify=1
	assert_success
	assert_routed "$b" 512
	shim_fio "$b" --name=randrw32d --rw=randrw --bs=16k --size=8m --iodepth=32 --direct=1 --do_verify=1
	assert_success
	assert_routed "$b" 64
	# Sequential mixed at depth 1.
	shim_fio "$b" --name=rw1 --rw=rw --bs=8k --size=4m --iodepth=1 --do_verify=1
	assert_success
	assert_routed "$b" 64
}

@test "fio posixaio verify=crc32c: uring" { fio_matrix uring; }
@test "fio posixaio verify=crc32c: aio" { fio_matrix aio; }
