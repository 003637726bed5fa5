/* SPDX-License-Identifier: MIT */
/* Signal-aware waits of ioe_wait_word() callers, and the poller's naps while they reap. */
#ifndef IOE_CALLER_WAIT_H
#define IOE_CALLER_WAIT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "driver.h"
#include "../signals.h"

/*
 * The frames between a cancellable wait and the cleanup handler that its
 * cancellation unwinds to (the engine's, then the caller's): without
 * redzones under ASan. The unwinder (_Unwind_ForcedUnwind) pops them
 * unseen by ASan, whose own call at the landing frame then finds their
 * stale redzones under its stack and reports a false overflow.
 */
#if defined(__SANITIZE_ADDRESS__)
#define IOE_CANCEL_FRAME __attribute__((no_sanitize_address))
#else
#define IOE_CANCEL_FRAME
#endif

/*
 * Waiters in ioe_wait_word() sleep with every signal blocked, so that no
 * handler runs while the thread is asynchronously cancellable (glibc before
 * 2.41 acts on a cancel request in the middle of such a handler), nor while
 * it holds an engine lock. They sleep IOE_WAIT_RECHECK_NS at most, and then
 * ask ioe_signal_due(): whether a signal that the caller's mask lets in is
 * pending (its handler runs once the mask is back). *restart: a futex wait,
 * as glibc's aio_suspend() does it, would go on after it, because the
 * kernel restarts a wait without a timeout after handlers with SA_RESTART
 * (and after no handler at all: a stop, an ignored signal), and never a
 * timed one. Asked before the handlers run: SA_RESETHAND would hide it after.
 */
#define IOE_WAIT_RECHECK_NS 1000000
bool ioe_signal_due(const sigset_t *caller_mask, bool timed, bool *restart);

/* The next sleep of such a waiter, in ns: 0 once deadline (CLOCK_MONOTONIC ns, 0 for none) has passed. */
static inline long ioe_wait_slice(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return IOE_WAIT_RECHECK_NS;
	now = ioe_now_ns();
	if (now >= deadline)
		return 0;
	return deadline - now < IOE_WAIT_RECHECK_NS ? (long)(deadline - now) : IOE_WAIT_RECHECK_NS;
}

/*
 * For a thread that has every signal blocked while the engine has an event
 * on its stack (ioe_submit_wait_path()), between sleeps: let through the
 * pending signals that the caller's mask lets in and that run no handler
 * of the program. A fatal one ends the process, a stop stops it, an
 * ignored one vanishes, as during a read natively; one with a handler
 * stays pending until the wait is over.
 */
void ioe_signals_let_defaults(const sigset_t *caller_mask);

/*
 * A caller of ioe_wait_word(): every signal blocked (the caller's mask kept
 * in mask) and, when it reaps in its own thread (d not NULL), counted in the
 * driver's callers, from ioe_word_wait_begin() to ioe_word_wait_end() (also
 * the cleanup handler, should the thread be cancelled in between).
 */
struct ioe_word_waiter {
	struct ioe_driver *d;
	sigset_t mask;
};

void ioe_word_wait_begin(struct ioe_word_waiter *ww, struct ioe_driver *d);
/* Count a waiter begun with no driver among d's callers from now on. */
void ioe_word_wait_join(struct ioe_word_waiter *ww, struct ioe_driver *d);
void ioe_word_wait_end(void *ww);

/*
 * Let the due signals' handlers run (see ioe_signal_due()), then block
 * again. Meanwhile the thread is no caller that reaps: a handler's pread()
 * may wait for a completion that only the poller would reap, and the
 * poller naps while callers reap.
 */
static inline void ioe_word_wait_handlers(struct ioe_word_waiter *ww)
{
	struct ioe_driver *d = ww->d;

	if (d) {
		ww->d = NULL;	/* a handler that cancels the thread: not counted out twice */
		atomic_fetch_sub(&d->callers, 1);
	}
	ioe_signals_restore(&ww->mask);
	ioe_signals_block(&ww->mask);
	if (d)
		ioe_word_wait_join(ww, d);
}

/*
 * While callers reap in ioe_wait_word(), every completion would wake the
 * poller too, for nothing (2 cores): it naps instead (returns true after a
 * nap), and goes back to reaping once no caller came during a whole nap.
 * IO that nobody waits for is then reaped within two naps.
 */
bool ioe_poller_nap(struct ioe_driver *d);

/*
 * A futex sleep while *word == old, ns at most; asynchronously cancellable.
 * Counted in ioe_word_sleepers meanwhile, for ioe_wake_word().
 */
void ioe_word_sleep(uint32_t *word, uint32_t old, long ns);
extern _Atomic unsigned int ioe_word_sleepers;

#endif
