/* SPDX-License-Identifier: MIT */
/* The caller-side path: see caller_submit.h. */
#include <errno.h>
#include <signal.h>
#include "caller_submit.h"
#include "queue_policy.h"
#include "../signals.h"

void ioe_hold(struct ioe_driver *d, struct ioe_event *ev)
{
	struct ioe_shared_ctx *sh = d->sh;
	struct ioe_cb_batch cbb = { 0 };
	sigset_t old;

	atomic_fetch_add(&sh->held_count, 1);
	ioe_mpsc_push(&sh->held, ev);
	/* The last IO may have completed meanwhile, and the poller be asleep. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!ioe_file_io_in_flight(d)) {
		ioe_held_kick(sh);
		return;
	}
	if (atomic_load_explicit(&sh->held_count, memory_order_relaxed) < IOE_SUBMIT_BATCH)
		return;
	ioe_signals_block(&old);	/* the submission lock: see signals.h */
	ioe_submit_held(d, &cbb);
	ioe_signals_restore(&old);
}

void ioe_submit_held(struct ioe_driver *d, struct ioe_cb_batch *cbb)
{
	struct ioe_refusals rf = { 0 };
	unsigned int n;

	ioe_sq_lock(d);
	n = d->take_held(d, &rf);
	ioe_sq_unlock(d);
	if (n) {
		atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed);
		ioe_wake(&d->poll_wake);
	}
	ioe_deliver_refusals(d, &rf, cbb);
}

int ioe_submit_here(struct ioe_driver *d, struct ioe_event *ev)
{
	sigset_t old;
	int ret;

	if (ioe_file_io_in_flight(d)) {
		ioe_hold(d, ev);
		return 0;
	}
	if (!atomic_load_explicit(&d->sh->submit_wake.sleeping, memory_order_relaxed) ||
	    !d->direct_submit(d, ev, &old, &ret))
		return -EAGAIN;
	ioe_wake(&d->poll_wake);
	ioe_signals_restore(&old);
	return 0;
}

#define IOE_HOLD_MAX_NS 1000000

void ioe_held_check(struct ioe_driver *d)
{
	struct ioe_shared_ctx *sh = d->sh;
	uint32_t takes = atomic_load_explicit(&sh->held_takes, memory_order_relaxed);
	uint64_t now;

	if (!atomic_load_explicit(&sh->held_count, memory_order_relaxed)) {
		d->held_since = 0;
		return;
	}
	/* The clock starts when the poller first sees them held, or taken from. */
	now = ioe_now_ns();
	if (!d->held_since || takes != d->held_takes_seen) {
		d->held_takes_seen = takes;
		d->held_since = now;
	} else if (now - d->held_since >= IOE_HOLD_MAX_NS) {
		ioe_held_kick(sh);
		d->held_since = now;
	}
}

struct ioe_slot_link *ioe_direct_begin(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret)
{
	struct ioe_shared_ctx *sh = d->sh;
	struct ioe_slot_link *l;

	*ret = -EAGAIN;
	if (!ioe_direct_possible(sh))
		return NULL;
	if (ioe_fd_refuses(ev)) {
		*ret = 0;
		return NULL;
	}
	if (old)
		ioe_signals_block(old);
	ioe_sq_lock(d);
	if (!ioe_direct_possible(sh)) {
		ioe_sq_unlock(d);
		if (old)
			ioe_signals_restore(old);
		return NULL;
	}
	l = ioe_slot_pop(&d->free);
	atomic_fetch_sub_explicit(&sh->free_slots_count, 1, memory_order_relaxed);
	return l;
}
