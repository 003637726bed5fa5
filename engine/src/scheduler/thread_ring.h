/* SPDX-License-Identifier: MIT */
#ifndef IOE_THREAD_RING_H
#define IOE_THREAD_RING_H

#include "ioengine.h"

/*
 * Do ev on the calling thread's own io_uring and wait for it there: 0 with
 * ev->res set, or -EAGAIN when this thread has no such ring (a kernel before
 * 6.1, or a signal handler that interrupted the thread's own use of it).
 */
int ioe_thread_ring_run(struct ioe_event *ev);

#endif
