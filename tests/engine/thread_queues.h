/* SPDX-License-Identifier: MIT */
/* Whether this kernel gives each thread the ring or AIO context of own_queue.c (io_uring: 6.1). */
#ifndef IOE_TEST_THREAD_QUEUES_H
#define IOE_TEST_THREAD_QUEUES_H

#include <libaio.h>
#include <liburing.h>
#include <stdbool.h>
#include "ioengine.h"
#include "valgrind_annotate.h"

static inline bool thread_queues_possible(enum ioe_backend b)
{
	struct io_uring r;
	io_context_t a = 0;

	if (b == IOE_BACKEND_AIO) {
		if (io_setup(1, &a))
			return false;
		io_destroy(a);
		return true;
	}
	if (ioe_running_on_valgrind() ||
	    io_uring_queue_init(2, &r, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN))
		return false;
	io_uring_queue_exit(&r);
	return true;
}

#endif
