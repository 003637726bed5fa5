/* SPDX-License-Identifier: MIT */
/*
 * A thread's own queue to the kernel (its own io_uring or Linux AIO
 * context), for its synchronous reads (ioe_submit_wait() while the queues
 * are empty). On the shared ring or context, waits from several threads
 * contend for its locks and reap each other's completions, and so fall
 * well behind pread() from as many threads; on one of its own a thread
 * shares nothing, as with pread(). What it is and how a piece of IO goes
 * through it is the driver's (struct ioe_own_queue_ops: uring_own_ring.c,
 * aio_own_context.c); this file keeps the rest, the same for both.
 *
 * Made on the thread's first use, freed when it exits (a key destructor).
 * No descriptor of the program's is taken. Neither kind is inherited by a
 * fork (the ring's mappings are MADV_DONTFORK, an AIO context is per
 * process): a child, also one of _Fork() or clone(), which run no atfork
 * handler, finds the epoch word zeroed (MADV_WIPEONFORK), forgets its
 * parent's and makes its own. No lock is held and no signal blocked: a
 * signal handler that interrupts the thread's use and does IO itself is
 * sent to the shared ring or context.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include "own_queue.h"
#include "progress.h"
#include "../fault.h"
#include "../fork_word.h"

enum { Q_NONE, Q_READY, Q_FAILED };

struct own_queues {
	struct ioe_own_queue q[IOE_OWN_QUEUE_SLOTS];
	const struct ioe_own_queue_ops *ops[IOE_OWN_QUEUE_SLOTS];	/* what opened q */
	int state[IOE_OWN_QUEUE_SLOTS];
	unsigned int retry_in[IOE_OWN_QUEUE_SLOTS];	/* Q_FAILED: calls until the next try (0: never) */
	unsigned int backoff[IOE_OWN_QUEUE_SLOTS];	/* the last wait, doubled at each failure */
	unsigned int epoch;	/* the process epoch they were made in */
	volatile sig_atomic_t busy;
};

static __thread struct own_queues mine;
static pthread_once_t own_once = PTHREAD_ONCE_INIT;
static pthread_key_t own_key;
static bool own_key_ok;
/* The process's epoch: in a page the kernel zeroes in a fork child; never 0 in use. */
static _Atomic unsigned int *epoch_word;
static _Atomic unsigned int epochs_used;	/* copied into a child: its next epoch is new */
static _Atomic bool unsupported[IOE_OWN_QUEUE_SLOTS];	/* the kernel lacks it: no thread tries again */

static void close_kind(struct own_queues *t, unsigned int kind)
{
	if (t->state[kind] == Q_READY)
		t->ops[kind]->close(&t->q[kind]);
	t->state[kind] = Q_NONE;
}

static void thread_exit(void *arg)
{
	struct own_queues *t = arg;
	int saved = errno;

	for (unsigned int kind = 0; kind < IOE_OWN_QUEUE_SLOTS; kind++)
		close_kind(t, kind);
	errno = saved;
}

static void own_init(void)
{
	void *word = ioe_fork_word_new();

	if (!word)
		return;
	if (pthread_key_create(&own_key, thread_exit)) {
		munmap(word, 4096);
		return;
	}
	epoch_word = word;
	own_key_ok = true;
}

/* Unloaded (dlclose()): threads that live on must not call a destructor that is gone. */
__attribute__((destructor)) static void own_unload(void)
{
	if (own_key_ok)
		pthread_key_delete(own_key);
}

/* This process's epoch; a fork child's first call starts a new one. */
static unsigned int epoch(void)
{
	unsigned int e = atomic_load_explicit(epoch_word, memory_order_relaxed), fresh;

	if (e)
		return e;
	fresh = atomic_fetch_add_explicit(&epochs_used, 1, memory_order_relaxed) + 1;
	return atomic_compare_exchange_strong(epoch_word, &e, fresh) ? fresh : e;
}

static int open_kind(struct own_queues *t, const struct ioe_own_queue_ops *ops)
{
	unsigned int kind = ops->slot;
	int ret;

	if (pthread_setspecific(own_key, t))
		return -ENOMEM;
	t->ops[kind] = ops;
	ret = ops->open(&t->q[kind]);
	if (ret == -ENOSYS || ret == -EINVAL || ret == -EPERM || ret == -EOPNOTSUPP)
		atomic_store_explicit(&unsupported[kind], true, memory_order_relaxed);
	return ret;
}

/*
 * Only the kernel's lack of it (ENOSYS, EINVAL for a flag it does not
 * know, EPERM from io_uring_disabled or seccomp) turns a kind off for the
 * whole process. Anything else (EMFILE or ENFILE at a moment the fd table
 * is full, EAGAIN when aio-max-nr is reached, ENOMEM) is this thread's, for
 * now: it tries again on its next call, then after 2, 4, ... calls, at
 * most RETRY_MAX, so that a lasting shortage costs a failed setup only
 * now and then. Others try anyway.
 */
#define RETRY_MAX 1024

static void open_failed(struct own_queues *t, unsigned int kind)
{
	unsigned int b = t->backoff[kind];

	t->state[kind] = Q_FAILED;
	t->backoff[kind] = !b ? 1 : b < RETRY_MAX ? 2 * b : RETRY_MAX;
	t->retry_in[kind] = t->backoff[kind];
}

static void try_open(struct own_queues *t, const struct ioe_own_queue_ops *ops)
{
	unsigned int kind = ops->slot;

	if (t->state[kind] == Q_FAILED && t->retry_in[kind] && !--t->retry_in[kind])
		t->state[kind] = Q_NONE;
	if (t->state[kind] != Q_NONE || atomic_load_explicit(&unsupported[kind], memory_order_relaxed))
		return;
	if (open_kind(t, ops)) {
		open_failed(t, kind);
		return;
	}
	t->state[kind] = Q_READY;
	t->backoff[kind] = 0;
}

static bool ready(struct own_queues *t, const struct ioe_own_queue_ops *ops)
{
	unsigned int e;

	if (pthread_once(&own_once, own_init) || !own_key_ok)
		return false;
	/* A fork child: the parent's are not there (nor registered for this task). */
	if (t->epoch != (e = epoch())) {
		for (unsigned int kind = 0; kind < IOE_OWN_QUEUE_SLOTS; kind++)
			t->state[kind] = Q_NONE;
		t->epoch = e;
	}
	try_open(t, ops);
	return t->state[ops->slot] == Q_READY;
}

/* A refused piece is stuck in the queue: closed, and not tried again by this thread. */
static void refused(struct own_queues *t, unsigned int kind)
{
	close_kind(t, kind);
	t->state[kind] = Q_FAILED;
	t->retry_in[kind] = 0;	/* for good */
}

int ioe_own_queue_run(const struct ioe_own_queue_ops *ops, struct ioe_event *ev)
{
	struct own_queues *t = &mine;
	unsigned int kind = ops->slot;
	struct ioe_progress prog;
	int saved = errno;
	bool first = true;
	long res;

	if (t->busy)
		return -EAGAIN;
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (!ready(t, ops)) {
		t->busy = 0;
		return -EAGAIN;
	}
	ioe_progress_start(&prog, ev);
	do {
		res = ops->piece(&t->q[kind], ev, &prog);
		if (res == IOE_OWN_QUEUE_REFUSED) {
			refused(t, kind);
			if (first) {
				t->busy = 0;
				errno = saved;
				return -EAGAIN;	/* nothing done: the shared ring or context does it */
			}
			res = -EIO;
		}
		first = false;
	} while (!ioe_progress_update(&prog, ev, ioe_fault_result(res)));
	atomic_signal_fence(memory_order_seq_cst);
	t->busy = 0;
	errno = saved;
	return 0;
}
