/* SPDX-License-Identifier: MIT */
/*
 * Requests handed to glibc (to_glibc(), aio_complete.c): a read or write at
 * a pipe's or socket's position on a backend that will not wait for it.
 *
 * Most go as glibc's own aio_read()/aio_write(), and are then glibc's
 * entirely. Two need the shim to hear of their end, which glibc tells only
 * through a sigevent: a lio_listio() member (its group completes with it)
 * and a request to be notified with SIGEV_THREAD_ID (glibc 2.36 sends
 * nothing for it). They go as a lio_listio(LIO_NOWAIT) of one, whose list
 * notification, a thread, calls glibc_done(): glibc notifies the member
 * from its own sigevent as usual, and the list once the member's result
 * is out. The aiocb's own sigevent is never changed: the program owns it.
 */
#include <string.h>
#include "aio_request.h"

/*
 * glibc refused the request (no memory for it, or no helper thread): the
 * aiocb says why, as glibc's own aio_read() leaves it when a thread could
 * not start, also when glibc left it EINPROGRESS (no memory).
 */
static void refused(struct aiocb *cb)
{
	int err = errno;

	if (cb_error(cb) == EINPROGRESS) {
		cb->__return_value = -1;
		__atomic_store_n(&cb->__error_code, err, __ATOMIC_RELEASE);
	}
}

/*
 * Both ends of a request glibc_submit() handed over have come: its return
 * and glibc's notification, in either order (the notification is a thread
 * glibc may start before its lio_listio() returns).
 */
static void glibc_finish(struct aio_req *r)
{
	struct lio_group *g = r->group;
	struct sigevent sev = r->sev;
	bool failed = false;

	if (atomic_fetch_sub_explicit(&r->glibc_ends, 1, memory_order_acq_rel) != 1)
		return;
	/* Only a LIO_WAIT caller, still waiting, keeps the aiocb for sure. */
	if (g && g->mode == LIO_WAIT)
		failed = cb_error(atomic_load_explicit(&r->cb, memory_order_relaxed)) != 0;
	release_rec(r, true);
	if (sev.sigev_notify == SIGEV_THREAD_ID)
		notify(&sev);
	if (g)
		group_member_done(g, failed);
}

static void glibc_done(union sigval v)
{
	glibc_finish(v.sival_ptr);
}

/*
 * Hand r's request to glibc; r is REQ_FOREIGN. Returns whether r stays the
 * shim's until glibc's notification (it may be gone already: r is not to be
 * touched then); else the caller releases it.
 */
bool glibc_submit(struct aio_req *r)
{
	struct aiocb *cb = atomic_load_explicit(&r->cb, memory_order_relaxed);
	struct aiocb *list[1] = { cb };
	struct sigevent sev;
	int ret;

	if (!r->group && r->sev.sigev_notify != SIGEV_THREAD_ID) {
		ret = r->op == OP_READ ? shim_real.aio_read(cb) : shim_real.aio_write(cb);
		if (ret < 0)
			refused(cb);
		return false;
	}
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD;
	sev.sigev_notify_function = glibc_done;
	sev.sigev_value.sival_ptr = r;
	atomic_store_explicit(&r->glibc_ends, 2, memory_order_relaxed);
	atomic_store_explicit(&r->state, REQ_GLIBC, memory_order_release);
	rec_state_moved(r);
	/* Refused, glibc still sends the list's notification: nothing of it is queued. */
	if (shim_real.lio_listio(LIO_NOWAIT, list, 1, &sev) < 0)
		refused(cb);
	glibc_finish(r);
	return true;
}
