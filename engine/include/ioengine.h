/* SPDX-License-Identifier: MIT */
/*
 * libioengine: one asynchronous file-IO API over io_uring or Linux AIO.
 *
 * A context owns a submitter thread, a poller thread and optional callback
 * workers. Callers fill caller-owned events (the engine never allocates per IO)
 * and queue them on one of three channels. Every accepted event is called back
 * exactly once, with ev->res set to the bytes done or to -errno. Which kernel
 * interface runs is chosen once, when the context is created, and is never
 * visible in this API except through ioe_backend_name() for diagnostics.
 */
#ifndef IOENGINE_H
#define IOENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOE_API __attribute__((visibility("default")))

/* Limits of ioe_context_new(): anything outside is -EINVAL, never clamped. */
#define IOE_MAX_DEPTH	4096	/* in-flight IOs per context */
#define IOE_MAX_WORKERS	64	/* callback worker threads */

enum ioe_action {
	IOE_READ = 0,		/* buf, len at offset */
	IOE_WRITE,
	IOE_READV,		/* iov, iovcnt at offset */
	IOE_WRITEV,
	IOE_FSYNC,
	IOE_FDATASYNC,
	IOE_ACTION_MAX
};

enum ioe_channel {
	IOE_CHAN_PRIO = 0,	/* always taken first */
	IOE_CHAN_READ,		/* read and write alternate who goes first */
	IOE_CHAN_WRITE,
	IOE_CHAN_MAX
};

enum ioe_backend {
	IOE_BACKEND_AUTO = 0,	/* IOENGINE_BACKEND, else io_uring, else AIO */
	IOE_BACKEND_URING,
	IOE_BACKEND_AIO,
};

struct ioe_event;
typedef void (*ioe_callback_fn)(struct ioe_event *ev, void *arg);

/*
 * One IO. Embed it in your own structure; keep it alive and untouched from
 * ioe_submit() until its callback runs. The callback is the engine's last
 * access: the event may be freed or reused from inside it.
 */
struct ioe_event {
	/* Request: set with ioe_prep_*(). */
	int fd;
	uint32_t action;		/* enum ioe_action */
	union {
		void *buf;		/* IOE_READ / IOE_WRITE */
		const struct iovec *iov;	/* IOE_READV / IOE_WRITEV */
	};
	size_t len;			/* bytes, or iovcnt for the vectored actions */
	int64_t offset;			/* must be >= 0 */
	uint32_t flags;			/* IOE_F_*: cleared by ioe_prep_*(), set after */

	/* Completion. */
	ssize_t res;			/* bytes done, or -errno */
	ioe_callback_fn cb;
	void *cb_arg;

	/* Sub-events of a merged IO (see merge.h); NULL for a plain event. */
	struct ioe_event *merged;
	struct ioe_event *merged_next;

	/* Engine-private. */
	struct ioe_event *next_;	/* queue link */
	void *priv_;			/* free for the submitting layer (shim, merger) */
};

/*
 * A read or write goes on after a short count until it is complete, meets
 * end of file or fails (bytes moved win over a later error): ev->res is
 * what the whole request did. With IOE_F_ONE_CALL it is instead what one
 * pread()/pwrite() (or the v variant) of the request returns: a short
 * count is the result. A write across RLIMIT_FSIZE or the end of a
 * filesystem's space then returns the bytes that fit, as pwrite() does,
 * where going on would fail at the limit (SIGXFSZ, with its default action
 * the end of the process) or write into space freed meanwhile; a request
 * of more than the kernel moves at once (MAX_RW_COUNT) returns that much.
 * Retries that moved nothing (EINTR, EAGAIN) are still made.
 */
#define IOE_F_ONE_CALL	(1u << 0)

/*
 * Read or write at the file's position, as read()/write() do, for pipes,
 * FIFOs, sockets and other stream files: ev->offset is ignored; the result
 * is what one call returns (IOE_F_ONE_CALL implied); -EAGAIN from a
 * non-blocking file is the result, never retried. A backend that would have
 * to block a thread of the engine for it refuses it: ioe_submit() returns
 * -EOPNOTSUPP (Linux AIO). On io_uring a read or write that cannot go on
 * waits in the kernel (no thread waits for it), for as long as the file
 * has nothing; ioe_cancel() ends it. It takes none of the context's depth:
 * file IO goes on beside any number of such waits (they count in
 * ioe_running()). The engine's submitter thread hands it to the kernel,
 * never the calling thread (the kernel cancels a thread's requests when
 * it exits). An O_NONBLOCK file's flag is honoured as read() would,
 * looked at for each event. For ioe_submit() and ioe_submit_local() only:
 * ioe_submit_wait() returns -EOPNOTSUPP for it.
 */
#define IOE_F_AT_POSITION (1u << 1)

struct ioe_options {
	unsigned int depth;		/* 1..IOE_MAX_DEPTH */
	unsigned int workers;		/* 0: callbacks run inline in the poller */
	enum ioe_backend backend;	/* AUTO honours IOENGINE_BACKEND */
};

struct ioe_context;

/*
 * Create a context. Returns NULL and sets errno on failure: EINVAL for a
 * depth or worker count out of range or a bad IOENGINE_BACKEND value,
 * ENOSYS/EPERM/... when an explicitly chosen backend cannot start (an explicit
 * choice never falls back to the other backend).
 */
IOE_API struct ioe_context *ioe_context_new(unsigned int depth, unsigned int workers);
IOE_API struct ioe_context *ioe_context_new_opts(const struct ioe_options *opts);

/*
 * Stop accepting events (ioe_submit() then returns -ESHUTDOWN), complete and
 * call back every queued and in-flight event, join the threads, free the
 * context. IOE_F_AT_POSITION events, which could wait for their file for
 * ever, are cancelled instead once the rest is done: -ECANCELED (unless
 * they complete first). Must not be called from a callback.
 */
IOE_API void ioe_context_free(struct ioe_context *ctx);

/*
 * In a fork() child (an atfork child handler): close the descriptors of the
 * parent's context that the child inherited, without touching its rings,
 * memory or threads; the context must not be used in the child afterwards
 * (forget it; its memory stays). Async-signal-safe.
 */
IOE_API void ioe_context_forget(struct ioe_context *ctx);

/*
 * Queue an event. Returns 0 when accepted (the callback will run exactly
 * once), or -errno without calling back: -EINVAL (NULL argument, unknown action
 * or channel, no callback, negative offset, iovcnt out of range), -ESHUTDOWN
 * (context being freed), or what stopped the engine's threads from starting
 * (-EAGAIN, -EMFILE, ...: they start with the first ioe_submit() or
 * ioe_submit_local(), and the next call tries again; ioe_submit_wait() needs
 * none). Errors of the IO itself arrive in ev->res, as the
 * matching syscall would report them: -EBADF, -ESPIPE for a pipe or socket,
 * -EINVAL for misaligned O_DIRECT, -EFAULT for a bad buffer, ...
 *
 * Reads or writes of one fd that wait together (queued, or held: see
 * ioe_submit_local()), each starting where the one before it ends, with the
 * same flags (not IOE_F_AT_POSITION), may go to the kernel as one vectored
 * IO over their own buffers (IOENGINE_MERGE=0 when the context is made:
 * never; IOENGINE_MERGE_MAX: its bytes, 128 KiB by default). Each still
 * gets what it alone would have got: the part of the IO that covers it,
 * or, where the IO did not reach it or failed, its own IO done again alone
 * by the thread that completes the merged one. Nothing waits to be merged.
 *
 * Callbacks run in an engine thread: a callback worker, or with workers == 0
 * the poller or the submitter (which completes itself an IO the kernel
 * refused, and the completions an idle ring already has right after it
 * submitted). They may call ioe_submit(); they must not block for long.
 */
IOE_API int ioe_submit(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel);

/*
 * Queue an event and wait for it in the calling thread: the synchronous
 * form of ioe_submit(), with the same return values. On 0 the IO is done
 * and ev->res holds its result; ev's callback is not called (the engine
 * uses cb and cb_arg during the call). A write, an fsync or an fdatasync
 * is done at once in the calling thread with the plain system call: the
 * kernel's asynchronous forms pass it to a worker thread of their own, or
 * (an O_DIRECT write) are slower than pwrite() (a SIGXFSZ is so raised in
 * the calling thread, as by pwrite()). A read that finds the engine idle
 * (the queues empty and a slot free, or the threads not started) is done
 * the same way, one plain system call where a ring or AIO context would
 * cost the same call and a check of the fd (a pipe, a socket or a bad fd
 * gets the kernel's own ESPIPE or EBADF); such IO is not counted in
 * ioe_running() nor held to the context's depth. A read while others are
 * queued, or no slot is free, is queued like any other and waited for,
 * with every signal blocked: a handler runs once it is done (one that
 * left by longjmp() would leave the engine ev to complete in a dead frame);
 * a signal that runs no handler (a fatal one, a stop) acts meanwhile.
 * Called from a signal handler that interrupted this thread's
 * ioe_submit() or ioe_submit_wait(), it does the IO with
 * plain syscalls. Not a cancellation point: a
 * thread must not be cancelled while in here (the engine writes into ev
 * until it returns). Must not be called from a callback.
 */
IOE_API int ioe_submit_wait(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel);

/*
 * ioe_submit() for a thread that waits for its events itself, with
 * ioe_wait_word(). ev (a sync, or a read or write of up to 64 KiB; on
 * Linux AIO only on a file opened with O_DIRECT, as the kernel does
 * a buffered one inside the submission) does not wake the submitter: when the engine is idle (nothing in
 * flight or queued, the submitter asleep), the calling thread hands it to
 * the kernel itself; while IO is in flight, it is held back for the next
 * ioe_wait_word() call, in any thread, which hands the held events to the
 * kernel (a thread that holds 8 hands them over at once). Their
 * completions' kernel work then runs in that thread, at its next entry
 * into the kernel (such as its wait). Held events that no wait takes within
 * about a millisecond, or once nothing else is in flight, go to the
 * submitter. Held events go to the kernel in the order they were held,
 * outside the channels' read/write alternation; a PRIO event is never held.
 * Otherwise ev is queued as by ioe_submit(). Same return values.
 */
IOE_API int ioe_submit_local(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel channel);

/*
 * Wait until *word != old, for events queued with ioe_submit() or
 * ioe_submit_local(): their callbacks change the word (an atomic store)
 * and then call ioe_wake_word() (or FUTEX_WAKE it, private), as this may
 * be a plain futex wait. The
 * calling thread reaps completions meanwhile (io_uring and AIO), woken by
 * the kernel itself rather than by the poller, and runs their callbacks
 * (workers == 0). ctx may be
 * NULL (a futex wait). deadline: CLOCK_MONOTONIC in ns, 0 for none.
 * Returns 0 once the word changed, -ETIMEDOUT at the deadline, -EINVAL for
 * a NULL word, and -EINTR after a signal handler, as a futex wait would (a
 * handler with SA_RESTART lets a wait without a deadline go on). It sleeps
 * with every signal blocked, and handlers run between two sleeps (1 ms
 * apart at most), never while the thread is asynchronously cancellable.
 * A cancellation point, as aio_suspend() is; errno is left as it was. Must
 * not be called from a callback.
 */
IOE_API int ioe_wait_word(struct ioe_context *ctx, uint32_t *word, uint32_t old, uint64_t deadline);

/*
 * Wake the threads of ioe_wait_word() that sleep on word, after a change
 * to it: a FUTEX_WAKE, made only while some thread of ioe_wait_word() is
 * in such a sleep. (One that reaps its IO in the kernel is woken by the
 * kernel; a completion per IO would otherwise pay a system call for
 * nobody.) Async-signal-safe.
 */
IOE_API void ioe_wake_word(uint32_t *word);

/* ioe_cancel() results. */
enum ioe_cancel_result {
	IOE_CANCEL_DONE = 0,	/* cancelled: the event completes with res -ECANCELED */
	IOE_CANCEL_RUNNING = 1,	/* not cancelled: the kernel is doing it; it completes normally */
	IOE_CANCEL_ALLDONE = 2,	/* already complete, or not an event of this context in flight */
};

/*
 * Cancel an event queued with ioe_submit() or ioe_submit_local(). Returns
 * an enum ioe_cancel_result, or -EINVAL for a NULL argument.
 *
 * An event still queued or held back is removed, and its callback runs
 * exactly once with res -ECANCELED, in the calling thread, before this
 * returns IOE_CANCEL_DONE. An event already with the kernel is cancelled
 * there if the kernel can: on io_uring a read or write that waits (one of
 * IOE_F_AT_POSITION on an empty pipe or socket) or that the kernel has
 * not started; on Linux AIO what io_cancel() accepts, which is no read,
 * write or sync of a file, pipe or socket. Then IOE_CANCEL_DONE, and its
 * callback runs once with res -ECANCELED in the engine thread that reaps
 * it, which may be before or after this returns; on io_uring, the calling
 * thread waits for the kernel's answer and may reap meanwhile (with
 * workers == 0 it may run other events' callbacks, and this one's).
 * Otherwise IOE_CANCEL_RUNNING: the event completes normally; so do the
 * remainder of a short read or write, a merged IO (merge.h) and an event
 * that the engine merged with others (see ioe_submit()) until it is
 * called back. Its
 * completion has happened or is under way (its callback has run, runs or
 * is queued to run), or ev is no event of ctx: IOE_CANCEL_ALLDONE. ev is
 * only compared, never read, unless it is cancelled. Safe against the
 * completion racing the cancel and against several cancels of one event,
 * from any threads and from callbacks: the callback runs exactly once, and
 * with -ECANCELED exactly when one ioe_cancel() returned IOE_CANCEL_DONE.
 * Events of ioe_submit_wait() are not meant to be cancelled. Not
 * async-signal-safe.
 */
IOE_API int ioe_cancel(struct ioe_context *ctx, struct ioe_event *ev);

/* Events queued or held back (see ioe_submit_local()), not yet with the kernel. */
IOE_API size_t ioe_pending(const struct ioe_context *ctx);
/* Events with the kernel (taken, not yet completed), IOE_F_AT_POSITION ones included. */
IOE_API size_t ioe_running(const struct ioe_context *ctx);
/* "io_uring" or "aio": for logs and diagnostics only. */
IOE_API const char *ioe_backend_name(const struct ioe_context *ctx);

/* Event preparation: set the request and callback, clear the result. */
IOE_API void ioe_prep_read(struct ioe_event *ev, int fd, void *buf, size_t len, int64_t offset);
IOE_API void ioe_prep_write(struct ioe_event *ev, int fd, const void *buf, size_t len, int64_t offset);
IOE_API void ioe_prep_readv(struct ioe_event *ev, int fd, const struct iovec *iov, int iovcnt, int64_t offset);
IOE_API void ioe_prep_writev(struct ioe_event *ev, int fd, const struct iovec *iov, int iovcnt, int64_t offset);
IOE_API void ioe_prep_fsync(struct ioe_event *ev, int fd);
IOE_API void ioe_prep_fdatasync(struct ioe_event *ev, int fd);
IOE_API void ioe_set_callback(struct ioe_event *ev, ioe_callback_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
