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
}

# calls NAME BACKEND: NAME's calls per read, times 100, for reads that miss the page cache.
calls() {
	local n
	for n in $FEW $MANY; do
		strace -f -c -o "$BATS_TEST_TMPDIR/strace.$n" "$RUN" --backend "$2" -- "$PY" -I -S "$PROG" "$DATA" "$n" ||
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
