/* SPDX-License-Identifier: MIT */
/*
 * The io_uring driver's queue of a thread's own (see own_queue.c): a ring
 * of two entries, SINGLE_ISSUER | DEFER_TASKRUN, so that a completion's
 * work runs inside the thread's own wait. Its fd is registered and closed
 * at once: no descriptor of the program's is taken. Its mappings are
 * MADV_DONTFORK: a fork child does not inherit it.
 */
#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <unistd.h>
#include "driver.h"
#include "own_queue.h"
#include "uring_prep.h"
#include "../fault.h"
#include "../valgrind_annotate.h"

static_assert(sizeof(struct io_uring) <= sizeof(struct ioe_own_queue), "struct ioe_own_queue: too small");

static struct io_uring *ring_of(struct ioe_own_queue *q)
{
	return (struct io_uring *)q->area;
}

static int open_uring(struct ioe_own_queue *q)
{
	struct io_uring *ring = ring_of(q);
	int ret;

	/* valgrind ignores MADV_DONTFORK: in a fork child it asserts on the next mmap(). */
	if (ioe_running_on_valgrind())
		return -ENOSYS;
	ret = io_uring_queue_init(2, ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
	if (ret)
		return ret;
	/* EBUSY: the task's 16 registered rings are taken (the program's own, the shared ring's). */
	ret = io_uring_register_ring_fd(ring);
	if (ret == 1)
		ret = io_uring_ring_dontfork(ring);
	else if (ret >= 0)
		ret = -EINVAL;
	if (ret) {
		io_uring_queue_exit(ring);
		return ret;
	}
	/* liburing 2.4's io_uring_close_ring_fd(): the registered index serves from now on. */
	close(ring->ring_fd);
	ring->ring_fd = -1;
	return 0;
}

static void close_uring(struct ioe_own_queue *q)
{
	io_uring_queue_exit(ring_of(q));
}

/* One piece on the ring: its result, or IOE_OWN_QUEUE_REFUSED (the SQE is stuck in it). */
static long uring_piece(struct ioe_own_queue *q, const struct ioe_event *ev, const struct ioe_progress *prog)
{
	struct io_uring *ring = ring_of(q);
	struct io_uring_cqe *cqe;
	long ret, res;

	ioe_uring_prep(io_uring_get_sqe(ring), ev, prog);
	while (ioe_submit_transient(ret = ioe_fault_submit() ?: io_uring_submit_and_wait(ring, 1)))
		sched_yield();
	if (ret != 1)
		return IOE_OWN_QUEUE_REFUSED;
	/* There by now, unless a signal cut the wait short: the IO is the kernel's until it comes. */
	while (io_uring_wait_cqe(ring, &cqe))
		;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

const struct ioe_own_queue_ops ioe_uring_own_ring = {
	.slot = IOE_OWN_QUEUE_URING,
	.open = open_uring,
	.close = close_uring,
	.piece = uring_piece,
};
