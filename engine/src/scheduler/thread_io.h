/* SPDX-License-Identifier: MIT */
#ifndef IOE_THREAD_IO_H
#define IOE_THREAD_IO_H

#include <stdbool.h>
#include "ioengine.h"

/*
 * Do ev on the calling thread's own io_uring (IOE_BACKEND_URING) or Linux
 * AIO context (IOE_BACKEND_AIO) and wait for it there: 0 with ev->res set,
 * or -EAGAIN when this thread has none (a kernel without it, a limit
 * reached, or a signal handler that interrupted the thread's own use).
 */
int ioe_thread_io_run(enum ioe_backend kind, struct ioe_event *ev);

#endif
