#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# System calls per routed read, counted with strace over all threads: the
# difference between runs of FEW and MANY reads leaves out start-up and exit.

load rw_common

FEW=200
MANY=600

setup() {
	command -v strace >/dev/null || skip "strace is not installed"
	DATA=$BATS_TEST_TMPDIR/data
	head -c $((4 << 20)) /dev/urandom >"$DATA"
	PROG=$BATS_TEST_TMPDIR/miss.py
	# Each read first drops its page from the page cache: the fast path's
	# preadv2(RWF_NOWAIT) says EAGAIN, and the read is routed.
	cat >"$PROG" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(int(sys.argv[2])):
    off = (i * 193 % 1024) * 4096
    os.posix_fadvise(fd, off, 4096, os.POSIX_FADV_DONTNEED)
    if len(os.pread(fd, 4096, off)) != 4096:
        sys.exit("short read")
PY
	DPROG=$BATS_TEST_TMPDIR/direct.py
	# O_DIRECT reads, one at a time: each finds the engine idle.
	cat >"$DPROG" <<'PY'
import mmap, os, sys
buf = mmap.mmap(-1, 4096)	# page-aligned, for O_DIRECT
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
for i in range(int(sys.argv[2])):
    if os.preadv(fd, [buf], (i * 193 % 1024) * 4096) != 4096:
        sys.exit("short read")
PY
}

# calls NAME BACKEND [PROGRAM]: NAME's calls per read ("total": all system
# calls), times 100, for reads that miss the page cache (or PROGRAM's reads).
calls() {
	local n
	for n in $FEW $MANY; do
		strace -f -c -o "$BATS_TEST_TMPDIR/strace.$n" "$RUN" --backend "$2" -- "$PY" -I -S "${3:-$PROG}" "$DATA" "$n" ||
			return 1
	done
	python3 - "$1" "$BATS_TEST_TMPDIR/strace.$FEW" "$BATS_TEST_TMPDIR/strace.$MANY" $((MANY - FEW)) <<'PY'
import re, sys
def count(path):
    for line in open(path):
        f = line.split()
        if f and f[-1] == sys.argv[1] and re.fullmatch(r"\d+", f[3]):
            return int(f[3])
    return 0
print(round(100 * (count(sys.argv[3]) - count(sys.argv[2])) / int(sys.argv[4])))
PY
}

# The fast path's preadv2() has just seen the fd take a positioned read: the
# engine does not check it again with lseek() (IOE_F_FD_SEEN).
miss_no_lseek() {
	local per100
	per100=$(calls lseek "$1") || fail "strace run failed"
	assert_equal "$per100" 0
	per100=$(calls preadv2 "$1") || fail "strace run failed"
	assert_equal "$per100" 100
}

@test "a read that misses the page cache: no lseek, one preadv2: uring" { miss_no_lseek uring; }
@test "a read that misses the page cache: no lseek, one preadv2: aio" { miss_no_lseek aio; }

# A synchronous O_DIRECT read on an idle engine is the plain system call in
# the calling thread: one pread64, no lseek() check of the fd and no ring or
# AIO context. Besides it, only the fd cache's look at the fd (fcntl and
# fstat, once per 256 uses) may show: under 2 per 100 reads.
direct_one_call() {
	local per100 name
	per100=$(calls pread64 "$1" "$DPROG") || fail "strace run failed"
	assert_equal "$per100" 100
	for name in lseek io_uring_enter io_submit io_getevents; do
		per100=$(calls $name "$1" "$DPROG") || fail "strace run failed"
		assert_equal "$name: $per100" "$name: 0"
	done
	per100=$(calls total "$1" "$DPROG") || fail "strace run failed"
	[ "$per100" -ge 100 ] && [ "$per100" -lt 102 ] || fail "$per100 system calls per 100 reads"
}

@test "an O_DIRECT read on an idle engine is one system call: uring" { direct_one_call uring; }
@test "an O_DIRECT read on an idle engine is one system call: aio" { direct_one_call aio; }
