#!/bin/sh
# SPDX-License-Identifier: MIT
# aio_first (see aio_first.c), RUNS times, each a fresh process: its first
# AIO calls, made by many threads at once, must all reach the engine.
# Usage: run_first.sh PROGRAM PRELOAD BACKEND DIR
set -u
prog=$1 preload=$2 backend=$3 dir=$4
RUNS=${RUNS:-20}
stats=$(mktemp "$dir/aio-first-stats.XXXXXX") || exit 1
trap 'rm -f "$stats"' EXIT
for i in $(seq "$RUNS"); do
	: > "$stats"
	IOENGINE_BACKEND=$backend IOENGINE_STATS=$stats LD_PRELOAD=$preload timeout 60 "$prog" "$dir" ||
		{ echo "FAIL: run $i (status $?)"; exit 1; }
	grep -q " fallbacks=0 " "$stats" || { echo "FAIL: run $i gave calls to glibc:"; cat "$stats"; exit 1; }
done
echo "$RUNS runs: every first call reached the engine"
