/* SPDX-License-Identifier: MIT */
/*
 * aio_suspend(): wait until one request of a list is done, its timeout is
 * out, or a signal comes.
 */
#include <time.h>
#include "aio_request.h"

/* The foreign (glibc's) requests in a mixed list are polled at this interval. */
#define SUSPEND_POLL_NS 1000000

/*
 * The deadline as glibc computes it: now + timeout on CLOCK_MONOTONIC,
 * tv_nsec carried once, nothing checked. A deadline in the past (a negative
 * timeout, or tv_sec so large that it wraps) only times out; one whose
 * tv_nsec is still out of range makes glibc 2.36 fail an assertion when it
 * has to wait, the shim then says EINVAL (*bad).
 */
static int64_t suspend_deadline(const struct timespec *timeout, bool *bad)
{
	struct timespec now;
	time_t sec;
	long nsec;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = (time_t)((unsigned long)now.tv_sec + (unsigned long)timeout->tv_sec);
	nsec = now.tv_nsec + timeout->tv_nsec;
	if (nsec >= 1000000000) {
		nsec -= 1000000000;
		sec++;
	}
	*bad = nsec < 0 || nsec >= 1000000000;
	if (sec < 0)
		return 0;	/* before any monotonic time: already timed out */
	if (__builtin_mul_overflow((int64_t)sec, 1000000000, &ns) || __builtin_add_overflow(ns, nsec, &ns))
		return INT64_MAX;
	return ns;
}

/*
 * Sleep until done_seq moves from seq (or until the absolute CLOCK_MONOTONIC
 * time wake_at, if not 0), as a cancellation point: aio_suspend() is one
 * (POSIX; glibc's waits with a cancellable futex wait). The engine waits,
 * reaping this thread's own requests where it can. Returns 0 or an errno
 * value (EINTR, ETIMEDOUT).
 */
static int suspend_wait(uint32_t seq, int64_t wake_at)
{
	return -ioe_wait_word(shim_engine(), (uint32_t *)&done_seq, seq, (uint64_t)wake_at);
}

SHIM_API int aio_suspend(const struct aiocb *const list[], int n, const struct timespec *timeout)
{
	int64_t deadline = 0;
	bool bad_timeout = false;
	int saved = errno;

	if (n < 0)
		return fail(EINVAL);	/* glibc */
	if (timeout)
		deadline = suspend_deadline(timeout, &bad_timeout);
	for (;;) {
		int ours = 0, foreign = 0, err;
		uint32_t seq;
		int64_t wake_at;

		/* Before the list: see done_seq_bump(). */
		seq = atomic_load(&done_seq);
		for (int i = 0; i < n; i++) {
			if (!list[i])
				continue;
			if (cb_error(list[i]) != EINPROGRESS)
				return 0;
			if (rec_of(list[i]))
				ours++;
			else if (cb_error(list[i]) != EINPROGRESS)
				return 0;	/* ours, finished between the two looks */
			else
				foreign++;
		}
		if (!ours) {
			if (!foreign)
				return 0;	/* glibc: nothing in progress is not an error */
			/* No glibc yet (see REAL()): it would not know them either, and returns. */
			if (!REAL(aio_suspend))
				return 0;
			if (bad_timeout)
				return fail(EINVAL);
			if (timeout) {
				int64_t left = deadline - (int64_t)shim_now_ns();
				struct timespec rel = { 0, 0 };

				if (left > 0) {
					rel.tv_sec = (time_t)(left / 1000000000);
					rel.tv_nsec = (long)(left % 1000000000);
				}
				return shim_real.aio_suspend(list, n, &rel);
			}
			return shim_real.aio_suspend(list, n, NULL);
		}
		if (bad_timeout)
			return fail(EINVAL);
		wake_at = timeout ? (deadline ? deadline : 1) : 0;
		if (foreign) {
			int64_t poll = (int64_t)shim_now_ns() + SUSPEND_POLL_NS;

			if (!wake_at || poll < wake_at)
				wake_at = poll;
		}
		waits = ours == 1 && !foreign ? IOE_WAITS_ALONE : IOE_WAITS_AMONG_MANY;
		err = suspend_wait(seq, wake_at);
		if (err == EINTR)
			return fail(EINTR);
		if (timeout && (int64_t)shim_now_ns() >= deadline) {
			/* One last look: a completion may have raced the timeout. */
			for (int i = 0; i < n; i++)
				if (list[i] && cb_error(list[i]) != EINPROGRESS) {
					errno = saved;
					return 0;
				}
			return fail(EAGAIN);
		}
		errno = saved;
	}
}

AIO_ALIAS64(aio_suspend);
