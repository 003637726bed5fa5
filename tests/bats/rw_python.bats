#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# python3's os.pread/os.pwrite/os.preadv/os.pwritev under the shim: same
# output as without it, for both backends, with and without the fast path.
load rw_common

python_case() {
	OPTS=("$@")
	mkdir -p "$BATS_TEST_TMPDIR/native" "$BATS_TEST_TMPDIR/shim"
	run "$PY" "$BATS_TEST_DIRNAME/rw_python.py" "$BATS_TEST_TMPDIR/native"
	assert_success
	native=$output
	shim "$PY" "$BATS_TEST_DIRNAME/rw_python.py" "$BATS_TEST_TMPDIR/shim"
	assert_success
	assert_output "$native"
	assert_routed
	cmp "$BATS_TEST_TMPDIR/native/py.dat" "$BATS_TEST_TMPDIR/shim/py.dat"
}

@test "python os.p{read,write}[v]: uring" { python_case --backend uring; }
@test "python os.p{read,write}[v]: aio" { python_case --backend aio; }
@test "python os.p{read,write}[v]: uring --no-fastpath" { python_case --backend uring --no-fastpath; }
@test "python os.p{read,write}[v]: aio --no-fastpath" { python_case --backend aio --no-fastpath; }
