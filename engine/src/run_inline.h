/* SPDX-License-Identifier: MIT */
#ifndef IOE_RUN_INLINE_H
#define IOE_RUN_INLINE_H

#include "ioengine.h"

/* Do ev now in this thread with plain syscalls and set ev->res; errno kept. */
void ioe_event_run_inline(struct ioe_event *ev);

#endif
