/* SPDX-License-Identifier: MIT */
/* Moving through an iovec array by a count of bytes done. */
#ifndef IOE_IOV_H
#define IOE_IOV_H

#include <stddef.h>
#include <sys/uio.h>

/*
 * How many leading entries of iov[0..cnt) the *done bytes cover whole (empty
 * ones included); *done is left as the offset into the entry after them.
 */
static inline int ioe_iov_skip(const struct iovec *iov, int cnt, size_t *done)
{
	int i = 0;

	while (i < cnt && *done >= iov[i].iov_len)
		*done -= iov[i++].iov_len;
	return i;
}

/* Make an entry (a copy the caller owns) start off bytes later. */
static inline void ioe_iov_trim(struct iovec *iov, size_t off)
{
	iov->iov_base = (char *)iov->iov_base + off;
	iov->iov_len -= off;
}

#endif
