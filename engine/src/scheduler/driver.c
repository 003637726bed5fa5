/* SPDX-License-Identifier: MIT */
/* The driver base: see driver.h. */
#include <errno.h>
#include "driver.h"
#include "queue_policy.h"
#include "../thread.h"

void ioe_poller_deliver(struct ioe_shared_ctx *sh, unsigned int freed, struct ioe_event *done,
			struct ioe_cb_batch *cbb)
{
	if (freed) {
		/* seq_cst: the slots are visible with the count, and the count before
		 * the checks below (the submitter checks the other way round). */
		atomic_fetch_add(&sh->free_slots_count, freed);
		if (atomic_load_explicit(&sh->total_count, memory_order_relaxed) ||
		    atomic_load_explicit(&sh->stopping, memory_order_relaxed) ||
		    ioe_held_for_submitter(sh))
			ioe_wake(&sh->submit_wake);
	}
	while (done) {
		struct ioe_event *next = done->next_;

		ioe_cb_dispatch(&sh->cb_workers, cbb, done);
		done = next;
	}
	ioe_cb_flush(&sh->cb_workers, cbb);
}

/* Seq_cst: either this sees a hold, or ioe_hold() sees nothing in flight and kicks itself. */
void ioe_held_before_sleep(struct ioe_driver *d)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&d->sh->held_count, memory_order_relaxed))
		ioe_held_kick(d->sh);
}

int ioe_driver_init(struct ioe_driver *d, struct ioe_shared_ctx *sh)
{
	d->sh = sh;
	d->batch = ioe_map(sh->depth * sizeof(*d->batch));
	if (!d->batch)
		return -ENOMEM;
	atomic_init(&d->free.shared, NULL);
	d->free.local = NULL;
	atomic_init(&d->inflight, 0);
	atomic_init(&d->sq_lock, false);
	atomic_init(&d->cq_lock, false);
	atomic_init(&d->submitter_done, false);
	atomic_init(&d->callers, 0);
	atomic_init(&d->caller_visits, 0);
	d->visits_seen = 0;
	d->held_takes_seen = 0;
	d->held_since = 0;
	ioe_waiter_init(&d->poll_wake);
	d->sub_cbb = d->poll_cbb = (struct ioe_cb_batch){ 0 };
	d->started = false;
	return 0;
}

void ioe_driver_fini(struct ioe_driver *d)
{
	ioe_unmap(d->batch, d->sh->depth * sizeof(*d->batch));
}

int ioe_driver_start(struct ioe_driver *d, void *(*submitter)(void *), void *(*poller)(void *), void *arg)
{
	int ret = ioe_thread_start(&d->poller, "ioe-poll", poller, arg);

	if (ret)
		return ret;
	ret = ioe_thread_start(&d->submitter, "ioe-submit", submitter, arg);
	if (ret) {
		/* No submitter: tell the idle poller to leave. */
		ioe_driver_submitter_exit(d);
		pthread_join(d->poller, NULL);
		atomic_store_explicit(&d->submitter_done, false, memory_order_relaxed);
		return ret;
	}
	d->started = true;
	return 0;
}

void ioe_driver_join(struct ioe_driver *d)
{
	if (!d->started)
		return;
	pthread_join(d->submitter, NULL);
	pthread_join(d->poller, NULL);
}

void ioe_driver_submitter_exit(struct ioe_driver *d)
{
	atomic_store_explicit(&d->submitter_done, true, memory_order_release);
	ioe_wake(&d->poll_wake);
}

static bool poller_ready(void *arg)
{
	struct ioe_driver *d = arg;

	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		return !atomic_load_explicit(&d->cq_lock, memory_order_relaxed);
	return atomic_load_explicit(&d->submitter_done, memory_order_acquire);
}

bool ioe_poller_acquire(struct ioe_driver *d)
{
	for (;;) {
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) <= 0 &&
		    atomic_load_explicit(&d->submitter_done, memory_order_acquire))
			return false;
		if (!poller_ready(d) || !ioe_cq_trylock(d)) {
			if (atomic_load_explicit(&d->inflight, memory_order_relaxed) <= 0)
				ioe_held_before_sleep(d);
			ioe_wait(&d->poll_wake, poller_ready, d);
			continue;
		}
		/* Re-check under the lock: another thread may have taken them all. */
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) > 0)
			return true;
		ioe_cq_unlock(d);
	}
}

void ioe_driver_submitted(struct ioe_driver *d, unsigned int n, void (*reap)(struct ioe_driver *))
{
	if (atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed) == 0 &&
	    ioe_cq_trylock(d))
		reap(d);
	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		ioe_wake(&d->poll_wake);
}
