/* SPDX-License-Identifier: MIT */
/*
 * POSIX AIO on the engine: aio_read, aio_write, aio_fsync, lio_listio,
 * aio_error, aio_return, aio_suspend, aio_cancel, aio_init and their 64 names
 * (on LP64 glibc struct aiocb64 has the layout of struct aiocb).
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
 * Completion order: result stored, __error_code released, waiters woken,
 * then the notification from the record's copy of the sigevent; the aiocb is
 * never touched after its __error_code leaves EINPROGRESS.
 *
 * Ordering: aio_fsync() is held in the shim until every write on its fd
 * submitted before it has completed; writes and syncs submitted after a held
 * fsync queue behind it (per-fd FIFO). Held requests are what aio_cancel()
 * can cancel; the engine has no cancel, so a request it owns is
 * AIO_NOTCANCELED.
 *
 * Differences from glibc 2.36 that remain (see README), each for a reason:
 * - the same aiocb submitted again while in flight: -1/EAGAIN, the first
 *   request is untouched (glibc queues it twice and both results land in
 *   the one aiocb);
 * - lio_listio() with nent > the outstanding limit: -1/EINVAL (glibc has no
 *   limit: arrays of nent entries on its stack, and it reads the whole list);
 * - a member of a lio_listio() on a pipe or socket fails with ESPIPE (glibc
 *   uses read()/write()). A plain aio_read/aio_write on one is handed to
 *   glibc; a member cannot be, as its group's completion would then depend
 *   on a request the shim cannot see end without touching an aiocb the
 *   program may already have freed;
 * - SIGEV_THREAD_ID is honoured (glibc 2.36 sends nothing for it);
 * - in a fork child, requests work (glibc's wait for a helper thread that
 *   only the parent has);
 * - a request the kernel already has cannot be cancelled (AIO_NOTCANCELED):
 *   the engine has no cancel;
 * - aio_suspend() on a list that mixes engine requests with glibc's polls
 *   glibc's every SUSPEND_POLL_NS; a timeout whose deadline still has
 *   tv_nsec out of range (after glibc's one carry) is EINVAL where glibc
 *   fails an assertion (abort); a signal for a thread asleep in it is
 *   handled at the end of that sleep (1 ms at most: it sleeps with signals
 *   blocked, see ioe_wait_word()), then EINTR or not as glibc's futex wait
 *   decides, and a cancel that comes meanwhile never unwinds the handler
 *   (glibc's does);
 * - a completion signal the kernel refuses for lack of resources (EAGAIN)
 *   is lost and the result kept (glibc makes the result EAGAIN): the result
 *   is published before the signal is sent, so that a handler sees it.
 * Same as glibc (checked by tests/aio/aio_diff.c against glibc itself):
 * aio_return() may be called again; a bad aio_reqprio fails the call
 * (EINVAL, also in aio_error) except for a sync, whose aio_reqprio is set
 * to 0 unchecked; aio_read/aio_write/aio_fsync store glibc's opcode in
 * aio_lio_opcode (LIO_READ, LIO_WRITE, GLIBC_LIO_SYNC, GLIBC_LIO_DSYNC);
 * lio_listio() opcodes are read as glibc's helper reads them (lio_op());
 * a length above SSIZE_MAX or a buffer that ends past the user address
 * space gets the kernel's answer (EFAULT, ...), done in the caller's thread
 * as the kernel refuses it at once, and any other length is cut at
 * MAX_RW_COUNT; a negative offset or bad fd fails in aio_error; aio_fsync()
 * takes O_SYNC or O_DSYNC exactly and checks only that its fd is open
 * (EBADF in the call); SIGEV_SIGNAL with no such signal makes the result
 * EINVAL; nent <= 0 is 0 for lio_listio(), nent < 0 EINVAL for
 * aio_suspend(), whose timeout is only looked at when it waits; LIO_WAIT
 * returns EIO if any request failed, even one the call refused;
 * aio_suspend() is a cancellation point when it waits (not when it returns
 * at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"
#include "fdcache.h"

#define SHIM_API __attribute__((visibility("default")))

/*
 * glibc's function, resolved first (shim_resolve()): an entry point may be
 * called before the shim's constructor. NULL only in a signal handler that
 * interrupted this thread's resolving: then no request can be glibc's yet,
 * and a new one is refused with EAGAIN (resources, as POSIX has it).
 */
#define REAL(name) (shim_resolve(), shim_real.name)

#define AIO_DEFAULT_MAX		65536
#define AIO_HARD_MAX		(1u << 20)
#define CHUNK_SHIFT		10
#define CHUNK_SIZE		(1u << CHUNK_SHIFT)
#define HINT_MAGIC		0x5a10c000
#define FDQ_BUCKETS		256

/* OP_INVALID: a lio_listio() opcode glibc's helper would fail with EINVAL. */
enum req_op { OP_READ, OP_WRITE, OP_FSYNC, OP_FDATASYNC, OP_INVALID };

/*
 * glibc's internal opcodes, as its aio_fsync() stores them in aio_lio_opcode
 * and as its helper thread accepts them from a lio_listio() list.
 */
#define GLIBC_LIO_DSYNC	(LIO_NOP + 1)
#define GLIBC_LIO_SYNC	(LIO_NOP + 2)

/*
 * The kernel's access_ok() refuses a buffer that ends past the user address
 * space before it looks at anything else (EFAULT). Below this end every
 * x86-64 kernel accepts the range (4-level paging; 5-level and LAM only
 * widen it). Elsewhere only a length above SSIZE_MAX is known to be refused.
 */
#if defined(__x86_64__)
#define USER_SPACE_END	((1ull << 47) - 4096)
#else
#define USER_SPACE_END	UINTPTR_MAX
#endif
/*
 * DONE: the result is being published; no longer in flight for aio_cancel().
 * FOREIGN: being handed to glibc; in flight until glibc has it queued.
 */
enum req_state { REQ_FREE, REQ_HELD, REQ_ENGINE, REQ_DONE, REQ_FOREIGN };

struct lio_group {
	_Atomic int pending;		/* members not done, +1 while submitting */
	_Atomic int refs;
	_Atomic uint32_t done;		/* futex word for LIO_WAIT */
	_Atomic int failed;
	int mode;
	bool has_sev;
	struct sigevent sev;
};

struct aio_req {
	struct ioe_event ev;
	_Atomic(struct aiocb *) cb;
	_Atomic uint32_t state;		/* enum req_state */
	_Atomic int fd;
	uint32_t idx;
	_Atomic uint32_t next_free;	/* idx + 1 of the next free record */
	int op;				/* enum req_op */
	bool counted;			/* counted in its fdq's writes */
	struct fdq *q;			/* that fdq, when counted */
	bool inline_done;		/* done in the caller's thread, not routed */
	struct sigevent sev;
	struct lio_group *group;
	struct aio_req *fifo_next;	/* held FIFO of its fd */
	uint64_t t0;
};

/*
 * Writes in the engine and held requests of one fd. The FIFO is under the
 * bucket's lock; writes goes down without it (see write_done()).
 */
struct fdq {
	int fd;
	_Atomic int writes;
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

/* The record pool: chunks published once, records never freed. */
static struct aio_req *_Atomic chunks[AIO_HARD_MAX / CHUNK_SIZE];
static _Atomic uint32_t nrecs;			/* records published */
static _Atomic uint64_t free_head;		/* tag << 32 | (idx + 1) */
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic uint32_t outstanding;
static uint32_t aio_max = AIO_DEFAULT_MAX;
static bool aio_max_from_env;

/* Every completion bumps done_seq; aio_suspend() sleeps on it. */
static _Atomic uint32_t done_seq;

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

/* The in-flight record of cb, or NULL (lock-free, allocation-free). */
static struct aio_req *rec_of(const struct aiocb *cb)
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

static inline int cb_error(const struct aiocb *cb)
{
	return __atomic_load_n(&cb->__error_code, __ATOMIC_ACQUIRE);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * A request's state changed (its result is out): wake the threads asleep
 * in aio_suspend(). ioe_wake_word() makes the system call only while one
 * sleeps on a futex; one that reaps in the kernel is woken there. The bump
 * comes after the result, and a waiter reads done_seq before it looks at
 * its list: either it sees the result, or its wait sees the bump.
 */
static void done_seq_bump(void)
{
	atomic_fetch_add(&done_seq, 1);
	ioe_wake_word((uint32_t *)&done_seq);
}

/* ---- notification ---- */

struct notify_thread {
	void (*fn)(union sigval);
	union sigval val;
};

static void *notify_thread_main(void *arg)
{
	struct notify_thread nt = *(struct notify_thread *)arg;
	sigset_t none;

	free(arg);
	/* Created from an engine thread, which blocks every signal. */
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL);
	nt.fn(nt.val);
	return NULL;
}

static void queue_signal(const struct sigevent *sev, pid_t tid)
{
	siginfo_t si;
	pid_t pid = getpid();

	memset(&si, 0, sizeof(si));
	si.si_signo = sev->sigev_signo;
	si.si_code = SI_ASYNCIO;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value = sev->sigev_value;
	if (tid)
		syscall(SYS_rt_tgsigqueueinfo, pid, tid, sev->sigev_signo, &si);
	else
		syscall(SYS_rt_sigqueueinfo, pid, sev->sigev_signo, &si);
}

static void notify(const struct sigevent *sev)
{
	struct notify_thread *nt;
	pthread_attr_t def, *attr;
	pthread_t t;
	int ds = PTHREAD_CREATE_JOINABLE;

	switch (sev->sigev_notify) {
	case SIGEV_SIGNAL:
		queue_signal(sev, 0);
		break;
	case SIGEV_THREAD_ID:
		queue_signal(sev, sev->_sigev_un._tid);
		break;
	case SIGEV_THREAD:
		nt = malloc(sizeof(*nt));
		if (!nt) {
			shim_log(SHIM_LOG_ERROR, "aio: SIGEV_THREAD notification lost (no memory)");
			break;
		}
		nt->fn = sev->sigev_notify_function;
		nt->val = sev->sigev_value;
		attr = sev->sigev_notify_attributes;
		if (!attr) {
			pthread_attr_init(&def);
			pthread_attr_setdetachstate(&def, PTHREAD_CREATE_DETACHED);
			attr = &def;
		}
		if (pthread_create(&t, attr, notify_thread_main, nt)) {
			shim_log(SHIM_LOG_ERROR, "aio: SIGEV_THREAD notification lost (no thread)");
			free(nt);
		} else if (!pthread_attr_getdetachstate(attr, &ds) && ds == PTHREAD_CREATE_JOINABLE) {
			pthread_detach(t);	/* nobody can join it */
		}
		if (attr == &def)
			pthread_attr_destroy(&def);
		break;
	default:
		break;
	}
}

/* ---- lio_listio groups ---- */

static void group_put(struct lio_group *g)
{
	if (atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		free(g);
}

static void group_member_done(struct lio_group *g, bool failed)
{
	if (failed)
		atomic_store_explicit(&g->failed, 1, memory_order_relaxed);
	if (atomic_fetch_sub_explicit(&g->pending, 1, memory_order_acq_rel) == 1) {
		if (g->mode == LIO_WAIT) {
			atomic_store_explicit(&g->done, 1, memory_order_release);
			futex_wake_all(&g->done);
		} else if (g->has_sev) {
			notify(&g->sev);
		}
	}
	group_put(g);
}

/* ---- per-fd ordering ---- */

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

/*
 * Under the bucket lock: move what may now go to the engine off the held
 * FIFO onto *out: writes always, an fsync once no earlier write is out.
 */
static void fdq_release(struct fdq *q, struct aio_req **out)
{
	struct aio_req **tail = out;

	while (*tail)
		tail = &(*tail)->fifo_next;
	while (q->head) {
		struct aio_req *r = q->head;

		if (r->op != OP_WRITE && atomic_load(&q->writes))
			break;
		q->head = r->fifo_next;
		if (!q->head)
			q->tail = NULL;
		r->fifo_next = NULL;
		if (r->op == OP_WRITE) {
			atomic_fetch_add(&q->writes, 1);
			r->counted = true;
			r->q = q;
		}
		atomic_store_explicit(&r->state, REQ_ENGINE, memory_order_relaxed);
		*tail = r;
		tail = &r->fifo_next;
	}
}

static void engine_submit(struct ioe_context *ctx, struct aio_req *r);
static void complete(struct aio_req *r, ssize_t res);

/*
 * What this thread's last wait in aio_suspend() was for. A thread that waits
 * for a single request of ours submits its next requests itself
 * (ioe_submit_local()): the first while the engine is idle, which spares two
 * thread hand-offs per request (fio posixaio O_DIRECT QD1: 2x), the others
 * held back for its next aio_suspend(). Its buffered reads take the fast
 * path (see fast_read()). A thread that waits for many does the same with
 * its O_DIRECT requests: its aio_suspend() hands them to the kernel in one
 * batch and its completions wake it directly (fio posixaio O_DIRECT QD32:
 * +12%, see README). Its buffered ones go to the submitter, whose
 * page-cache copies then run on another core beside the caller's. Other
 * threads only queue: their completions must not wait for a thread that
 * may not enter the kernel again soon.
 */
enum suspend_kind { WAITS_NOT, WAITS_ONE, WAITS_MANY };
static __thread enum suspend_kind waits;

/* Whether r goes to the engine from this thread: see waits. */
static bool submit_here(const struct aio_req *r)
{
	if (r->group && r->group->mode == LIO_WAIT)
		return false;	/* waited for on a futex: nothing would take it */
	if (waits != WAITS_ONE && (waits != WAITS_MANY || !(shim_fd_get(r->ev.fd) & SHIM_FDC_DIRECT)))
		return false;
	return r->op != OP_WRITE || shim_fsize_unlimited();	/* see limits.c */
}

static void submit_list(struct aio_req *r)
{
	while (r) {
		struct aio_req *next = r->fifo_next;

		r->fifo_next = NULL;
		engine_submit(shim_engine(), r);
		r = next;
	}
}

/*
 * Let go of bucket b's lock, after releasing what became due meanwhile
 * (onto *go); and again, should more become due once it is free (a seq_cst
 * fence between the unlock and the look: see write_done()).
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
 * A counted write is done. Its completion may run in a signal handler: an
 * aio_suspend() there reaps completions, and may have interrupted this very
 * thread inside the bucket's lock (aio_write()). So no wait for the lock:
 * the count goes down lock-free, and the last write out marks the bucket
 * due; if the lock is taken, its holder releases the held requests.
 */
static void write_done(struct fdq *q)
{
	unsigned int b = fdq_bucket(q->fd);
	struct aio_req *go = NULL;

	if (atomic_fetch_sub(&q->writes, 1) != 1)
		return;
	atomic_store(&fdtab[b].due, true);
	atomic_thread_fence(memory_order_seq_cst);
	if (pthread_mutex_trylock(&fdtab[b].lock))
		return;
	bucket_unlock(b, &go);
	submit_list(go);
}

/* ---- completion ---- */

/*
 * A request the kernel fails at once (see refused_range(), is_dir()), done
 * here exactly as glibc's helper thread does it: pread, then read on ESPIPE.
 * Raw syscalls: aio_read() is not a cancellation point, pread() is.
 */
static ssize_t do_inline(const struct aiocb *cb, int op)
{
	int saved = errno;
	long n;

	do {
		n = syscall(op == OP_READ ? SYS_pread64 : SYS_pwrite64, cb->aio_fildes, cb->aio_buf,
			    cb->aio_nbytes, cb->aio_offset);
		if (n < 0 && errno == ESPIPE)
			n = syscall(op == OP_READ ? SYS_read : SYS_write, cb->aio_fildes, cb->aio_buf,
				    cb->aio_nbytes);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	errno = saved;
	return n;
}

static bool is_dir(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISDIR(st.st_mode);
}


/* uncount: the request still counts against the outstanding limit (see complete()). */
static void release_rec(struct aio_req *r, bool uncount)
{
	atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
	rec_push(r);
	if (uncount)
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
}

/*
 * glibc: when the completion signal cannot be queued because there is no
 * such signal, the request's result becomes that error (EINVAL, -1); the IO
 * itself was done. Signal 0 is queued (the kernel accepts it, sends nothing).
 */
static ssize_t check_signal(struct sigevent *sev, ssize_t res)
{
	if (sev->sigev_notify == SIGEV_SIGNAL && (unsigned int)sev->sigev_signo >= _NSIG) {
		sev->sigev_notify = SIGEV_NONE;
		return -EINVAL;
	}
	return res;
}

static void complete(struct aio_req *r, ssize_t res)
{
	struct aiocb *cb = atomic_load_explicit(&r->cb, memory_order_relaxed);
	struct lio_group *g = r->group;
	struct sigevent sev = r->sev;
	int err;

	res = check_signal(&sev, res);
	err = res < 0 ? (int)-res : 0;

	if (shim_stats_on && res >= 0 && !r->inline_done)
		shim_stats_routed(r->op == OP_READ ? SHIM_STAT_READ :
				  r->op == OP_WRITE ? SHIM_STAT_WRITE : SHIM_STAT_SYNC,
				  (size_t)res, shim_now_ns() - r->t0);
	atomic_store_explicit(&r->state, REQ_DONE, memory_order_release);
	/*
	 * No longer outstanding once the program can see the result: a program
	 * that resubmits at once, at the limit, must not get EAGAIN. (A record
	 * may then be missing from the pool a moment: rec_pop() grows it.)
	 */
	atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
	cb->__return_value = res < 0 ? -1 : res;
	/* Release: the result is visible to whoever sees the error code change. */
	__atomic_store_n(&cb->__error_code, err, __ATOMIC_RELEASE);
	/* From here on cb may be reused or freed by the program. */
	done_seq_bump();
	if (r->counted)
		write_done(r->q);
	release_rec(r, false);
	notify(&sev);
	if (g)
		group_member_done(g, err != 0);
}

static void on_engine_done(struct ioe_event *ev, void *arg)
{
	struct aio_req *r = arg;

	(void)ev;
	/*
	 * A pipe or socket: glibc's implementation reads it with read(); hand it
	 * over. The record stays "ours" until glibc has queued the request, so
	 * an aio_suspend() meanwhile waits for our wake-up below, not in glibc's
	 * aio_suspend() (which takes a request it does not know for done).
	 */
	if (r->ev.res == -ESPIPE && !r->group && (r->op == OP_READ || r->op == OP_WRITE)) {
		struct aiocb *cb = atomic_load_explicit(&r->cb, memory_order_relaxed);
		int ret, err;

		atomic_store_explicit(&r->state, REQ_FOREIGN, memory_order_release);
		ret = r->op == OP_READ ? shim_real.aio_read(cb) : shim_real.aio_write(cb);
		err = errno;
		if (r->counted)
			write_done(r->q);
		release_rec(r, true);
		shim_stats_fallback();
		if (ret < 0) {
			cb->__return_value = -1;
			__atomic_store_n(&cb->__error_code, err, __ATOMIC_RELEASE);
		}
		done_seq_bump();
		return;
	}
	/*
	 * A directory has no read_iter, so Linux AIO (not pread) says EINVAL:
	 * ask pread, which fails at once on a directory (EISDIR, or EFAULT ...).
	 */
	if (r->ev.res == -EINVAL && (r->op == OP_READ || r->op == OP_WRITE) && is_dir(r->ev.fd)) {
		complete(r, do_inline(atomic_load_explicit(&r->cb, memory_order_relaxed), r->op));
		return;
	}
	complete(r, r->ev.res);
}

/*
 * Hand r to the engine. If the engine cannot take it because it could not
 * start its threads (a thread or memory limit, where glibc's helper with
 * its smaller stack might still start), the request is done now in this
 * thread, as the synchronous calls are: its result is the same.
 */
static void engine_submit(struct ioe_context *ctx, struct aio_req *r)
{
	enum ioe_channel ch = r->op == OP_READ ? IOE_CHAN_READ : IOE_CHAN_WRITE;
	int ret;

	if (ctx && shim_stats_on)
		shim_stats_queue_depth(ioe_pending(ctx) + ioe_running(ctx) + 1);
	if (!ctx)
		ret = -ESHUTDOWN;
	else if (submit_here(r))
		ret = ioe_submit_local(ctx, &r->ev, ch);
	else
		ret = ioe_submit(ctx, &r->ev, ch);

	if (ret == -ESHUTDOWN || ret == -EINVAL)
		complete(r, ret == -ESHUTDOWN ? -EAGAIN : ret);
	else if (ret && ioe_submit_wait(ctx, &r->ev, ch))
		complete(r, -EAGAIN);
	else if (ret)
		on_engine_done(&r->ev, r);	/* not called by ioe_submit_wait() */
}

/* ---- submission ---- */

static uint32_t effective_max(void)
{
	return aio_max;
}

/*
 * The fast path (IOENGINE_FASTPATH, as for pread): a buffered read whose data
 * is all in the page cache is done by RWF_NOWAIT in the caller's thread and
 * completed at once, without a record or an engine round trip. Anything
 * else (would block, short, an error, O_DIRECT) goes to the engine, which
 * then decides the result.
 *
 * Taken by a thread that waits for one request at a time (WAITS_ONE),
 * and by any thread while the engine has a round's worth of requests or
 * more waiting for the submitter. Otherwise a deep queue goes to the
 * submitter, whose copies then run on another core beside the caller's
 * (fio posixaio, page cache, QD32: fast path always 0.8-0.9x glibc, this
 * way 1.4-2.3x; see README).
 */
#define FAST_BACKLOG 8

/*
 * Larger reads always go to the engine: aio_read() must not itself take long.
 * The fd cache can also be stale (fdcache.h): the fd may by now be a device
 * such as /dev/zero, whose 2 GiB read would otherwise run here (~70 ms).
 */
#define FAST_MAX_BYTES (64 * 1024)

static bool fast_read(struct ioe_context *ctx, struct aiocb *cb, size_t len, int opcode)
{
	struct iovec iov = { (void *)cb->aio_buf, len };
	struct sigevent sev;
	ssize_t n;
	int saved;

	if (waits != WAITS_ONE && ioe_pending(ctx) < FAST_BACKLOG)
		return false;
	if (!len || len > FAST_MAX_BYTES || cb->aio_offset < 0 || !shim_fd_fast_ok(shim_fd_get(cb->aio_fildes)))
		return false;
	saved = errno;
	n = shim_real.preadv2(cb->aio_fildes, &iov, 1, cb->aio_offset, RWF_NOWAIT);
	if (n != (ssize_t)len) {
		if (n < 0 && errno == EOPNOTSUPP)
			shim_fd_nowait_bad(cb->aio_fildes);
		errno = saved;
		return false;
	}
	errno = saved;
	sev = cb->aio_sigevent;
	n = check_signal(&sev, n);
	if (opcode >= 0)
		cb->aio_lio_opcode = opcode;
	cb->__return_value = n < 0 ? -1 : n;
	__atomic_store_n(&cb->__error_code, n < 0 ? (int)-n : 0, __ATOMIC_RELEASE);
	done_seq_bump();
	if (shim_stats_on)
		shim_stats_fastpath(len);
	notify(&sev);
	return true;
}

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT); set at load. */
static size_t max_rw = 0x7ffff000;

/*
 * A read or write the kernel refuses whole before it looks at the file or
 * the buffer's contents: a length above SSIZE_MAX, or a buffer that ends
 * past the user address space. glibc's helper then gets EFAULT (or what the
 * fd or offset earns first: EBADF, EINVAL, ...); the engine would instead
 * move what it can piece by piece. (A buffer mapped above USER_SPACE_END,
 * which only a program asking for 5-level addresses gets, is then done in
 * the caller's thread too: the kernel's own result, only not asynchronous.)
 */
static bool refused_range(const struct aiocb *cb)
{
	uintptr_t a = (uintptr_t)cb->aio_buf;
	size_t n = cb->aio_nbytes;

	return n > SSIZE_MAX || a + n < a || a + n >= USER_SPACE_END;
}

/*
 * Returns 0, or -errno for the call itself (the aiocb then carries it as glibc
 * does). opcode: what glibc stores in aio_lio_opcode when it accepts the
 * request (LIO_READ, LIO_WRITE, GLIBC_LIO_SYNC, GLIBC_LIO_DSYNC), or -1 to
 * leave it (a lio_listio() member keeps its own).
 */
static int submit_req(struct ioe_context *ctx, struct aiocb *cb, int op, int opcode, struct lio_group *g)
{
	bool sync = op == OP_FSYNC || op == OP_FDATASYNC;
	bool now = false;	/* answered in this thread: see refused_range(), OP_INVALID */
	ssize_t res = -EINVAL;
	struct aio_req *r, *go = NULL;
	unsigned int b;
	struct fdq *q;
	size_t len = 0;

	/* glibc: a sync has no priority (aio_reqprio is set to 0), anything else is checked. */
	if (!sync && (cb->aio_reqprio < 0 || cb->aio_reqprio > AIO_PRIO_DELTA_MAX)) {
		cb->__return_value = -1;
		__atomic_store_n(&cb->__error_code, EINVAL, __ATOMIC_RELEASE);
		return -EINVAL;
	}
	/* Still in flight (its result not out yet): the first request is left alone. */
	if (cb_error(cb) == EINPROGRESS && rec_of(cb))
		return -EAGAIN;
	if (sync)
		cb->aio_reqprio = 0;
	if (op == OP_READ || op == OP_WRITE) {
		now = refused_range(cb);
		/* Beyond this the kernel's pread()/pwrite() would stop: so does the request. */
		len = cb->aio_nbytes < max_rw ? cb->aio_nbytes : max_rw;
	} else if (op == OP_INVALID) {
		now = true;
	}
	if (op == OP_READ && !now && shim_cfg.fastpath && fast_read(ctx, cb, len, opcode))
		return 0;
	if (atomic_fetch_add_explicit(&outstanding, 1, memory_order_relaxed) >= effective_max()) {
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	r = rec_pop();
	if (!r) {
		atomic_fetch_sub_explicit(&outstanding, 1, memory_order_relaxed);
		return -EAGAIN;
	}
	r->op = op;
	r->counted = false;
	r->inline_done = now;
	r->group = g;
	r->fifo_next = NULL;
	r->sev = cb->aio_sigevent;
	r->t0 = shim_stats_on ? shim_now_ns() : 0;
	switch (op) {
	case OP_READ:
		ioe_prep_read(&r->ev, cb->aio_fildes, (void *)cb->aio_buf, len, cb->aio_offset);
		break;
	case OP_WRITE:
		ioe_prep_write(&r->ev, cb->aio_fildes, (const void *)cb->aio_buf, len, cb->aio_offset);
		break;
	case OP_FSYNC:
		ioe_prep_fsync(&r->ev, cb->aio_fildes);
		break;
	case OP_FDATASYNC:
		ioe_prep_fdatasync(&r->ev, cb->aio_fildes);
		break;
	default:
		break;		/* OP_INVALID: never goes to the engine */
	}
	/*
	 * glibc's helper makes one pwrite(): a short write at a limit is the
	 * result. A read goes on after a short count: on a character device
	 * (/dev/zero) io_uring stops short where pread() does not.
	 */
	if (op == OP_WRITE)
		r->ev.flags = IOE_F_ONE_CALL;
	ioe_set_callback(&r->ev, on_engine_done, r);
	if (g) {
		atomic_fetch_add_explicit(&g->pending, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
	}
	if (opcode >= 0)
		cb->aio_lio_opcode = opcode;
	cb->__return_value = 0;
	__atomic_store_n(&cb->__error_code, EINPROGRESS, __ATOMIC_RELAXED);
	cb->__abs_prio = (int)r->idx;
	cb->__policy = (int)(r->idx ^ HINT_MAGIC);
	atomic_store_explicit(&r->fd, cb->aio_fildes, memory_order_relaxed);
	atomic_store_explicit(&r->cb, cb, memory_order_relaxed);
	atomic_store_explicit(&r->state, REQ_ENGINE, memory_order_release);

	if (now) {
		/* Failed at once with no effect, so out of order with the fd's queue is unseen. */
		if (op != OP_INVALID) {
			shim_stats_fallback();
			res = do_inline(cb, op);
		}
		complete(r, res);
		return 0;
	}
	if (op == OP_READ) {
		engine_submit(ctx, r);
		return 0;
	}
	b = fdq_bucket(cb->aio_fildes);
	pthread_mutex_lock(&fdtab[b].lock);
	q = fdq_get(b, cb->aio_fildes);
	if (q && (q->head || (op != OP_WRITE && atomic_load(&q->writes)))) {
		atomic_store_explicit(&r->state, REQ_HELD, memory_order_release);
		if (q->tail)
			q->tail->fifo_next = r;
		else
			q->head = r;
		q->tail = r;
		r = NULL;
	} else if (q && op == OP_WRITE) {
		atomic_fetch_add(&q->writes, 1);
		r->counted = true;
		r->q = q;
	}
	bucket_unlock(b, &go);
	submit_list(go);
	if (r)
		engine_submit(ctx, r);	/* without an fdq (no memory): unordered, still correct per request */
	return 0;
}

/* submit_req(), errno kept: the fd checks and the engine on the way may change it. */
static int submit(struct ioe_context *ctx, struct aiocb *cb, int op, int opcode, struct lio_group *g)
{
	int saved = errno, ret = submit_req(ctx, cb, op, opcode, g);

	errno = saved;
	return ret;
}

static int fail(int err)
{
	errno = err;
	return -1;
}

static int rw(struct aiocb *cb, int op)
{
	struct ioe_context *ctx = shim_engine();
	int ret;

	if (!ctx) {
		int (*real)(struct aiocb *) = op == OP_READ ? REAL(aio_read) : REAL(aio_write);

		shim_stats_fallback();
		return real ? real(cb) : fail(EAGAIN);
	}
	ret = submit(ctx, cb, op, op == OP_READ ? LIO_READ : LIO_WRITE, NULL);
	return ret ? fail(-ret) : 0;
}

SHIM_API int aio_read(struct aiocb *cb)
{
	return rw(cb, OP_READ);
}

SHIM_API int aio_write(struct aiocb *cb)
{
	return rw(cb, OP_WRITE);
}

SHIM_API int aio_fsync(int op, struct aiocb *cb)
{
	struct ioe_context *ctx = shim_engine();
	int ret;

	if (!ctx) {
		shim_stats_fallback();
		return REAL(aio_fsync) ? shim_real.aio_fsync(op, cb) : fail(EAGAIN);
	}
	if (op != O_SYNC && op != O_DSYNC)
		return fail(EINVAL);
	/* glibc checks the fd in the call, not in aio_error(). */
	if (fcntl(cb->aio_fildes, F_GETFL) < 0)
		return fail(EBADF);
	ret = submit(ctx, cb, op == O_SYNC ? OP_FSYNC : OP_FDATASYNC,
		     op == O_SYNC ? GLIBC_LIO_SYNC : GLIBC_LIO_DSYNC, NULL);
	return ret ? fail(-ret) : 0;
}

SHIM_API int aio_error(const struct aiocb *cb)
{
	return cb_error(cb);
}

SHIM_API ssize_t aio_return(struct aiocb *cb)
{
	/* Like glibc: the stored result, as often as asked. */
	return cb->__return_value;
}

/* ---- aio_suspend ---- */

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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
				int64_t left = deadline - mono_ns();
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
			int64_t poll = mono_ns() + SUSPEND_POLL_NS;

			if (!wake_at || poll < wake_at)
				wake_at = poll;
		}
		waits = ours == 1 && !foreign ? WAITS_ONE : WAITS_MANY;
		err = suspend_wait(seq, wake_at);
		if (err == EINTR)
			return fail(EINTR);
		if (timeout && mono_ns() >= deadline) {
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

/* ---- aio_cancel ---- */

static bool cancel_match(struct aio_req *r, int fd, const struct aiocb *cb)
{
	return cb ? atomic_load_explicit(&r->cb, memory_order_relaxed) == cb : r->ev.fd == fd;
}

/* Take the matching held requests of fd off its FIFO; the released ones go on *go. */
static struct aio_req *take_held(int fd, const struct aiocb *cb, struct aio_req **go)
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

SHIM_API int aio_cancel(int fd, struct aiocb *cb)
{
	struct aio_req *got, *go = NULL;
	int result = AIO_ALLDONE, real = -1;
	uint32_t n;
	bool cancelled = false, busy = false;

	if (!shim_engine()) {
		shim_stats_fallback();
		/* No glibc yet (see REAL()): none of its requests can exist. */
		if (!REAL(aio_cancel))
			return fcntl(fd, F_GETFL) < 0 ? fail(EBADF) : AIO_ALLDONE;
		return shim_real.aio_cancel(fd, cb);
	}
	if (fcntl(fd, F_GETFL) < 0)
		return fail(EBADF);
	if (cb && cb->aio_fildes != fd)
		return fail(EINVAL);
	if (cb && cb_error(cb) != EINPROGRESS)
		return AIO_ALLDONE;

	got = take_held(fd, cb, &go);
	while (got) {
		struct aio_req *next = got->fifo_next;

		got->fifo_next = NULL;
		complete(got, -ECANCELED);
		cancelled = true;
		got = next;
	}
	submit_list(go);

	/* What is left of ours on fd is with the engine. */
	if (cb) {
		if (!cancelled && cb_error(cb) == EINPROGRESS) {
			if (rec_of(cb))
				busy = true;
			else
				real = shim_real.aio_cancel(fd, cb);	/* glibc's own request */
		}
	} else {
		n = atomic_load_explicit(&nrecs, memory_order_acquire);
		for (uint32_t i = 0; i < n && !busy; i++) {
			struct aio_req *r = rec_at(i);
			uint32_t st = atomic_load_explicit(&r->state, memory_order_acquire);

			if ((st == REQ_ENGINE || st == REQ_HELD || st == REQ_FOREIGN) &&
			    atomic_load_explicit(&r->fd, memory_order_relaxed) == fd)
				busy = true;
		}
		real = shim_real.aio_cancel(fd, NULL);
	}
	if (real == AIO_NOTCANCELED)
		busy = true;
	else if (real == AIO_CANCELED)
		cancelled = true;
	if (busy)
		result = AIO_NOTCANCELED;
	else if (cancelled)
		result = AIO_CANCELED;
	return result;
}

/* ---- lio_listio ---- */

/*
 * A member's opcode as glibc's helper thread reads it: the low 7 bits make a
 * read or a write (bit 7 marks the 64-bit variant, the same on LP64); its
 * internal sync opcodes, exactly, an fdatasync or fsync (with aio_reqprio
 * set to 0, unchecked); anything else is accepted and then fails with
 * EINVAL, with the member's own notification.
 */
static int lio_op(int opcode)
{
	if ((opcode & 127) == LIO_READ)
		return OP_READ;
	if ((opcode & 127) == LIO_WRITE)
		return OP_WRITE;
	if (opcode == GLIBC_LIO_DSYNC)
		return OP_FDATASYNC;
	if (opcode == GLIBC_LIO_SYNC)
		return OP_FSYNC;
	return OP_INVALID;
}

SHIM_API int lio_listio(int mode, struct aiocb *const list[], int nent, struct sigevent *sev)
{
	struct lio_group *g;
	struct ioe_context *ctx = shim_engine();
	int ret = 0, err = 0, members = 0;
	bool failed;

	if (!ctx) {
		shim_stats_fallback();
		return REAL(lio_listio) ? shim_real.lio_listio(mode, list, nent, sev) : fail(EAGAIN);
	}
	if (mode != LIO_WAIT && mode != LIO_NOWAIT)
		return fail(EINVAL);
	if (nent > 0 && (uint32_t)nent > effective_max())
		return fail(EINVAL);
	g = calloc(1, sizeof(*g));
	if (!g)
		return fail(EAGAIN);
	g->mode = mode;
	atomic_init(&g->pending, 1);
	atomic_init(&g->refs, mode == LIO_WAIT ? 2 : 1);
	if (mode == LIO_NOWAIT && sev && sev->sigev_notify != SIGEV_NONE) {
		g->has_sev = true;
		g->sev = *sev;
	}
	for (int i = 0; i < nent; i++) {
		struct aiocb *cb = list[i];
		int r;

		if (!cb || cb->aio_lio_opcode == LIO_NOP)
			continue;
		r = submit(ctx, cb, lio_op(cb->aio_lio_opcode), -1, g);
		if (r) {
			ret = -1;
			err = -r;
		} else {
			members++;
		}
	}
	/* Drop the submitting guard: the group may complete now. */
	group_member_done(g, false);
	if (mode == LIO_NOWAIT)
		return ret ? fail(err) : 0;
	while (!atomic_load_explicit(&g->done, memory_order_acquire)) {
		if (syscall(SYS_futex, &g->done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) < 0 && errno == EINTR) {
			group_put(g);
			return -1;
		}
	}
	failed = atomic_load_explicit(&g->failed, memory_order_relaxed);
	group_put(g);
	/* glibc: once it waited for anything, any failure (even a refused request) is EIO. */
	if (members && (failed || ret))
		return fail(EIO);
	return ret ? fail(err) : 0;
}

SHIM_API void aio_init(const struct aioinit *init)
{
	/* aio_num: how many requests the program expects at once; never lowers the limit. */
	if (!aio_max_from_env && init->aio_num > 0 && (uint32_t)init->aio_num > aio_max)
		aio_max = (uint32_t)init->aio_num > AIO_HARD_MAX ? AIO_HARD_MAX : (uint32_t)init->aio_num;
	if (REAL(aio_init))
		shim_real.aio_init(init);
}

/*
 * The 64 names: same layout on LP64, so the same code. <aio.h> declares them
 * with struct aiocb64, so the aliases are made at the assembler level.
 */
#define AIO_ALIAS64(name) __asm__(".globl " #name "64\n.set " #name "64, " #name)
AIO_ALIAS64(aio_read);
AIO_ALIAS64(aio_write);
AIO_ALIAS64(aio_error);
AIO_ALIAS64(aio_return);
AIO_ALIAS64(aio_suspend);
AIO_ALIAS64(aio_cancel);
AIO_ALIAS64(aio_fsync);
AIO_ALIAS64(lio_listio);
_Static_assert(sizeof(struct aiocb) == sizeof(struct aiocb64), "aiocb64 is aiocb on this ABI");

/* ---- process lifecycle ---- */

static void aio_atfork_child(void)
{
	/* The parent's requests are not ours: their records are free again.
	 * Its per-fd queues are reachable only from fdtab: free them. */
	for (unsigned int i = 0; i < FDQ_BUCKETS; i++) {
		for (struct fdq *q = fdtab[i].list, *next; q; q = next) {
			next = q->next;
			free(q);
		}
		pthread_mutex_init(&fdtab[i].lock, NULL);
		fdtab[i].list = NULL;
		atomic_store(&fdtab[i].due, false);
	}
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

__attribute__((constructor)) static void aio_setup(void)
{
	const char *v = secure_getenv("IOENGINE_AIO_MAX");

	long page = sysconf(_SC_PAGESIZE);

	if (page > 0 && !(page & (page - 1)))
		max_rw = (size_t)INT_MAX & ~((size_t)page - 1);
	if (v && *v) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (errno || *end || !n || n > AIO_HARD_MAX)
			shim_log(SHIM_LOG_WARN, "IOENGINE_AIO_MAX=%s: want 1..%u, using %u", v,
				 AIO_HARD_MAX, AIO_DEFAULT_MAX);
		else {
			aio_max = (uint32_t)n;
			aio_max_from_env = true;
		}
	}
	pthread_atfork(NULL, NULL, aio_atfork_child);
}
