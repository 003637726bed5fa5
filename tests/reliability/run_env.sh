#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile environment for the shim, with a real program (fault_visible in its
# deterministic "invisible" mode, no faults):
#  - IOENGINE_* with garbage values: the program works, one clear message each;
#  - IOENGINE_STATS=PATH never follows a symlink, never writes into another
#    user's file, a file that group or others may write, one with a second
#    link, or a FIFO (no hang), creates a new file 0600; as root, appends only
#    to an empty file or one the shim wrote (never to a file such as
#    /etc/shadow: root's own, one link, writable by nobody else);
#  - the library never writes to the program's stdout: stdout under the shim
#    with IOENGINE_LOG=debug and IOENGINE_STATS=1 is byte-identical to a run
#    without it.
# Usage: run_env.sh PROGRAM PRELOAD DIR FAULT_PRELOAD
#   FAULT_PRELOAD: the tests' shim with fault injection, for IOENGINE_FAULT's
#   garbage (PRELOAD never reads that variable).
set -euo pipefail
prog=$1 preload=$2 dir=$3 fault_preload=$4
tmp=$(mktemp -d "$dir/rel-env.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

run_shim() {	# ENV... : runs the program under the shim, stdout to $tmp/out, stderr to $tmp/err
	local lib=$preload

	case $1 in IOENGINE_FAULT=*) lib=$fault_preload ;; esac
	timeout 60 env LD_PRELOAD="$lib" IOENGINE_FASTPATH=0 "$@" "$prog" invisible "$tmp" >"$tmp/out" 2>"$tmp/err"
}

"$prog" invisible "$tmp" >"$tmp/native.out" 2>"$tmp/native.err"

# Garbage values: each gives exactly one message naming the variable, and the program works.
while IFS= read -r kv; do
	var=${kv%%=*}
	if ! run_shim "$kv" IOENGINE_STATS="$tmp/s"; then
		bad "$kv: program failed: $(cat "$tmp/err")"
		continue
	fi
	n=$(grep -ac "$var" "$tmp/err" || true)
	[ "$n" = 1 ] || bad "$kv: $n messages about $var: $(cat "$tmp/err")"
	cmp -s "$tmp/out" "$tmp/native.out" || bad "$kv: stdout differs"
	grep -q "routed_reads=[1-9]" "$tmp/s" 2>/dev/null || bad "$kv: not routed: $(cat "$tmp/s" 2>/dev/null)"
	rm -f "$tmp/s"
	echo "ok $kv: $(grep "$var" "$tmp/err")"
done <<'EOV'
IOENGINE_BACKEND=spdk
IOENGINE_BACKEND=uring,aio
IOENGINE_DEPTH=0
IOENGINE_DEPTH=-1
IOENGINE_DEPTH=4097
IOENGINE_DEPTH=99999999999999999999999
IOENGINE_DEPTH=12abc
IOENGINE_DEPTH= 8
IOENGINE_WORKERS=65
IOENGINE_WORKERS=-3
IOENGINE_WORKERS=0x10
IOENGINE_FASTPATH=yes
IOENGINE_FASTPATH=2
IOENGINE_MERGE=yes
IOENGINE_MERGE=2
IOENGINE_MERGE_MAX=4095
IOENGINE_MERGE_MAX=64k
IOENGINE_MERGE_MAX=99999999999999999999999
IOENGINE_LOG=verbose
IOENGINE_LOG=DEBUG
IOENGINE_AIO_MAX=0
IOENGINE_AIO_MAX=many
IOENGINE_AIO_MAX=99999999999
EOV
# Long and binary garbage: never a crash.
long=$(head -c 100000 /dev/zero | tr '\0' 'x')
for kv in "IOENGINE_DEPTH=$long" "IOENGINE_BACKEND=$long" "IOENGINE_LOG=$long" "IOENGINE_STATS=$tmp/$long" \
	"IOENGINE_FAULT=$long" "IOENGINE_FAULT=eio=abc,,=,seed,short=-5,eagain=1e400" $'IOENGINE_BACKEND=\x01\xff\x7f'; do
	run_shim "$kv" || bad "${kv:0:40}...: program failed: $(head -c 300 "$tmp/err")"
	# At most one message per bad value (the FAULT line has three).
	[ "$(wc -l <"$tmp/err")" -le 3 ] || bad "${kv:0:40}...: too many messages: $(head -c 300 "$tmp/err")"
	cmp -s "$tmp/out" "$tmp/native.out" || bad "${kv:0:40}...: stdout differs"
	echo "ok ${kv:0:40}... ($(wc -c <"$tmp/err") bytes on stderr)"
done

# IOENGINE_STATS=PATH: a new file is created 0600, whatever the umask.
(umask 0; run_shim IOENGINE_STATS="$tmp/new") || bad "stats to a new file: $(cat "$tmp/err")"
[ "$(stat -c %a "$tmp/new")" = 600 ] || bad "new stats file has mode $(stat -c %a "$tmp/new")"
grep -q "routed_reads=" "$tmp/new" || bad "no summary in the new stats file"
echo "ok stats file created $(stat -c %a "$tmp/new")"

# ... a symlink is not followed: the target is untouched, one warning.
echo precious >"$tmp/target"
ln -s "$tmp/target" "$tmp/link"
run_shim IOENGINE_STATS="$tmp/link" || bad "stats to a symlink: program failed"
[ "$(cat "$tmp/target")" = precious ] || bad "the symlink's target was written"
[ -L "$tmp/link" ] || bad "the symlink was replaced"
grep -q "IOENGINE_STATS" "$tmp/err" && echo "ok symlink not followed: $(cat "$tmp/err")" ||
	bad "no warning for the symlink"

# ... another user's file is not written (we are root: permissions alone would allow it).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	echo theirs >"$tmp/other"
	chown nobody "$tmp/other"
	run_shim IOENGINE_STATS="$tmp/other" || bad "stats to another user's file: program failed"
	[ "$(cat "$tmp/other")" = theirs ] || bad "another user's file was written: $(cat "$tmp/other")"
	grep -q "IOENGINE_STATS" "$tmp/err" && echo "ok another user's file untouched: $(cat "$tmp/err")" ||
		bad "no warning for another user's file"
else
	echo "skip another user's file: not root or no user nobody"
fi

# untouched NAME WHAT: after a run with IOENGINE_STATS=$tmp/NAME, the file
# still holds "mine" and the program warned.
untouched() {
	run_shim IOENGINE_STATS="$tmp/$1" || bad "stats to $2: program failed"
	[ "$(cat "$tmp/$1")" = mine ] || bad "$2 was written: $(cat "$tmp/$1")"
	grep -q "IOENGINE_STATS" "$tmp/err" && echo "ok $2 untouched: $(cat "$tmp/err")" ||
		bad "no warning for $2"
}

# ... our own file, but writable by group or others, or with a second link.
for m in 620 602 666; do
	echo mine >"$tmp/w$m"
	chmod "$m" "$tmp/w$m"
	untouched "w$m" "a file of mode $m"
done
echo mine >"$tmp/linked"
chmod 600 "$tmp/linked"
ln "$tmp/linked" "$tmp/link2"
untouched link2 "a file with two links"

# ... as root: root owns every such file, so the owner rule alone would let a
# stats path append to /etc/shadow (root:shadow 0640, one link, writable by
# nobody else). Root appends only to an empty file or one the shim wrote.
if [ "$(id -u)" = 0 ]; then
	echo mine >"$tmp/shadow"
	chmod 640 "$tmp/shadow"
	chgrp shadow "$tmp/shadow" 2>/dev/null || true
	untouched shadow "a root file like /etc/shadow (0640)"
	echo mine >"$tmp/key"
	chmod 600 "$tmp/key"
	untouched key "a root file of mode 0600 with other content"
	: >"$tmp/empty"
	chmod 600 "$tmp/empty"
	run_shim IOENGINE_STATS="$tmp/empty" && run_shim IOENGINE_STATS="$tmp/empty" ||
		bad "stats to an empty file: program failed"
	[ "$(grep -c "^ioengine: stats .*routed_reads=[1-9]" "$tmp/empty")" = 2 ] &&
		echo "ok root appends to an empty file, then to its own: $(wc -l <"$tmp/empty") lines" ||
		bad "an empty stats file, used twice, has: $(cat "$tmp/empty") $(cat "$tmp/err")"
else
	echo "skip root's stats-file rules: not root"
fi

# ... not root: a file of one's own with other content is appended to.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	mkdir -m 755 "$tmp/nobody" && chown nobody "$tmp/nobody" && chmod 755 "$tmp"
	echo mine >"$tmp/nobody/s"
	chown nobody "$tmp/nobody/s"
	chmod 644 "$tmp/nobody/s"
	setpriv --reuid=65534 --regid=65534 --clear-groups -- timeout 60 env LD_PRELOAD="$preload" \
		IOENGINE_FASTPATH=0 IOENGINE_STATS="$tmp/nobody/s" "$prog" invisible "$tmp/nobody" >"$tmp/out" 2>"$tmp/err" ||
		bad "as nobody: program failed: $(cat "$tmp/err")"
	[ "$(head -n 1 "$tmp/nobody/s")" = mine ] && grep -q "^ioengine: stats .*routed_reads=[1-9]" "$tmp/nobody/s" &&
		echo "ok not root: appended to its own file (0644): $(wc -l <"$tmp/nobody/s") lines" ||
		bad "as nobody, own 0644 file: $(cat "$tmp/nobody/s") $(cat "$tmp/err")"
	chmod 700 "$tmp"
else
	echo "skip the non-root stats-file rule: cannot run as nobody"
fi

# ... a FIFO nobody reads: no hang at exit, nothing written.
mkfifo "$tmp/fifo"
if timeout 30 env LD_PRELOAD="$preload" IOENGINE_STATS="$tmp/fifo" "$prog" invisible "$tmp" >"$tmp/out" 2>"$tmp/err"; then
	echo "ok FIFO: no hang: $(cat "$tmp/err")"
else
	bad "stats to a FIFO: status $? (124: hung at exit)"
fi

# Nothing on stdout, ever: debug logging and the summary go to stderr.
for b in uring aio; do
	run_shim IOENGINE_BACKEND=$b IOENGINE_LOG=debug IOENGINE_STATS=1 || bad "debug run ($b) failed"
	cmp "$tmp/out" "$tmp/native.out" || bad "stdout under the shim ($b, debug, stats) differs from the native run"
	grep -q "routed_reads=[1-9]" "$tmp/err" || bad "debug run ($b) not routed"
	echo "ok stdout byte-identical with IOENGINE_LOG=debug IOENGINE_STATS=1 ($b, $(wc -l <"$tmp/err") lines on stderr)"
done
exit $fail
