/* SPDX-License-Identifier: MIT */
/*
 * The shared context: what callers and the worker threads have in common.
 * It holds no backend state (no ring, no AIO context, no slots): those belong
 * to the driver that its ops' start made (uring_start() in uring.c,
 * aio_start() in aio.c).
 */
#ifndef IOE_CONTEXT_H
#define IOE_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include "../callback_worker.h"
#include "../embedded_list.h"
#include "../wake.h"
#include "merge_take.h"

#define IOE_STOPPED 0x80000000u

struct ioe_shared_ctx {
	unsigned int depth;
	/* Producers inside ioe_submit() and its kin, plus IOE_STOPPED once
	 * freeing began: one atomic add tells a producer whether it may still
	 * push. Not the IO in flight (that is ioe_running()). */
	_Atomic unsigned int producers;
	_Atomic bool stopping;		/* set once no producer can push any more */

	/* Queued, not yet taken by the submitter. Empty queues are known from
	 * the queues themselves; this count is for ioe_pending() and idling. */
	_Atomic size_t total_count;
	_Atomic size_t free_slots_count;

	struct ioe_mpsc queues[IOE_CHAN_MAX];
	bool read_first;		/* submitter only: fairness toggle */

	/*
	 * Events of ioe_submit_local() held back while IO is in flight, for the
	 * next ioe_wait_word() to hand to the kernel in its own thread (see
	 * uring.c). Their consumers hold the driver's submission lock. The
	 * submitter takes them only once kicked: nobody came to wait for them.
	 */
	struct ioe_mpsc held;
	_Atomic size_t held_count;
	_Atomic bool held_kick;
	_Atomic uint32_t held_takes;	/* bumped by every take: the poller's staleness check */

	/*
	 * IOE_F_AT_POSITION events with the kernel (io_uring): they take no
	 * slot, as one may wait there for as long as the file has nothing, and
	 * would otherwise hold file IO back. At shutdown the submitter cancels
	 * them once the slots are home (streams_cancelled: submitter only).
	 */
	_Atomic unsigned int streams;
	bool streams_cancelled;

	/* Masters of merged runs, made as events are taken (merge_take.h). */
	struct ioe_merge_pool merge;

	struct ioe_waiter submit_wake;	/* submitter: new events or free slots */
	struct ioe_cb_workers cb_workers;
};

/*
 * A driver is chosen once, when the context is made; the context reaches it
 * only through these pointers (ioe_uring_ops, ioe_aio_ops).
 */
struct ioe_driver_ops {
	const char *name;
	/*
	 * Make the driver and check that the kernel has what it needs. Starts no
	 * thread and, for io_uring, keeps no fd: a program that makes only
	 * synchronous calls never needs either (see threads_start() in
	 * context.c). Async-signal-safe: no malloc().
	 */
	int (*start)(struct ioe_shared_ctx *sh, void **driver);
	/* Start the submitter and the poller (and what they need): 0 or -errno, nothing left behind. */
	int (*threads)(void *driver);
	/* Submit what is queued, reap everything in flight, join, free. */
	void (*stop)(void *driver);
	/* Optional: in a fork child, close the driver's descriptors, touching nothing else. */
	void (*forget)(void *driver);
	/*
	 * Optional: wait in the calling thread, reaping, until *word != old (0),
	 * the CLOCK_MONOTONIC deadline (-ETIMEDOUT; 0: none) or a signal handler
	 * that a futex wait would not restart after (-EINTR). -EAGAIN: not here,
	 * wait on the futex instead.
	 */
	int (*wait_word)(void *driver, uint32_t *word, uint32_t old, uint64_t deadline);
	/* Optional: hand ev to the kernel from the calling thread (0), or -EAGAIN: queue it. */
	int (*submit_local)(void *driver, struct ioe_event *ev);
	/* submit_local takes a read or write only on an O_DIRECT fd (caller_takes() looks). */
	bool caller_direct_only;
	/*
	 * ioe_cancel() of an event that is neither queued nor held: whether it
	 * is with the kernel, and if so cancelled there (see cancel.c). Called
	 * with the submission lock held and every signal blocked; releases the
	 * lock. Returns an enum ioe_cancel_result.
	 */
	int (*cancel)(void *driver, struct ioe_event *ev);
	/* IOE_F_AT_POSITION events: taken without a thread of the engine blocking on them. */
	bool at_position;
};

extern const struct ioe_driver_ops ioe_uring_ops;
extern const struct ioe_driver_ops ioe_aio_ops;

enum { IOE_THREADS_NONE, IOE_THREADS_STARTING, IOE_THREADS_RUNNING };

struct ioe_context {
	struct ioe_shared_ctx shared;
	const struct ioe_driver_ops *ops;
	void *driver;
	unsigned int workers;		/* callback workers, started with the driver's threads */
	_Atomic uint32_t threads;	/* IOE_THREADS_*: see threads_start() */
};

#endif
