/* SPDX-License-Identifier: MIT */
/*
 * Sequential-IO merging: a run of same-fd, same-direction events, each
 * starting where the previous one ended, goes to the kernel as one IO on one
 * buffer; on completion each sub-event gets exactly the result a separate IO
 * of its own range would have had.
 *
 * Installed as <ioengine-merge.h>.
 *
 * Threads: a merger is not locked. Use it from one thread at a time (any
 * thread, including the completion callback of another event; hand it over
 * with the usual happens-before, e.g. through the event that completes).
 *
 * Callbacks: every event the merger took is called back exactly once. A
 * merged IO calls back its sub-events, in offset order, from the engine
 * thread that completes it (as ioengine.h describes for any event). When a
 * submit fails inside add, flush or free, the events concerned are called
 * back with the error at once, in the calling thread, before it returns;
 * such a callback may use the merger again.
 *
 * Memory: a run of two or more events costs one allocation, freed once the
 * result is fanned out: a vectored IO over the events' own buffers (no
 * copy), or, on an O_DIRECT fd when a buffer or length of the run is not a
 * multiple of 4096, the data copied through one 4096-aligned buffer, so the
 * run still goes as one IO. A single event goes as it is. While the merger
 * holds an event it uses the event's merged_next link.
 */
#ifndef IOE_MERGE_H
#define IOE_MERGE_H

#include "ioengine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ioe_merger;

/*
 * A merger bound to one context, fd, action (IOE_READ or IOE_WRITE) and
 * channel; runs are at most `limit` bytes (1..SSIZE_MAX). NULL + errno:
 * EINVAL on bad input, ENOMEM.
 */
IOE_API struct ioe_merger *ioe_merger_new(struct ioe_context *ctx, int fd, enum ioe_action action,
					  enum ioe_channel channel, size_t limit);

/*
 * Add an event prepared for this fd and action, with a callback. An event
 * that continues the pending run joins it while the run stays within the
 * limit (a run that reaches the limit is submitted at once); otherwise the
 * run is submitted first, and an event of `limit` bytes or more goes alone.
 *
 * -EINVAL (NULL, another fd or action, no callback, bad offset or length):
 * the event is not taken and not called back. Otherwise it is taken and
 * returns 0, or the -errno of a submit that failed on the way (the failed
 * events, maybe this one, were called back with it).
 */
IOE_API int ioe_merger_add(struct ioe_merger *m, struct ioe_event *ev);

/* Submit the pending run. 0, -EINVAL for NULL, or the -errno of a failed
 * submit (every event of the run not yet submitted was called back with it). */
IOE_API int ioe_merger_flush(struct ioe_merger *m);

/* Flush, then free the merger (not the events). NULL is a no-op. */
IOE_API void ioe_merger_free(struct ioe_merger *m);

#ifdef __cplusplus
}
#endif
#endif
