/* SPDX-License-Identifier: MIT */
/*
 * Per-fd ordering of POSIX AIO requests.
 *
 * aio_fsync() is held in the shim until every write on its fd submitted
 * before it has completed; writes and syncs submitted after a held fsync
 * queue behind it (per-fd FIFO). A pipe's or socket's requests (reads and
 * writes at the fd's position, r->stream) go one at a time, in the order
 * they came, as glibc's helper thread does them: a datagram or a byte
 * stream must not be reordered. Held requests are cancelled here by
 * aio_cancel() (take_held()).
 *
 * Nothing here goes to the engine: what may go is handed back to the caller
 * as a list (linked by fifo_next) that it submits once the lock is let go.
 */
#include <pthread.h>
#include <stdlib.h>
#include "aio_request.h"

#define FDQ_BUCKETS		256

/*
 * What one fd has in the engine that a later request may have to wait for
 * (out: its writes, and a stream's one request), and its held requests.
 * The FIFO is under the bucket's lock; out goes down without it (see
 * fdq_out_done()).
 */
struct fdq {
	int fd;
	_Atomic int out;
	struct aio_req *head, *tail;
	struct fdq *next;
};

/*
 * Zero is PTHREAD_MUTEX_INITIALIZER: usable before any constructor ran.
 * due: an fdq of the bucket may release held requests; whoever holds the
 * lock does it before it lets go (bucket_unlock()).
 */
static struct {
	pthread_mutex_t lock;
	struct fdq *list;
	_Atomic bool due;
} fdtab[FDQ_BUCKETS];

static struct fdq *fdq_get(unsigned int b, int fd)
{
	struct fdq *q;

	for (q = fdtab[b].list; q; q = q->next)
		if (q->fd == fd)
			return q;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->fd = fd;
	q->next = fdtab[b].list;
	fdtab[b].list = q;
	return q;
}

static inline unsigned int fdq_bucket(int fd)
{
	return (unsigned int)fd % FDQ_BUCKETS;
}

/* Whether r waits until its fd has nothing out: a sync, or a stream's request. */
static bool waits_for_out(const struct aio_req *r)
{
	return r->op != OP_WRITE || r->stream;
}

/* r goes to the engine: counted in q's out if a later request may wait for it. */
static void count_out(struct fdq *q, struct aio_req *r)
{
	if (r->op == OP_WRITE || r->stream) {
		atomic_fetch_add(&q->out, 1);
		r->counted = true;
		r->q = q;
	}
}

/*
 * Under the bucket lock: move what may now go to the engine off the held
 * FIFO onto *go: writes always, a sync or a stream's request once nothing
 * earlier is out.
 */
static void fdq_release(struct fdq *q, struct aio_req **go)
{
	struct aio_req **tail = go;

	while (*tail)
		tail = &(*tail)->fifo_next;
	while (q->head) {
		struct aio_req *r = q->head;

		if (waits_for_out(r) && atomic_load(&q->out))
			break;
		q->head = r->fifo_next;
		if (!q->head)
			q->tail = NULL;
		r->fifo_next = NULL;
		count_out(q, r);
		atomic_store_explicit(&r->state, REQ_ENGINE, memory_order_relaxed);
		*tail = r;
		tail = &r->fifo_next;
	}
}

/*
 * Let go of bucket b's lock, after releasing what became due meanwhile
 * (onto *go); and again, should more become due once it is free (a seq_cst
 * fence between the unlock and the look: see fdq_out_done()).
 */
static void bucket_unlock(unsigned int b, struct aio_req **go)
{
	do {
		if (atomic_exchange(&fdtab[b].due, false))
			for (struct fdq *q = fdtab[b].list; q; q = q->next)
				fdq_release(q, go);
		pthread_mutex_unlock(&fdtab[b].lock);
		atomic_thread_fence(memory_order_seq_cst);
	} while (atomic_load(&fdtab[b].due) && !pthread_mutex_trylock(&fdtab[b].lock));
}

/*
 * A write, a sync or a stream's request r on fd joins its fd's order: held
 * behind what is held already (a sync or a stream's request also behind
 * what is out), else counted if a later one may wait for it. Returns
 * whether r is held; what became due meanwhile goes on *go.
 */
bool fdq_enter(int fd, struct aio_req *r, struct aio_req **go)
{
	unsigned int b = fdq_bucket(fd);
	bool held = false;
	struct fdq *q;

	pthread_mutex_lock(&fdtab[b].lock);
	q = fdq_get(b, fd);
	if (q && (q->head || (waits_for_out(r) && atomic_load(&q->out)))) {
		atomic_store_explicit(&r->state, REQ_HELD, memory_order_release);
		if (q->tail)
			q->tail->fifo_next = r;
		else
			q->head = r;
		q->tail = r;
		held = true;
	} else if (q) {
		count_out(q, r);
	}
	bucket_unlock(b, go);
	return held;
}

/*
 * A counted request is done (or glibc's). Its completion may run in a
 * signal handler: an aio_suspend() there reaps completions, and may have
 * interrupted this very thread inside the bucket's lock (aio_write()). So
 * no wait for the lock: the count goes down lock-free, and the last one out
 * marks the bucket due; if the lock is taken, its holder releases the held
 * requests. Those released here go on *go.
 */
void fdq_out_done(struct fdq *q, struct aio_req **go)
{
	unsigned int b = fdq_bucket(q->fd);

	if (atomic_fetch_sub(&q->out, 1) != 1)
		return;
	atomic_store(&fdtab[b].due, true);
	atomic_thread_fence(memory_order_seq_cst);
	if (pthread_mutex_trylock(&fdtab[b].lock))
		return;
	bucket_unlock(b, go);
}

static bool cancel_match(struct aio_req *r, int fd, const struct aiocb *cb)
{
	return cb ? atomic_load_explicit(&r->cb, memory_order_relaxed) == cb : r->ev.fd == fd;
}

/* Take the matching held requests of fd off its FIFO; the released ones go on *go. */
struct aio_req *take_held(int fd, const struct aiocb *cb, struct aio_req **go)
{
	unsigned int b = fdq_bucket(fd);
	struct aio_req *got = NULL, **gt = &got, **pp;
	struct fdq *q;

	pthread_mutex_lock(&fdtab[b].lock);
	for (q = fdtab[b].list; q && q->fd != fd; q = q->next)
		;
	if (q) {
		pp = &q->head;
		q->tail = NULL;
		while (*pp) {
			struct aio_req *r = *pp;

			if (cancel_match(r, fd, cb)) {
				*pp = r->fifo_next;
				r->fifo_next = NULL;
				*gt = r;
				gt = &r->fifo_next;
			} else {
				q->tail = r;
				pp = &r->fifo_next;
			}
		}
		fdq_release(q, go);
	}
	bucket_unlock(b, go);
	return got;
}

/* In a fork child: the parent's per-fd queues are reachable only from fdtab: free them. */
void fdq_atfork_child(void)
{
	for (unsigned int i = 0; i < FDQ_BUCKETS; i++) {
		for (struct fdq *q = fdtab[i].list, *next; q; q = next) {
			next = q->next;
			free(q);
		}
		pthread_mutex_init(&fdtab[i].lock, NULL);
		fdtab[i].list = NULL;
		atomic_store(&fdtab[i].due, false);
	}
}
