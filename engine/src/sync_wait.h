/* SPDX-License-Identifier: MIT */
/*
 * One waiter, one waker, one word: the caller of ioe_submit_wait() waits for
 * its event's completion. The callback's last access to the word is a single
 * atomic exchange, so the word may live on the waiter's stack: once the
 * waiter has seen DONE it may return at once. The FUTEX_WAKE that may follow
 * uses only the address as a key (private futex: no memory access), so a
 * wake that arrives after the frame is gone is at worst a spurious wake-up of
 * some other futex user, which futex users must tolerate anyway.
 */
#ifndef IOE_SYNC_WAIT_H
#define IOE_SYNC_WAIT_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "futex.h"
#include "wake.h"

enum { IOE_W_PENDING, IOE_W_SLEEPING, IOE_W_DONE };

/*
 * How long the waiter spins before it sleeps. A page-cache read comes back
 * in a few microseconds when the engine threads are awake; a futex round
 * trip, which wakes a sleeping thread, costs tens of microseconds. Longer
 * spins starve the engine threads on a machine with few cores.
 */
#define IOE_SYNC_SPIN_NS 4000

static inline bool ioe_done_is_set(_Atomic uint32_t *w)
{
	return atomic_load_explicit(w, memory_order_acquire) == IOE_W_DONE;
}

/* Engine side: mark done and wake the waiter if it sleeps. */
static inline void ioe_done_set(_Atomic uint32_t *w)
{
	/* Release: the event's result is visible before DONE. */
	if (atomic_exchange_explicit(w, IOE_W_DONE, memory_order_acq_rel) == IOE_W_SLEEPING)
		ioe_futex_wake(w, 1);
}

/*
 * Caller side: true once DONE, false after a sleep of ns (a slice of the
 * wait: the caller looks at its signals, then waits again). A signal
 * (EINTR) only means: look again.
 */
static inline bool ioe_done_wait(_Atomic uint32_t *w, long ns)
{
	struct timespec slice = { ns / 1000000000, ns % 1000000000 };
	uint64_t deadline = 0;
	uint32_t expect = IOE_W_PENDING;
	bool done;
	int saved = errno;

	/* The spin: on the first slice only (a later one finds SLEEPING). */
	for (unsigned int i = 1; atomic_load_explicit(w, memory_order_acquire) == IOE_W_PENDING; i++) {
		if (!(i & 31)) {
			uint64_t now = ioe_now_ns();

			if (!deadline)
				deadline = now + IOE_SYNC_SPIN_NS;
			else if (now > deadline)
				break;
		}
		ioe_cpu_relax();
	}
	/* PENDING, or SLEEPING from an earlier slice; DONE: the waker was first. */
	if (atomic_compare_exchange_strong_explicit(w, &expect, IOE_W_SLEEPING, memory_order_acquire,
						    memory_order_acquire) || expect == IOE_W_SLEEPING)
		ioe_futex_wait(w, IOE_W_SLEEPING, &slice);
	done = ioe_done_is_set(w);
	errno = saved;
	return done;
}

#endif
