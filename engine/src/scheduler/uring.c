/* SPDX-License-Identifier: MIT */
/*
 * io_uring driver. The submission queue and the completion queue each have
 * one user at a time, under a try-lock: the submitter's rounds, a caller of
 * ioe_submit_local() that hands its own event to the kernel while the
 * engine is idle, or a caller of ioe_wait_word() that hands over the events
 * ioe_submit_local() held back (see ioe_hold()); the poller's reaping, the
 * submitter's quick look right after it submitted to an idle ring, or a
 * caller's. A short read or write goes back to the submitter in the same
 * slot for its remainder.
 *
 * A completion's task_work runs in the thread that submitted the IO. A
 * caller that submitted its own event therefore waits for it in
 * io_uring_enter(): its completion wakes it directly, once, as a blocking
 * pread would, instead of waking the submitter, the poller and then it.
 *
 * The ring is made when the threads start (uring_threads()), not with the
 * context: a program that makes only synchronous calls never has its fd.
 * Every thread enters it through an index of its own: see ring_index().
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "caller_submit.h"
#include "caller_wait.h"
#include "driver.h"
#include "progress.h"
#include "queue_policy.h"
#include "uring_prep.h"
#include "../fault.h"
#include "../raw_syscall.h"
#include "../run_inline.h"
#include "../sync_wait.h"
#include "../tasks.h"
#include "../valgrind_annotate.h"
#include "../signals.h"

struct uring_slot {
	struct ioe_slot_link link;	/* first: slots travel as links */
	/* Set under the submission lock, cleared by whoever finishes the
	 * event: both atomic stores, as ioe_cancel() looks at any time. */
	struct ioe_event *ev;
	struct ioe_progress prog;
	/* The kernel has ev's first piece, and ev is no merged IO: a cancel
	 * that the kernel accepts is its result (under the submission lock). */
	bool cancellable;
};

/*
 * An SQE's user data: a slot; NULL, the doorbell (see ring_doorbell()); or
 * tagged in its low bits, a stream event (IOE_F_AT_POSITION, which takes no
 * slot) or the record of a cancel request (see uring_cancel()).
 */
#define UD_STREAM	1u
#define UD_CANCEL	2u
#define UD_TAGS		3u

/* An IORING_OP_ASYNC_CANCEL's result, for the thread that waits for it. */
struct cancel_rec {
	_Atomic uint32_t done;
	int res;	/* 0: cancelled, -EALREADY: running, -ENOENT: not found */
};

struct uring_driver {
	struct ioe_driver base;		/* first: the threads get &base */
	struct io_uring ring;
	struct uring_slot *slots;
	struct ioe_slot_stack retry;	/* completion side -> submitter: short IO to continue */
	_Atomic int reaping;		/* in take_completions(): consuming or delivering */
	bool ext_arg;			/* the kernel can wait with a timeout (5.11) */
	bool direct_ok;			/* callers may submit: see ring_open() */
	bool tw_polled;			/* submitter only: see task_work_pending() */
	_Atomic bool dead;		/* the ring refused a submission for good: see ring_failed() */
	uint64_t gen;			/* the ring's number in the process (0: not made yet) */
	struct cancel_rec stop_cancel;	/* the submitter's cancel of the stream events at shutdown */
	_Atomic int registered;		/* engine threads that took their index: see uring_threads() */
	dev_t dev;			/* what ring.ring_fd was when made: see fd_is_ring() */
	ino_t ino;
};

#ifndef IORING_REGISTER_USE_REGISTERED_RING
#define IORING_REGISTER_USE_REGISTERED_RING (1U << 31)
#endif

/*
 * The ring's fd is an ordinary one in the program's table, which the
 * program may close (close_range(), closefrom(), a daemon's "close every
 * fd" loop) or dup2() over at any time. So every thread enters the ring
 * through an index of its own (IORING_REGISTER_RING_FDS: registration is
 * per task, and holds the ring whatever becomes of the fd), registered on
 * its first entry: the engine's threads as they start, right after the
 * ring was made; a caller on its first direct use, if the fd still is the
 * ring (checked before and after: an io_uring's inode is its own). A caller
 * that cannot register never takes the direct paths: its events are queued,
 * for the engine's threads. (The fd itself must stay: a thread registers
 * only through an fd in the table. It is closed in a fork child: see
 * uring_forget().)
 *
 * A thread keeps one such index (and with it, the ring) until it registers
 * for another ring, or exits.
 */
struct ring_reg {
	uint64_t gen;	/* the ring it is for; 0: none */
	int idx;	/* -1: could not register */
};

static __thread struct ring_reg reg;
static _Atomic uint64_t ring_gens;

static bool fd_is_ring(const struct uring_driver *d)
{
	struct stat st;

	return d->gen && !fstat(d->ring.ring_fd, &st) && st.st_dev == d->dev && st.st_ino == d->ino;
}

/* Through the index itself: the fd may be gone. */
static void unregister_index(int idx)
{
	struct io_uring_rsrc_update up = { .offset = (unsigned int)idx };

	IOE_RAW(__NR_io_uring_register, idx, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING,
		&up, 1, 0, 0);
}

static int register_index(const struct uring_driver *d)
{
	struct io_uring_rsrc_update up = { .offset = -1U, .data = (unsigned int)d->ring.ring_fd };

	if (!fd_is_ring(d) ||
	    IOE_RAW(__NR_io_uring_register, d->ring.ring_fd, IORING_REGISTER_RING_FDS, &up, 1, 0, 0) != 1)
		return -1;
	if (!fd_is_ring(d)) {
		unregister_index((int)up.offset);
		return -1;
	}
	return (int)up.offset;
}

/* The calling thread's index for the ring (registered at its first call), or -1. */
static int ring_index(struct uring_driver *d)
{
	if (reg.gen != d->gen) {
		if (reg.gen && reg.idx >= 0)
			unregister_index(reg.idx);
		reg.idx = register_index(d);
		reg.gen = d->gen;
	}
	return reg.idx;
}

/* io_uring_enter() by the calling thread's index; by the fd if it has none (an engine thread that lost the race). */
static int ring_enter(struct uring_driver *d, unsigned int submit, unsigned int wait, unsigned int flags,
		      void *arg, size_t size)
{
	int idx = ring_index(d);

	if (idx >= 0)
		return io_uring_enter2((unsigned int)idx, submit, wait, flags | IORING_ENTER_REGISTERED_RING,
				       arg, size);
	return io_uring_enter2((unsigned int)d->ring.ring_fd, submit, wait, flags, arg, size);
}

static bool ring_dead(struct uring_driver *d)
{
	return atomic_load_explicit(&d->dead, memory_order_acquire);
}

/*
 * The calling thread may hand events to the ring and wait in it itself.
 * Its first look registers it, only while it holds the submission lock:
 * the kernel registers under the ring's own lock, which a submission in
 * progress holds, and a submission can last (a long read of a device the
 * kernel reads inline, such as /dev/zero into pages that fault slowly).
 * Until then, it waits as a thread that cannot register does. Every
 * signal is blocked meanwhile: a handler's pread() would queue its event
 * and wait for the submitter, which waits for the lock this frame holds.
 */
static bool caller_direct_ok(struct uring_driver *d)
{
	sigset_t old;

	if (!d->direct_ok || ring_dead(d))
		return false;
	if (reg.gen != d->gen) {
		if (atomic_load_explicit(&d->base.sq_lock, memory_order_relaxed))
			return false;
		ioe_signals_block(&old);
		if (ioe_sq_trylock(&d->base)) {
			ring_index(d);
			ioe_sq_unlock(&d->base);
		}
		ioe_signals_restore(&old);
		if (reg.gen != d->gen)
			return false;
	}
	return reg.idx >= 0;
}

#define IOE_REAP_MAX 64

static void prep_sqe(struct io_uring_sqe *sqe, struct uring_slot *s)
{
	ioe_uring_prep(sqe, s->ev, &s->prog);
	io_uring_sqe_set_data(sqe, s);
	ioe_kernel_handoff_release(s);
}

static void cancel_done(uintptr_t ud, int res)
{
	struct cancel_rec *rec = (struct cancel_rec *)(ud & ~(uintptr_t)UD_TAGS);

	ioe_kernel_handoff_acquire(rec);
	rec->res = res;
	/* Release: the waiter may return, and its record go, right after. */
	atomic_store_explicit(&rec->done, 1, memory_order_release);
}

/* A stream event the kernel did not take or interrupted: queued again, first (see stream_finished()). */
static void stream_requeue(struct uring_driver *d, struct ioe_event *ev)
{
	struct ioe_shared_ctx *sh = d->base.sh;

	/* Counted queued before it stops counting with the kernel: a stopping submitter waits for both. */
	atomic_fetch_add_explicit(&sh->total_count, 1, memory_order_relaxed);
	ioe_mpsc_push(&sh->queues[IOE_CHAN_PRIO], ev);
	atomic_fetch_sub_explicit(&sh->streams, 1, memory_order_release);
	ioe_wake(&sh->submit_wake);
}

/* An SQE the kernel did not take, by its user data: see ring_failed(). */
static void withdraw(struct uring_driver *d, uintptr_t ud)
{
	if (!ud)	/* the doorbell, see ring_doorbell() */
		return;
	if (ud & UD_CANCEL)
		cancel_done(ud, -ENOENT);
	else if (ud & UD_STREAM)
		stream_requeue(d, (struct ioe_event *)(ud & ~(uintptr_t)UD_TAGS));
	else
		ioe_slot_push(&d->retry, &((struct uring_slot *)ud)->link);
}

/*
 * The kernel refused a submission for good (EBADF, EOPNOTSUPP, ...: not
 * seen with registered indices, but a ring must never be retried forever):
 * the ring is dead from now on, detected once. The SQEs it did not take
 * are withdrawn, their events given to the submitter, which does them, and
 * everything queued after, with plain system calls (dead_round()); IO in
 * flight still completes into the CQ, reaped without entering the ring
 * (see ring_wait()). Callers no longer take the direct paths. Under the
 * submission lock; the in-flight count, which the submitting thread adds
 * to after submit_all(), loses the withdrawn ones here.
 */
static void ring_failed(struct uring_driver *d)
{
	struct io_uring_sq *sq = &d->ring.sq;
	unsigned int head = IO_URING_READ_ONCE(*sq->khead), n = 0;

	for (unsigned int h = head; h != sq->sqe_tail; h++, n++)
		withdraw(d, (uintptr_t)sq->sqes[h & sq->ring_mask].user_data);
	sq->sqe_tail = sq->sqe_head = head;
	io_uring_smp_store_release(sq->ktail, head);
	atomic_fetch_sub_explicit(&d->base.inflight, (int)n, memory_order_relaxed);
	atomic_store_explicit(&d->dead, true, memory_order_release);
	ioe_wake(&d->base.sh->submit_wake);
}

/* Publish the prepared SQEs (liburing's flush, which it does not export): how many the kernel has to take. */
static unsigned int sq_flush(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned int tail = sq->sqe_tail;

	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	return tail - IO_URING_READ_ONCE(*sq->khead);
}

/*
 * Submit every prepared SQE through the calling thread's index. A
 * transient error (EAGAIN, EBUSY, ENOMEM, EINTR) is retried until all are
 * in; any other kills the ring (ring_failed()).
 */
static void submit_all(struct uring_driver *d)
{
	while (io_uring_sq_ready(&d->ring)) {
		int ret = ioe_fault_submit();

		if (!ret) {
			unsigned int n = sq_flush(&d->ring), flags = 0;

			/* As io_uring_submit(): run task_work and flush an overflow meanwhile. */
			if (IO_URING_READ_ONCE(*d->ring.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN))
				flags |= IORING_ENTER_GETEVENTS;
			ret = ring_enter(d, n, 0, flags, NULL, _NSIG / 8);
		}
		if (ret >= 0)
			continue;
		if (!ioe_submit_transient(ret)) {
			ring_failed(d);
			return;
		}
		sched_yield();
	}
}

/*
 * A dead ring's round (see ring_failed()): the withdrawn events and short
 * IO's remainders, the queued and the held events, done here with plain
 * system calls and delivered. Returns how many.
 */
static unsigned int dead_round(struct uring_driver *d)
{
	struct ioe_shared_ctx *sh = d->base.sh;
	unsigned int budget = sh->depth < IOE_SUBMIT_BATCH ? sh->depth : IOE_SUBMIT_BATCH;
	struct ioe_event *done = NULL;
	struct ioe_refusals rf = { 0 };
	unsigned int n, all = 0, freed = 0;
	struct ioe_slot_link *l;

	ioe_sq_lock(&d->base);
	while ((l = ioe_slot_pop(&d->retry))) {
		struct uring_slot *s = (struct uring_slot *)l;

		ioe_event_finish_inline(&s->prog, s->ev);
		s->ev->next_ = done;
		done = s->ev;
		__atomic_store_n(&s->ev, NULL, __ATOMIC_RELAXED);
		ioe_slot_push(&d->base.free, l);
		freed++;
	}
	atomic_store_explicit(&sh->held_kick, false, memory_order_relaxed);
	for (int held = 0; held < 2; held++) {
		n = held ? ioe_take_held(sh, d->base.batch, budget, &rf.events) :
			   ioe_take_round(sh, d->base.batch, budget, &rf.events);
		for (unsigned int i = 0; i < n; i++) {
			ioe_event_run_inline(d->base.batch[i]);
			d->base.batch[i]->next_ = done;
			done = d->base.batch[i];
		}
		all += n;
	}
	ioe_sq_unlock(&d->base);
	ioe_deliver_refusals(&d->base, &rf, &d->base.sub_cbb);
	if (done || freed)
		ioe_poller_deliver(sh, freed, done, &d->base.sub_cbb);
	return all + freed + (rf.events != NULL);
}

/*
 * A stream event's completion: true when it is done (ev->res set); false
 * when the kernel interrupted it (-EINTR, after a cancel that found it
 * running: see uring_cancel()), which moved nothing: it goes again, as a
 * read() that a signal interrupted would be restarted. Its -EAGAIN (an
 * O_NONBLOCK file) is its result. Fault injection leaves it alone.
 */
static bool stream_finished(struct uring_driver *d, struct ioe_event *ev, int res)
{
	struct ioe_shared_ctx *sh = d->base.sh;

	if (res == -EINTR) {
		stream_requeue(d, ev);
		return false;
	}
	if (res > 0 && !ioe_event_is_write(ev))
		ioe_vg_read_landed(ev, 0, (size_t)res);
	ev->res = res;
	atomic_fetch_sub_explicit(&sh->streams, 1, memory_order_release);
	if (atomic_load_explicit(&sh->stopping, memory_order_acquire))
		ioe_wake(&sh->submit_wake);	/* it may be the last one it waits for */
	return true;
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
		uintptr_t ud = (uintptr_t)io_uring_cqe_get_data(cqes[i]);
		struct uring_slot *s = (struct uring_slot *)ud;
		struct ioe_event *ev;

		if (!ud)
			continue;	/* the submitter's goodbye, see ring_doorbell() */
		if (ud & UD_CANCEL) {
			cancel_done(ud, cqes[i]->res);
			continue;
		}
		if (ud & UD_STREAM) {
			ev = (struct ioe_event *)(ud & ~(uintptr_t)UD_TAGS);
			ioe_kernel_handoff_acquire(ev);
			if (!stream_finished(d, ev, cqes[i]->res))
				continue;
			*tail = ev;
			tail = &ev->next_;
			continue;
		}
		ioe_kernel_handoff_acquire(s);
		ev = s->ev;
		if (!ioe_progress_update(&s->prog, ev, ioe_fault_result(cqes[i]->res))) {
			ioe_slot_push(&d->retry, &s->link);
			retried++;
			continue;
		}
		__atomic_store_n(&s->ev, NULL, __ATOMIC_RELAXED);
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
	       (!ring_dead(d) && task_work_pending(d));
}

/*
 * A stream event's SQE: one call, no slot (see ioe_shared_ctx.streams).
 * io_uring waits for a pipe or a socket that has nothing even when it is
 * O_NONBLOCK; read() would say EAGAIN, and so does RWF_NOWAIT. The flag is
 * looked at for each event (a raw fcntl(): the shim interposes it), as a
 * program may change it between two. No caller can vouch for it instead
 * (the shim's fd cache could): it belongs to the open file description,
 * which a dup of the fd, another process or ioctl(FIONBIO) changes with
 * nothing done to the fd, and a stale bit would leave a read waiting where
 * read() says EAGAIN. The look costs the submitter, not the caller.
 */
static void prep_stream(struct uring_driver *d, struct ioe_event *ev)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
	struct ioe_progress prog;
	long fl = IOE_RAW(SYS_fcntl, ev->fd, F_GETFL, 0, 0, 0, 0);

	ioe_progress_start(&prog, ev);
	ioe_uring_prep(sqe, ev, &prog);
	if (fl >= 0 && (fl & O_NONBLOCK))
		sqe->rw_flags |= RWF_NOWAIT;
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)ev | UD_STREAM));
	ioe_kernel_handoff_release(ev);
	atomic_fetch_add_explicit(&d->base.sh->streams, 1, memory_order_relaxed);
}

/* A slot's first piece of ev, handed over by the submission lock's holder (s: one taken, never NULL). */
static void slot_start(struct uring_slot *s, struct ioe_event *ev)
{
	if (!s)
		__builtin_unreachable();	/* gcc's -Wstringop-overflow would see a store through NULL */
	__atomic_store_n(&s->ev, ev, __ATOMIC_RELAXED);	/* a cancel may look after its lock (uring_cancel()) */
	s->cancellable = !ev->merged;
	ioe_progress_start(&s->prog, ev);
}

/* Put the n taken events of base.batch into SQEs and free slots (none for a stream event), under the submission lock. */
static void prep_taken(struct uring_driver *d, unsigned int n)
{
	unsigned int slots = 0;

	for (unsigned int i = 0; i < n; i++) {
		struct ioe_event *ev = d->base.batch[i];
		struct uring_slot *s;

		if (ev->flags & IOE_F_AT_POSITION) {
			prep_stream(d, ev);
			continue;
		}
		s = (struct uring_slot *)ioe_slot_pop(&d->base.free);
		slot_start(s, ev);
		prep_sqe(io_uring_get_sqe(&d->ring), s);
		slots++;
	}
	if (slots)
		atomic_fetch_sub_explicit(&d->base.sh->free_slots_count, slots, memory_order_relaxed);
}

/* ioe_driver.take_held: a round's worth at a time (a deep batch would reach the disk as one convoy). */
static unsigned int take_held(struct ioe_driver *base, struct ioe_refusals *rf)
{
	struct uring_driver *d = (struct uring_driver *)base;
	struct ioe_shared_ctx *sh = base->sh;
	unsigned int n = 0, took;

	if (ring_dead(d)) {	/* the submitter does them: see dead_round() */
		ioe_held_kick(sh);
		return 0;
	}
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

/*
 * Shutdown, once every slot is home: the stream events still with the
 * kernel (a read of a pipe that nobody writes) are cancelled, all at once.
 * Nothing else is in the ring then, and no stream event is submitted any
 * more (see ioe_take_round()); one the kernel interrupted instead comes
 * back queued and is refused with -ECANCELED.
 */
static void cancel_streams(struct uring_driver *d)
{
	struct io_uring_sqe *sqe;

	ioe_sq_lock(&d->base);
	sqe = io_uring_get_sqe(&d->ring);
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)&d->stop_cancel | UD_CANCEL));
	ioe_kernel_handoff_release(&d->stop_cancel);
	submit_all(d);
	ioe_sq_unlock(&d->base);
	d->base.sh->streams_cancelled = true;
	atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
	ioe_wake(&d->base.poll_wake);
}

/* An engine thread's first act: its own index for the ring (see ring_index()). */
static void thread_register(struct uring_driver *d)
{
	ring_index(d);
	atomic_fetch_add_explicit(&d->registered, 1, memory_order_release);
	ioe_futex_wake(&d->registered, 1);
}

static void *submitter_main(void *arg)
{
	struct uring_driver *d = arg;
	struct ioe_shared_ctx *sh = d->base.sh;

	thread_register(d);
	for (;;) {
		struct ioe_refusals rf = { 0 };
		struct ioe_slot_link *l;
		unsigned int n = 0, budget;

		if (ring_dead(d)) {
			if (dead_round(d))
				continue;
			if (ioe_submitter_done(sh))
				break;
			ioe_wait(&sh->submit_wake, submitter_ready, d);
			continue;
		}
		ioe_sq_lock(&d->base);
		while ((l = ioe_slot_pop(&d->retry))) {
			((struct uring_slot *)l)->cancellable = false;	/* a remainder: bytes moved already */
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
		if (ioe_streams_to_cancel(sh)) {
			cancel_streams(d);
			continue;
		}
		if (ioe_submitter_done(sh))
			break;
		if (task_work_pending(d)) {
			ring_enter(d, 0, 0, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8);
			d->tw_polled = task_work_pending(d);
			continue;
		}
		ioe_wait(&sh->submit_wake, submitter_ready, d);
		d->tw_polled = false;
	}
	if (!ring_dead(d))
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

/*
 * After a wait in the ring that failed for good (not a timeout, not a
 * signal): sleep as long as the wait would have, IOE_POLL_RECHECK_NS at
 * most, rather than spin. The kernel posts CQEs all the same.
 */
static void ring_wait_failed(int ret, const struct __kernel_timespec *ts)
{
	struct timespec nap = { 0, IOE_POLL_RECHECK_NS };

	if (ret >= 0 || ret == -ETIME || ioe_submit_transient(ret))
		return;
	if (ts && ts->tv_sec == 0 && ts->tv_nsec < nap.tv_nsec)
		nap.tv_nsec = ts->tv_nsec;
	nanosleep(&nap, NULL);
}

/* Sleep in the kernel until a CQE is posted (or, with ts, until it expires). */
IOE_CANCEL_FRAME static void sleep_for_cqe(struct uring_driver *d, struct __kernel_timespec *ts)
{
	struct io_uring_getevents_arg arg = {
		.sigmask_sz = _NSIG / 8,
		.ts = (uint64_t)(uintptr_t)ts,
	};

	ring_wait_failed(ring_enter(d, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg)), ts);
}

/*
 * The poller's sleep while nothing but stream events is in flight (and
 * nothing held): they may wait for their files for a long time, and a
 * sleep of IOE_POLL_RECHECK_NS would wake it a thousand times a second
 * for nothing. A new IO's CQE still wakes it at once.
 */
#define IOE_STREAM_POLL_NS 16000000

/*
 * Poller: wait for at least one CQE, spinning briefly first. The sleep ends
 * after IOE_POLL_RECHECK_NS at the latest (IOE_STREAM_POLL_NS with only
 * stream events in flight): a caller or the submitter may have taken the
 * CQE this sleep was for, and then the in-flight count, not a CQE, says
 * what to do next; held events go to the submitter after a while.
 */
static void wait_cqe(struct uring_driver *d)
{
	struct __kernel_timespec ts = { 0, IOE_POLL_RECHECK_NS };
	uint64_t deadline = ioe_now_ns() + IOE_SPIN_NS;

	if (!ioe_file_io_in_flight(&d->base) && !atomic_load_explicit(&d->base.sh->held_count, memory_order_relaxed))
		ts.tv_nsec = IOE_STREAM_POLL_NS;

	do {
		for (int i = 0; i < 64; i++) {
			if (cq_pending(d))
				return;
			ioe_cpu_relax();
		}
	} while (ioe_now_ns() < deadline);
	if (d->ext_arg)
		sleep_for_cqe(d, &ts);
	else
		ring_wait_failed(ring_enter(d, 0, 1, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8), NULL);
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

	thread_register(d);
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
 * kernel does page-cache reads inside it (a round of them takes some
 * microseconds). A caller that slept meanwhile would be woken from an idle
 * virtual CPU for each, a wake-up that costs more than the read. So a caller
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
 * Signals are blocked (ioe_word_wait_begin()), so that a handler never
 * runs while this thread holds a lock: it sleeps with them blocked and,
 * when one the caller's mask lets in is pending, returns -EINTR (*restart:
 * see ioe_signal_due()) for the caller to deliver it; after a sleep that a
 * completion ended, only once that is reaped and the word still unchanged
 * (before the next sleep): a wait that the completion ends returns 0, its
 * handlers run when the caller's mask is back, and the look (a system call)
 * is spared. Returns 0 once *word != old; -ETIMEDOUT at deadline (CLOCK_MONOTONIC ns, 0 for none).
 * The sleep is asynchronously cancellable (it holds nothing). Held events
 * (ioe_hold()) are submitted on the way.
 */
struct caller_wait {
	uint32_t *word;
	uint32_t old;
	uint64_t deadline;
	const sigset_t *caller_mask;	/* what is due */
	bool restart;			/* out */
};

IOE_CANCEL_FRAME static int caller_wait(struct uring_driver *d, struct caller_wait *w)
{
	struct ioe_cb_batch cbb = { 0 };
	unsigned int spins = 0;
	uint64_t busy_until = 0;
	bool due_unchecked = false;

	while (__atomic_load_n(w->word, __ATOMIC_ACQUIRE) == w->old) {
		struct __kernel_timespec ts = { 0, 0 };
		int oldtype;

		if (atomic_load_explicit(&d->base.sh->held_count, memory_order_relaxed))
			ioe_submit_held(&d->base, &cbb);

		if (cq_pending(d)) {
			if (ioe_cq_trylock(&d->base))
				take_completions(d, &cbb);
			else
				ioe_backoff(&spins);
			continue;
		}
		if (atomic_load_explicit(&d->reaping, memory_order_acquire) ||
		    (atomic_load_explicit(&d->base.sq_lock, memory_order_acquire) && busy_wait_on(&busy_until))) {
			ioe_backoff(&spins);
			continue;
		}
		if (__atomic_load_n(w->word, __ATOMIC_ACQUIRE) != w->old)
			break;
		if (due_unchecked) {
			due_unchecked = false;
			if (ioe_signal_due(w->caller_mask, w->deadline, &w->restart))
				return -EINTR;
		}
		if (!(ts.tv_nsec = ioe_wait_slice(w->deadline)))
			return -ETIMEDOUT;
		pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
		sleep_for_cqe(d, &ts);
		pthread_setcanceltype(oldtype, NULL);
		busy_until = 0;
		if (__atomic_load_n(w->word, __ATOMIC_ACQUIRE) == w->old) {
			if (cq_pending(d))
				due_unchecked = true;	/* reap first: checked before the next sleep */
			else if (ioe_signal_due(w->caller_mask, w->deadline, &w->restart))
				return -EINTR;
		}
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
	slot_start(s, ev);
	prep_sqe(io_uring_get_sqe(&d->ring), s);
	submit_all(d);
	ioe_sq_unlock(&d->base);
	atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
	return true;
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

	if ((ioe_event_is_rw(ev) && ioe_event_bytes(ev) > IOE_LOCAL_MAX_BYTES) || !caller_direct_ok(d))
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
	struct caller_wait w = { .word = word, .old = old, .deadline = deadline, .caller_mask = &ww.mask };
	int ret;

	if (!caller_direct_ok(d))
		return -EAGAIN;
	ioe_word_wait_begin(&ww, &d->base);
	pthread_cleanup_push(ioe_word_wait_end, &ww);
	while ((ret = caller_wait(d, &w)) == -EINTR && w.restart)
		ioe_word_wait_handlers(&ww);
	pthread_cleanup_pop(1);
	return ret;
}

/*
 * Wait for a cancel request's CQE, reaping (the CQE may be this thread's
 * to reap: the poller may be the thread that cancels, from a callback).
 * Other events' callbacks may run here meanwhile, as in a caller's wait.
 */
static int cancel_wait(struct uring_driver *d, struct cancel_rec *rec)
{
	struct __kernel_timespec ts = { 0, IOE_POLL_RECHECK_NS };
	struct ioe_cb_batch cbb = { 0 };
	unsigned int spins = 0;

	while (!atomic_load_explicit(&rec->done, memory_order_acquire)) {
		if (cq_pending(d) && ioe_cq_trylock(&d->base))
			take_completions(d, &cbb);
		else if (cq_pending(d) || atomic_load_explicit(&d->reaping, memory_order_acquire) ||
			 !d->ext_arg || ring_dead(d))
			ioe_backoff(&spins);
		else
			sleep_for_cqe(d, &ts);
	}
	return rec->res;
}

/* The slot that holds ev, or NULL (the submission lock held: slots do not change hands). */
static struct uring_slot *slot_of_event(struct uring_driver *d, const struct ioe_event *ev)
{
	for (unsigned int i = 0; i < d->base.sh->depth; i++)
		if (__atomic_load_n(&d->slots[i].ev, __ATOMIC_RELAXED) == ev)
			return &d->slots[i];
	return NULL;
}

/*
 * ioe_driver_ops.cancel: ev is in a slot, or is a stream event with the
 * kernel, or done. An IORING_OP_ASYNC_CANCEL of its user data asks the
 * kernel, which says it exactly: 0, cancelled (ev completes with
 * -ECANCELED); -EALREADY, running (it completes normally: an io-wq worker
 * that the kernel then interrupts ends the request with -EINTR, which moved
 * nothing, and the request goes again); -ENOENT, not there (done, or a
 * remainder on its way back). IORING_REGISTER_SYNC_CANCEL would not tell
 * "running" from "done": it waits for a running request and then says 0.
 * The request is submitted under the submission lock, so the slot is the
 * event's when the kernel looks. Not cancelled: the remainder of a short
 * IO (bytes moved already) and a merged IO (its sub-events' results).
 */
static int uring_cancel(void *arg, struct ioe_event *ev)
{
	struct uring_driver *d = arg;
	struct uring_slot *s = slot_of_event(d, ev);
	struct cancel_rec rec = { .done = 0 };
	struct io_uring_sqe *sqe;
	int res;

	if ((s && !s->cancellable) || (!s && !atomic_load_explicit(&d->base.sh->streams, memory_order_acquire)) ||
	    ring_dead(d) || ring_index(d) < 0) {
		ioe_sq_unlock(&d->base);
		return s ? IOE_CANCEL_RUNNING : IOE_CANCEL_ALLDONE;
	}
	sqe = io_uring_get_sqe(&d->ring);
	io_uring_prep_cancel64(sqe, s ? (uintptr_t)s : (uintptr_t)ev | UD_STREAM, 0);
	io_uring_sqe_set_data(sqe, (void *)((uintptr_t)&rec | UD_CANCEL));
	ioe_kernel_handoff_release(&rec);
	submit_all(d);
	ioe_sq_unlock(&d->base);
	atomic_fetch_add_explicit(&d->base.inflight, 1, memory_order_relaxed);
	ioe_wake(&d->base.poll_wake);
	res = cancel_wait(d, &rec);
	if (!res)
		return IOE_CANCEL_DONE;
	if (res == -EALREADY)
		return IOE_CANCEL_RUNNING;
	return s && __atomic_load_n(&s->ev, __ATOMIC_RELAXED) == ev ? IOE_CANCEL_RUNNING : IOE_CANCEL_ALLDONE;
}

/*
 * The opcodes the engine uses, asked on a probe buffer of just that size:
 * liburing's io_uring_get_probe_ring() malloc()s it (see ioe_map()).
 */
static int uring_probe(struct io_uring *ring)
{
	static const int ops[] = { IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV,
				   IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_ASYNC_CANCEL };
	enum { NR = IORING_OP_WRITE + 1 };
	union {
		struct io_uring_probe p;
		char room[sizeof(struct io_uring_probe) + NR * sizeof(struct io_uring_probe_op)];
	} u = { 0 };

	if (io_uring_register_probe(ring, &u.p, NR) < 0)
		return -ENOSYS;
	for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!io_uring_opcode_supported(&u.p, ops[i]))
			return -ENOSYS;
	return 0;
}

/*
 * Make the ring and see that it has what the engine needs. A completion's
 * task_work does not interrupt its submitter while that runs; it waits for
 * the thread's next entry into the kernel, which under load comes soon:
 * completions are then handled in batches there rather than each
 * interrupting the submitter. Before 5.19 this is EINVAL: then without. Fails with ENOSYS (old kernel), EPERM
 * (io_uring_disabled, seccomp), EMFILE, ...
 */
static int ring_open(struct uring_driver *d)
{
	int ret = io_uring_queue_init(d->base.sh->depth, &d->ring,
				      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);

	if (ret == -EINVAL)
		ret = io_uring_queue_init(d->base.sh->depth, &d->ring, 0);
	if (ret)
		return ret;
	ret = uring_probe(&d->ring);
	if (ret) {
		io_uring_queue_exit(&d->ring);
		return ret;
	}
	/*
	 * A caller's wait needs a timeout. Not under valgrind either: it asserts
	 * when a signal arrives in an io_uring_enter() given a mask. There,
	 * callers queue as ioe_submit() does.
	 */
	d->ext_arg = d->ring.features & IORING_FEAT_EXT_ARG;
	d->direct_ok = d->ext_arg && !ioe_running_on_valgrind();
	return 0;
}

/* Unmap the ring; its fd is closed only if it still is the ring's (the program may have reused the number). */
static void ring_close(struct uring_driver *d)
{
	if (reg.gen == d->gen && reg.idx >= 0)
		unregister_index(reg.idx);
	if (reg.gen == d->gen)
		reg.gen = 0;
	if (!fd_is_ring(d))
		d->ring.ring_fd = -1;
	io_uring_queue_exit(&d->ring);
	d->gen = 0;
}

static size_t uring_size(const struct ioe_shared_ctx *sh)
{
	return sizeof(struct uring_driver) + sh->depth * sizeof(struct uring_slot);
}

static void uring_free(struct uring_driver *d)
{
	ioe_driver_fini(&d->base);
	ioe_unmap(d, uring_size(d->base.sh));
}

/* The ring is only tried here (and closed again): see uring_threads(). */
static int uring_start(struct ioe_shared_ctx *sh, void **out)
{
	struct uring_driver *d = ioe_map(uring_size(sh));
	int ret;

	if (!d)
		return -ENOMEM;
	d->slots = (struct uring_slot *)(d + 1);
	d->base.sh = sh;
	if (ioe_driver_init(&d->base, sh)) {
		uring_free(d);
		return -ENOMEM;
	}
	d->base.take_held = take_held;
	d->base.direct_submit = direct_submit;
	ret = ring_open(d);
	if (ret) {
		uring_free(d);
		return ret;
	}
	io_uring_queue_exit(&d->ring);
	for (unsigned int i = 0; i < sh->depth; i++)
		ioe_slot_push(&d->base.free, &d->slots[i].link);
	*out = d;
	return 0;
}

/*
 * The ring's fd, made at any moment of the program's life, must not take
 * the lowest free number, which the program may be about to get from its
 * own open() (a daemon that closed stdin and opens /dev/null to have fd
 * 0): it moves up to 64 below the soft RLIMIT_NOFILE, or below 1024 (the
 * kernel sizes the fd table up to the number, and select() programs use
 * the numbers under 1024). Where that fails it stays where it is.
 */
static void ring_fd_move_up(struct io_uring *ring)
{
	struct rlimit rl;
	rlim_t top;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	top = rl.rlim_cur < 1024 ? rl.rlim_cur : 1024;
	if (top <= 128 || (rlim_t)ring->ring_fd >= top - 64)
		return;
	fd = fcntl(ring->ring_fd, F_DUPFD_CLOEXEC, (int)(top - 64));
	if (fd < 0)
		return;
	close(ring->ring_fd);
	ring->ring_fd = fd;
	ring->enter_ring_fd = fd;
}

/*
 * The ring is made here, with the threads that use it, so that its fd is
 * fresh: a program that closed its fds before its first asynchronous
 * request has not closed this one. The threads register their indices as
 * they start (see ring_index()). Its mappings are not inherited by a fork
 * child, which forgets the engine (valgrind ignores MADV_DONTFORK, and then
 * asserts in the child's next mmap()).
 */
static int uring_threads(void *arg)
{
	struct uring_driver *d = arg;
	struct stat st;
	int n, ret = ring_open(d);

	if (ret)
		return ret;
	ring_fd_move_up(&d->ring);
	if (!ioe_running_on_valgrind())
		ret = io_uring_ring_dontfork(&d->ring);
	if (!ret && fstat(d->ring.ring_fd, &st))
		ret = -errno;
	if (ret) {
		io_uring_queue_exit(&d->ring);
		return ret;
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->gen = atomic_fetch_add_explicit(&ring_gens, 1, memory_order_relaxed) + 1;
	atomic_store_explicit(&d->registered, 0, memory_order_relaxed);
	ret = ioe_driver_start(&d->base, submitter_main, poller_main, d);
	if (ret) {
		ring_close(d);
		return ret;
	}
	/* Both hold the ring before the program gets control back and may close its fd. */
	while ((n = atomic_load_explicit(&d->registered, memory_order_acquire)) < 2)
		ioe_futex_wait(&d->registered, (uint32_t)n, NULL);
	return 0;
}

static void uring_stop(void *arg)
{
	struct uring_driver *d = arg;

	ioe_driver_join(&d->base);
	if (d->gen)
		ring_close(d);
	uring_free(d);
}

/* See ioe_context_forget(): close the fd if it still is the ring's. */
static void uring_forget(void *arg)
{
	struct uring_driver *d = arg;

	if (fd_is_ring(d))
		close(d->ring.ring_fd);
}

const struct ioe_driver_ops ioe_uring_ops = {
	.name = "io_uring",
	.start = uring_start,
	.threads = uring_threads,
	.stop = uring_stop,
	.forget = uring_forget,
	.wait_word = uring_wait_word,
	.submit_local = uring_submit_local,
	.cancel = uring_cancel,
	.at_position = true,
};
