/* SPDX-License-Identifier: MIT */
/* The public context: backend choice, submission, shutdown. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "caller_wait.h"
#include "driver.h"
#include "queue_policy.h"
#include "ioengine_internal.h"
#include "../futex.h"
#include "../run_inline.h"
#include "../signals.h"
#include "../sync_wait.h"
#include "../tasks.h"

int ioe_backend_parse(const char *v, enum ioe_backend *b)
{
	if (!v || !*v || !strcmp(v, "auto"))
		*b = IOE_BACKEND_AUTO;
	else if (!strcmp(v, "uring") || !strcmp(v, "io_uring"))
		*b = IOE_BACKEND_URING;
	else if (!strcmp(v, "aio"))
		*b = IOE_BACKEND_AIO;
	else
		return -EINVAL;
	return 0;
}

static int backend_from_env(enum ioe_backend *b)
{
	return ioe_backend_parse(getenv("IOENGINE_BACKEND"), b);
}

static void shared_init(struct ioe_shared_ctx *sh, unsigned int depth)
{
	sh->depth = depth;
	atomic_init(&sh->producers, 0);
	atomic_init(&sh->stopping, false);
	atomic_init(&sh->total_count, 0);
	atomic_init(&sh->free_slots_count, depth);
	for (int i = 0; i < IOE_CHAN_MAX; i++)
		ioe_mpsc_init(&sh->queues[i]);
	ioe_mpsc_init(&sh->held);
	atomic_init(&sh->held_count, 0);
	atomic_init(&sh->held_kick, false);
	atomic_init(&sh->held_takes, 0);
	atomic_init(&sh->streams, 0);
	sh->streams_cancelled = false;
	sh->read_first = true;
	ioe_waiter_init(&sh->submit_wake);
}

static int start_driver(struct ioe_context *ctx, const struct ioe_driver_ops *ops)
{
	int ret = ops->start(&ctx->shared, &ctx->driver);

	if (!ret)
		ctx->ops = ops;
	return ret;
}

/*
 * Creating a context allocates with mmap() only and starts no thread (see
 * threads_start()): the shim creates its context on the program's first
 * routed call, which may come from a signal handler that interrupted
 * malloc().
 */
struct ioe_context *ioe_context_new_merging(const struct ioe_options *o, size_t merge_limit)
{
	enum ioe_backend backend;
	struct ioe_context *ctx;
	int ret;

	if (!o || !o->depth || o->depth > IOE_MAX_DEPTH || o->workers > IOE_MAX_WORKERS ||
	    o->backend > IOE_BACKEND_AIO) {
		errno = EINVAL;
		return NULL;
	}
	backend = o->backend;
	if (backend == IOE_BACKEND_AUTO && backend_from_env(&backend)) {
		errno = EINVAL;
		return NULL;
	}
	ctx = ioe_map(sizeof(*ctx));
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	shared_init(&ctx->shared, o->depth);
	if (ioe_merge_pool_init(&ctx->shared.merge, o->depth, merge_limit)) {
		ioe_unmap(ctx, sizeof(*ctx));
		errno = ENOMEM;
		return NULL;
	}
	ctx->workers = o->workers;
	atomic_init(&ctx->threads, IOE_THREADS_NONE);
	if (backend == IOE_BACKEND_AIO) {
		ret = start_driver(ctx, &ioe_aio_ops);
	} else {
		ret = start_driver(ctx, &ioe_uring_ops);
		/* Only auto falls back: an explicit choice that cannot start is an error. */
		if (ret && backend == IOE_BACKEND_AUTO)
			ret = start_driver(ctx, &ioe_aio_ops);
	}
	if (ret) {
		ioe_merge_pool_fini(&ctx->shared.merge);
		ioe_unmap(ctx, sizeof(*ctx));
		errno = -ret;
		return NULL;
	}
	return ctx;
}

struct ioe_context *ioe_context_new_opts(const struct ioe_options *o)
{
	return ioe_context_new_merging(o, ioe_merge_limit_from_env());
}

struct ioe_context *ioe_context_new(unsigned int depth, unsigned int workers)
{
	struct ioe_options o = { .depth = depth, .workers = workers, .backend = IOE_BACKEND_AUTO };

	return ioe_context_new_opts(&o);
}

void ioe_context_free(struct ioe_context *ctx)
{
	struct ioe_shared_ctx *sh;

	if (!ctx)
		return;
	sh = &ctx->shared;
	/* Refuse new events, then wait for the pushes already under way. */
	atomic_fetch_or(&sh->producers, IOE_STOPPED);
	while (atomic_load(&sh->producers) != IOE_STOPPED)
		sched_yield();
	atomic_store_explicit(&sh->stopping, true, memory_order_release);
	ioe_wake(&sh->submit_wake);
	ctx->ops->stop(ctx->driver);
	ioe_cb_workers_stop(&sh->cb_workers);
	ioe_merge_pool_fini(&sh->merge);
	ioe_unmap(ctx, sizeof(*ctx));
}

void ioe_context_forget(struct ioe_context *ctx)
{
	if (ctx && ctx->ops->forget)
		ctx->ops->forget(ctx->driver);
}

static bool threads_running(struct ioe_context *ctx)
{
	return atomic_load_explicit(&ctx->threads, memory_order_acquire) == IOE_THREADS_RUNNING;
}

/* This thread is starting the context's threads: a signal handler's request is refused meanwhile. */
static __thread bool starting_here;

/*
 * The engine's threads (and the io_uring driver's shared ring) start with
 * the first request that needs them: one queued, held or handed to the
 * kernel by its caller (ioe_submit(), ioe_submit_local()), exactly once. A
 * program that makes only synchronous calls so stays single-threaded (its
 * fork(), unshare(CLONE_NEWUSER) and setuid() work as without the engine):
 * ioe_submit_wait() does its event in the calling thread until they run.
 * Returns 0 once they run, or -errno when they cannot start now (no thread
 * or ring to be had: -EAGAIN, -EMFILE, ...): the request is then refused
 * whole, nothing queued, and the next one tries again. A start under way
 * in another thread is waited for; one that a signal handler interrupted is
 * not (-EAGAIN), nor can a cancel stop it halfway.
 */
static int threads_start_slow(struct ioe_context *ctx)
{
	uint32_t s;
	int ret, oldstate;

	for (;;) {
		s = atomic_load_explicit(&ctx->threads, memory_order_acquire);
		if (s == IOE_THREADS_RUNNING)
			return 0;
		if (s == IOE_THREADS_NONE &&
		    atomic_compare_exchange_strong(&ctx->threads, &s, IOE_THREADS_STARTING))
			break;
		if (s == IOE_THREADS_STARTING) {
			if (starting_here)
				return -EAGAIN;
			ioe_futex_wait(&ctx->threads, s, NULL);
		}
	}
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	starting_here = true;
	ret = ioe_cb_workers_start(&ctx->shared.cb_workers, ctx->workers);
	if (!ret && (ret = ctx->ops->threads(ctx->driver)))
		ioe_cb_workers_stop(&ctx->shared.cb_workers);
	starting_here = false;
	atomic_store_explicit(&ctx->threads, ret ? IOE_THREADS_NONE : IOE_THREADS_RUNNING, memory_order_release);
	ioe_futex_wake(&ctx->threads, INT_MAX);
	pthread_setcancelstate(oldstate, NULL);
	return ret;
}

/* errno is kept: the caller's call succeeds or fails by its return value. */
static int threads_start(struct ioe_context *ctx)
{
	int saved, ret;

	if (threads_running(ctx))
		return 0;
	saved = errno;
	ret = threads_start_slow(ctx);
	errno = saved;
	return ret;
}

/* A producer's ticket: false once the context is being freed. */
static bool producer_enter(struct ioe_shared_ctx *sh)
{
	if (atomic_fetch_add(&sh->producers, 1) & IOE_STOPPED) {
		atomic_fetch_sub(&sh->producers, 1);
		return false;
	}
	return true;
}

static void producer_leave(struct ioe_shared_ctx *sh)
{
	/* Release: the push is complete before ioe_context_free() sees 0. */
	atomic_fetch_sub_explicit(&sh->producers, 1, memory_order_release);
}

/*
 * Set while this thread queues an event. A signal handler that interrupts the
 * push and calls ioe_submit_wait() (a pread() under the shim) must not queue
 * behind it: its event would wait for a queue link or a wake-up that the
 * interrupted frame makes only after the handler returns.
 */
static __thread unsigned int queueing;

static void queue(struct ioe_shared_ctx *sh, struct ioe_event *ev, enum ioe_channel channel)
{
	queueing++;
	atomic_signal_fence(memory_order_seq_cst);
	atomic_fetch_add_explicit(&sh->total_count, 1, memory_order_relaxed);
	ioe_mpsc_push(&sh->queues[channel], ev);
	ioe_wake(&sh->submit_wake);
	atomic_signal_fence(memory_order_seq_cst);
	queueing--;
}

/*
 * The one decision for an asynchronous request: whether the driver's caller
 * path may take it (its submit_local: handed to the kernel by this thread
 * while the engine is idle, or held for this thread's next wait), or it is
 * queued for the submitter. Only for a thread that waits for it itself,
 * and never a PRIO event (held events skip the channels). A thread that
 * waits for many takes only its O_DIRECT IO and syncs on such fds: the
 * page-cache copies of buffered IO go to the submitter, on another core;
 * nor does any thread a buffered read or write where the driver's caller
 * path takes only O_DIRECT ones (ops->caller_direct_only). The fd is
 * looked at here, once: the driver does not ask again. A stream event
 * (IOE_F_AT_POSITION) never: the kernel cancels a request when the thread
 * that submitted it exits, and one may wait for its file for as long as
 * the program runs: the submitter, which lives as long as the context,
 * submits it.
 */
static bool caller_takes(const struct ioe_context *ctx, const struct ioe_event *ev, enum ioe_channel channel,
			 enum ioe_wait_kind waits)
{
	if (channel == IOE_CHAN_PRIO || waits == IOE_WAITS_ELSEWHERE || (ev->flags & IOE_F_AT_POSITION) ||
	    !ctx->ops->submit_local)
		return false;
	if (waits == IOE_WAITS_AMONG_MANY || (ctx->ops->caller_direct_only && ioe_event_is_rw(ev)))
		return ioe_fd_is_direct(ev->fd);
	return true;
}

int ioe_submit_for(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel, enum ioe_wait_kind waits)
{
	int ret;

	if (!ctx || !ev || (unsigned int)channel >= IOE_CHAN_MAX)
		return -EINVAL;
	ret = ioe_event_check(ev);
	if (ret)
		return ret;
	if ((ev->flags & IOE_F_AT_POSITION) && !ctx->ops->at_position)
		return -EOPNOTSUPP;
	if (!producer_enter(&ctx->shared))
		return -ESHUTDOWN;
	ret = threads_start(ctx);
	if (ret) {
		producer_leave(&ctx->shared);
		return ret;
	}
	if (!caller_takes(ctx, ev, channel, waits) || ctx->ops->submit_local(ctx->driver, ev))
		queue(&ctx->shared, ev, channel);
	producer_leave(&ctx->shared);
	return 0;
}

int ioe_submit(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel)
{
	return ioe_submit_for(ctx, ev, channel, IOE_WAITS_ELSEWHERE);
}

int ioe_submit_local(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel)
{
	return ioe_submit_for(ctx, ev, channel, IOE_WAITS_ALONE);
}

bool ioe_caller_copies(const struct ioe_context *ctx, enum ioe_wait_kind waits)
{
	return waits == IOE_WAITS_ALONE || ioe_pending(ctx) >= IOE_SUBMIT_BATCH;
}

static void sync_done(struct ioe_event *ev, void *arg)
{
	(void)ev;
	ioe_done_set(arg);
}

/*
 * The one decision for a synchronous request: where it runs. The shim asks
 * it too, for a read, before its fast path (shim/rw.c): the same function.
 * - IOE_PATH_PLAIN: a write, an fsync or an fdatasync, whatever the queues
 *   hold; a read that finds the engine idle (nothing queued and a slot
 *   free, or its threads not started); and any request of a signal handler
 *   that interrupted this thread's queueing (see queueing). Done with the
 *   plain system call in the calling thread (see run_inline.c for why):
 *   what the program would have made without the engine, one system call,
 *   and a pipe, a socket or a bad fd gets the kernel's own ESPIPE or EBADF.
 * - IOE_PATH_SHARED: a read while others are queued or every slot is
 *   taken: queued for the submitter, behind the others and by the queues'
 *   policy, for the context's shared ring or AIO context. (The caller could
 *   hand it to the kernel itself only with the queues empty and a slot
 *   free, the case of IOE_PATH_PLAIN.)
 */
enum ioe_path ioe_choose_path(struct ioe_context *ctx, bool read)
{
	/* queueing last: an idle engine's answer needs no look at thread-local storage (__tls_get_addr). */
	if (read && threads_running(ctx) && !ioe_direct_possible(&ctx->shared) && !queueing)
		return IOE_PATH_SHARED;
	return IOE_PATH_PLAIN;
}

int ioe_submit_wait_path(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel,
			 enum ioe_path *path)
{
	_Atomic uint32_t done = IOE_W_PENDING;
	int ret, saved = errno;

	if (!ctx || !ev || !path || (unsigned int)channel >= IOE_CHAN_MAX)
		return -EINVAL;
	ioe_set_callback(ev, sync_done, (void *)&done);
	ret = ioe_event_check(ev);
	if (ret)
		return ret;
	/* For asynchronous events only: a thread would wait for its file. */
	if (ev->flags & IOE_F_AT_POSITION)
		return -EOPNOTSUPP;
	*path = ioe_choose_path(ctx, ioe_event_is_rw(ev) && !ioe_event_is_write(ev));
	if (queueing) {
		/* Nothing shared is touched, not even the producers' count. */
		ioe_event_run_inline(ev);
		return 0;
	}
	/* The ticket is held until the event is done: ioe_context_free() waits. */
	if (!producer_enter(&ctx->shared))
		return -ESHUTDOWN;
	if (*path == IOE_PATH_PLAIN) {
		ioe_event_run_inline(ev);
		producer_leave(&ctx->shared);
	} else {
		sigset_t old;

		/*
		 * ev and done are on this stack: no handler runs while the engine
		 * has them (one that left by longjmp() would leave the engine a
		 * dead frame to complete). As natively: a handler does not
		 * interrupt a read of a regular file, it runs once the read is
		 * done; a signal that runs none (a fatal one) acts meanwhile.
		 */
		ioe_signals_block(&old);
		queue(&ctx->shared, ev, channel);
		while (!ioe_done_wait(&done, IOE_WAIT_RECHECK_NS))
			ioe_signals_let_defaults(&old);
		producer_leave(&ctx->shared);
		ioe_signals_restore(&old);
	}
	errno = saved;
	return 0;
}

int ioe_submit_wait(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel)
{
	enum ioe_path path;

	return ioe_submit_wait_path(ctx, ev, channel, &path);
}

/*
 * Sleeps on the word, IOE_WAIT_RECHECK_NS at most each, until *word != old:
 * 0, -ETIMEDOUT, or -EINTR with *restart (see ioe_signal_due()).
 */
IOE_CANCEL_FRAME static int futex_sleeps(uint32_t *word, uint32_t old, uint64_t deadline,
					 const sigset_t *mask, bool *restart)
{
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old) {
		long ns = ioe_wait_slice(deadline);

		if (!ns)
			return -ETIMEDOUT;
		ioe_word_sleep(word, old, ns);
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == old && ioe_signal_due(mask, deadline, restart))
			return -EINTR;
	}
	return 0;
}

/*
 * A futex wait for *word != old, cancellable as aio_suspend()'s is in
 * glibc, with signals blocked in the sleep (see ioe_signal_due()).
 */
IOE_CANCEL_FRAME static int futex_wait_word(uint32_t *word, uint32_t old, uint64_t deadline)
{
	struct ioe_word_waiter ww;
	bool restart;
	int ret;

	ioe_word_wait_begin(&ww, NULL);
	pthread_cleanup_push(ioe_word_wait_end, &ww);
	while ((ret = futex_sleeps(word, old, deadline, &ww.mask, &restart)) == -EINTR && restart)
		ioe_word_wait_handlers(&ww);
	pthread_cleanup_pop(1);
	return ret;
}

IOE_CANCEL_FRAME int ioe_wait_word(struct ioe_context *ctx, uint32_t *word, uint32_t old, uint64_t deadline)
{
	int saved = errno, ret = -EAGAIN;

	if (!word)
		return -EINVAL;
	if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != old)
		return 0;
	if (ctx && ctx->ops->wait_word && threads_running(ctx))
		ret = ctx->ops->wait_word(ctx->driver, word, old, deadline);
	if (ret == -EAGAIN)
		ret = futex_wait_word(word, old, deadline);
	errno = saved;
	return ret;
}

/*
 * Dekker with ioe_word_sleep(): the caller's change to the word, a full
 * fence, then the count; a sleeper counts itself, then the kernel compares
 * the word. Either this sees the sleeper, or the sleeper sees the change.
 */
void ioe_wake_word(uint32_t *word)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ioe_word_sleepers, memory_order_relaxed))
		ioe_futex_wake(word, INT_MAX);
}

size_t ioe_pending(const struct ioe_context *ctx)
{
	if (!ctx)
		return 0;
	return atomic_load_explicit(&ctx->shared.total_count, memory_order_relaxed) +
	       atomic_load_explicit(&ctx->shared.held_count, memory_order_relaxed);
}

size_t ioe_running(const struct ioe_context *ctx)
{
	if (!ctx)
		return 0;
	return ctx->shared.depth -
	       atomic_load_explicit(&ctx->shared.free_slots_count, memory_order_relaxed) +
	       atomic_load_explicit(&ctx->shared.streams, memory_order_relaxed);
}

const char *ioe_backend_name(const struct ioe_context *ctx)
{
	return ctx ? ctx->ops->name : NULL;
}
