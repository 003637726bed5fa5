/* SPDX-License-Identifier: MIT */
/*
 * Memcheck client requests for memory the kernel writes behind valgrind's
 * back: read buffers filled by io_uring (valgrind does not follow SQEs), or
 * by Linux AIO when the completion is reaped from the ring in user space
 * (valgrind marks AIO read buffers only in io_getevents()), and the AIO
 * completion ring itself, which the kernel maps larger than valgrind assumes.
 *
 * Each request is a few no-op instructions outside valgrind. Without the
 * valgrind headers (or with -DNVALGRIND) they compile to nothing, so the
 * build never needs valgrind.
 */
#ifndef IOE_VALGRIND_ANNOTATE_H
#define IOE_VALGRIND_ANNOTATE_H

#include <stddef.h>
#include <sys/uio.h>
#include "ioengine.h"

#if defined(__has_include) && !defined(NVALGRIND)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define IOE_HAVE_VALGRIND 1
#endif
#endif

#ifdef IOE_HAVE_VALGRIND
#define ioe_running_on_valgrind() (RUNNING_ON_VALGRIND != 0)

/* [p, p + n) holds data now: addressable and defined. */
#define ioe_vg_defined(p, n) ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))

/*
 * A read (IOE_READ or IOE_READV) moved n bytes into its buffers, starting at
 * byte `from` of the request.
 */
static inline void ioe_vg_read_landed(const struct ioe_event *ev, size_t from, size_t n)
{
	if (!RUNNING_ON_VALGRIND || !n)
		return;
	if (ev->action == IOE_READ) {
		ioe_vg_defined((char *)ev->buf + from, n);
		return;
	}
	if (ev->action != IOE_READV)
		return;
	for (size_t i = 0; i < ev->len && n; i++) {
		size_t l = ev->iov[i].iov_len, k;

		if (from >= l) {
			from -= l;
			continue;
		}
		k = l - from < n ? l - from : n;
		ioe_vg_defined((char *)ev->iov[i].iov_base + from, k);
		from = 0;
		n -= k;
	}
}
#else
#define ioe_running_on_valgrind() 0
#define ioe_vg_defined(p, n) ((void)(p), (void)(n))
#define ioe_vg_read_landed(ev, from, n) ((void)(ev), (void)(from), (void)(n))
#endif

#endif
