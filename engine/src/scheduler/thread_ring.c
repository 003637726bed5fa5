/* SPDX-License-Identifier: MIT */
/*
 * A thread's own io_uring, for its synchronous IO (ioe_submit_wait()). On the
 * shared ring, waits from several threads contend for the ring's locks and
 * run each other's completions (fio psync O_DIRECT, 4 jobs: 0.66-0.70x
 * native); on a ring of its own nothing is shared, and with DEFER_TASKRUN
 * the completion's work runs inside the thread's own wait.
 *
 * The ring is made on the thread's first use and freed when the thread
 * exits (a key destructor). Its fd is registered and closed at once, so no
 * descriptor of the program's is taken. Its mappings are not inherited by
 * fork() (MADV_DONTFORK): a child forgets its parent's ring and makes its
 * own. No lock is held and no signal blocked: a signal handler that
 * interrupts the thread here and does IO itself is sent to the shared ring.
 */
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include "thread_ring.h"
#include "uring_prep.h"
#include "../fault.h"
#include "../valgrind_annotate.h"

enum { TR_NONE, TR_READY, TR_FAILED };

struct thread_ring {
	struct io_uring ring;
	unsigned int gen;	/* fork generation it was made in */
	int state;
	volatile sig_atomic_t busy;
};

static __thread struct thread_ring tr;
static pthread_once_t tr_once = PTHREAD_ONCE_INIT;
static pthread_key_t tr_key;
static bool tr_key_ok;
static _Atomic unsigned int fork_gen;
static _Atomic bool unsupported;	/* the kernel refused a ring as this one */

static void ring_free(void *arg)
{
	struct thread_ring *t = arg;
	int saved = errno;

	io_uring_queue_exit(&t->ring);
	t->state = TR_NONE;
	errno = saved;
}

static void child_after_fork(void)
{
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
}

static void tr_init(void)
{
	tr_key_ok = !pthread_key_create(&tr_key, ring_free) && !pthread_atfork(NULL, NULL, child_after_fork);
}

static int ring_open(struct thread_ring *t)
{
	int ret;

	if (pthread_once(&tr_once, tr_init) || !tr_key_ok)
		return -ENOMEM;
	/* valgrind ignores MADV_DONTFORK: in a fork child it asserts on the next mmap(). */
	if (ioe_running_on_valgrind()) {
		atomic_store_explicit(&unsupported, true, memory_order_relaxed);
		return -ENOSYS;
	}
	ret = io_uring_queue_init(2, &t->ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	if (ret) {
		if (ret == -EINVAL || ret == -ENOSYS || ret == -EPERM)
			atomic_store_explicit(&unsupported, true, memory_order_relaxed);
		return ret;
	}
	if (io_uring_register_ring_fd(&t->ring) != 1 || io_uring_ring_dontfork(&t->ring)) {
		atomic_store_explicit(&unsupported, true, memory_order_relaxed);
		io_uring_queue_exit(&t->ring);
		return -EINVAL;
	}
	/* liburing 2.4's io_uring_close_ring_fd(); the registered index is used from now on. */
	close(t->ring.ring_fd);
	t->ring.ring_fd = -1;
	if (pthread_setspecific(tr_key, t)) {
		io_uring_queue_exit(&t->ring);
		return -ENOMEM;
	}
	return 0;
}

static bool ring_ready(struct thread_ring *t)
{
	unsigned int gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);

	/* A fork child: the parent's ring is not mapped here (nor registered for this task). */
	if (t->state != TR_NONE && t->gen != gen)
		t->state = TR_NONE;
	if (t->state == TR_NONE) {
		if (atomic_load_explicit(&unsupported, memory_order_relaxed))
			return false;
		t->state = ring_open(t) ? TR_FAILED : TR_READY;
		t->gen = gen;
	}
	return t->state == TR_READY;
}

/* Transient refusals (EAGAIN, EBUSY, ENOMEM, EINTR) are retried; anything else is returned. */
static int submit_one(struct io_uring *ring)
{
	for (;;) {
		int ret = ioe_fault_submit();

		if (!ret)
			ret = io_uring_submit(ring);
		if (ret == 1)
			return 0;
		if (ret != -EAGAIN && ret != -EBUSY && ret != -ENOMEM && ret != -EINTR)
			return ret ? ret : -EIO;
		sched_yield();
	}
}

/* Wait for the one CQE: the IO is the kernel's until it comes, whatever interrupts the wait. */
static long wait_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	long res;

	while (io_uring_wait_cqe(ring, &cqe))
		;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

int ioe_thread_ring_run(struct ioe_event *ev)
{
	struct thread_ring *t = &tr;
	struct ioe_progress prog;
	int saved = errno;
	bool first = true;
	long res;

	if (t->busy)
		return -EAGAIN;
	t->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	if (!ring_ready(t)) {
		t->busy = 0;
		return -EAGAIN;
	}
	ioe_progress_start(&prog, ev);
	do {
		ioe_uring_prep(io_uring_get_sqe(&t->ring), ev, &prog);
		res = submit_one(&t->ring);
		if (res) {
			/* The SQE is stuck in this ring: no use any more. */
			ring_free(t);
			t->state = TR_FAILED;
			if (first) {
				t->busy = 0;
				errno = saved;
				return -EAGAIN;	/* nothing done: the shared ring does it */
			}
		} else {
			res = wait_one(&t->ring);
		}
		first = false;
	} while (!ioe_progress_update(&prog, ev, ioe_fault_result(res)));
	atomic_signal_fence(memory_order_seq_cst);
	t->busy = 0;
	errno = saved;
	return 0;
}
