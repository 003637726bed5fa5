/* SPDX-License-Identifier: MIT */
/* The master of a merged run: see merge_master.h. */
#include "merge_master.h"

void ioe_merge_master_init(struct ioe_event *master, struct iovec *iov, struct ioe_event *head,
			   unsigned int count, int64_t start)
{
	unsigned int i = 0;

	for (struct ioe_event *e = head; e; e = e->merged_next, i++) {
		iov[i].iov_base = e->buf;
		iov[i].iov_len = e->len;
	}
	if (head->action == IOE_WRITE)
		ioe_prep_writev(master, head->fd, iov, (int)count, start);
	else
		ioe_prep_readv(master, head->fd, iov, (int)count, start);
	master->merged = head;
}
