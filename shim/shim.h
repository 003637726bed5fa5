/* SPDX-License-Identifier: MIT */
/*
 * Internals of libioengine-preload.so shared by its parts: the real libc
 * functions, the per-process engine, configuration, logging and statistics.
 * Nothing here is exported from the library (see exports.map).
 */
#ifndef IOE_SHIM_H
#define IOE_SHIM_H

#include <aio.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include "ioengine.h"
#include "ioengine_internal.h"

/* The functions the shim interposes, as libc has them: dlsym(RTLD_NEXT), once. */
struct shim_real {
	ssize_t (*pread)(int, void *, size_t, off_t);
	ssize_t (*pwrite)(int, const void *, size_t, off_t);
	ssize_t (*preadv)(int, const struct iovec *, int, off_t);
	ssize_t (*pwritev)(int, const struct iovec *, int, off_t);
	ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
	ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
	int (*aio_read)(struct aiocb *);
	int (*aio_write)(struct aiocb *);
	int (*aio_error)(const struct aiocb *);
	ssize_t (*aio_return)(struct aiocb *);
	int (*aio_suspend)(const struct aiocb *const[], int, const struct timespec *);
	int (*aio_cancel)(int, struct aiocb *);
	int (*aio_fsync)(int, struct aiocb *);
	int (*lio_listio)(int, struct aiocb *const[], int, struct sigevent *);
	void (*aio_init)(const struct aioinit *);
	int (*close)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
};

extern struct shim_real shim_real;

/*
 * Resolve shim_real (idempotent, thread-safe, never waits, cheap after the
 * first call); every entry point calls it before it uses a pointer. A
 * pointer is still NULL after it only in a signal handler that interrupted
 * this thread's own resolving: pread() and its kin then make the raw system
 * call, the POSIX AIO functions do without glibc (see REAL() in aio_request.h).
 */
void shim_resolve(void);

enum shim_log_level { SHIM_LOG_OFF, SHIM_LOG_ERROR, SHIM_LOG_WARN, SHIM_LOG_INFO, SHIM_LOG_DEBUG };

struct shim_config {
	enum ioe_backend backend;	/* IOENGINE_BACKEND */
	unsigned int depth;		/* IOENGINE_DEPTH */
	unsigned int workers;		/* IOENGINE_WORKERS */
	bool fastpath;			/* IOENGINE_FASTPATH */
	enum shim_log_level log;	/* IOENGINE_LOG */
	const char *stats;		/* IOENGINE_STATS: NULL, "" (stderr) or a path */
	unsigned int interval;		/* IOENGINE_STATS_INTERVAL: seconds, 0 for none */
	const char *metrics;		/* IOENGINE_METRICS: NULL or a path ending in .prom */
	size_t merge_limit;		/* IOENGINE_MERGE, IOENGINE_MERGE_MAX: bytes of a merged IO, 0: none */
};

extern struct shim_config shim_cfg;

/*
 * The process's engine, created on first use (thread-safe); NULL when the
 * shim must use the real calls: no backend could start (one warning was
 * logged), the shim is not initialised yet or is inside its own
 * initialisation, or this is a vfork child or a child that ran no atfork
 * handler (_Fork(), a raw clone()). A fork() child gets its own engine.
 */
struct ioe_context *shim_engine(void);

/* Set once the program called vfork() (vfork.c): shim_engine() then checks the pid. */
extern bool shim_vfork_called;

/* One line "ioengine: ..." to stderr if level <= IOENGINE_LOG; async-signal-safe, keeps errno. */
void shim_log(enum shim_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Statistics for IOENGINE_STATS and IOENGINE_METRICS (stats.c). Lock-free;
 * cheap enough for every call; no-ops while shim_stats_on is false. Each
 * counted call also tells report.c that the process does IO through the
 * shim (the periodic writer starts then).
 */
enum shim_stat_op { SHIM_STAT_READ, SHIM_STAT_WRITE, SHIM_STAT_SYNC, SHIM_STAT_OPS };

/* Why a call the shim took went to the real function (the summary adds them up). */
enum shim_fallback_reason {
	SHIM_FB_FD,		/* an fd the engine does not take: pipe, socket, character device, none */
	SHIM_FB_NO_ENGINE,	/* no engine in this process or thread (none could start, a fork kind, a filter) */
	SHIM_FB_REDONE,		/* the engine failed it with nothing done: redone by the real function */
	SHIM_FB_INLINE,		/* a POSIX AIO request done in the caller's thread (a buffer the engine would split) */
	SHIM_FALLBACK_REASONS
};

void shim_stats_count_routed(enum shim_stat_op op, enum ioe_path path, size_t bytes, uint64_t latency_ns);
void shim_stats_count_fastpath(size_t bytes, bool whole);
void shim_stats_count_fallback(enum shim_fallback_reason why);
void shim_stats_queue_depth(size_t depth);	/* observed pending+running */
/* The engine's backend ("io_uring", "aio"), once made; a reset forgets it. */
void shim_stats_engine(struct ioe_context *ctx);

/* IOENGINE_STATS or IOENGINE_METRICS was set: the statistics hooks then record. */
extern bool shim_stats_on;

/* An interval was asked for and the periodic writer is not started yet (report.c). */
extern bool shim_report_pending;
void shim_report_start(void);

static inline void shim_report_note_io(void)
{
	if (__builtin_expect(__atomic_load_n(&shim_report_pending, __ATOMIC_RELAXED), 0))
		shim_report_start();
}

/* A request the engine did, and where (see ioe_submit_wait_path()). */
static inline void shim_stats_routed(enum shim_stat_op op, enum ioe_path path, size_t bytes, uint64_t latency_ns)
{
	if (!shim_stats_on)
		return;
	shim_stats_count_routed(op, path, bytes, latency_ns);
	shim_report_note_io();
}

/* Bytes read by the non-blocking read; whole: it answered the call (else the rest was routed). */
static inline void shim_stats_fastpath(size_t bytes, bool whole)
{
	if (!shim_stats_on)
		return;
	shim_stats_count_fastpath(bytes, whole);
	shim_report_note_io();
}

/* A call that went to the real function, and why. */
static inline void shim_stats_fallback(enum shim_fallback_reason why)
{
	if (!shim_stats_on)
		return;
	shim_stats_count_fallback(why);
	shim_report_note_io();
}

/* Histogram buckets: 8 per power of two of the latency in ns. */
#define SHIM_STAT_BUCKETS	496

/* All counters, each read once (shim_stats_snapshot()): what every report formats. */
struct shim_stats_snap {
	uint64_t routed[SHIM_STAT_OPS][IOE_PATHS];
	uint64_t ops[SHIM_STAT_OPS];		/* routed[op][*] added up */
	uint64_t paths[IOE_PATHS];		/* routed[*][path] added up */
	uint64_t routed_all;
	uint64_t bytes[SHIM_STAT_OPS];
	uint64_t fast_hits, fast_bytes;
	uint64_t fallbacks[SHIM_FALLBACK_REASONS];
	uint64_t fallbacks_all;
	uint64_t peak_depth;
	uint64_t merged_runs, merged_requests;	/* the engine's merged IOs and the requests in them */
	uint64_t latency_sum_ns;
	uint64_t hist[SHIM_STAT_BUCKETS];
	uint64_t total;				/* hist[] added up */
	const char *backend;			/* NULL: none */
};

void shim_stats_snapshot(struct shim_stats_snap *s);
/* Lowest latency of bucket b, ns. */
uint64_t shim_stats_bucket_start_ns(unsigned int b);
/* The p-th quantile (0..1) of a histogram of total entries, µs (a bucket's middle). */
double shim_stats_percentile_us(const uint64_t *hist, uint64_t total, double p);


/*
 * pread/pwrite family (rw.c) and what it shares with aio.c.
 */

/* Read the environment into shim_cfg (constructor; bad values: one message, default). */
void shim_config_load(void);

/* Nonzero once the constructor ran: before, every call goes to the real function. */
extern int shim_initialised;

/*
 * Queue a prepared event (its callback is set here) and block the calling
 * thread until it completes; returns ev->res. Spins a few microseconds, then
 * sleeps on a futex. Signals run their handlers but never end the wait, and
 * cancellation is held off while the engine owns the event (so the event may
 * live on the caller's stack). Returns -errno from ioe_submit() if refused.
 */
ssize_t shim_sync_submit(struct ioe_context *ctx, struct ioe_event *ev, enum ioe_channel ch, enum ioe_path *path);

/* Monotonic clock in ns (vDSO; no syscall): the engine's. */
static inline uint64_t shim_now_ns(void)
{
	return ioe_now_ns();
}

/* A fork child starts from zero (engine.c). */
void shim_stats_reset(void);

/*
 * Reports (report.c): shim_report_init() by the constructor, with the pid
 * of the process that loaded the shim (only it writes periodic output and
 * the metrics file); shim_report_exit() by the destructor: stops the
 * periodic writer, then writes the summary and the metrics file once.
 */
void shim_report_init(pid_t pid);
void shim_report_exit(void);

/*
 * Seccomp (sandbox.c): the groups of the shim's own system calls that this
 * thread's filters let it make. CORE: threads, waits, fd checks, preadv2
 * (the shim's and both backends'); URING, AIO: each backend's. A thread
 * without CORE uses the real functions for everything.
 */
enum { SHIM_SB_CORE = 1, SHIM_SB_URING = 2, SHIM_SB_AIO = 4, SHIM_SB_ALL = 7, SHIM_SB_KNOWN = 8 };

/* This thread's answer (SHIM_SB_KNOWN once computed), and the one for every thread. */
extern __thread unsigned int shim_sb_thread __attribute__((tls_model("initial-exec")));
extern _Atomic unsigned int shim_sb_process;

/* The answer when the quick one below does not include CORE: first call, a probe due, or none. */
unsigned int shim_sandbox_slow(void);

/* The groups this thread may use (SHIM_SB_*): one TLS and one relaxed load when all is known. */
static inline unsigned int shim_sandbox_mask(void)
{
	unsigned int m = shim_sb_thread & __atomic_load_n(&shim_sb_process, __ATOMIC_RELAXED);

	return __builtin_expect(m & SHIM_SB_CORE, 1) ? m & SHIM_SB_ALL : shim_sandbox_slow();
}

/* The constructor's look at /proc/self/status: a filter in force? Returns the pid found there, or 0. */
pid_t shim_sandbox_init(void);

/*
 * RLIMIT_FSIZE is not set, as far as the program's own calls tell
 * (limits.c): its POSIX AIO writes may go to the kernel from its threads.
 */
bool shim_fsize_unlimited(void);
/* Around a call that may change a resource limit (syscall(), sandbox.c). */
void shim_fsize_changing(void);
void shim_fsize_changed(void);

#endif
