/* SPDX-License-Identifier: MIT */
/*
 * The records of POSIX AIO requests, and the limit on how many are
 * outstanding.
 *
 * State. The result lives where glibc keeps it, in the aiocb's __error_code
 * and __return_value, so aio_error()/aio_return() are two loads (lock-free,
 * async-signal-safe) and give the same answer for a request that went to
 * glibc instead (no engine, a pipe or socket). Everything else is in a
 * shim-owned record (struct aio_req) from a pool that is never freed. The
 * aiocb's __abs_prio/__policy (glibc's own bookkeeping fields) carry the
 * record index and a check word, only as a hint: it is trusted only when the
 * record says it belongs to that aiocb and is in flight.
 *
 * Pins. aio_cancel() hands a record's event to ioe_cancel(), which must be
 * that request's: a record it pinned is not reused until it unpins it
 * (rec_pin(), rec_unpin()); the last of its release and the unpins puts it
 * back in the pool (rec_free()).
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "aio_request.h"

#define CHUNK_SHIFT		10
#define CHUNK_SIZE		(1u << CHUNK_SHIFT)

/* The record pool: chunks published once, records never freed. */
static struct aio_req *_Atomic chunks[AIO_HARD_MAX / CHUNK_SIZE];
static _Atomic uint32_t nrecs;			/* records published */
static _Atomic uint64_t free_head;		/* tag << 32 | (idx + 1) */
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;

_Atomic uint32_t outstanding;
uint32_t aio_max = AIO_DEFAULT_MAX;
bool aio_max_from_env;

static inline struct aio_req *rec_at(uint32_t idx)
{
	return &atomic_load_explicit(&chunks[idx >> CHUNK_SHIFT], memory_order_acquire)[idx & (CHUNK_SIZE - 1)];
}

static void rec_push(struct aio_req *r)
{
	uint64_t h = atomic_load_explicit(&free_head, memory_order_relaxed), n;

	do {
		atomic_store_explicit(&r->next_free, (uint32_t)h, memory_order_relaxed);
		n = ((h >> 32) + 1) << 32 | (r->idx + 1);
	} while (!atomic_compare_exchange_weak_explicit(&free_head, &h, n, memory_order_release,
							memory_order_relaxed));
}

static int pool_grow(void)
{
	uint32_t n, c;
	struct aio_req *chunk;
	int ret = 0;

	pthread_mutex_lock(&grow_lock);
	/* Another thread may have grown it meanwhile: then the caller retries. */
	if ((uint32_t)atomic_load_explicit(&free_head, memory_order_acquire))
		goto out;
	n = atomic_load_explicit(&nrecs, memory_order_relaxed);
	c = n >> CHUNK_SHIFT;
	if (c >= AIO_HARD_MAX / CHUNK_SIZE) {
		ret = -EAGAIN;
		goto out;
	}
	chunk = calloc(CHUNK_SIZE, sizeof(*chunk));
	if (!chunk) {
		ret = -EAGAIN;
		goto out;
	}
	for (uint32_t i = 0; i < CHUNK_SIZE; i++)
		chunk[i].idx = n + i;
	atomic_store_explicit(&chunks[c], chunk, memory_order_release);
	atomic_store_explicit(&nrecs, n + CHUNK_SIZE, memory_order_release);
	for (uint32_t i = CHUNK_SIZE; i-- > 0;)
		rec_push(&chunk[i]);
out:
	pthread_mutex_unlock(&grow_lock);
	return ret;
}

/* Tagged head: a record popped and pushed back meanwhile fails the CAS (no ABA). */
static struct aio_req *rec_pop(void)
{
	for (;;) {
		uint64_t h = atomic_load_explicit(&free_head, memory_order_acquire);

		while ((uint32_t)h) {
			struct aio_req *r = rec_at((uint32_t)h - 1);
			uint64_t n = ((h >> 32) + 1) << 32 |
				     atomic_load_explicit(&r->next_free, memory_order_relaxed);

			if (atomic_compare_exchange_weak_explicit(&free_head, &h, n, memory_order_acquire,
								  memory_order_acquire))
				return r;
		}
		if (pool_grow())
			return NULL;
	}
}

uint32_t effective_max(void)
{
	return aio_max;
}

/* A free record, counted against the outstanding limit; NULL at the limit or without memory. */
struct aio_req *rec_take(void)
{
	struct aio_req *r;

	if (atomic_fetch_add_explicit(&outstanding, 1, memory_order_relaxed) >= effective_max()) {
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
		return NULL;
	}
	r = rec_pop();
	if (!r)
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
	return r;
}

/* The in-flight record of cb, or NULL (lock-free, allocation-free). */
struct aio_req *rec_of(const struct aiocb *cb)
{
	uint32_t idx = (uint32_t)cb->__abs_prio;
	struct aio_req *r;

	if (cb->__policy != (int)(idx ^ HINT_MAGIC) ||
	    idx >= atomic_load_explicit(&nrecs, memory_order_acquire))
		return NULL;
	r = rec_at(idx);
	if (atomic_load_explicit(&r->cb, memory_order_acquire) != cb)
		return NULL;
	switch (atomic_load_explicit(&r->state, memory_order_acquire)) {
	case REQ_HELD:
	case REQ_ENGINE:
	case REQ_FOREIGN:
	case REQ_DONE:	/* its wake-up is still to come: aio_suspend() must wait for it */
		return r;
	default:
		return NULL;
	}
}

/* pins: PIN_ONE per rec_pin(), PIN_RELEASED once release_rec() let it go. */
#define PIN_RELEASED	1u
#define PIN_ONE		2u

/* The record is released and nobody pins it: back in the pool, by whoever sees it first. */
static void rec_free(struct aio_req *r)
{
	uint32_t released = PIN_RELEASED;

	if (atomic_compare_exchange_strong_explicit(&r->pins, &released, 0, memory_order_acq_rel,
						    memory_order_relaxed))
		rec_push(r);
}

/* uncount: the request still counts against the outstanding limit (see req_complete()). */
void release_rec(struct aio_req *r, bool uncount)
{
	uint32_t pins;

	atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
	pins = atomic_fetch_or_explicit(&r->pins, PIN_RELEASED, memory_order_acq_rel);
	if (uncount)
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
	if (!pins) {
		rec_free(r);
	} else {
		ioe_futex_wake(&r->pins, INT_MAX);	/* rec_wait_released() */
		ioe_futex_wake(&r->state, INT_MAX);	/* see rec_state_moved() */
	}
}

void rec_state_moved(struct aio_req *r)
{
	/* Seq_cst: either this sees the pin, or the pinner's futex wait sees the new state. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->pins, memory_order_relaxed) >= PIN_ONE)
		ioe_futex_wake(&r->state, INT_MAX);
}

/*
 * Keep r from being reused until rec_unpin(r). The caller looks at r's
 * state and request after this, not before: it may have been released
 * (and even reused) meanwhile.
 */
void rec_pin(struct aio_req *r)
{
	atomic_fetch_add_explicit(&r->pins, PIN_ONE, memory_order_acq_rel);
}

void rec_unpin(struct aio_req *r)
{
	if (atomic_fetch_sub_explicit(&r->pins, PIN_ONE, memory_order_acq_rel) == PIN_ONE + PIN_RELEASED)
		rec_free(r);
}

/* Wait until r, pinned, is released: its request's result is out. */
void rec_wait_released(struct aio_req *r)
{
	uint32_t v;

	while (!((v = atomic_load_explicit(&r->pins, memory_order_acquire)) & PIN_RELEASED))
		ioe_futex_wait(&r->pins, v, NULL);
}

/*
 * The next record from *i on that has a request on fd: held, with the
 * engine, being handed to glibc or completing. Not pinned: see rec_pin().
 */
struct aio_req *rec_next_on_fd(int fd, uint32_t *i)
{
	uint32_t n = atomic_load_explicit(&nrecs, memory_order_acquire);

	for (; *i < n; (*i)++) {
		struct aio_req *r = rec_at(*i);
		uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);

		if ((st == REQ_ENGINE || st == REQ_HELD || st == REQ_FOREIGN || st == REQ_DONE) &&
		    atomic_load_explicit(&r->fd, memory_order_relaxed) == fd)
			return rec_at((*i)++);
	}
	return NULL;
}

/* In a fork child: the parent's requests are not ours, their records are free again. */
void rec_atfork_child(void)
{
	pthread_mutex_init(&grow_lock, NULL);
	atomic_store(&free_head, 0);
	for (uint32_t i = atomic_load(&nrecs); i-- > 0;) {
		struct aio_req *r = rec_at(i);

		memset(r, 0, sizeof(*r));	/* as pool_grow() made it */
		r->idx = i;
		rec_push(r);
	}
	atomic_store(&outstanding, 0);
}
