/* SPDX-License-Identifier: MIT */
/*
 * The real libc functions behind the interposed names. Every entry point
 * resolves them itself first: other libraries' constructors may call one
 * before the shim's own constructor ran.
 *
 * No caller waits for another: each looks up the pointers still NULL
 * itself (dlsym() gives every thread the same answer). A wait could
 * deadlock: dlsym() takes the loader's lock, which a thread running
 * dlopen()'s constructors holds while they call in here. Only a recursive
 * call (a signal handler that interrupted this thread's dlsym()) returns
 * without resolving; its caller then finds NULL pointers (see shim.h).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "shim.h"

struct shim_real shim_real;

static _Atomic bool resolved;
static __thread bool resolving_here;

#define RESOLVE(name) do { \
	if (!__atomic_load_n((void **)&shim_real.name, __ATOMIC_RELAXED)) \
		__atomic_store_n((void **)&shim_real.name, dlsym(RTLD_NEXT, #name), __ATOMIC_RELAXED); \
} while (0)

void shim_resolve(void)
{
	int saved;

	if (atomic_load_explicit(&resolved, memory_order_acquire) || resolving_here)
		return;
	saved = errno;
	resolving_here = true;
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
	RESOLVE(close);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(close_range);
	RESOLVE(closefrom);
	RESOLVE(fcntl);
	RESOLVE(fcntl64);
	resolving_here = false;
	atomic_store_explicit(&resolved, true, memory_order_release);
	errno = saved;	/* dlsym() may set it: the program's call succeeds without a trace */
}
