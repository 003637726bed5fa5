#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Secure execution (AT_SECURE): a set-user-ID root program run by an
# unprivileged user, with IOENGINE_* set by that user, gets the shim's
# defaults only: no log lines, no stats file, no warnings about the values.
# Its output must be the same with the shim as without it.
#
# A control run of the same program without the set-user-ID bit shows that
# the shim, loaded this way, does read the environment (else this test could
# not fail). Skipped (status 77) where a set-user-ID root program cannot be
# made: not root, no user nobody, a nosuid mount, no_new_privs.
# Usage: secure_exec.sh PROBE LIB DIR
set -uo pipefail
probe=$1 lib=$2 dir=$3
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root: cannot make a set-user-ID root program"
id nobody >/dev/null 2>&1 || skip "no user nobody"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
tmp=$(mktemp -d "$dir/secure.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
findmnt -T "$tmp" -no OPTIONS | grep -qw nosuid && skip "$tmp is on a nosuid mount"
cp "$probe" "$tmp/probe-suid"
cp "$probe" "$tmp/probe"
cp "$lib" "$tmp/lib.so"
chown root:root "$tmp/probe-suid" "$tmp/lib.so"
chmod 4755 "$tmp/probe-suid"
chmod 755 "$tmp/probe" "$tmp/lib.so"
mkdir -m 1777 "$tmp/w"
setpriv --reuid=65534 --regid=65534 --clear-groups -- test -x "$tmp/probe-suid" ||
	skip "user nobody cannot reach $tmp"

run() {	# NAME PROGRAM LIB: as nobody, with IOENGINE_* set; results in $tmp/NAME.*
	env IOENGINE_STATS="$tmp/w/stats-$1" IOENGINE_LOG=debug IOENGINE_BACKEND=bogus \
		IOENGINE_DEPTH=bogus IOENGINE_AIO_MAX=bogus IOENGINE_FASTPATH=0 \
		setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		timeout 60 "$2" "$3" "$tmp/w/data-$1" >"$tmp/$1.out" 2>"$tmp/$1.err" </dev/null
	echo "exit status $?" >"$tmp/$1.status"
}

fail=0
run native "$tmp/probe-suid" -
grep -qx "secure: 1" "$tmp/native.out" ||
	skip "the set-user-ID program did not run in secure mode (no_new_privs?): $(cat "$tmp/native.out" "$tmp/native.err")"

# Control: not set-user-ID, the shim reads IOENGINE_LOG, IOENGINE_STATS, ...
run control "$tmp/probe" "$tmp/lib.so"
if grep -q "^ioengine: " "$tmp/control.err" && [ -s "$tmp/w/stats-control" ]; then
	echo "ok control (not set-user-ID): $(grep -c "^ioengine: " "$tmp/control.err") lines on stderr, a stats file"
else
	echo "FAIL: control: the shim showed no sign of its environment: $(cat "$tmp/control.err")"
	fail=1
fi

# Set-user-ID: exactly what the program shows without the shim.
run shim "$tmp/probe-suid" "$tmp/lib.so"
for f in status out err; do
	if ! cmp -s "$tmp/native.$f" "$tmp/shim.$f"; then
		echo "FAIL: $f differs (set-user-ID, natively, then with the shim):"
		diff -u --label native --label shim "$tmp/native.$f" "$tmp/shim.$f" | head -20
		fail=1
	fi
done
for f in "$tmp"/w/stats-native "$tmp"/w/stats-shim; do
	[ ! -e "$f" ] || { echo "FAIL: $(basename "$f") written: $(cat "$f")"; fail=1; }
done
echo "--- native (set-user-ID) $(cat "$tmp/native.status"), stdout:"
cat "$tmp/native.out"
[ "$fail" = 0 ] && echo "ok: set-user-ID, identical with and without the shim, no stats file"
exit "$fail"
