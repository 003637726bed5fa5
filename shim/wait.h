/* SPDX-License-Identifier: MIT */
/*
 * One waiter, one waker, one word: the caller of a routed call waits for the
 * engine's callback. The callback's last access to the word is a single
 * atomic exchange, so the word may live on the waiter's stack: once the
 * waiter has seen DONE it may return at once. The FUTEX_WAKE that may follow
 * uses only the address as a key (private futex: no memory access), so a
 * wake that arrives after the frame is gone is at worst a spurious wake-up of
 * some other futex user, which futex users must tolerate anyway.
 */
#ifndef IOE_SHIM_WAIT_H
#define IOE_SHIM_WAIT_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

enum { SHIM_W_PENDING, SHIM_W_SLEEPING, SHIM_W_DONE };

/*
 * How long the waiter spins before it sleeps. A routed page-cache read comes
 * back in a few microseconds when the engine threads are awake; a futex
 * round trip costs 18-38 us here. Longer spins starve the engine threads
 * on 2 cores.
 */
#define SHIM_SPIN_NS 4000

static inline void shim_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Engine side: mark done and wake the waiter if it sleeps. */
static inline void shim_wait_done(_Atomic uint32_t *w)
{
	/* Release: the event's result is visible before DONE. */
	if (atomic_exchange_explicit(w, SHIM_W_DONE, memory_order_acq_rel) == SHIM_W_SLEEPING)
		syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Caller side: return once DONE. A signal (EINTR) only means: wait again. */
static inline void shim_wait(_Atomic uint32_t *w)
{
	uint64_t deadline = 0;
	uint32_t expect = SHIM_W_PENDING;
	int saved = errno;

	for (unsigned int i = 1;; i++) {
		if (atomic_load_explicit(w, memory_order_acquire) == SHIM_W_DONE)
			return;
		if (!(i & 31)) {
			uint64_t now = shim_now_ns();

			if (!deadline)
				deadline = now + SHIM_SPIN_NS;
			else if (now > deadline)
				break;
		}
		shim_relax();
	}
	if (atomic_compare_exchange_strong_explicit(w, &expect, SHIM_W_SLEEPING,
						    memory_order_acquire, memory_order_acquire)) {
		while (atomic_load_explicit(w, memory_order_acquire) != SHIM_W_DONE)
			syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, SHIM_W_SLEEPING, NULL, NULL, 0);
	}
	errno = saved;
}

#endif
