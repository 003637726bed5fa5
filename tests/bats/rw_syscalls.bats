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
	# Each read first drops its page from the page cache (one fadvise64
	# per read, the program's own), so that the read misses it.
	cat >"$PROG" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(int(sys.argv[2])):
    off = (i * 193 % 1024) * 4096
    os.posix_fadvise(fd, off, 4096, os.POSIX_FADV_DONTNEED)
    if len(os.pread(fd, 4096, off)) != 4096:
        sys.exit("short read")
PY
	HPROG=$BATS_TEST_TMPDIR/hit.py
	# Reads of a file the page cache holds: read once whole first.
	cat >"$HPROG" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
while os.read(fd, 1 << 20):
    pass
for i in range(int(sys.argv[2])):
    if len(os.pread(fd, 4096, (i * 193 % 1024) * 4096)) != 4096:
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

# A buffered read on an idle engine is the program's own call, once: one
# pread64 (no preadv2(RWF_NOWAIT) of the fast path before it, no lseek()
# check of the fd, no ring or AIO context), whether it misses the page
# cache or hits it. Besides it (and the miss program's fadvise64), only the
# fd cache's look at the fd (fcntl and fstat, once per 256 uses) may show.
buffered_one_call() {
	local per100 name extra=0
	[ "$2" = miss ] && extra=100
	local prog=$PROG
	[ "$2" = hit ] && prog=$HPROG
	per100=$(calls pread64 "$1" "$prog") || fail "strace run failed"
	assert_equal "pread64: $per100" "pread64: 100"
	for name in preadv2 lseek io_uring_enter io_submit io_getevents; do
		per100=$(calls $name "$1" "$prog") || fail "strace run failed"
		assert_equal "$name: $per100" "$name: 0"
	done
	per100=$(calls total "$1" "$prog") || fail "strace run failed"
	[ "$per100" -ge $((100 + extra)) ] && [ "$per100" -lt $((102 + extra)) ] ||
		fail "$per100 system calls per 100 reads (the program's own: $extra)"
}

@test "a buffered read that misses the page cache on an idle engine is one pread64: uring" { buffered_one_call uring miss; }
@test "a buffered read that misses the page cache on an idle engine is one pread64: aio" { buffered_one_call aio miss; }
@test "a buffered read of a cached page on an idle engine is one pread64: uring" { buffered_one_call uring hit; }
@test "a buffered read of a cached page on an idle engine is one pread64: aio" { buffered_one_call aio hit; }

# A synchronous O_DIRECT read on an idle engine is the program's own call
# in the calling thread: one preadv2, as natively (Python's os.preadv() is
# glibc's preadv2() with flags 0, which the shim takes), no lseek()
# check of the fd and no ring or AIO context. Besides it, only the fd
# cache's look at the fd (fcntl and fstat, once per 256 uses) may show:
# under 2 per 100 reads.
direct_one_call() {
	local per100 name
	per100=$(calls preadv2 "$1" "$DPROG") || fail "strace run failed"
	assert_equal "$per100" 100
	for name in pread64 preadv lseek io_uring_enter io_submit io_getevents; do
		per100=$(calls $name "$1" "$DPROG") || fail "strace run failed"
		assert_equal "$name: $per100" "$name: 0"
	done
	per100=$(calls total "$1" "$DPROG") || fail "strace run failed"
	[ "$per100" -ge 100 ] && [ "$per100" -lt 102 ] || fail "$per100 system calls per 100 reads"
}

@test "an O_DIRECT read on an idle engine is one system call: uring" { direct_one_call uring; }
@test "an O_DIRECT read on an idle engine is one system call: aio" { direct_one_call aio; }
