#!/bin/sh
# SPDX-License-Identifier: MIT
# libioengine-preload.so defines only the interposed names (nm -D --defined-only).
lib=$1
allowed="pread pread64 pwrite pwrite64 preadv preadv64 pwritev pwritev64
preadv2 preadv64v2 pwritev2 pwritev64v2 __pread_chk __pread64_chk
aio_read aio_read64 aio_write aio_write64 aio_error aio_error64
aio_return aio_return64 aio_suspend aio_suspend64 aio_cancel aio_cancel64
aio_fsync aio_fsync64 lio_listio lio_listio64 aio_init vfork prctl syscall
setrlimit setrlimit64 prlimit prlimit64
close dup2 dup3 close_range closefrom fcntl fcntl64"
required="pread pread64 pwrite pwrite64 preadv preadv64 pwritev pwritev64
preadv2 preadv64v2 pwritev2 pwritev64v2 __pread_chk __pread64_chk"

[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
syms=$(nm -D --defined-only "$lib" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)
bad=0
for s in $syms; do
	case " $(echo $allowed) " in
	*" $s "*) ;;
	*) echo "exported but not allowed: $s"; bad=1 ;;
	esac
done
for s in $required; do
	echo "$syms" | grep -qx "$s" || { echo "missing: $s"; bad=1; }
done
[ $bad = 0 ] && echo "ok: $(echo $syms | wc -w) symbols, all interposed names"
exit $bad
