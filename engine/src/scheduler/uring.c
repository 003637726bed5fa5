/* SPDX-License-Identifier: MIT */
/*
 * io_uring driver. The submitter owns the submission queue, the poller owns
 * the completion queue: each side of the ring has one thread, so neither
 * needs a lock. A short read or write goes back to the submitter in the same
 * slot for its remainder.
 */
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdlib.h>
#include "common.h"
#include "../fault.h"
#include "../tasks.h"

struct uring_slot {
	struct ioe_slot_link link;	/* first: slots travel as links */
	struct ioe_event *ev;
	struct ioe_progress prog;
};

struct uring_driver {
	struct ioe_shared_ctx *sh;
	struct io_uring ring;
	struct uring_slot *slots;
	struct ioe_event **batch;	/* submitter: one round's events */
	struct ioe_slot_stack free;	/* poller -> submitter */
	struct ioe_slot_stack retry;	/* poller -> submitter: short IO to continue */
	_Atomic int inflight;		/* submitted, not reaped (see after_submit) */
	_Atomic bool cq_busy;		/* held by whoever consumes the CQ */
	_Atomic bool submitter_done;
	struct ioe_waiter poll_wake;
	struct ioe_cb_batch sub_cbb, poll_cbb;
	pthread_t submitter, poller;
};

static void prep_sqe(struct io_uring_sqe *sqe, struct uring_slot *s)
{
	struct ioe_event *ev = s->ev;
	struct ioe_piece p;

	switch (ev->action) {
	case IOE_FSYNC:
		io_uring_prep_fsync(sqe, ev->fd, 0);
		break;
	case IOE_FDATASYNC:
		io_uring_prep_fsync(sqe, ev->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		ioe_progress_next(&s->prog, ev, &p);
		if (ev->action == IOE_READV)
			io_uring_prep_readv(sqe, ev->fd, p.iov, (unsigned int)p.len, (__u64)p.offset);
		else if (ev->action == IOE_WRITEV)
			io_uring_prep_writev(sqe, ev->fd, p.iov, (unsigned int)p.len, (__u64)p.offset);
		else if (ev->action == IOE_READ)
			io_uring_prep_read(sqe, ev->fd, p.buf, (unsigned int)p.len, (__u64)p.offset);
		else
			io_uring_prep_write(sqe, ev->fd, p.buf, (unsigned int)p.len, (__u64)p.offset);
	}
	io_uring_sqe_set_data(sqe, s);
	ioe_kernel_handoff_release(s);
}

/*
 * Submit every prepared SQE. The SQEs are in the ring already and an error
 * here is transient (EAGAIN, EBUSY, ENOMEM, EINTR): retry until all are in.
 */
static void submit_all(struct uring_driver *d)
{
	while (io_uring_sq_ready(&d->ring)) {
		int ret = ioe_fault_submit();

		if (!ret)
			ret = io_uring_submit(&d->ring);
		if (ret < 0)
			sched_yield();
	}
}

static bool poller_ready(void *arg)
{
	struct uring_driver *d = arg;

	return atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0 ||
	       atomic_load_explicit(&d->submitter_done, memory_order_acquire);
}

/*
 * The CQ has one consumer at a time: the poller, or the submitter taking a
 * quick look right after it submitted to an idle ring.
 */
static bool cq_trylock(struct uring_driver *d)
{
	return !atomic_exchange_explicit(&d->cq_busy, true, memory_order_acquire);
}

static void cq_unlock(struct uring_driver *d)
{
	atomic_store_explicit(&d->cq_busy, false, memory_order_release);
}

/*
 * Consume the CQEs that are ready (the caller holds the CQ): finished events
 * go to *done with their slots freed, short ones back to the submitter.
 * Returns how many slots were freed.
 */
static unsigned int take_completions(struct uring_driver *d, struct ioe_event **done)
{
	struct io_uring_cqe *cqes[64];
	struct ioe_event **tail = done;
	unsigned int n, i, freed = 0, retried = 0;

	*done = NULL;
	n = io_uring_peek_batch_cqe(&d->ring, cqes, 64);
	for (i = 0; i < n; i++) {
		struct uring_slot *s = io_uring_cqe_get_data(cqes[i]);
		struct ioe_event *ev;

		ioe_kernel_handoff_acquire(s);
		ev = s->ev;
		if (!ioe_progress_update(&s->prog, ev, ioe_fault_result(cqes[i]->res))) {
			ioe_slot_push(&d->retry, &s->link);
			retried++;
			continue;
		}
		s->ev = NULL;
		ioe_slot_push(&d->free, &s->link);
		freed++;
		*tail = ev;
		tail = &ev->next_;
	}
	*tail = NULL;
	if (n) {
		io_uring_cq_advance(&d->ring, n);
		atomic_fetch_sub_explicit(&d->inflight, (int)n, memory_order_relaxed);
	}
	if (retried)
		ioe_wake(&d->sh->submit_wake);
	return freed;
}

/*
 * Count what was submitted only now, so the poller never waits in the kernel
 * for SQEs that are not there yet; a fast completion reaped meanwhile takes
 * the count below 0 for a moment. If the ring was idle, a page-cache IO has
 * typically completed inside io_uring_enter() already: take it here and spare
 * the poller's wake-up (18-38 us), which is the whole cost of a QD1 IO.
 */
static void after_submit(struct uring_driver *d, unsigned int n)
{
	struct ioe_event *done;
	unsigned int freed;

	if (atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed) == 0 &&
	    cq_trylock(d)) {
		freed = take_completions(d, &done);
		cq_unlock(d);
		ioe_poller_deliver(d->sh, freed, done, &d->sub_cbb);
	}
	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		ioe_wake(&d->poll_wake);
}

/* Wait for at least one CQE: spin briefly, then sleep in the kernel. */
static void wait_cqe(struct uring_driver *d)
{
	struct io_uring_cqe *cqe;
	uint64_t deadline = ioe_now_ns() + IOE_SPIN_NS;

	do {
		for (int i = 0; i < 64; i++) {
			if (io_uring_cq_ready(&d->ring))
				return;
			ioe_cpu_relax();
		}
	} while (ioe_now_ns() < deadline);
	while (io_uring_wait_cqe(&d->ring, &cqe) < 0)
		;
}

static bool submitter_ready(void *arg)
{
	struct uring_driver *d = arg;

	return ioe_submitter_ready(d->sh, !ioe_slot_stack_empty(&d->retry));
}

static void *submitter_main(void *arg)
{
	struct uring_driver *d = arg;
	struct ioe_shared_ctx *sh = d->sh;

	for (;;) {
		struct ioe_slot_link *l;
		unsigned int n = 0, i, budget;

		while ((l = ioe_slot_pop(&d->retry))) {
			prep_sqe(io_uring_get_sqe(&d->ring), (struct uring_slot *)l);
			n++;
		}
		budget = (unsigned int)atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);
		if (budget) {
			unsigned int took = ioe_take_round(sh, d->batch, budget, &d->sub_cbb);

			for (i = 0; i < took; i++) {
				struct uring_slot *s = (struct uring_slot *)ioe_slot_pop(&d->free);

				s->ev = d->batch[i];
				ioe_progress_start(&s->prog, s->ev);
				prep_sqe(io_uring_get_sqe(&d->ring), s);
			}
			if (took)
				atomic_fetch_sub_explicit(&sh->free_slots_count, took, memory_order_relaxed);
			n += took;
		}
		if (n) {
			submit_all(d);
			after_submit(d, n);
			continue;
		}
		if (ioe_submitter_done(sh))
			break;
		ioe_wait(&sh->submit_wake, submitter_ready, d);
	}
	atomic_store_explicit(&d->submitter_done, true, memory_order_release);
	ioe_wake(&d->poll_wake);
	return NULL;
}

static void *poller_main(void *arg)
{
	struct uring_driver *d = arg;

	for (;;) {
		struct ioe_event *done;
		unsigned int freed;

		if (atomic_load_explicit(&d->inflight, memory_order_acquire) <= 0) {
			if (atomic_load_explicit(&d->submitter_done, memory_order_acquire))
				break;
			ioe_wait(&d->poll_wake, poller_ready, d);
			continue;
		}
		if (!cq_trylock(d)) {
			ioe_cpu_relax();
			continue;
		}
		/* Re-check under the lock: the submitter may have taken them all. */
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) > 0 &&
		    !io_uring_cq_ready(&d->ring))
			wait_cqe(d);
		freed = take_completions(d, &done);
		cq_unlock(d);
		ioe_poller_deliver(d->sh, freed, done, &d->poll_cbb);
	}
	return NULL;
}

static int uring_probe(struct io_uring *ring)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	static const int ops[] = { IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV,
				   IORING_OP_WRITEV, IORING_OP_FSYNC };
	int ret = 0;

	if (!p)
		return -ENOSYS;
	for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!io_uring_opcode_supported(p, ops[i]))
			ret = -ENOSYS;
	io_uring_free_probe(p);
	return ret;
}

static void uring_free(struct uring_driver *d)
{
	free(d->slots);
	free(d->batch);
	free(d);
}

static int uring_start(struct ioe_shared_ctx *sh, void **out)
{
	struct uring_driver *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->sh = sh;
	d->slots = calloc(sh->depth, sizeof(*d->slots));
	d->batch = calloc(sh->depth, sizeof(*d->batch));
	if (!d->slots || !d->batch) {
		uring_free(d);
		return -ENOMEM;
	}
	/* Fails with ENOSYS (old kernel), EPERM (io_uring_disabled, seccomp), ... */
	ret = io_uring_queue_init(sh->depth, &d->ring, 0);
	if (ret) {
		uring_free(d);
		return ret;
	}
	ret = uring_probe(&d->ring);
	if (ret)
		goto fail_ring;
	for (unsigned int i = 0; i < sh->depth; i++)
		ioe_slot_push(&d->free, &d->slots[i].link);
	atomic_init(&d->inflight, 0);
	atomic_init(&d->cq_busy, false);
	atomic_init(&d->submitter_done, false);
	ioe_waiter_init(&d->poll_wake);
	ret = ioe_thread_start(&d->poller, "ioe-poll", poller_main, d);
	if (ret)
		goto fail_ring;
	ret = ioe_thread_start(&d->submitter, "ioe-submit", submitter_main, d);
	if (ret) {
		/* No submitter: tell the idle poller to leave. */
		atomic_store(&d->submitter_done, true);
		ioe_wake(&d->poll_wake);
		pthread_join(d->poller, NULL);
		goto fail_ring;
	}
	*out = d;
	return 0;
fail_ring:
	io_uring_queue_exit(&d->ring);
	uring_free(d);
	return ret;
}

static void uring_stop(void *arg)
{
	struct uring_driver *d = arg;

	pthread_join(d->submitter, NULL);
	pthread_join(d->poller, NULL);
	io_uring_queue_exit(&d->ring);
	uring_free(d);
}

const struct ioe_driver_ops ioe_uring_ops = {
	.name = "io_uring",
	.start = uring_start,
	.stop = uring_stop,
};
