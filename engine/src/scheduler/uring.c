/* SPDX-License-Identifier: MIT */
/*
 * io_uring driver. The submission queue and the completion queue each have
 * one user at a time, under a try-lock: the submitter's rounds, a caller of
 * ioe_submit_wait() that hands its own event to the kernel while the queues
 * are empty (when it has no ring of its own, see thread_io.c), or a caller
 * of ioe_wait_word() that hands over the events
 * ioe_submit_local() held back (see ioe_hold()); the poller's reaping, the
 * submitter's quick look right after it submitted to an idle ring, or a
 * caller's. A short read or write goes back to the submitter in the same
 * slot for its remainder.
 *
 * A completion's task_work runs in the thread that submitted the IO. A
 * caller that submitted its own event therefore waits for it in
 * io_uring_enter(): its completion wakes it directly, once, as a blocking
 * pread would, instead of waking the submitter, the poller and then it.
 */
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include "common.h"
#include "uring_prep.h"
#include "../fault.h"
#include "../sync_wait.h"
#include "../tasks.h"
#include "../valgrind_annotate.h"

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
	_Atomic int reaping;		/* in take_completions(): consuming or delivering */
	bool ext_arg;			/* the kernel can wait with a timeout (5.11) */
	bool direct_ok;			/* callers may submit: see uring_start() */
	bool tw_polled;			/* submitter only: see task_work_pending() */
};

#define IOE_REAP_MAX 64

static void prep_sqe(struct io_uring_sqe *sqe, struct uring_slot *s)
{
	ioe_uring_prep(sqe, s->ev, &s->prog);
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

	atomic_fetch_add_explicit(&d->reaping, 1, memory_order_relaxed);
	n = io_uring_peek_batch_cqe(&d->ring, cqes, IOE_REAP_MAX);
	for (i = 0; i < n; i++) {
		struct uring_slot *s = io_uring_cqe_get_data(cqes[i]);
		struct ioe_event *ev;

		if (!s)
			continue;	/* the submitter's goodbye, see ring_doorbell() */
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
	/* Release: what was delivered is visible to a caller that sees 0. */
	atomic_fetch_sub_explicit(&d->reaping, 1, memory_order_release);
}

static void submitter_reap(struct ioe_driver *base)
{
	take_completions((struct uring_driver *)base, &base->sub_cbb);
}

/*
 * The completions of IO the submitter sent wait for its next entry into the
 * kernel (COOP_TASKRUN), which it makes at once rather than after a spin in
 * user space: the kernel flags pending task_work in the SQ flags
 * (TASKRUN_FLAG). The flag is the ring's: it may stand for a caller's
 * task_work (ioe_submit_local()), which only that caller can run. When it
 * stays set after the submitter ran its own (tw_polled), the submitter
 * leaves it alone until it clears, or until it next sleeps or submits.
 */
static bool task_work_pending(struct uring_driver *d)
{
	if (!(__atomic_load_n(d->ring.sq.kflags, __ATOMIC_RELAXED) & IORING_SQ_TASKRUN)) {
		d->tw_polled = false;
		return false;
	}
	return !d->tw_polled;
}

static bool submitter_ready(void *arg)
{
	struct uring_driver *d = arg;

	return ioe_submitter_ready(d->base.sh, !ioe_slot_stack_empty(&d->retry)) ||
	       task_work_pending(d);
}

/* Put the n taken events of base.batch into free slots and SQEs (under the submission lock). */
static void prep_taken(struct uring_driver *d, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct uring_slot *s = (struct uring_slot *)ioe_slot_pop(&d->base.free);

		s->ev = d->base.batch[i];
		ioe_progress_start(&s->prog, s->ev);
		prep_sqe(io_uring_get_sqe(&d->ring), s);
	}
	if (n)
		atomic_fetch_sub_explicit(&d->base.sh->free_slots_count, n, memory_order_relaxed);
}

/* ioe_driver.take_held: a round's worth at a time (a deep batch would reach the disk as one convoy). */
static unsigned int take_held(struct ioe_driver *base, struct ioe_refusals *rf)
{
	struct uring_driver *d = (struct uring_driver *)base;
	struct ioe_shared_ctx *sh = base->sh;
	unsigned int n = 0, took;

	while ((took = ioe_take_held(sh, base->batch, ioe_round_budget(sh), &rf->events))) {
		prep_taken(d, took);
		submit_all(d);
		n += took;
	}
	return n;
}

/*
 * A NOP whose completion wakes a poller that sleeps in the kernel for a CQE
 * another thread reaped before it (without a timeout on kernels before
 * 5.11): the submitter's last submission.
 */
static void ring_doorbell(struct uring_driver *d)
{
	struct io_uring_sqe *sqe;

	ioe_sq_lock(&d->base);
	sqe = io_uring_get_sqe(&d->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	submit_all(d);
	ioe_sq_unlock(&d->base);
	atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
}

static void *submitter_main(void *arg)
{
	struct uring_driver *d = arg;
	struct ioe_shared_ctx *sh = d->base.sh;

	for (;;) {
		struct ioe_refusals rf = { 0 };
		struct ioe_slot_link *l;
		unsigned int n = 0, budget;

		ioe_sq_lock(&d->base);
		while ((l = ioe_slot_pop(&d->retry))) {
			prep_sqe(io_uring_get_sqe(&d->ring), (struct uring_slot *)l);
			n++;
		}
		budget = ioe_round_budget(sh);
		if (budget) {
			unsigned int took = ioe_take_round(sh, d->base.batch, budget, &rf.events);

			prep_taken(d, took);
			n += took;
		}
		if (n)
			submit_all(d);
		/* The kick is cleared before the take: one given meanwhile stays. */
		if (atomic_exchange_explicit(&sh->held_kick, false, memory_order_relaxed) ||
		    atomic_load_explicit(&sh->stopping, memory_order_acquire))
			n += take_held(&d->base, &rf);
		ioe_sq_unlock(&d->base);
		ioe_deliver_refusals(&d->base, &rf, &d->base.sub_cbb);
		if (n) {
			d->tw_polled = false;
			ioe_driver_submitted(&d->base, n, submitter_reap);
			continue;
		}
		if (ioe_submitter_done(sh))
			break;
		if (task_work_pending(d)) {
			io_uring_get_events(&d->ring);
			d->tw_polled = task_work_pending(d);
			continue;
		}
		ioe_wait(&sh->submit_wake, submitter_ready, d);
		d->tw_polled = false;
	}
	ring_doorbell(d);
	ioe_driver_submitter_exit(&d->base);
	return NULL;
}

/*
 * CQEs posted and not yet consumed. Any thread may look; the head moves
 * under the completion lock, so both loads are atomic (liburing's
 * io_uring_cq_ready() reads the head plainly: fine for the lock holder only).
 */
static unsigned int cq_pending(struct uring_driver *d)
{
	return __atomic_load_n(d->ring.cq.ktail, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(d->ring.cq.khead, __ATOMIC_RELAXED);
}

/* Sleep in the kernel until a CQE is posted (or, with ts, until it expires). */
IOE_CANCEL_FRAME static void sleep_for_cqe(struct uring_driver *d, const sigset_t *sigmask, struct __kernel_timespec *ts)
{
	struct io_uring_getevents_arg arg = {
		.sigmask = (uint64_t)(uintptr_t)sigmask,
		.sigmask_sz = _NSIG / 8,
		.ts = (uint64_t)(uintptr_t)ts,
	};

	io_uring_enter2(d->ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
			(sigset_t *)&arg, sizeof(arg));
}

/*
 * Poller: wait for at least one CQE, spinning briefly first. The sleep ends
 * after IOE_POLL_RECHECK_NS at the latest: a caller or the submitter may
 * have taken the CQE this sleep was for, and then the in-flight count, not
 * a CQE, says what to do next.
 */
static void wait_cqe(struct uring_driver *d)
{
	struct __kernel_timespec ts = { 0, IOE_POLL_RECHECK_NS };
	uint64_t deadline = ioe_now_ns() + IOE_SPIN_NS;

	do {
		for (int i = 0; i < 64; i++) {
			if (cq_pending(d))
				return;
			ioe_cpu_relax();
		}
	} while (ioe_now_ns() < deadline);
	if (d->ext_arg)
		sleep_for_cqe(d, NULL, &ts);
	else
		io_uring_enter2(d->ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8);
}

static bool poller_ready(void *arg)
{
	struct uring_driver *d = arg;

	return atomic_load_explicit(&d->base.inflight, memory_order_relaxed) > 0 ||
	       atomic_load_explicit(&d->base.submitter_done, memory_order_acquire);
}

/*
 * The poller waits for CQEs without the completion lock, so that a caller
 * woken by its own completion can reap at once; whoever gets the lock reaps.
 */
static void *poller_main(void *arg)
{
	struct uring_driver *d = arg;

	for (;;) {
		if (atomic_load_explicit(&d->base.inflight, memory_order_acquire) <= 0) {
			if (atomic_load_explicit(&d->base.submitter_done, memory_order_acquire))
				break;
			ioe_held_before_sleep(&d->base);
			ioe_wait(&d->base.poll_wake, poller_ready, d);
			continue;
		}
		ioe_held_check(&d->base);
		if (ioe_poller_nap(&d->base))
			continue;
		wait_cqe(d);
		if (ioe_cq_trylock(&d->base))
			take_completions(d, &d->base.poll_cbb);
		else
			ioe_cpu_relax();
	}
	return NULL;
}

/*
 * A submission in progress ends with CQEs for this caller, often: the
 * kernel does page-cache reads inside it (8 in a round: ~15 us here). A
 * caller that slept meanwhile would be woken from an idle virtual CPU for
 * each (fio posixaio QD4 on the page cache: 1.4x IOPS awake). So a caller
 * waits for it awake, for IOE_BUSY_WAIT_NS at most per sleep: a longer one
 * (a 1 GiB read of /dev/zero, a slow device) is slept through, so that
 * signals and cancels still come through (see ioe_signal_due()).
 */
#define IOE_BUSY_WAIT_NS 50000

static bool busy_wait_on(uint64_t *until)
{
	uint64_t now = ioe_now_ns();

	if (!*until)
		*until = now + IOE_BUSY_WAIT_NS;
	return now < *until;
}

/*
 * A caller reaps in its own thread until *word != old. The completions of
 * the IO it submitted itself run their task_work in this thread, so such a
 * CQE is posted either while it sleeps in io_uring_enter() (which wakes it)
 * or before it looks: then the CQE is still there, or a reaper took it and
 * is delivering it, or delivered it already. Sleeping is safe only when none
 * of these holds. The timeout covers the rest: the remainder of a short IO,
 * which the submitter sends, and IO the submitter sent, whose CQE another
 * reaper may take between this thread's look and its sleep.
 *
 * Signals are blocked (see uring_submit_wait()), so that a handler never
 * runs while this thread holds a lock. With sigmask, the sleep lets them in,
 * as ppoll() does. Without, it sleeps with them blocked and, when one the
 * caller's mask lets in is pending, returns -EINTR (*restart: see
 * ioe_signal_due()) for the caller to deliver it. Returns 0 once
 * *word != old; -ETIMEDOUT at deadline (CLOCK_MONOTONIC ns, 0 for none).
 * With cancellable, the sleep is asynchronously cancellable (it holds
 * nothing).
 */
struct caller_wait {
	uint32_t *word;
	uint32_t old;
	uint64_t deadline;
	const sigset_t *sigmask;	/* in the sleep */
	const sigset_t *caller_mask;	/* without sigmask: what is due */
	bool cancellable;
	bool submits_held;		/* ioe_wait_word(): see ioe_hold() */
	bool restart;			/* out */
};

IOE_CANCEL_FRAME static int caller_wait(struct uring_driver *d, struct caller_wait *w)
{
	struct ioe_cb_batch cbb = { 0 };
	unsigned int spins = 0;
	uint64_t busy_until = 0;

	while (__atomic_load_n(w->word, __ATOMIC_ACQUIRE) == w->old) {
		struct __kernel_timespec ts = { 0, 0 };
		int oldtype;

		if (w->submits_held && atomic_load_explicit(&d->base.sh->held_count, memory_order_relaxed))
			ioe_submit_held(&d->base, &cbb);

		if (cq_pending(d)) {
			if (ioe_cq_trylock(&d->base))
				take_completions(d, &cbb);
			else
				ioe_backoff(&spins);
			continue;
		}
		if (atomic_load_explicit(&d->reaping, memory_order_acquire) ||
		    (atomic_load_explicit(&d->base.sq_busy, memory_order_acquire) && busy_wait_on(&busy_until))) {
			ioe_backoff(&spins);
			continue;
		}
		if (__atomic_load_n(w->word, __ATOMIC_ACQUIRE) != w->old)
			break;
		if (!(ts.tv_nsec = ioe_wait_slice(w->deadline)))
			return -ETIMEDOUT;
		if (w->cancellable)
			pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
		sleep_for_cqe(d, w->sigmask, &ts);
		if (w->cancellable)
			pthread_setcanceltype(oldtype, NULL);
		busy_until = 0;
		if (w->caller_mask && __atomic_load_n(w->word, __ATOMIC_ACQUIRE) == w->old &&
		    ioe_signal_due(w->caller_mask, w->deadline, &w->restart))
			return -EINTR;
	}
	return 0;
}

/* ioe_driver.direct_submit */
static bool direct_submit(struct ioe_driver *base, struct ioe_event *ev, sigset_t *old, int *ret)
{
	struct uring_driver *d = (struct uring_driver *)base;
	struct uring_slot *s = (struct uring_slot *)ioe_direct_begin(base, ev, old, ret);

	if (!s)
		return false;
	s->ev = ev;
	ioe_progress_start(&s->prog, ev);
	prep_sqe(io_uring_get_sqe(&d->ring), s);
	submit_all(d);
	ioe_sq_unlock(&d->base);
	atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
	return true;
}

/*
 * Hand ev to the kernel from the calling thread and wait for it there. Every
 * signal is blocked while this thread may hold a lock or run other events'
 * callbacks: a handler that calls pread() must not find either held by the
 * frame it interrupted.
 */
static int uring_submit_wait(void *arg, struct ioe_event *ev, _Atomic uint32_t *done)
{
	struct uring_driver *d = arg;
	sigset_t old;
	int ret;

	if (!d->direct_ok)
		return -EAGAIN;
	if (!direct_submit(&d->base, ev, &old, &ret))
		return ret;
	caller_wait(d, &(struct caller_wait){ .word = (uint32_t *)done, .old = IOE_W_PENDING, .sigmask = &old });
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

/*
 * See ioe_submit_here(). A completion's task_work runs in the thread that
 * submitted it, which the caller's ioe_wait_word() reaps directly. A large
 * read or write is queued: the kernel may do all of it (a page-cache copy)
 * inside the submission, which must not hold up the caller. (And a bad fd:
 * the submitter fails it and calls back.)
 */
static int uring_submit_local(void *arg, struct ioe_event *ev)
{
	struct uring_driver *d = arg;

	if (!d->direct_ok || (ioe_event_is_rw(ev) && ioe_event_bytes(ev) > IOE_LOCAL_MAX_BYTES))
		return -EAGAIN;
	return ioe_submit_here(&d->base, ev);
}

/*
 * The sleep keeps signals blocked, and a due one is delivered here, between
 * sleeps: io_uring_enter() would say EINTR after any handler, where the
 * futex wait of glibc's aio_suspend() is restarted after most (see
 * ioe_signal_due()). A signal thus waits for the end of the sleep in
 * progress: a CQE, or IOE_WAIT_RECHECK_NS at most.
 */
IOE_CANCEL_FRAME static int uring_wait_word(void *arg, uint32_t *word, uint32_t old, uint64_t deadline)
{
	struct uring_driver *d = arg;
	struct ioe_word_waiter ww;
	struct caller_wait w = { .word = word, .old = old, .deadline = deadline,
				 .caller_mask = &ww.mask, .cancellable = true, .submits_held = true };
	int ret;

	if (!d->direct_ok)
		return -EAGAIN;
	ioe_word_wait_begin(&ww, &d->base);
	pthread_cleanup_push(ioe_word_wait_end, &ww);
	while ((ret = caller_wait(d, &w)) == -EINTR && w.restart)
		ioe_word_wait_handlers(&ww);
	pthread_cleanup_pop(1);
	return ret;
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
	d->base.take_held = take_held;
	d->base.direct_submit = direct_submit;
	/*
	 * A completion's task_work does not interrupt its submitter while that
	 * runs; it waits for the thread's next entry into the kernel, which under
	 * load comes soon (O_DIRECT QD32: +3-6% IOPS in interleaved runs). Before
	 * 5.19 this is EINVAL: then without. Fails with ENOSYS (old kernel),
	 * EPERM (io_uring_disabled, seccomp), ...
	 */
	ret = io_uring_queue_init(sh->depth, &d->ring, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
	if (ret == -EINVAL)
		ret = io_uring_queue_init(sh->depth, &d->ring, 0);
	if (ret) {
		uring_free(d);
		return ret;
	}
	ret = uring_probe(&d->ring);
	if (ret)
		goto fail_ring;
	/*
	 * A caller's wait needs a timeout. Not under valgrind either: it asserts
	 * when a signal arrives in an io_uring_enter() given a mask. There,
	 * callers queue as ioe_submit() does.
	 */
	d->ext_arg = d->ring.features & IORING_FEAT_EXT_ARG;
	d->direct_ok = d->ext_arg && !ioe_running_on_valgrind();
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
	.backend = IOE_BACKEND_URING,
	.start = uring_start,
	.stop = uring_stop,
	.submit_wait = uring_submit_wait,
	.wait_word = uring_wait_word,
	.submit_local = uring_submit_local,
};
