/* SPDX-License-Identifier: MIT */
/* Programs that cancel threads include this once: ASan's defaults for them. */
#ifndef IOE_TEST_ASAN_CANCEL_H
#define IOE_TEST_ASAN_CANCEL_H

#if defined(__SANITIZE_ADDRESS__)
/*
 * A cancelled thread is unwound by _Unwind_ForcedUnwind, which ASan does not
 * see (it unpoisons the stack for longjmp and C++ throw only): the redzones of
 * the instrumented frames it pops stay poisoned. The thread's last act is
 * ASan's own teardown (AsanThread::Destroy), whose sigaltstack() call puts its
 * old stack_t right there, and the sigaltstack interceptor reports that as a
 * stack-buffer-underflow. Without the alternate signal stack (used only to
 * report a stack overflow) that call is not made. The program's ASAN_OPTIONS
 * still apply on top of this.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "use_sigaltstack=0";
}
#endif

#endif
