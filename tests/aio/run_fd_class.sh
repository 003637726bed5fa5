#!/bin/sh
# SPDX-License-Identifier: MIT
# aio_fd_class (see aio_fd_class.c): the stale-entry answers natively and
# under the shim, then the lseek() calls of FEW and of MANY one-byte
# aio_read()s of a pipe under the shim, counted with strace over all
# threads: the difference (start-up and exit left out) must be 0.
# Usage: run_fd_class.sh PROGRAM PRELOAD BACKEND DIR
set -u
prog=$1 preload=$2 backend=$3 dir=$4
FEW=50 MANY=250
"$prog" stale "$dir" >/dev/null || { echo "FAIL: natively"; exit 1; }
IOENGINE_BACKEND=$backend LD_PRELOAD=$preload "$prog" stale "$dir" || { echo "FAIL: under the shim"; exit 1; }
command -v strace >/dev/null || { echo "strace is not installed: lseek() not counted"; exit 0; }
out=$(mktemp "$dir/aio-fd-class-strace.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
# Under strace, no leak check in the ASan build: LeakSanitizer does not work under ptrace.
lseeks() {
	strace -f -c -e trace=lseek -o "$out" -E IOENGINE_BACKEND="$backend" -E LD_PRELOAD="$preload" \
		-E ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		"$prog" count "$dir" "$1" || { echo "FAIL: count $1 under strace" >&2; exit 1; }
	awk '$NF == "lseek" && $4 ~ /^[0-9]+$/ { n = $4 } END { print n + 0 }' "$out"
}
few=$(lseeks $FEW) && many=$(lseeks $MANY) || exit 1
echo "lseek() calls: $few for $FEW pipe reads, $many for $MANY"
[ "$few" = "$many" ] || { echo "FAIL: lseek() per request"; exit 1; }
