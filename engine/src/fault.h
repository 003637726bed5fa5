/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, compiled only into the tests' own copies of the engine
 * and the shim (ioengine_fault_objs, libioengine-preload-fault.so; never
 * installed, see engine/CMakeLists.txt) and switched on at run time by
 * IOENGINE_FAULT="seed=N,eio=P,short=P,eagain=P,enomem=P" (P a probability,
 * 0 to 1), in both drivers:
 *   eio     a completion carries -EIO instead of the kernel's result;
 *   short   a read or write goes to the kernel for only part of its length, so
 *           the kernel really returns a short count and the driver continues it;
 *   eagain  a submission fails with -EAGAIN (ring or AIO context full): retried;
 *   enomem  a submission fails with -ENOMEM: retried.
 *   merge_nomem  a merger's run buffer cannot be allocated: the run goes as
 *           separate events (merge.c).
 * Only eio is visible to the caller, exactly as a real EIO would be.
 */
#ifndef IOE_FAULT_H
#define IOE_FAULT_H

#include <stddef.h>
#include <stdint.h>
/* enum ioe_fault_kind and ioe_fault_count(), which the shim reads too. */
#include "ioengine_internal.h"

#ifdef IOENGINE_FAULT_INJECTION
size_t ioe_fault_len(size_t len);
int ioe_fault_submit(void);
long ioe_fault_result(long res);
int ioe_fault_merge_nomem(void);
#else
/* The libraries a user builds and installs: nothing, not even a symbol. */
#define ioe_fault_len(len)		((size_t)(len))
#define ioe_fault_submit()		0
#define ioe_fault_result(res)		((long)(res))
#define ioe_fault_merge_nomem()		0
#endif

#endif
