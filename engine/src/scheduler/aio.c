/* SPDX-License-Identifier: MIT */
/*
 * Linux AIO driver. Each slot keeps its struct iocb inline. The submitter
 * fills iocbs and io_submit()s them; the poller reaps from the completion
 * ring in user space when it can (no syscall), else with io_getevents(), and
 * resubmits a short read or write for its remainder in the same slot itself:
 * io_submit() may be called from any thread.
 */
#include <errno.h>
#include <libaio.h>
#include <sched.h>
#include <stdlib.h>
#include "common.h"
#include "../fault.h"
#include "../tasks.h"

struct aio_slot {
	struct ioe_slot_link link;	/* first: slots travel as links */
	struct ioe_event *ev;
	struct iocb iocb;
	struct ioe_progress prog;
};

struct aio_driver {
	struct ioe_shared_ctx *sh;
	io_context_t io_ctx;
	struct aio_slot *slots;
	struct ioe_event **batch;	/* submitter: one round's events */
	struct iocb **iocbs;		/* submitter: one round's iocbs */
	struct ioe_slot_stack free;	/* poller -> submitter */
	struct aio_ring *ring;		/* completion ring, if its layout is known */
	_Atomic bool cq_busy;		/* held by whoever consumes completions */
	/* iocbs the kernel accepted and the poller has not reaped. Counted after
	 * io_submit() (a refused iocb never completes, and a poller waiting for
	 * it would hang), so a fast completion can take it below 0 for a moment. */
	_Atomic int inflight;
	_Atomic bool submitter_done;
	struct ioe_waiter poll_wake;
	struct ioe_cb_batch sub_cbb, poll_cbb;
	pthread_t submitter, poller;
};

/* The completion ring the kernel maps at the address of the io_context_t. */
struct aio_ring {
	unsigned int id, nr, head, tail;
	unsigned int magic, compat_features, incompat_features, header_length;
	struct io_event events[];
};
#define AIO_RING_MAGIC 0xa10a10a1

#define IOE_REAP_MAX 64

static void prep_iocb(struct aio_slot *s)
{
	struct ioe_event *ev = s->ev;
	struct iocb *cb = &s->iocb;
	struct ioe_piece p;

	switch (ev->action) {
	case IOE_FSYNC:
		io_prep_fsync(cb, ev->fd);
		break;
	case IOE_FDATASYNC:
		io_prep_fdsync(cb, ev->fd);
		break;
	default:
		ioe_progress_next(&s->prog, ev, &p);
		if (ev->action == IOE_READV)
			io_prep_preadv(cb, ev->fd, p.iov, (int)p.len, p.offset);
		else if (ev->action == IOE_WRITEV)
			io_prep_pwritev(cb, ev->fd, p.iov, (int)p.len, p.offset);
		else if (ev->action == IOE_READ)
			io_prep_pread(cb, ev->fd, p.buf, p.len, p.offset);
		else
			io_prep_pwrite(cb, ev->fd, p.buf, p.len, p.offset);
	}
	cb->data = s;
	ioe_kernel_handoff_release(s);
}

static struct aio_slot *slot_of(struct iocb *cb)
{
	return cb->data;
}

/* Give a slot back and deliver its event: used for refused submissions. */
static void finish_refused(struct aio_driver *d, struct aio_slot *s, struct ioe_cb_batch *cbb, int err)
{
	struct ioe_event *ev = s->ev;

	ioe_progress_update(&s->prog, ev, err);
	s->ev = NULL;
	ioe_slot_push(&d->free, &s->link);
	ev->next_ = NULL;
	ioe_poller_deliver(d->sh, 1, ev, cbb);
}

/*
 * Submit n iocbs. io_submit() stops at the first iocb the kernel refuses:
 * that one completes with the error (delivered through cbb), the rest go
 * again. EAGAIN/EINTR/ENOMEM are retried. Returns how many reached the kernel.
 */
static unsigned int submit_iocbs(struct aio_driver *d, struct iocb **cbs, unsigned int n,
				 struct ioe_cb_batch *cbb)
{
	unsigned int sent = 0;

	while (n) {
		int ret = ioe_fault_submit();

		if (!ret)
			ret = io_submit(d->io_ctx, (long)n, cbs);
		if (ret == -EAGAIN || ret == -EINTR || ret == -ENOMEM) {
			sched_yield();
			continue;
		}
		if (ret < 0) {
			/* The first one was refused: it will never complete from the kernel. */
			finish_refused(d, slot_of(cbs[0]), cbb, ret);
			ret = 1;
		} else {
			sent += (unsigned int)ret;
		}
		cbs += ret;
		n -= (unsigned int)ret;
	}
	return sent;
}

/*
 * The completion ring has one consumer at a time: the poller, or the
 * submitter taking a quick look right after it submitted to an idle context.
 */
static bool cq_trylock(struct aio_driver *d)
{
	return !atomic_exchange_explicit(&d->cq_busy, true, memory_order_acquire);
}

static void cq_unlock(struct aio_driver *d)
{
	atomic_store_explicit(&d->cq_busy, false, memory_order_release);
}

/* Reap from the mapped completion ring without a syscall, as fio does. */
static int user_reap(struct aio_ring *ring, struct io_event *evs, int max)
{
	unsigned int head, tail;
	int n = 0;

	head = ring->head;
	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	while (head != tail && n < max) {
		evs[n++] = ring->events[head];
		head = head + 1 == ring->nr ? 0 : head + 1;
	}
	if (n)
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

/* The completions that are there now (the caller holds the ring). */
static int reap_ready(struct aio_driver *d, struct io_event *evs, int max)
{
	struct timespec zero = { 0, 0 };
	int n;

	if (d->ring)
		return user_reap(d->ring, evs, max);
	n = io_getevents(d->io_ctx, 0, max, evs, &zero);
	return n > 0 ? n : 0;
}

/*
 * Finish n reaped completions (the caller held the ring): short ones are
 * submitted again for their remainder in the same slot, the rest delivered.
 */
static void finish_events(struct aio_driver *d, struct io_event *evs, int n, struct ioe_cb_batch *cbb)
{
	struct ioe_event *done = NULL, **tail = &done;
	struct iocb *again[IOE_REAP_MAX];
	unsigned int freed = 0, nagain = 0;

	for (int i = 0; i < n; i++) {
		struct aio_slot *s = evs[i].data;	/* the kernel's copy of iocb.data */
		struct ioe_event *ev;

		ioe_kernel_handoff_acquire(s);
		ev = s->ev;
		if (!ioe_progress_update(&s->prog, ev, ioe_fault_result((long)evs[i].res))) {
			prep_iocb(s);
			again[nagain++] = &s->iocb;
			continue;
		}
		s->ev = NULL;
		ioe_slot_push(&d->free, &s->link);
		freed++;
		*tail = ev;
		tail = &ev->next_;
	}
	*tail = NULL;
	ioe_poller_deliver(d->sh, freed, done, cbb);
	if (nagain)
		nagain = submit_iocbs(d, again, nagain, cbb);
	/* The continuations the kernel took stay counted in flight. */
	atomic_fetch_sub_explicit(&d->inflight, n - (int)nagain, memory_order_relaxed);
}

/*
 * Count what io_submit() accepted (a refused iocb never completes: a poller
 * waiting for it would hang); a fast completion reaped meanwhile takes the
 * count below 0 for a moment. If the context was idle, a page-cache IO has
 * completed inside io_submit() already: take it here and spare the poller's
 * wake-up (18-38 us), which is the whole cost of a QD1 IO.
 */
static void after_submit(struct aio_driver *d, unsigned int n)
{
	struct io_event evs[IOE_REAP_MAX];

	if (atomic_fetch_add_explicit(&d->inflight, (int)n, memory_order_relaxed) == 0 &&
	    cq_trylock(d)) {
		int got = reap_ready(d, evs, IOE_REAP_MAX);

		cq_unlock(d);
		finish_events(d, evs, got, &d->sub_cbb);
	}
	if (atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0)
		ioe_wake(&d->poll_wake);
}

static bool submitter_ready(void *arg)
{
	struct aio_driver *d = arg;

	return ioe_submitter_ready(d->sh, false);
}

static void *submitter_main(void *arg)
{
	struct aio_driver *d = arg;
	struct ioe_shared_ctx *sh = d->sh;

	for (;;) {
		unsigned int budget, took = 0, i;

		budget = (unsigned int)atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);
		if (budget)
			took = ioe_take_round(sh, d->batch, budget, &d->sub_cbb);
		if (took) {
			for (i = 0; i < took; i++) {
				struct aio_slot *s = (struct aio_slot *)ioe_slot_pop(&d->free);

				s->ev = d->batch[i];
				ioe_progress_start(&s->prog, s->ev);
				prep_iocb(s);
				d->iocbs[i] = &s->iocb;
			}
			atomic_fetch_sub_explicit(&sh->free_slots_count, took, memory_order_relaxed);
			after_submit(d, submit_iocbs(d, d->iocbs, took, &d->sub_cbb));
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

static bool poller_ready(void *arg)
{
	struct aio_driver *d = arg;

	return atomic_load_explicit(&d->inflight, memory_order_relaxed) > 0 ||
	       atomic_load_explicit(&d->submitter_done, memory_order_acquire);
}

/* At least one completion: spin on the ring briefly, then sleep in the kernel. */
static int reap(struct aio_driver *d, struct io_event *evs, int max)
{
	uint64_t deadline = ioe_now_ns() + IOE_SPIN_NS;
	int n;

	if (d->ring) {
		do {
			for (int i = 0; i < 64; i++) {
				n = user_reap(d->ring, evs, max);
				if (n)
					return n;
				ioe_cpu_relax();
			}
		} while (ioe_now_ns() < deadline);
	}
	do {
		n = io_getevents(d->io_ctx, 1, max, evs, NULL);
	} while (n == -EINTR || n == 0);
	return n;
}

static void *poller_main(void *arg)
{
	struct aio_driver *d = arg;
	struct io_event evs[IOE_REAP_MAX];

	for (;;) {
		int n = 0;

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
		if (atomic_load_explicit(&d->inflight, memory_order_acquire) > 0)
			n = reap(d, evs, IOE_REAP_MAX);
		cq_unlock(d);
		if (n > 0)
			finish_events(d, evs, n, &d->poll_cbb);
	}
	return NULL;
}

static void aio_free(struct aio_driver *d)
{
	free(d->slots);
	free(d->batch);
	free(d->iocbs);
	free(d);
}

static int aio_start(struct ioe_shared_ctx *sh, void **out)
{
	struct aio_driver *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->sh = sh;
	d->slots = calloc(sh->depth, sizeof(*d->slots));
	d->batch = calloc(sh->depth, sizeof(*d->batch));
	d->iocbs = calloc(sh->depth, sizeof(*d->iocbs));
	if (!d->slots || !d->batch || !d->iocbs) {
		aio_free(d);
		return -ENOMEM;
	}
	/* EAGAIN when /proc/sys/fs/aio-max-nr is reached. */
	ret = io_setup((int)sh->depth, &d->io_ctx);
	if (ret) {
		aio_free(d);
		return ret;
	}
	d->ring = (struct aio_ring *)d->io_ctx;
	if (d->ring->magic != AIO_RING_MAGIC || d->ring->incompat_features)
		d->ring = NULL;
	for (unsigned int i = 0; i < sh->depth; i++)
		ioe_slot_push(&d->free, &d->slots[i].link);
	atomic_init(&d->inflight, 0);
	atomic_init(&d->cq_busy, false);
	atomic_init(&d->submitter_done, false);
	ioe_waiter_init(&d->poll_wake);
	ret = ioe_thread_start(&d->poller, "ioe-poll", poller_main, d);
	if (ret)
		goto fail_ctx;
	ret = ioe_thread_start(&d->submitter, "ioe-submit", submitter_main, d);
	if (ret) {
		atomic_store(&d->submitter_done, true);
		ioe_wake(&d->poll_wake);
		pthread_join(d->poller, NULL);
		goto fail_ctx;
	}
	*out = d;
	return 0;
fail_ctx:
	io_destroy(d->io_ctx);
	aio_free(d);
	return ret;
}

static void aio_stop(void *arg)
{
	struct aio_driver *d = arg;

	pthread_join(d->submitter, NULL);
	pthread_join(d->poller, NULL);
	io_destroy(d->io_ctx);
	aio_free(d);
}

const struct ioe_driver_ops ioe_aio_ops = {
	.name = "aio",
	.start = aio_start,
	.stop = aio_stop,
};
