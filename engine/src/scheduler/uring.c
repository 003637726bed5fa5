/* SPDX-License-Identifier: MIT */
/*
 * io_uring driver. The submitter owns the submission queue; completions have
 * one consumer at a time (the poller, or the submitter right after it
 * submitted to an idle ring), so neither side needs more than a try-lock. A
 * short read or write goes back to the submitter in the same slot for its
 * remainder.
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
	struct ioe_driver base;		/* first: the threads get &base */
	struct io_uring ring;
	struct uring_slot *slots;
	struct ioe_slot_stack retry;	/* completion side -> submitter: short IO to continue */
};

#define IOE_REAP_MAX 64

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

/*
 * Take the CQEs that are ready and finish them (the caller holds the
 * completion side, released here): short ones go back to the submitter, the
 * rest are delivered through cbb.
 */
static void take_completions(struct uring_driver *d, struct ioe_cb_batch *cbb)
{
	struct io_uring_cqe *cqes[IOE_REAP_MAX];
	struct ioe_event *done = NULL, **tail = &done;
	unsigned int n, i, freed = 0, retried = 0;

	n = io_uring_peek_batch_cqe(&d->ring, cqes, IOE_REAP_MAX);
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
		ioe_slot_push(&d->base.free, &s->link);
		freed++;
		*tail = ev;
		tail = &ev->next_;
	}
	*tail = NULL;
	if (n) {
		io_uring_cq_advance(&d->ring, n);
		atomic_fetch_sub_explicit(&d->base.inflight, (int)n, memory_order_relaxed);
	}
	ioe_cq_unlock(&d->base);
	if (retried)
		ioe_wake(&d->base.sh->submit_wake);
	ioe_poller_deliver(d->base.sh, freed, done, cbb);
}

static void submitter_reap(struct ioe_driver *base)
{
	take_completions((struct uring_driver *)base, &base->sub_cbb);
}

static bool submitter_ready(void *arg)
{
	struct uring_driver *d = arg;

	return ioe_submitter_ready(d->base.sh, !ioe_slot_stack_empty(&d->retry));
}

static void *submitter_main(void *arg)
{
	struct uring_driver *d = arg;
	struct ioe_shared_ctx *sh = d->base.sh;

	for (;;) {
		struct ioe_slot_link *l;
		unsigned int n = 0, i, budget;

		while ((l = ioe_slot_pop(&d->retry))) {
			prep_sqe(io_uring_get_sqe(&d->ring), (struct uring_slot *)l);
			n++;
		}
		budget = ioe_round_budget(sh);
		if (budget) {
			unsigned int took = ioe_take_round(sh, d->base.batch, budget, &d->base.sub_cbb);

			for (i = 0; i < took; i++) {
				struct uring_slot *s = (struct uring_slot *)ioe_slot_pop(&d->base.free);

				s->ev = d->base.batch[i];
				ioe_progress_start(&s->prog, s->ev);
				prep_sqe(io_uring_get_sqe(&d->ring), s);
			}
			if (took)
				atomic_fetch_sub_explicit(&sh->free_slots_count, took, memory_order_relaxed);
			n += took;
		}
		if (n) {
			submit_all(d);
			ioe_driver_submitted(&d->base, n, submitter_reap);
			continue;
		}
		if (ioe_submitter_done(sh))
			break;
		ioe_wait(&sh->submit_wake, submitter_ready, d);
	}
	ioe_driver_submitter_exit(&d->base);
	return NULL;
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

static void *poller_main(void *arg)
{
	struct uring_driver *d = arg;

	while (ioe_poller_acquire(&d->base)) {
		wait_cqe(d);
		take_completions(d, &d->base.poll_cbb);
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
	ioe_driver_fini(&d->base);
	free(d->slots);
	free(d);
}

static int uring_start(struct ioe_shared_ctx *sh, void **out)
{
	struct uring_driver *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->slots = calloc(sh->depth, sizeof(*d->slots));
	if (!d->slots || ioe_driver_init(&d->base, sh)) {
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
		ioe_slot_push(&d->base.free, &d->slots[i].link);
	ret = ioe_driver_start(&d->base, submitter_main, poller_main, d);
	if (ret)
		goto fail_ring;
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

	ioe_driver_join(&d->base);
	io_uring_queue_exit(&d->ring);
	uring_free(d);
}

const struct ioe_driver_ops ioe_uring_ops = {
	.name = "io_uring",
	.start = uring_start,
	.stop = uring_stop,
};
