/* SPDX-License-Identifier: MIT */
/* A synchronous call made of an engine event: submit, then wait in the caller. */
#include <pthread.h>
#include "shim.h"

ssize_t shim_sync_submit(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel ch, enum ioe_path *path)
{
	int oldstate, ret;

	/*
	 * The calls we stand for are cancellation points: act on a pending
	 * cancel before anything happened, then hold cancellation off until
	 * the engine is done with ev (on our stack). A cancel that arrives
	 * meanwhile acts at the thread's next cancellation point, as glibc
	 * does for a syscall that already had its effect.
	 */
	pthread_testcancel();
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
	ret = ioe_submit_wait_path(ctx, ev, ch, path);
	pthread_setcancelstate(oldstate, NULL);
	return ret ? ret : ev->res;
}
