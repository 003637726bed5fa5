/* SPDX-License-Identifier: MIT */
/*
 * Sleep/wake between threads that pays a futex only when someone sleeps.
 *
 * Waking a sleeping thread costs tens of microseconds, far more than an IO
 * that hits the page cache, so a consumer first spins for a few
 * microseconds and then sleeps; a producer calls ioe_wake() after
 * publishing work and makes a syscall only if the consumer has announced
 * that it sleeps. The seq_cst fences on both sides make the
 * classic store-then-load race safe: either the producer sees the sleeper, or
 * the sleeper sees the work.
 */
#ifndef IOE_WAKE_H
#define IOE_WAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "clock.h"
#include "futex.h"

struct ioe_waiter {
	_Atomic uint32_t seq;
	_Atomic uint32_t sleeping;
};

/* How long a consumer spins before it sleeps. */
#define IOE_SPIN_NS 20000

static inline void ioe_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static inline void ioe_waiter_init(struct ioe_waiter *w)
{
	atomic_init(&w->seq, 0);
	atomic_init(&w->sleeping, 0);
}

/* Producer side: call after the work is published. */
static inline void ioe_wake(struct ioe_waiter *w)
{
	atomic_thread_fence(memory_order_seq_cst);
	/* Only the producer that clears the flag pays the syscall: a burst of
	 * producers wakes a sleeper once, not once each. */
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(&w->sleeping, 0, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
		ioe_futex_wake(&w->seq, 1);
	}
}

/*
 * Consumer side: return once ready(arg) is true, spinning first. Returns
 * early (false) when the sleep was interrupted; the caller re-checks.
 */
static inline bool ioe_wait(struct ioe_waiter *w, bool (*ready)(void *), void *arg)
{
	uint64_t deadline = 0;
	uint32_t seq;
	unsigned int i;

	for (i = 0;; i++) {
		if (ready(arg))
			return true;
		if ((i & 63) == 63) {
			uint64_t now = ioe_now_ns();

			if (!deadline)
				deadline = now + IOE_SPIN_NS;
			else if (now > deadline)
				break;
		}
		ioe_cpu_relax();
	}
	seq = atomic_load_explicit(&w->seq, memory_order_acquire);
	atomic_store_explicit(&w->sleeping, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (!ready(arg))
		ioe_futex_wait(&w->seq, seq, NULL);
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
	return ready(arg);
}

#endif
