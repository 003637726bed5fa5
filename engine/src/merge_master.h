/* SPDX-License-Identifier: MIT */
/*
 * The master of a merged run, internal to the engine: what the public
 * merger (merge.c) and the engine's own take (scheduler/merge_take.c) have
 * in common. A run is a list of reads or writes of one fd, linked through
 * merged_next, each starting where the previous one ends; its master is
 * one vectored IO over the members' own buffers (no copy).
 */
#ifndef IOE_MERGE_MASTER_H
#define IOE_MERGE_MASTER_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "ioengine.h"

/*
 * Make master the IO of the run at head (count members, the first at
 * start): iov[0..count) gets their buffers, master->merged the run. The
 * callback is the caller's to set.
 */
void ioe_merge_master_init(struct ioe_event *master, struct iovec *iov, struct ioe_event *head,
			   unsigned int count, int64_t start);

/*
 * A member's share of a master's result res (>= 0): the member covers
 * [rel, rel + len) of the master. Its bytes when the master reached into
 * it (all of them, or the part up to where the master stopped); -1 when
 * the master stopped at or before the member's start.
 */
static inline ssize_t ioe_merge_share(ssize_t res, size_t rel, size_t len)
{
	if (res < 0 || (size_t)res <= rel)
		return -1;
	return (size_t)res - rel < len ? (ssize_t)((size_t)res - rel) : (ssize_t)len;
}

#endif
