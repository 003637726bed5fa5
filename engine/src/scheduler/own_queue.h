/* SPDX-License-Identifier: MIT */
/*
 * A thread's own queue to the kernel for its synchronous reads: the
 * machinery in own_queue.c, the kernel interface in a driver's descriptor
 * (ioe_uring_own_ring in uring_own_ring.c, ioe_aio_own_context in
 * aio_own_context.c), which a driver names in its ops (context.h).
 */
#ifndef IOE_OWN_QUEUE_H
#define IOE_OWN_QUEUE_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "ioengine.h"

struct ioe_progress;

/*
 * Room for what a descriptor keeps for one thread (a struct io_uring, an
 * io_context_t), which it reaches by a cast, as a struct sockaddr_storage
 * holds an address: own_queue.c needs neither liburing.h nor libaio.h.
 */
struct ioe_own_queue {
	_Alignas(max_align_t) unsigned char area[256];
};

/* Each descriptor's place in a thread's state: a thread may use both. */
enum { IOE_OWN_QUEUE_URING, IOE_OWN_QUEUE_AIO, IOE_OWN_QUEUE_SLOTS };

/* piece(): the queue refused the IO, which is then stuck in it: no use any more. */
#define IOE_OWN_QUEUE_REFUSED LONG_MIN

struct ioe_own_queue_ops {
	unsigned int slot;	/* IOE_OWN_QUEUE_* */
	/*
	 * Make q for the calling thread: 0 or -errno. ENOSYS, EINVAL, EPERM or
	 * EOPNOTSUPP: the kernel lacks it, and no thread tries again.
	 */
	int (*open)(struct ioe_own_queue *q);
	/* Free what open() made. */
	void (*close)(struct ioe_own_queue *q);
	/*
	 * Submit ev's next piece (after what prog says is done) on q and wait for
	 * it: its result or -errno, or IOE_OWN_QUEUE_REFUSED.
	 */
	long (*piece)(struct ioe_own_queue *q, const struct ioe_event *ev, const struct ioe_progress *prog);
};

extern const struct ioe_own_queue_ops ioe_uring_own_ring;
extern const struct ioe_own_queue_ops ioe_aio_own_context;

/*
 * Do ev on the calling thread's own queue of ops' kind (its io_uring or
 * Linux AIO context) and wait for it there: 0 with ev->res set, or -EAGAIN
 * when this thread has none (a kernel without it, a limit reached, or a
 * signal handler that interrupted the thread's own use).
 */
int ioe_own_queue_run(const struct ioe_own_queue_ops *ops, struct ioe_event *ev);

#endif
