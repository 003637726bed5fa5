/* SPDX-License-Identifier: MIT */
#ifndef IOE_RUN_INLINE_H
#define IOE_RUN_INLINE_H

#include "ioengine.h"

/*
 * Do ev now in this thread with plain system calls, by the engine's
 * progress rules (one call for IOE_F_ONE_CALL; fault injection included),
 * and set ev->res; errno kept. Async-signal-safe. ioe_choose_path()'s
 * IOE_PATH_PLAIN (a write, a sync, or a read that finds the engine idle:
 * see run_inline.c for why), and wherever an event cannot go to the kernel
 * through a ring or AIO context.
 */
void ioe_event_run_inline(struct ioe_event *ev);

struct ioe_progress;
/* The rest of ev, after what p (a driver's) says is done, by plain system calls: ev->res set. */
void ioe_event_finish_inline(struct ioe_progress *p, struct ioe_event *ev);

#endif
