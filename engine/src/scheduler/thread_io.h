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

/*
 * A write, an fsync or an fdatasync: done now in the calling thread with
 * the plain system call (true, ev->res set). A read: false, nothing done.
 */
bool ioe_thread_io_plain(struct ioe_event *ev);

struct ioe_progress;
/* The rest of ev, after what p says is done, by plain system calls: ev->res set. */
void ioe_plain_finish(struct ioe_progress *p, struct ioe_event *ev);

#endif
