/* SPDX-License-Identifier: MIT */
/* The real libc functions behind the interposed names, resolved once. */
#include <dlfcn.h>
#include <stdatomic.h>
#include "shim.h"

struct shim_real shim_real;

/* 0: not yet, 1: a thread is resolving, 2: done. */
static _Atomic int resolve_state;

#define RESOLVE(name) \
	(*(void **)&shim_real.name = dlsym(RTLD_NEXT, #name))

void shim_resolve(void)
{
	int expect = 0;

	if (atomic_load_explicit(&resolve_state, memory_order_acquire) == 2)
		return;
	/*
	 * A concurrent or recursive caller does not wait: rw.c uses the raw
	 * syscall while a pointer is NULL, which behaves as the real call.
	 */
	if (!atomic_compare_exchange_strong(&resolve_state, &expect, 1))
		return;
	RESOLVE(pread);
	RESOLVE(pwrite);
	RESOLVE(preadv);
	RESOLVE(pwritev);
	RESOLVE(preadv2);
	RESOLVE(pwritev2);
	RESOLVE(aio_read);
	RESOLVE(aio_write);
	RESOLVE(aio_error);
	RESOLVE(aio_return);
	RESOLVE(aio_suspend);
	RESOLVE(aio_cancel);
	RESOLVE(aio_fsync);
	RESOLVE(lio_listio);
	RESOLVE(aio_init);
	atomic_store_explicit(&resolve_state, 2, memory_order_release);
}
