/* SPDX-License-Identifier: MIT */
/* Scheduling and bookkeeping shared by the io_uring and AIO drivers. */
#ifndef IOE_COMMON_H
#define IOE_COMMON_H

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include "context.h"

/*
 * Take at most `budget` events: the priority queue first, then read and
 * write, the one that goes first alternating between rounds so that a flood
 * on one cannot starve the other. Returns how many were put in out[].
 */
unsigned int poll_request_from_queues(struct ioe_shared_ctx *sh, struct ioe_event **out,
				      unsigned int budget);

/*
 * pread() says -ESPIPE for a pipe or socket and -EBADF for a bad fd before it
 * looks at anything else; io_uring and AIO would read a pipe instead (or block
 * the submitter on it). One lseek() per distinct fd per submit round tells.
 */
struct ioe_fd_check {
	unsigned int n;
	struct { int fd; int err; } seen[8];
};

static inline void ioe_fd_check_reset(struct ioe_fd_check *c)
{
	c->n = 0;
}

int ioe_fd_check(struct ioe_fd_check *c, int fd);

/* For one event outside a round: true, with ev->res set, when its fd is refused. */
bool ioe_fd_refuses(struct ioe_event *ev);

/* Short-IO bookkeeping that both drivers' slots carry. */
struct ioe_progress {
	size_t done;		/* bytes moved so far */
	size_t want;		/* bytes asked for (a vector's: counted after the kernel read it) */
	struct iovec *iov_rest;	/* remainder of a vectored IO, once short */
	int iovcnt_rest;
	unsigned int retries;	/* EINTR/EAGAIN in a row */
};

void ioe_progress_start(struct ioe_progress *p, const struct ioe_event *ev);

/*
 * Account one kernel result. Returns true when the event is finished
 * (ev->res set, progress released), false when the remainder must be
 * submitted again (see ioe_progress_next()): never after a result that
 * moved bytes for an IOE_F_ONE_CALL event.
 */
bool ioe_progress_update(struct ioe_progress *p, struct ioe_event *ev, long res);

/* Where the next piece of a read or write goes: the non-vectored length is
 * capped at what the kernel moves at once (MAX_RW_COUNT), and shortened by
 * fault injection when that is on. */
struct ioe_piece {
	void *buf;			/* non-vectored */
	const struct iovec *iov;	/* vectored */
	size_t len;			/* bytes, or iovcnt */
	int64_t offset;
};

void ioe_progress_next(const struct ioe_progress *p, const struct ioe_event *ev, struct ioe_piece *out);

/*
 * Free slots travel poller -> submitter through a lock-free stack; the
 * submitter keeps a private list it refills with one exchange.
 */
struct ioe_slot_link {
	struct ioe_slot_link *next;
};

struct ioe_slot_stack {
	_Atomic(struct ioe_slot_link *) shared;
	struct ioe_slot_link *local;	/* consumer only */
};

static inline void ioe_slot_push(struct ioe_slot_stack *s, struct ioe_slot_link *l)
{
	struct ioe_slot_link *old = atomic_load_explicit(&s->shared, memory_order_relaxed);

	do {
		l->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&s->shared, &old, l,
			memory_order_release, memory_order_relaxed));
}

static inline struct ioe_slot_link *ioe_slot_pop(struct ioe_slot_stack *s)
{
	struct ioe_slot_link *l = s->local;

	if (!l)
		l = atomic_exchange_explicit(&s->shared, NULL, memory_order_acquire);
	if (l)
		s->local = l->next;
	return l;
}

static inline bool ioe_slot_stack_empty(struct ioe_slot_stack *s)
{
	return !s->local && !atomic_load_explicit(&s->shared, memory_order_relaxed);
}

/*
 * A slot goes submitter -> kernel -> poller: the kernel orders the two sides,
 * but ThreadSanitizer cannot see that, so TSan builds are told explicitly.
 */
#ifdef __SANITIZE_THREAD__
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define ioe_kernel_handoff_release(p) __tsan_release(p)
#define ioe_kernel_handoff_acquire(p) __tsan_acquire(p)
#else
#define ioe_kernel_handoff_release(p) ((void)(p))
#define ioe_kernel_handoff_acquire(p) ((void)(p))
#endif

/*
 * What both drivers have besides their kernel interface and slot type: the
 * submitter's batch, slots in transit, the in-flight count, the completion
 * side's one-consumer lock, the poller's wake-up and the two threads. Each
 * driver embeds it first in its own structure.
 */
/*
 * Events refused at submission, or that the kernel must not see (see
 * ioe_take_round()), for ioe_poller_deliver() once no lock is held: their
 * callbacks may submit again.
 */
struct ioe_refusals {
	struct ioe_event *events;	/* linked through next_ */
	unsigned int slots;		/* the slots they gave back */
};

struct ioe_driver {
	struct ioe_shared_ctx *sh;
	struct ioe_event **batch;	/* submitter: one round's events */
	struct ioe_slot_stack free;	/* poller -> submitter */
	/* Submitted and not reaped. Counted after the submit (so the poller never
	 * waits in the kernel for IO that is not there yet); a fast completion
	 * reaped meanwhile takes it below 0 for a moment. */
	_Atomic int inflight;
	_Atomic bool sq_lock;		/* held by whoever takes free slots and submits */
	_Atomic bool cq_lock;		/* held by whoever consumes completions */
	_Atomic bool submitter_done;
	_Atomic int callers;		/* in ioe_wait_word(), reaping in their own thread */
	_Atomic uint32_t caller_visits;	/* ioe_wait_word() calls so far */
	uint32_t visits_seen;		/* poller only: caller_visits at its last nap */
	/*
	 * Submit held events, a round's worth at a time, while slots are free;
	 * the submission lock held. Returns how many reached the kernel; the
	 * refused ones are added to *rf (see ioe_submit_held()).
	 */
	unsigned int (*take_held)(struct ioe_driver *d, struct ioe_refusals *rf);
	/*
	 * Hand ev to the kernel from the calling thread: true with every signal
	 * blocked (the old mask in *old, as ioe_direct_begin() says), false when
	 * ev must be queued or is done already (*ret). The poller is not woken.
	 */
	bool (*direct_submit)(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret);
	uint32_t held_takes_seen;	/* poller only: see ioe_held_check() */
	uint64_t held_since;		/* 0: nothing held at the last look */
	struct ioe_waiter poll_wake;
	struct ioe_cb_batch sub_cbb, poll_cbb;
	pthread_t submitter, poller;
	bool started;			/* the threads run: see ioe_driver_start() */
};

/*
 * Memory of a context and its driver: mmap()ed, not malloc()ed, as a
 * context may be created inside a signal handler that interrupted malloc().
 * Zeroed; NULL on failure.
 */
void *ioe_map(size_t size);
void ioe_unmap(void *p, size_t size);

/* No allocation but ioe_map(): see there. */
int ioe_driver_init(struct ioe_driver *d, struct ioe_shared_ctx *sh);
void ioe_driver_fini(struct ioe_driver *d);
/*
 * Start the poller and the submitter (arg is the driver); 0 or -errno. Not
 * at the context's creation: when the first request needs them (see
 * threads_start() in context.c).
 */
int ioe_driver_start(struct ioe_driver *d, void *(*submitter)(void *), void *(*poller)(void *), void *arg);
/* After ioe_context_free() set stopping: the threads drain and leave (if they ever started). */
void ioe_driver_join(struct ioe_driver *d);
/* The submitter's last act: the poller may leave once nothing is in flight. */
void ioe_driver_submitter_exit(struct ioe_driver *d);

/*
 * ioe_submit_local() with IO in flight: ev waits in the held queue for the
 * next caller of ioe_wait_word(), which hands the held events to the kernel
 * (ioe_submit_held()): their completions then wake that caller directly, and
 * the submitter sleeps on, as fio's own io_uring engine works from its one
 * thread. (On these 2-vCPU machines work on the second vCPU, even a thread
 * that only wakes up often, costs the virtual disk a third of its IOPS.) A
 * round's worth is handed over at once, by the thread that holds the last
 * of it, so that the disk starts on it while the caller queues more (fio
 * posixaio O_DIRECT QD32 on io_uring: +4% over waiting for the wait,
 * interleaved runs).
 */
void ioe_hold(struct ioe_driver *d, struct ioe_event *ev);
/* Hand the held events to the kernel from the calling thread, every signal blocked. */
void ioe_submit_held(struct ioe_driver *d, struct ioe_cb_batch *cbb);
/*
 * The drivers' submit_local, for an event a caller may submit: held while
 * IO is in flight; else, while the submitter sleeps, handed to the kernel
 * by this thread (waking the submitter would cost more than the
 * submission), and the poller woken, as the caller may never wait for it.
 * Returns 0, or -EAGAIN: queue it.
 */
int ioe_submit_here(struct ioe_driver *d, struct ioe_event *ev);
/* Larger reads and writes are never held nor submitted by a caller: see the drivers' submit_local. */
#define IOE_LOCAL_MAX_BYTES (64 * 1024)
/* Held events go to the submitter instead: it is woken to take them. */
void ioe_held_kick(struct ioe_shared_ctx *sh);
/*
 * Poller, while IO is in flight: held events that no caller took any of for
 * IOE_HOLD_MAX_NS go to the submitter, so that a program that never waits
 * still gets its IO done.
 */
void ioe_held_check(struct ioe_driver *d);
/*
 * Poller, about to sleep with nothing in flight: no completion will bring a
 * waiter, so held events go to the submitter.
 */
void ioe_held_before_sleep(struct ioe_driver *d);

/* A poller's sleep in the kernel for a completion ends after this at the latest. */
#define IOE_POLL_RECHECK_NS 1000000

/*
 * Waiting for another thread's lock, which it holds briefly: it may have lost
 * its CPU (2 cores), so yield now and then.
 */
static inline void ioe_backoff(unsigned int *spins)
{
	if (++*spins & 63)
		ioe_cpu_relax();
	else
		sched_yield();
}

/*
 * The submission side (free slots, and for io_uring the SQ) has one user at
 * a time: the submitter's rounds, or a caller of ioe_submit_wait() handing
 * its own event to the kernel.
 */
static inline bool ioe_sq_trylock(struct ioe_driver *d)
{
	return !atomic_exchange_explicit(&d->sq_lock, true, memory_order_acquire);
}

static inline void ioe_sq_lock(struct ioe_driver *d)
{
	for (unsigned int spins = 0; !ioe_sq_trylock(d);)
		ioe_backoff(&spins);
}

static inline void ioe_sq_unlock(struct ioe_driver *d)
{
	atomic_store_explicit(&d->sq_lock, false, memory_order_release);
}

/*
 * Completions have one consumer at a time: the poller, the submitter taking
 * a quick look right after it submitted to an idle ring, or a caller of
 * ioe_submit_wait().
 */
static inline bool ioe_cq_trylock(struct ioe_driver *d)
{
	return !atomic_exchange_explicit(&d->cq_lock, true, memory_order_acquire);
}

static inline void ioe_cq_unlock(struct ioe_driver *d)
{
	atomic_store_explicit(&d->cq_lock, false, memory_order_release);
}

/*
 * Poller: wait until something is in flight and the completion side is free,
 * and take it. Returns false when the poller should leave (the submitter is
 * done and nothing is in flight), true with the lock held and IO in flight.
 * Another thread that released the side with IO in flight wakes the poller.
 */
bool ioe_poller_acquire(struct ioe_driver *d);

/*
 * Submitter, after n IOs went to the kernel: count them; if the ring was
 * idle, give `reap` (which takes and finishes the completions that are
 * ready; the lock is held) a chance to complete a page-cache IO right here,
 * which spares the poller's wake-up (18-38 us, the whole cost of a QD1 IO);
 * wake the poller if IO is still in flight.
 */
void ioe_driver_submitted(struct ioe_driver *d, unsigned int n, void (*reap)(struct ioe_driver *));

/*
 * The frames between a cancellable wait and the cleanup handler that its
 * cancellation unwinds to (the engine's, then the caller's): without
 * redzones under ASan. The unwinder (_Unwind_ForcedUnwind) pops them
 * unseen by ASan, whose own call at the landing frame then finds their
 * stale redzones under its stack and reports a false overflow.
 */
#if defined(__SANITIZE_ADDRESS__)
#define IOE_CANCEL_FRAME __attribute__((no_sanitize_address))
#else
#define IOE_CANCEL_FRAME
#endif

/*
 * Waiters in ioe_wait_word() sleep with every signal blocked, so that no
 * handler runs while the thread is asynchronously cancellable (glibc before
 * 2.41 acts on a cancel request in the middle of such a handler), nor while
 * it holds an engine lock. They sleep IOE_WAIT_RECHECK_NS at most, and then
 * ask ioe_signal_due(): whether a signal that the caller's mask lets in is
 * pending (its handler runs once the mask is back). *restart: a futex wait,
 * as glibc's aio_suspend() does it, would go on after it, because the
 * kernel restarts a wait without a timeout after handlers with SA_RESTART
 * (and after no handler at all: a stop, an ignored signal), and never a
 * timed one. Asked before the handlers run: SA_RESETHAND would hide it after.
 */
#define IOE_WAIT_RECHECK_NS 1000000
bool ioe_signal_due(const sigset_t *caller_mask, bool timed, bool *restart);

/* The next sleep of such a waiter, in ns: 0 once deadline (CLOCK_MONOTONIC ns, 0 for none) has passed. */
static inline long ioe_wait_slice(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return IOE_WAIT_RECHECK_NS;
	now = ioe_now_ns();
	if (now >= deadline)
		return 0;
	return deadline - now < IOE_WAIT_RECHECK_NS ? (long)(deadline - now) : IOE_WAIT_RECHECK_NS;
}

/*
 * A caller of ioe_wait_word(): every signal blocked (the caller's mask kept
 * in mask) and, when it reaps in its own thread (d not NULL), counted in the
 * driver's callers, from ioe_word_wait_begin() to ioe_word_wait_end() (also
 * the cleanup handler, should the thread be cancelled in between).
 */
struct ioe_word_waiter {
	struct ioe_driver *d;
	sigset_t mask, all;
};

void ioe_word_wait_begin(struct ioe_word_waiter *ww, struct ioe_driver *d);
/* Count a waiter begun with no driver among d's callers from now on. */
void ioe_word_wait_join(struct ioe_word_waiter *ww, struct ioe_driver *d);
void ioe_word_wait_end(void *ww);

/*
 * Let the due signals' handlers run (see ioe_signal_due()), then block
 * again. Meanwhile the thread is no caller that reaps: a handler's pread()
 * may wait for a completion that only the poller would reap, and the
 * poller naps while callers reap.
 */
static inline void ioe_word_wait_handlers(struct ioe_word_waiter *ww)
{
	struct ioe_driver *d = ww->d;

	if (d) {
		ww->d = NULL;	/* a handler that cancels the thread: not counted out twice */
		atomic_fetch_sub(&d->callers, 1);
	}
	pthread_sigmask(SIG_SETMASK, &ww->mask, NULL);
	pthread_sigmask(SIG_SETMASK, &ww->all, NULL);
	if (d)
		ioe_word_wait_join(ww, d);
}

/*
 * While callers reap in ioe_wait_word(), every completion would wake the
 * poller too, for nothing (2 cores): it naps instead (returns true after a
 * nap), and goes back to reaping once no caller came during a whole nap.
 * IO that nobody waits for is then reaped within two naps.
 */
bool ioe_poller_nap(struct ioe_driver *d);

/*
 * A futex sleep while *word == old, ns at most; asynchronously cancellable.
 * Counted in ioe_word_sleepers meanwhile, for ioe_wake_word().
 */
void ioe_word_sleep(uint32_t *word, uint32_t old, long ns);
extern _Atomic unsigned int ioe_word_sleepers;

/*
 * At most this many events go to the kernel in one submit round. Measured on
 * these virtual disks: a burst of 32 O_DIRECT IOs completes slower than the
 * same IOs in groups of 8 (fio with --iodepth_batch_submit 1/8/32: 86k/81k/65k
 * IOPS; the engine at QD32: about +15%); page-cache IO pays ~10% for the
 * extra submit calls, and stays well above fio's own engines.
 */
#define IOE_SUBMIT_BATCH 8

/* A round's budget: the free slots, up to IOE_SUBMIT_BATCH. */
static inline unsigned int ioe_round_budget(struct ioe_shared_ctx *sh)
{
	size_t free = atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);

	return free < IOE_SUBMIT_BATCH ? (unsigned int)free : IOE_SUBMIT_BATCH;
}

/*
 * One submit round's intake: take at most `budget` events; those the kernel
 * must not see (a bad fd, a pipe or a socket) get their result and are
 * added to *refused (linked through next_), for the caller to deliver with
 * ioe_poller_deliver() once it holds no lock: their callbacks may submit
 * again. The accepted ones stay in out[]; returns how many.
 */
unsigned int ioe_take_round(struct ioe_shared_ctx *sh, struct ioe_event **out,
			    unsigned int budget, struct ioe_event **refused);

/*
 * The same for held events (see ioe_shared_ctx.held), in the order they
 * came. With no budget (no free slot), those held become the submitter's:
 * it takes them when slots come back.
 */
unsigned int ioe_take_held(struct ioe_shared_ctx *sh, struct ioe_event **out,
			   unsigned int budget, struct ioe_event **refused);

/* Held events the submitter is to take: nobody came to wait for them, or the context stops. */
static inline bool ioe_held_for_submitter(struct ioe_shared_ctx *sh)
{
	return atomic_load_explicit(&sh->held_count, memory_order_relaxed) &&
	       (atomic_load_explicit(&sh->held_kick, memory_order_relaxed) ||
		atomic_load_explicit(&sh->stopping, memory_order_acquire));
}

/* The submitter may sleep while this is false. */
static inline bool ioe_submitter_ready(struct ioe_shared_ctx *sh, bool retry_pending)
{
	if (retry_pending)
		return true;
	if (atomic_load_explicit(&sh->total_count, memory_order_relaxed) || ioe_held_for_submitter(sh))
		return atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) > 0;
	return atomic_load_explicit(&sh->stopping, memory_order_acquire) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) == sh->depth;
}

/*
 * A caller of ioe_submit_wait() may hand its event to the kernel itself when
 * the queues are empty and a slot is free: nothing to overtake, room to go.
 */
static inline bool ioe_direct_possible(struct ioe_shared_ctx *sh)
{
	return !atomic_load_explicit(&sh->total_count, memory_order_relaxed) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire);
}

/*
 * The start of a direct submission, the same in both drivers: the fd checked
 * as a submit round checks it, then every signal blocked (the old mask in
 * *old; old NULL: the caller blocked them already), the submission lock
 * held and a free slot taken. Returns the slot;
 * NULL with *ret = 0 when ev is already done (a bad fd: ev->res is set), or
 * with *ret = -EAGAIN when ev must be queued. Signals are blocked and the
 * lock held only when a slot is returned.
 */
struct ioe_slot_link *ioe_direct_begin(struct ioe_driver *d, struct ioe_event *ev, sigset_t *old, int *ret);

/* Shutting down, nothing queued, every slot home: the submitter may leave. */
static inline bool ioe_submitter_done(struct ioe_shared_ctx *sh)
{
	return atomic_load_explicit(&sh->stopping, memory_order_acquire) &&
	       !atomic_load_explicit(&sh->total_count, memory_order_relaxed) &&
	       !atomic_load_explicit(&sh->held_count, memory_order_relaxed) &&
	       atomic_load_explicit(&sh->free_slots_count, memory_order_acquire) == sh->depth;
}

/*
 * Poller side, after a batch: give `freed` slots back, wake the submitter if
 * it can use them, and deliver the finished events (linked through next_).
 */
void ioe_poller_deliver(struct ioe_shared_ctx *sh, unsigned int freed, struct ioe_event *done,
			struct ioe_cb_batch *cbb);

/* The refused events of a submission (with the slots they freed). */
static inline void ioe_deliver_refusals(struct ioe_driver *d, struct ioe_refusals *rf, struct ioe_cb_batch *cbb)
{
	if (rf->events)
		ioe_poller_deliver(d->sh, rf->slots, rf->events, cbb);
}

#endif
