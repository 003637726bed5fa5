/* SPDX-License-Identifier: MIT */
#ifndef IOE_RUN_INLINE_H
#define IOE_RUN_INLINE_H

#include <stdbool.h>
#include "ioengine.h"

/* Do ev now in this thread with plain syscalls and set ev->res; errno kept. */
void ioe_event_run_inline(struct ioe_event *ev);

/*
 * choose_path()'s IOE_PATH_PLAIN (a write, a sync, or a read that finds
 * the engine idle; see run_inline.c for why): done now in the calling
 * thread with the plain system call, by the engine's progress rules (one
 * call for IOE_F_ONE_CALL; fault injection included); ev->res set, errno
 * kept.
 */
void ioe_event_run_plain(struct ioe_event *ev);

struct ioe_progress;
/* The rest of ev, after what p says is done, by plain system calls: ev->res set. */
void ioe_event_finish_inline(struct ioe_progress *p, struct ioe_event *ev);

/*
 * One read or write of ev's kind: iov[0..cnt) at off, the first skip bytes
 * of iov[0] left out; or ev's fsync or fdatasync. Raw syscalls (the shim
 * wraps pread()); the result, or -1 with errno.
 */
long ioe_rw_syscall(const struct ioe_event *ev, const struct iovec *iov, int cnt, size_t skip, int64_t off);
long ioe_sync_syscall(const struct ioe_event *ev);

#endif
