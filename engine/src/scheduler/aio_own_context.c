/* SPDX-License-Identifier: MIT */
/*
 * The Linux AIO driver's queue of a thread's own (see own_queue.c): a
 * context of one event. A context is per process: a fork child does not
 * inherit it.
 */
#include <assert.h>
#include <errno.h>
#include <libaio.h>
#include <sched.h>
#include "aio_prep.h"
#include "driver.h"
#include "own_queue.h"
#include "../fault.h"

static_assert(sizeof(io_context_t) <= sizeof(struct ioe_own_queue), "struct ioe_own_queue: too small");

static io_context_t *context_of(struct ioe_own_queue *q)
{
	return (io_context_t *)q->area;
}

/* io_setup() wants 0 in: a fork child's copy still holds its parent's context. */
static int open_context(struct ioe_own_queue *q)
{
	*context_of(q) = 0;
	return io_setup(1, context_of(q));
}

static void close_context(struct ioe_own_queue *q)
{
	io_destroy(*context_of(q));
}

/* One piece on the AIO context: its result (a refused iocb's is the refusal). */
static long aio_piece(struct ioe_own_queue *q, const struct ioe_event *ev, const struct ioe_progress *prog)
{
	io_context_t aio = *context_of(q);
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event done;
	long ret;

	ioe_aio_prep(&cb, ev, prog);
	while (ioe_submit_transient(ret = ioe_fault_submit() ?: io_submit(aio, 1, cbs)))
		sched_yield();
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	while (io_getevents(aio, 1, 1, &done, NULL) != 1)
		;
	return (long)done.res;
}

const struct ioe_own_queue_ops ioe_aio_own_context = {
	.slot = IOE_OWN_QUEUE_AIO,
	.open = open_context,
	.close = close_context,
	.piece = aio_piece,
};
