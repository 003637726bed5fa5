/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, compiled in only with -DIOENGINE_FAULT_INJECTION=ON and
 * switched on at run time by IOENGINE_FAULT="seed=N,short=P" (P a probability).
 * short: a read or write is submitted for only part of its length, so the
 * kernel really returns a short count and the driver must continue it.
 */
#ifndef IOE_FAULT_H
#define IOE_FAULT_H

#include <stddef.h>

#ifdef IOENGINE_FAULT_INJECTION
size_t ioe_fault_len(size_t len);
#else
static inline size_t ioe_fault_len(size_t len)
{
	return len;
}
#endif

#endif
