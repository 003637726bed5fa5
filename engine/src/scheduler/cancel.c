/* SPDX-License-Identifier: MIT */
/*
 * ioe_cancel(): the one place that decides what becomes of a cancelled
 * event. Under the submission lock, which every consumer of the queues and
 * of the held events holds and which a free slot is taken under, an event
 * is in exactly one of these states:
 * - queued or held: taken out here, and called back with -ECANCELED in the
 *   calling thread (IOE_CANCEL_DONE);
 * - a member of a merged IO (merge_take.h): IOE_CANCEL_RUNNING until its
 *   master calls it back;
 * - with the kernel (in a slot, or on io_uring a stream event): the
 *   driver's cancel asks the kernel (IOE_CANCEL_DONE when the kernel
 *   cancelled it, IOE_CANCEL_RUNNING when it goes on);
 * - anywhere else (being called back, done, never submitted here):
 *   IOE_CANCEL_ALLDONE.
 */
#include <errno.h>
#include "context.h"
#include "driver.h"
#include "queue_policy.h"
#include "../signals.h"

int ioe_cancel(struct ioe_context *ctx, struct ioe_event *ev)
{
	struct ioe_driver *d;
	sigset_t old;
	int ret;

	if (!ctx || !ev)
		return -EINVAL;
	/* No thread yet: nothing was ever queued nor sent (see threads_start()). */
	if (atomic_load_explicit(&ctx->threads, memory_order_acquire) != IOE_THREADS_RUNNING)
		return IOE_CANCEL_ALLDONE;
	d = ctx->driver;
	ioe_signals_block(&old);	/* the submission lock: see signals.h */
	ioe_sq_lock(d);
	if (ioe_unqueue(&ctx->shared, ev)) {
		ioe_sq_unlock(d);
		ioe_signals_restore(&old);
		ev->res = -ECANCELED;
		ev->cb(ev, ev->cb_arg);
		return IOE_CANCEL_DONE;
	}
	/* A member of a merged IO: its master is with the kernel, or being fanned out. */
	if (ioe_merge_holds(&ctx->shared.merge, ev)) {
		ioe_sq_unlock(d);
		ioe_signals_restore(&old);
		return IOE_CANCEL_RUNNING;
	}
	ret = ctx->ops->cancel(ctx->driver, ev);
	ioe_signals_restore(&old);
	return ret;
}
