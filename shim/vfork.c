/* SPDX-License-Identifier: MIT */
/*
 * vfork(): the child runs in the parent's memory and no atfork handler runs
 * in it, so it would take the parent's engine for its own (and that engine's
 * threads would use the parent's file descriptors). shim_engine() tells the
 * two apart by the pid; a getpid() per call, a system call on every routed
 * call, is a noticeable share of a page-cache read, so it asks only once the
 * program has called vfork(), which this wrapper records before it jumps to
 * glibc's. posix_spawn(), system() and popen() clone their children inside
 * glibc, which run no interposed function before exec. A child made with a
 * raw clone(CLONE_VM) system call is not seen.
 */
#include "shim.h"

#if defined(__x86_64__)
/* The child returns through the parent's stack: no frame here, a tail jump. */
#if defined(__CET__) && (__CET__ & 1)
#define ENDBR "	endbr64\n"	/* an indirect call may land here */
#else
#define ENDBR ""
#endif
__asm__(".pushsection .text\n"
	".globl vfork\n"
	".type vfork, @function\n"
	".p2align 4\n"
	"vfork:\n"
	ENDBR
	"	movb $1, shim_vfork_called(%rip)\n"
	"	jmp *__vfork@GOTPCREL(%rip)\n"
	".size vfork, .-vfork\n"
	".popsection\n");
bool shim_vfork_called;
#else
/* Elsewhere no wrapper: every call checks. */
bool shim_vfork_called = true;
#endif
