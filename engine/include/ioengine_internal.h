/* SPDX-License-Identifier: MIT */
/*
 * Internal to the ioengine project, never installed: what the LD_PRELOAD
 * shim (shim/) takes from the engine beyond the public API in ioengine.h.
 * The engine's own headers stay in engine/src, private to its files; this
 * one is the whole boundary between the two. Nothing here is a stable API.
 */
#ifndef IOENGINE_INTERNAL_H
#define IOENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "ioengine.h"

/*
 * The engine's own helpers that the shim uses too (written once, kept in
 * engine/src): the clock, a system call without libc, the raw futex calls,
 * moving through an iovec, blocking every signal, a word zeroed in fork
 * children.
 */
#include "../src/clock.h"
#include "../src/raw_syscall.h"
#include "../src/futex.h"
#include "../src/iov.h"
#include "../src/signals.h"
#include "../src/fork_word.h"

/*
 * An IOENGINE_BACKEND value: NULL, "" or "auto", "uring" or "io_uring",
 * "aio". 0 with *b set, or -EINVAL (*b untouched) for anything else.
 */
int ioe_backend_parse(const char *v, enum ioe_backend *b);

/*
 * ev->flags, for the project's own layers: the caller has just seen ev's fd
 * take a positioned read (a preadv2() at an offset that read bytes or said
 * EAGAIN: a pipe, a socket or a bad fd says ESPIPE or EBADF), so the engine
 * need not look again (its lseek() check, queue_policy.c) before handing ev
 * to the kernel. The fd could be reused in between as well as after a look
 * of the engine's own.
 */
#define IOE_F_FD_SEEN	(1u << 16)

/*
 * ev->flags, with IOE_F_AT_POSITION: the kernel is given ev->offset, which
 * ev's stream ignores (a pipe or FIFO; a socket only at 0, as it says
 * ESPIPE for any other). Should the fd no longer be a stream (its number
 * reused behind the caller's back for a file), ev is read or written at
 * ev->offset, as pread() or pwrite() would, not at the file's position:
 * the answer of the caller's look at the fd may so be kept (shim/fdcache.h).
 */
#define IOE_F_STREAM_OFFSET	(1u << 17)

/*
 * ev->flags: ev's fd is no regular file nor block device (a character
 * device such as /dev/zero, which the engine's lseek() check accepts), so
 * the engine merges it with no other event (merge_take.c): only a file's
 * or a block device's adjacent ranges are one range.
 */
#define IOE_F_NO_MERGE	(1u << 18)

/*
 * Where a synchronous request runs: a plain system call in the calling
 * thread, or the context's shared ring or AIO context (queued for the
 * submitter).
 */
enum ioe_path { IOE_PATH_PLAIN, IOE_PATH_SHARED, IOE_PATHS };

/*
 * The one decision (engine/src/scheduler/context.c): where a synchronous
 * request, a read or not, would run if submitted now by this thread. A
 * write or sync always runs plain; a read too while the engine is idle
 * (nothing queued and a slot free, or its threads not started), else on
 * the shared path. ioe_submit_wait_path() asks it for every request; the
 * shim asks it before its fast path: a read on the plain path is then the
 * program's own call, with no RWF_NOWAIT attempt before it.
 */
enum ioe_path ioe_choose_path(struct ioe_context *ctx, bool read);

/* ioe_submit_wait() that also says where ev ran (*path, set when it returns 0). */
int ioe_submit_wait_path(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel,
			 enum ioe_path *path);

/*
 * How the thread that submits an asynchronous request will wait for it:
 * not itself (a callback, another thread, a futex of its own), for it
 * alone, or for it among others (the shim's aio_suspend() knows). The
 * engine chooses the path from it (caller_takes() in
 * engine/src/scheduler/context.c).
 */
enum ioe_wait_kind { IOE_WAITS_ELSEWHERE, IOE_WAITS_ALONE, IOE_WAITS_AMONG_MANY };

/* ioe_submit() (ELSEWHERE) and ioe_submit_local() (ALONE) in one, for any kind of wait. */
int ioe_submit_for(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel, enum ioe_wait_kind waits);

/*
 * Whether a read that the page cache holds is better copied by the calling
 * thread itself (RWF_NOWAIT) than queued: when it waits for it alone, or
 * when the submitter has a round's worth waiting already (two cores copy).
 */
bool ioe_caller_copies(const struct ioe_context *ctx, enum ioe_wait_kind waits);

/*
 * IOENGINE_MERGE ("0" or "1"; NULL or "": 1) and IOENGINE_MERGE_MAX (bytes,
 * 4096..64 MiB; NULL or "": 128 KiB): *limit, the bytes of a merged IO (0:
 * no merging), or -EINVAL (*limit untouched) for a bad value. A context
 * made by ioe_context_new_opts() reads both then (a bad value: the
 * default, silently: the engine prints nothing); the shim reads them with
 * the rest of its settings, at load time, says so once for a bad value
 * (shim/config.c) and passes the limit (ioe_context_new_merging()).
 */
int ioe_merge_parse(const char *on, const char *max, size_t *limit);

/* ioe_context_new_opts() with the merge limit given (0: no merging), not read from the environment. */
struct ioe_context *ioe_context_new_merging(const struct ioe_options *o, size_t merge_limit);

/* Merged IOs the context made from adjacent events, and the events in them. */
void ioe_merge_counts(const struct ioe_context *ctx, uint64_t *runs, uint64_t *requests);

/* Fault injection (engine/src/fault.h): what was injected, for IOENGINE_STATS. */
enum ioe_fault_kind { IOE_FAULT_EIO, IOE_FAULT_SHORT, IOE_FAULT_EAGAIN, IOE_FAULT_ENOMEM, IOE_FAULT_MERGE_NOMEM,
		      IOE_FAULT_KINDS };

#ifdef IOENGINE_FAULT_INJECTION
/* How many faults of a kind were injected in this process. */
uint64_t ioe_fault_count(enum ioe_fault_kind kind);
#else
/* The libraries a user builds and installs: nothing, not even a symbol. */
#define ioe_fault_count(kind)		((void)(kind), (uint64_t)0)
#endif

#endif
