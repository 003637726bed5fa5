#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One hostile-host case: run PROGRAM natively, then under the shim with
# IOENGINE_BACKEND=BACKEND, each in a fresh empty directory with the same
# name, and compare what the program showed: exit status (128+N for a
# signal, 124/137 for a hang), stdout and stderr. They must be identical.
#
# Usage: run_case.sh PRELOAD BACKEND [VAR=VALUE...] -- PROGRAM [ARGS...]
#   VAR=VALUE: set in both runs (the shim reads IOENGINE_*; the program may
#   read its own). HOST_TIMEOUT (default 60 s) bounds each run.
set -uo pipefail
preload=$1 backend=$2
shift 2
vars=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	vars+=("$1")
	shift
done
shift
base=${IOENGINE_TEST_DIR:-${TMPDIR:-/tmp}}
tmp=$(mktemp -d "$base/host.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

run() {	# NAME [VAR=VALUE...]: run the program in $tmp/NAME/work, results in $tmp/NAME
	local name=$1
	shift
	mkdir -p "$tmp/$name/work"
	(cd "$tmp/$name/work" &&
		exec env "${vars[@]}" "$@" timeout -k 5 "${HOST_TIMEOUT:-60}" "${prog[@]}" \
			>"$tmp/$name/stdout" 2>"$tmp/$name/stderr" </dev/null)
	echo "exit status $?" >"$tmp/$name/status"
}

prog=("$@")
if [ ! -x "${prog[0]}" ]; then
	echo "FAIL: no program ${prog[0]}"
	exit 1
fi
run native
# 99: the case could not set itself up (HOST_DIE): nothing was compared.
if grep -qx 'exit status 99' "$tmp/native/status"; then
	echo "FAIL: the case failed natively:"
	cat "$tmp/native/stderr"
	exit 1
fi
run shim LD_PRELOAD="$preload" IOENGINE_BACKEND="$backend"

fail=0
for f in status stdout stderr; do
	if ! cmp -s "$tmp/native/$f" "$tmp/shim/$f"; then
		echo "FAIL: $f differs (native, then under the shim with IOENGINE_BACKEND=$backend):"
		diff -u --label native --label shim "$tmp/native/$f" "$tmp/shim/$f" | head -40
		fail=1
	fi
done
echo "--- native $(cat "$tmp/native/status"), stdout:"
cat "$tmp/native/stdout"
[ "$fail" = 0 ] && echo "ok: identical natively and under the shim ($backend)"
exit "$fail"
