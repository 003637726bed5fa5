/* SPDX-License-Identifier: MIT */
/*
 * Sequential-IO merging: a run of same-fd, same-direction events, each
 * starting where the previous one ended, goes to the kernel as one IO on one
 * buffer; on completion each sub-event gets exactly the result a separate IO
 * of its own range would have had.
 */
#ifndef IOE_MERGE_H
#define IOE_MERGE_H

#include "ioengine.h"

struct ioe_merger;

/*
 * A merger bound to one context, fd, action (IOE_READ or IOE_WRITE) and
 * channel; runs are at most `limit` bytes. NULL + errno (EINVAL) on bad input.
 */
IOE_API struct ioe_merger *ioe_merger_new(struct ioe_context *ctx, int fd, enum ioe_action action,
					  enum ioe_channel channel, size_t limit);
/* Add an event (prepared for this fd and action, with a callback). 0 or -errno. */
IOE_API int ioe_merger_add(struct ioe_merger *m, struct ioe_event *ev);
/* Submit the pending run. 0 or -errno (every event of the run is then called back with it). */
IOE_API int ioe_merger_flush(struct ioe_merger *m);
/* Flush, then free the merger (not the events). */
IOE_API void ioe_merger_free(struct ioe_merger *m);

#endif
