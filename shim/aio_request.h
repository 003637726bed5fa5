/* SPDX-License-Identifier: MIT */
/*
 * Internal to the shim's POSIX AIO (aio*.c): what its parts share. The
 * parts, each calling only those listed after it:
 *
 *   aio.c           the interposed functions (but these two), set-up, fork
 *   aio_wait.c      aio_suspend()
 *   aio_cancel.c    aio_cancel()
 *   aio_submit.c    a new request: checks, fast path, its record, its way out
 *   aio_complete.c  a record to the engine and back; its result published
 *   aio_fd_order.c  per-fd ordering: held requests, what each fd has out
 *   aio_glibc.c     requests handed to glibc, with the shim's notification
 *   aio_notify.c    waking aio_suspend(), signals, threads; lio_listio groups
 *   aio_records.c   the pool of per-request records; the outstanding limit
 */
#ifndef IOE_SHIM_AIO_REQUEST_H
#define IOE_SHIM_AIO_REQUEST_H

#include <aio.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "shim.h"

#define SHIM_API __attribute__((visibility("default")))

/*
 * glibc's function, resolved first (shim_resolve()): an entry point may be
 * called before the shim's constructor. NULL only in a signal handler that
 * interrupted this thread's resolving: then no request can be glibc's yet,
 * and a new one is refused with EAGAIN (resources, as POSIX has it).
 */
#define REAL(name) (shim_resolve(), shim_real.name)

/*
 * The 64 names: same layout on LP64, so the same code. <aio.h> declares them
 * with struct aiocb64, so the aliases are made at the assembler level, in
 * the file that defines the function.
 */
#define AIO_ALIAS64(name) __asm__(".globl " #name "64\n.set " #name "64, " #name)

#define AIO_DEFAULT_MAX		65536
#define AIO_HARD_MAX		(1u << 20)
#define HINT_MAGIC		0x5a10c000

/* OP_INVALID: a lio_listio() opcode glibc's helper would fail with EINVAL. */
enum req_op { OP_READ, OP_WRITE, OP_FSYNC, OP_FDATASYNC, OP_INVALID };

/*
 * DONE: the result is being published; no longer in flight for aio_cancel().
 * FOREIGN: being handed to glibc; in flight until glibc has it queued.
 * GLIBC: glibc's, as any request glibc has; the record waits for glibc's
 * notification (glibc_submit()).
 */
enum req_state { REQ_FREE, REQ_HELD, REQ_ENGINE, REQ_DONE, REQ_FOREIGN, REQ_GLIBC };

struct fdq;

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
	bool stream;			/* at the fd's position: a pipe, socket, ... (shim_fd_rw_flags()) */
	bool counted;			/* counted in its fdq's out */
	struct fdq *q;			/* that fdq, when counted */
	bool inline_done;		/* done in the caller's thread, not routed */
	enum ioe_path path;		/* where the engine ran it: for the stats */
	struct sigevent sev;
	struct lio_group *group;
	struct aio_req *fifo_next;	/* held FIFO of its fd */
	_Atomic int glibc_ends;		/* handed to glibc: its return and notification to come */
	_Atomic uint32_t pins;		/* aio_records.c: aio_cancel()s looking at it, released */
	uint64_t t0;
};

static inline int cb_error(const struct aiocb *cb)
{
	return __atomic_load_n(&cb->__error_code, __ATOMIC_ACQUIRE);
}

/* The POSIX-facing return of a failed call. */
static inline int fail(int err)
{
	errno = err;
	return -1;
}

/* ---- records (aio_records.c) ---- */

extern _Atomic uint32_t outstanding;
extern uint32_t aio_max;
extern bool aio_max_from_env;

struct aio_req *rec_take(void);
struct aio_req *rec_of(const struct aiocb *cb);
void release_rec(struct aio_req *r, bool uncount);
uint32_t effective_max(void);
void rec_pin(struct aio_req *r);
void rec_unpin(struct aio_req *r);
void rec_wait_released(struct aio_req *r);
/*
 * r->state was just stored: wake whoever pinned r and sleeps until it
 * moves (aio_cancel(), see cancel_rec()). A load, no system call, unless
 * r is pinned.
 */
void rec_state_moved(struct aio_req *r);
struct aio_req *rec_next_on_fd(int fd, uint32_t *i);
void rec_atfork_child(void);

/* ---- notification (aio_notify.c) ---- */

/* Every completion bumps done_seq; aio_suspend() sleeps on it. */
extern _Atomic uint32_t done_seq;

void done_seq_bump(void);
void notify(const struct sigevent *sev);
ssize_t check_signal(struct sigevent *sev, ssize_t res);
void group_add_member(struct lio_group *g);
void group_put(struct lio_group *g);
void group_member_done(struct lio_group *g, bool failed);

/* ---- per-fd ordering (aio_fd_order.c) ---- */

bool fdq_enter(int fd, struct aio_req *r, struct aio_req **go);
void fdq_out_done(struct fdq *q, struct aio_req **go);
struct aio_req *take_held(int fd, const struct aiocb *cb, struct aio_req **go);
void fdq_atfork_child(void);

/* ---- glibc (aio_glibc.c) ---- */

bool glibc_submit(struct aio_req *r);

/* ---- engine and completion (aio_complete.c) ---- */

/*
 * What this thread's last wait in aio_suspend() was for: one request of
 * ours alone, or several; none yet. The engine chooses each request's
 * path from it (ioe_submit_for(), ioe_caller_copies()): a thread that
 * waits for its requests itself hands them to the kernel itself, or has
 * them held for its next aio_suspend(), so that its completions wake it
 * directly, not through the poller; other threads only queue: their
 * completions must not wait for a thread that may not enter the kernel
 * again soon.
 */
extern __thread enum ioe_wait_kind waits __attribute__((visibility("hidden")));

ssize_t do_inline(const struct aiocb *cb, int op);
void req_complete(struct aio_req *r, ssize_t res);
void on_engine_done(struct ioe_event *ev, void *arg);
void engine_submit(struct ioe_context *ctx, struct aio_req *r);
void submit_list(struct aio_req *r);

/* ---- submission (aio_submit.c) ---- */

extern size_t max_rw;

int submit(struct ioe_context *ctx, struct aiocb *cb, int op, int opcode, struct lio_group *g);

#endif
