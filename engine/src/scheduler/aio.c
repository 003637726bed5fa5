/* SPDX-License-Identifier: MIT */
/*
 * Linux AIO driver. Each slot keeps its struct iocb inline. The submitter
 * fills iocbs and io_submit()s them; so does a caller of ioe_submit_local()
 * or ioe_wait_word() for syncs and O_DIRECT IO (see caller_may_submit()).
 * Completions have one consumer at a time (the poller, the submitter right
 * after it submitted to an idle context, or a caller: see caller_wait()),
 * reaped from the completion ring in user space when its layout is known
 * (no syscall), else with io_getevents(). A short read or write is
 * resubmitted for its remainder in the same slot by whoever reaped it:
 * io_submit() may be called from any thread.
 */
#include <errno.h>
#include <libaio.h>
#include <sched.h>
#include <stdlib.h>
#include "aio_prep.h"
#include "caller_submit.h"
#include "caller_wait.h"
#include "driver.h"
#include "progress.h"
#include "queue_policy.h"
#include "../fault.h"
#include "../sync_wait.h"
#include "../tasks.h"
#include "../valgrind_annotate.h"

struct aio_slot {
	struct ioe_slot_link link;	/* first: slots travel as links */
	/* Set under the submission lock; cleared (atomically: ioe_cancel()
	 * looks) by whoever finishes the event. */
	struct ioe_event *ev;
	struct iocb iocb;
	struct ioe_progress prog;
	_Atomic uint32_t cancel;	/* CANCEL_*: see aio_cancel() */
};

/* An io_cancel() of a slot's iocb: under way, or it succeeded. */
enum { CANCEL_NONE, CANCEL_ASKED, CANCEL_WON };

struct aio_driver {
	struct ioe_driver base;		/* first: the threads get &base */
	io_context_t io_ctx;
	struct aio_slot *slots;
	struct iocb **iocbs;		/* submitter: one round's iocbs */
	struct aio_ring *ring;		/* completion ring, if its layout is known */
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
	ioe_aio_prep(&s->iocb, s->ev, &s->prog);
	s->iocb.data = s;
	ioe_kernel_handoff_release(s);
}

static struct aio_slot *slot_of(struct iocb *cb)
{
	return cb->data;
}

/* Put the n taken events of base.batch into free slots and iocbs (under the submission lock). */
static void prep_taken(struct aio_driver *d, unsigned int n, struct iocb **cbs)
{
	for (unsigned int i = 0; i < n; i++) {
		struct aio_slot *s = (struct aio_slot *)ioe_slot_pop(&d->base.free);

		s->ev = d->base.batch[i];
		atomic_store_explicit(&s->cancel, CANCEL_NONE, memory_order_relaxed);
		ioe_progress_start(&s->prog, s->ev);
		prep_iocb(s);
		cbs[i] = &s->iocb;
	}
	if (n)
		atomic_fetch_sub_explicit(&d->base.sh->free_slots_count, n, memory_order_relaxed);
}

/*
 * Submit n iocbs. io_submit() stops at the first iocb the kernel refuses:
 * that one completes with the error (added to rf with its slot), the rest
 * go again. EAGAIN/EINTR/ENOMEM are retried. Returns how many reached the
 * kernel.
 */
static unsigned int submit_iocbs(struct aio_driver *d, struct iocb **cbs, unsigned int n, struct ioe_refusals *rf)
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
			struct aio_slot *s = slot_of(cbs[0]);
			struct ioe_event *ev = s->ev;

			ioe_progress_update(&s->prog, ev, ret);
			__atomic_store_n(&s->ev, NULL, __ATOMIC_RELAXED);
			ioe_slot_push(&d->base.free, &s->link);
			ev->next_ = rf->events;
			rf->events = ev;
			rf->slots++;
			ret = 1;
		} else {
			sent += (unsigned int)ret;
		}
		cbs += ret;
		n -= (unsigned int)ret;
	}
	return sent;
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

/* The completions that are there now (the caller holds the completion side). */
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
 * Completions: spin on the ring for up to spin_ns, then sleep in the kernel,
 * IOE_POLL_RECHECK_NS at most (the poller then looks at held events again).
 */
static int reap(struct aio_driver *d, struct io_event *evs, int max, uint64_t spin_ns)
{
	uint64_t deadline = ioe_now_ns() + spin_ns;
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
	n = io_getevents(d->io_ctx, 1, max, evs, &(struct timespec){ 0, IOE_POLL_RECHECK_NS });
	return n > 0 ? n : 0;
}

/*
 * A completion's result: -ECANCELED when an io_cancel() of it succeeded
 * (see aio_cancel()), waited for while one is under way.
 */
static long cancel_result(struct aio_slot *s, long res)
{
	uint32_t c;

	while ((c = atomic_load_explicit(&s->cancel, memory_order_acquire)) == CANCEL_ASKED)
		ioe_cpu_relax();
	return c == CANCEL_WON ? -ECANCELED : res;
}

/*
 * Finish n reaped completions: short ones are submitted again for their
 * remainder in the same slot (and counted in flight again), the rest delivered.
 */
static void finish_events(struct aio_driver *d, struct io_event *evs, int n, struct ioe_cb_batch *cbb)
{
	struct ioe_event *done = NULL, **tail = &done;
	struct iocb *again[IOE_REAP_MAX];
	unsigned int freed = 0, nagain = 0;
	struct ioe_refusals rf = { 0 };

	for (int i = 0; i < n; i++) {
		struct aio_slot *s = evs[i].data;	/* the kernel's copy of iocb.data */
		struct ioe_event *ev;

		ioe_kernel_handoff_acquire(s);
		ev = s->ev;
		if (!ioe_progress_update(&s->prog, ev, cancel_result(s, ioe_fault_result((long)evs[i].res)))) {
			prep_iocb(s);
			again[nagain++] = &s->iocb;
			continue;
		}
		__atomic_store_n(&s->ev, NULL, __ATOMIC_RELAXED);
		ioe_slot_push(&d->base.free, &s->link);
		freed++;
		*tail = ev;
		tail = &ev->next_;
	}
	*tail = NULL;
	ioe_poller_deliver(d->base.sh, freed, done, cbb);
	if (nagain && (nagain = submit_iocbs(d, again, nagain, &rf))) {
		atomic_fetch_add_explicit(&d->base.inflight, (int)nagain, memory_order_relaxed);
		ioe_wake(&d->base.poll_wake);
	}
	ioe_deliver_refusals(&d->base, &rf, cbb);
}

/* How reap_and_release() waits. */
enum reap_wait {
	REAP_READY,		/* what is there now */
	REAP_SPIN,		/* the poller: spin a little, then sleep */
};

/*
 * Take completions and release the completion side. The count drops before
 * the release: whoever takes the side next must not wait in the kernel for
 * IO that was reaped already.
 */
static int reap_and_release(struct aio_driver *d, struct io_event *evs, enum reap_wait wait)
{
	int n;

	if (wait == REAP_READY)
		n = reap_ready(d, evs, IOE_REAP_MAX);
	else
		n = reap(d, evs, IOE_REAP_MAX, IOE_SPIN_NS);
	if (n > 0)
		atomic_fetch_sub_explicit(&d->base.inflight, n, memory_order_relaxed);
	ioe_cq_unlock(&d->base);
	return n;
}

/* ioe_driver.take_held: io_submit() under the lock, so that they reach the kernel in the order held. */
static unsigned int take_held(struct ioe_driver *base, struct ioe_refusals *rf)
{
	struct aio_driver *d = (struct aio_driver *)base;
	struct ioe_shared_ctx *sh = base->sh;
	struct iocb *cbs[IOE_SUBMIT_BATCH];
	unsigned int n = 0, took;

	while ((took = ioe_take_held(sh, d->base.batch, ioe_round_budget(sh), &rf->events))) {
		prep_taken(d, took, cbs);
		n += submit_iocbs(d, cbs, took, rf);
	}
	return n;
}

static void submitter_reap(struct ioe_driver *base)
{
	struct aio_driver *d = (struct aio_driver *)base;
	struct io_event evs[IOE_REAP_MAX];

	finish_events(d, evs, reap_and_release(d, evs, REAP_READY), &base->sub_cbb);
}

static bool submitter_ready(void *arg)
{
	struct aio_driver *d = arg;

	return ioe_submitter_ready(d->base.sh, false);
}

static void *submitter_main(void *arg)
{
	struct aio_driver *d = arg;
	struct ioe_shared_ctx *sh = d->base.sh;

	for (;;) {
		struct ioe_refusals rf = { 0 };
		unsigned int budget, took = 0, held = 0;

		/* The budget holds while the slots are ours: callers take them too. */
		ioe_sq_lock(&d->base);
		budget = ioe_round_budget(sh);
		if (budget)
			took = ioe_take_round(sh, d->base.batch, budget, &rf.events);
		prep_taken(d, took, d->iocbs);
		/* The kick is cleared before the take: one given meanwhile stays. */
		if (atomic_exchange_explicit(&sh->held_kick, false, memory_order_relaxed) ||
		    atomic_load_explicit(&sh->stopping, memory_order_acquire))
			held = take_held(&d->base, &rf);
		ioe_sq_unlock(&d->base);
		/* Counted after io_submit(): a refused iocb never completes. */
		if (took)
			took = submit_iocbs(d, d->iocbs, took, &rf);
		ioe_deliver_refusals(&d->base, &rf, &d->base.sub_cbb);
		if (took + held) {
			ioe_driver_submitted(&d->base, took + held, submitter_reap);
			continue;
		}
		if (ioe_submitter_done(sh))
			break;
		ioe_wait(&sh->submit_wake, submitter_ready, d);
	}
	ioe_driver_submitter_exit(&d->base);
	return NULL;
}

static void *poller_main(void *arg)
{
	struct aio_driver *d = arg;
	struct io_event evs[IOE_REAP_MAX];

	for (;;) {
		ioe_held_check(&d->base);
		if (ioe_poller_nap(&d->base))
			continue;
		if (!ioe_poller_acquire(&d->base))
			break;
		finish_events(d, evs, reap_and_release(d, evs, REAP_SPIN), &d->base.poll_cbb);
	}
	return NULL;
}

/*
 * ioe_wait_word(): the caller reaps in its own thread, as on io_uring, so
 * that a completion wakes it in io_getevents() rather than the poller,
 * which naps meanwhile: one thread woken per completion, not two. That
 * sleep holds the completion side and owns what it reaps, so it is not
 * asynchronously cancellable: it lasts
 * IOE_WAIT_RECHECK_NS at most, and a cancel acts after it, once what it
 * reaped is delivered. A caller that finds the side taken sleeps on the
 * word instead, as long, cancellably. Returns 0, -ETIMEDOUT, or -EINTR
 * with *restart (see ioe_signal_due()).
 */
IOE_CANCEL_FRAME static int caller_wait(struct aio_driver *d, uint32_t *word, uint32_t old,
					uint64_t deadline, const sigset_t *mask, bool *restart)
{
	struct io_event evs[IOE_REAP_MAX];
	struct ioe_cb_batch cbb = { 0 };

	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old) {
		long ns = ioe_wait_slice(deadline);

		if (!ns)
			return -ETIMEDOUT;
		if (atomic_load_explicit(&d->base.sh->held_count, memory_order_relaxed))
			ioe_submit_held(&d->base, &cbb);
		if (ioe_cq_trylock(&d->base)) {
			struct timespec ts = { 0, ns };
			int n = reap_ready(d, evs, IOE_REAP_MAX);

			if (!n && __atomic_load_n(word, __ATOMIC_ACQUIRE) == old)
				n = io_getevents(d->io_ctx, 1, IOE_REAP_MAX, evs, &ts);
			if (n > 0)
				atomic_fetch_sub_explicit(&d->base.inflight, n, memory_order_relaxed);
			ioe_cq_unlock(&d->base);
			/* The poller may have gone to sleep on the side being taken. */
			if (atomic_load_explicit(&d->base.inflight, memory_order_relaxed) > 0)
				ioe_wake(&d->base.poll_wake);
			finish_events(d, evs, n > 0 ? n : 0, &cbb);
			pthread_testcancel();
		} else {
			ioe_word_sleep(word, old, ns);
		}
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old && ioe_signal_due(mask, deadline, restart))
			return -EINTR;
	}
	return 0;
}

IOE_CANCEL_FRAME static int aio_wait_word(void *arg, uint32_t *word, uint32_t old, uint64_t deadline)
{
	struct aio_driver *d = arg;
	struct ioe_word_waiter ww;
	bool restart;
	int ret;

	ioe_word_wait_begin(&ww, &d->base);
	pthread_cleanup_push(ioe_word_wait_end, &ww);
	while ((ret = caller_wait(d, word, old, deadline, &ww.mask, &restart)) == -EINTR && restart)
		ioe_word_wait_handlers(&ww);
	pthread_cleanup_pop(1);
	return ret;
}

/*
 * What ioe_submit_local() may hand to the kernel from the calling thread:
 * syncs, and O_DIRECT reads and writes up to 64 KiB (the fd is O_DIRECT:
 * caller_takes() in context.c looked, for caller_direct_only). Linux AIO
 * does a buffered one inside io_submit() itself, which would hold up the
 * calling thread, or whichever hands it over. (ext4 still does an O_DIRECT
 * write that extends the file inside io_submit(), nearly all of its time:
 * the caller then waits for that one write, where the submitter would have.)
 */
static bool caller_may_submit(const struct ioe_event *ev)
{
	return !ioe_event_is_rw(ev) || ioe_event_bytes(ev) <= IOE_LOCAL_MAX_BYTES;
}

/* ioe_driver.direct_submit */
static bool direct_submit(struct ioe_driver *base, struct ioe_event *ev, sigset_t *old, int *ret)
{
	struct aio_driver *d = (struct aio_driver *)base;
	struct aio_slot *s = (struct aio_slot *)ioe_direct_begin(base, ev, old, ret);
	struct ioe_cb_batch cbb = { 0 };
	struct ioe_refusals rf = { 0 };
	struct iocb *cb;

	if (!s)
		return false;
	s->ev = ev;
	atomic_store_explicit(&s->cancel, CANCEL_NONE, memory_order_relaxed);
	ioe_progress_start(&s->prog, ev);
	prep_iocb(s);
	cb = &s->iocb;
	/* Outside the lock: a buffered read or write is done inside io_submit(). */
	ioe_sq_unlock(&d->base);
	if (submit_iocbs(d, &cb, 1, &rf))
		atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
	ioe_deliver_refusals(&d->base, &rf, &cbb);
	return true;
}

/* ioe_submit_local() as on io_uring (see ioe_submit_here()), for what caller_may_submit(). */
static int aio_submit_local(void *arg, struct ioe_event *ev)
{
	struct aio_driver *d = arg;

	return caller_may_submit(ev) ? ioe_submit_here(&d->base, ev) : -EAGAIN;
}

/*
 * ioe_driver_ops.cancel: an event in a slot is with the kernel (or about
 * to be, or its remainder is), and io_cancel() asks the kernel to cancel
 * it. The kernel cancels no read, write or sync of a file, pipe or socket
 * (only requests of a few drivers, such as USB gadget endpoints): for
 * those, IOE_CANCEL_RUNNING. A success makes the completion's result
 * -ECANCELED, whatever the driver reported. The slot cannot change hands
 * meanwhile: slots are taken under the submission lock, held here.
 */
static int aio_cancel(void *arg, struct ioe_event *ev)
{
	struct aio_driver *d = arg;
	struct io_event res;
	int ret = IOE_CANCEL_ALLDONE;

	for (unsigned int i = 0; i < d->base.sh->depth; i++) {
		struct aio_slot *s = &d->slots[i];
		uint32_t asked = CANCEL_ASKED;
		int r;

		if (__atomic_load_n(&s->ev, __ATOMIC_RELAXED) != ev)
			continue;
		atomic_store_explicit(&s->cancel, CANCEL_ASKED, memory_order_relaxed);
		r = io_cancel(d->io_ctx, &s->iocb, &res);
		ret = r == 0 || r == -EINPROGRESS ? IOE_CANCEL_DONE : IOE_CANCEL_RUNNING;
		atomic_compare_exchange_strong_explicit(&s->cancel, &asked,
							ret == IOE_CANCEL_DONE ? CANCEL_WON : CANCEL_NONE,
							memory_order_release, memory_order_relaxed);
		/* Completed meanwhile: its callback runs or ran. */
		if (ret == IOE_CANCEL_RUNNING && __atomic_load_n(&s->ev, __ATOMIC_RELAXED) != ev)
			ret = IOE_CANCEL_ALLDONE;
		break;
	}
	ioe_sq_unlock(&d->base);
	return ret;
}

static size_t aio_size(const struct ioe_shared_ctx *sh)
{
	return sizeof(struct aio_driver) + sh->depth * (sizeof(struct aio_slot) + sizeof(struct iocb *));
}

static void aio_free(struct aio_driver *d)
{
	ioe_driver_fini(&d->base);
	ioe_unmap(d, aio_size(d->base.sh));
}

/* Memory from ioe_map() (see there); the context, which has no fd, at once; the threads later (aio_threads()). */
static int aio_start(struct ioe_shared_ctx *sh, void **out)
{
	struct aio_driver *d = ioe_map(aio_size(sh));
	int ret;

	if (!d)
		return -ENOMEM;
	d->slots = (struct aio_slot *)(d + 1);
	d->iocbs = (struct iocb **)(d->slots + sh->depth);
	d->base.sh = sh;
	if (ioe_driver_init(&d->base, sh)) {
		aio_free(d);
		return -ENOMEM;
	}
	d->base.take_held = take_held;
	d->base.direct_submit = direct_submit;
	/* EAGAIN when /proc/sys/fs/aio-max-nr is reached. */
	ret = io_setup((int)sh->depth, &d->io_ctx);
	if (ret) {
		aio_free(d);
		return ret;
	}
	d->ring = (struct aio_ring *)d->io_ctx;
	if (d->ring->magic != AIO_RING_MAGIC || d->ring->incompat_features)
		d->ring = NULL;
	else	/* valgrind sizes the mapping by the nr asked for; the kernel's is larger */
		ioe_vg_defined(d->ring, sizeof(*d->ring) + d->ring->nr * sizeof(struct io_event));
	for (unsigned int i = 0; i < sh->depth; i++)
		ioe_slot_push(&d->base.free, &d->slots[i].link);
	*out = d;
	return 0;
}

static int aio_threads(void *arg)
{
	struct aio_driver *d = arg;

	return ioe_driver_start(&d->base, submitter_main, poller_main, d);
}

static void aio_stop(void *arg)
{
	struct aio_driver *d = arg;

	ioe_driver_join(&d->base);
	io_destroy(d->io_ctx);
	aio_free(d);
}

const struct ioe_driver_ops ioe_aio_ops = {
	.name = "aio",
	.start = aio_start,
	.threads = aio_threads,
	.stop = aio_stop,
	.wait_word = aio_wait_word,
	.submit_local = aio_submit_local,
	.caller_direct_only = true,
	.cancel = aio_cancel,
};
