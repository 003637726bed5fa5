/* SPDX-License-Identifier: MIT */
/*
 * Merging in the engine's take: when a read or write is about to go to the
 * kernel (taken from a channel's queue or from the held events), the
 * events waiting right behind it in the same queue that continue it (same
 * fd, action and flags, each starting where the previous one ends) go with
 * it as one master IO (merge_master.h), within a byte limit and
 * IOE_MERGE_MAX_EVENTS. Only what is already waiting is merged: nothing
 * waits to be merged, and a lone event goes as it is.
 *
 * Each member gets what a separate request would have: the part of the
 * master's result that covers it (a read's master goes on after a short
 * count, so a member across EOF gets its part); a member the master did not
 * reach (past EOF, past a short write, or any error of the master) is done
 * again alone, with plain system calls, in the thread that completes the
 * master: one bad range (an O_DIRECT buffer the vectored IO refuses as a
 * whole) fails only itself. Every member is called back once, in offset
 * order, from that thread.
 *
 * Masters live in a pool of the context's own (one per slot, mapped with
 * the context and touched only when used): no allocation per run. When the
 * pool is empty (masters still being fanned out) events go unmerged.
 */
#ifndef IOE_MERGE_TAKE_H
#define IOE_MERGE_TAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "../embedded_list.h"

/*
 * At most this many events in one master: 128 KiB (the default limit) of
 * 512-byte sectors. Keeps a master (its iovecs and members) within 6 KiB.
 */
#define IOE_MERGE_MAX_EVENTS 256

/* Byte limits that IOENGINE_MERGE_MAX may set, and the default. */
#define IOE_MERGE_MIN_BYTES	4096
#define IOE_MERGE_MAX_BYTES	(64u << 20)
#define IOE_MERGE_DEFAULT_BYTES	(128u << 10)

struct ioe_merge_entry {
	struct ioe_event ev;		/* the master */
	struct ioe_merge_entry *next_free;
	unsigned int count;		/* members: set under the submission lock */
	/* Member i until its callback is due (cleared then): ioe_merge_holds() looks. */
	_Atomic(struct ioe_event *) members[IOE_MERGE_MAX_EVENTS];
	struct iovec iov[IOE_MERGE_MAX_EVENTS];
};

struct ioe_merge_pool {
	size_t limit;			/* bytes per master; 0: no merging */
	struct ioe_merge_entry *entries;
	unsigned int size;		/* entries mapped */
	unsigned int fresh;		/* entries never used so far (taker only) */
	_Atomic(struct ioe_merge_entry *) returned;	/* fanned out: completion side -> taker */
	struct ioe_merge_entry *spare;	/* taker only */
	_Atomic uint64_t runs;		/* masters made */
	_Atomic uint64_t requests;	/* events in them */
};

/* The byte limit IOENGINE_MERGE and IOENGINE_MERGE_MAX ask for (ioe_merge_parse(); a bad value: the default). */
size_t ioe_merge_limit_from_env(void);

/* The context's pool: `size` masters (its depth), runs of `limit` bytes at most (0: none). -ENOMEM. */
int ioe_merge_pool_init(struct ioe_merge_pool *p, unsigned int size, size_t limit);
void ioe_merge_pool_fini(struct ioe_merge_pool *p);

/*
 * Under the submission lock (the taker of q): first was just popped from q
 * and may go to the kernel. Returns first, or a master of first and the
 * events behind it in q that continue it (popped: *popped counts them).
 */
struct ioe_event *ioe_merge_take(struct ioe_merge_pool *p, struct ioe_event *first, struct ioe_mpsc *q,
				 unsigned int *popped);

/*
 * Under the submission lock: ev is a member of a master that has not
 * called it back yet (ioe_cancel(): IOE_CANCEL_RUNNING).
 */
bool ioe_merge_holds(struct ioe_merge_pool *p, const struct ioe_event *ev);

#endif
