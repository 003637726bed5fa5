/* SPDX-License-Identifier: MIT */
/*
 * A thread's own io_uring and Linux AIO context, for its synchronous IO
 * (ioe_submit_wait() while the queues are empty). On the shared ring or
 * context, waits from several threads contend for its locks and reap each
 * other's completions, and so fall well behind pread() from as many
 * threads; on one of its own a thread shares nothing, as with pread(). The
 * ring is SINGLE_ISSUER | DEFER_TASKRUN: a completion's work runs inside
 * the thread's own wait.
 *
 * Made on the thread's first use, freed when it exits (a key destructor).
 * The ring's fd is registered and closed at once: no descriptor of the
 * program's is taken. Neither is inherited by a fork (the ring's mappings
 * are MADV_DONTFORK, an AIO context is per process): a child, also one of
 * _Fork() or clone(), which run no atfork handler, finds the epoch word
 * zeroed (MADV_WIPEONFORK), forgets its parent's and makes its own. No lock
 * is held and no signal blocked: a
 * signal handler that interrupts the thread's use and does IO itself is
 * sent to the shared ring or context.
 */
#include <errno.h>
#include <libaio.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>
#include "aio_prep.h"
#include "thread_io.h"
#include "uring_prep.h"
#include "../fault.h"
#include "../tasks.h"
#include "../valgrind_annotate.h"

enum { KIND_URING, KIND_AIO, KINDS };
enum { TIO_NONE, TIO_READY, TIO_FAILED };

struct thread_io {
	struct io_uring ring;
	io_context_t aio;
	int state[KINDS];
	unsigned int retry_in[KINDS];	/* TIO_FAILED: calls until the next try (0: never) */
	unsigned int backoff[KINDS];	/* the last wait, doubled at each failure */
	unsigned int epoch;	/* the process epoch they were made in */
	volatile sig_atomic_t busy;
};

static __thread struct thread_io tio;
static pthread_once_t tio_once = PTHREAD_ONCE_INIT;
static pthread_key_t tio_key;
static bool tio_key_ok;
/* The process's epoch: in a page the kernel zeroes in a fork child; never 0 in use. */
static _Atomic unsigned int *epoch_word;
static _Atomic unsigned int epochs_used;	/* copied into a child: its next epoch is new */
static _Atomic bool unsupported[KINDS];	/* the kernel lacks it: no thread tries again */

static void close_kind(struct thread_io *t, int kind)
{
	if (t->state[kind] == TIO_READY) {
		if (kind == KIND_URING)
			io_uring_queue_exit(&t->ring);
		else
			io_destroy(t->aio);
	}
	t->state[kind] = TIO_NONE;
}

static void thread_exit(void *arg)
{
	struct thread_io *t = arg;
	int saved = errno;

	close_kind(t, KIND_URING);
	close_kind(t, KIND_AIO);
	errno = saved;
}

static void tio_init(void)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return;
	if (madvise(page, 4096, MADV_WIPEONFORK) || pthread_key_create(&tio_key, thread_exit)) {
		munmap(page, 4096);
		return;
	}
	epoch_word = page;
	tio_key_ok = true;
}

/* Unloaded (dlclose()): threads that live on must not call a destructor that is gone. */
__attribute__((destructor)) static void tio_unload(void)
{
	if (tio_key_ok)
		pthread_key_delete(tio_key);
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

static int open_uring(struct thread_io *t)
{
	int ret = io_uring_queue_init(2, &t->ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);

	if (ret)
		return ret;
	/* EBUSY: the task's 16 registered rings are taken (the program's own, the shared ring's). */
	ret = io_uring_register_ring_fd(&t->ring);
	if (ret == 1)
		ret = io_uring_ring_dontfork(&t->ring);
	else if (ret >= 0)
		ret = -EINVAL;
	if (ret) {
		io_uring_queue_exit(&t->ring);
		return ret;
	}
	/* liburing 2.4's io_uring_close_ring_fd(): the registered index serves from now on. */
	close(t->ring.ring_fd);
	t->ring.ring_fd = -1;
	return 0;
}

static int open_kind(struct thread_io *t, int kind)
{
	int ret;

	if (pthread_setspecific(tio_key, t))
		return -ENOMEM;
	/* valgrind ignores MADV_DONTFORK: in a fork child it asserts on the next mmap(). */
	if (kind == KIND_URING && ioe_running_on_valgrind())
		ret = -ENOSYS;
	else
		ret = kind == KIND_URING ? open_uring(t) : io_setup(1, &t->aio);
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
 * most TIO_RETRY_MAX, so that a lasting shortage costs a failed setup only
 * now and then. Others try anyway.
 */
#define TIO_RETRY_MAX 1024

static void open_failed(struct thread_io *t, int kind)
{
	unsigned int b = t->backoff[kind];

	t->state[kind] = TIO_FAILED;
	t->backoff[kind] = !b ? 1 : b < TIO_RETRY_MAX ? 2 * b : TIO_RETRY_MAX;
	t->retry_in[kind] = t->backoff[kind];
}

static void try_open(struct thread_io *t, int kind)
{
	if (t->state[kind] == TIO_FAILED && t->retry_in[kind] && !--t->retry_in[kind])
		t->state[kind] = TIO_NONE;
	if (t->state[kind] != TIO_NONE || atomic_load_explicit(&unsupported[kind], memory_order_relaxed))
		return;
	if (open_kind(t, kind)) {
		open_failed(t, kind);
		return;
	}
	t->state[kind] = TIO_READY;
	t->backoff[kind] = 0;
}

static bool ready(struct thread_io *t, int kind)
{
	unsigned int e;

	if (pthread_once(&tio_once, tio_init) || !tio_key_ok)
		return false;
	/* A fork child: the parent's are not there (nor registered for this task). */
	if (t->epoch != (e = epoch())) {
		t->state[KIND_URING] = t->state[KIND_AIO] = TIO_NONE;
		t->epoch = e;
	}
	try_open(t, kind);
	return t->state[kind] == TIO_READY;
}

/* Retried: transient refusals of a submission. */
static bool transient(long ret)
{
	return ret == -EAGAIN || ret == -EBUSY || ret == -ENOMEM || ret == -EINTR;
}

/* uring_piece(): the ring refused the SQE, which is then stuck in it: no use any more. */
#define RING_REFUSED LONG_MIN

/* One piece on the ring: its result, or RING_REFUSED. */
static long uring_piece(struct thread_io *t, const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct io_uring_cqe *cqe;
	long ret, res;

	ioe_uring_prep(io_uring_get_sqe(&t->ring), ev, prog);
	while (transient(ret = ioe_fault_submit() ?: io_uring_submit_and_wait(&t->ring, 1)))
		sched_yield();
	if (ret != 1) {
		close_kind(t, KIND_URING);
		t->state[KIND_URING] = TIO_FAILED;
		t->retry_in[KIND_URING] = 0;	/* for good */
		return RING_REFUSED;
	}
	/* There by now, unless a signal cut the wait short: the IO is the kernel's until it comes. */
	while (io_uring_wait_cqe(&t->ring, &cqe))
		;
	res = cqe->res;
	io_uring_cqe_seen(&t->ring, cqe);
	return res;
}

/* One piece on the AIO context: its result (a refused iocb's is the refusal). */
static long aio_piece(struct thread_io *t, const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event done;
	long ret;

	ioe_aio_prep(&cb, ev, prog);
	while (transient(ret = ioe_fault_submit() ?: io_submit(t->aio, 1, cbs)))
		sched_yield();
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	while (io_getevents(t->aio, 1, 1, &done, NULL) != 1)
		;
	return (long)done.res;
}

int ioe_thread_io_run(enum ioe_backend backend, struct ioe_event *ev)
{
	int kind = backend == IOE_BACKEND_URING ? KIND_URING : KIND_AIO;
	struct thread_io *t = &tio;
	struct ioe_progress prog;
	int saved = errno;
	bool first = true;
	long res;

	if (t->busy)
		return -EAGAIN;
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (!ready(t, kind)) {
		t->busy = 0;
		return -EAGAIN;
	}
	ioe_progress_start(&prog, ev);
	do {
		res = kind == KIND_URING ? uring_piece(t, ev, &prog) : aio_piece(t, ev, &prog);
		if (res == RING_REFUSED) {
			if (first) {
				t->busy = 0;
				errno = saved;
				return -EAGAIN;	/* nothing done: the shared ring does it */
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
