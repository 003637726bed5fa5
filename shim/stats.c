/* SPDX-License-Identifier: MIT */
/*
 * IOENGINE_STATS: lock-free counters and a latency histogram, one summary
 * line at exit. Every hook returns at once when statistics are off.
 *
 * Histogram: 8 buckets per power of two of the latency in ns (about 12%
 * resolution), plain relaxed atomic adds; percentiles are read at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"

#define SUB_BITS	3
#define SUB		(1u << SUB_BITS)
#define NBUCKETS	(SUB + (64 - SUB_BITS) * SUB)

struct shim_stats {
	_Atomic uint64_t ops[3];		/* enum shim_stat_op */
	_Atomic uint64_t bytes[3];
	_Atomic uint64_t fast_hits, fast_bytes;
	_Atomic uint64_t paths[IOE_PATHS];	/* routed requests by where they ran */
	_Atomic uint64_t fallbacks;
	_Atomic uint64_t peak_depth;
	_Atomic uint64_t hist[NBUCKETS];
};

static struct shim_stats st;
static _Atomic bool flushed;

static unsigned int bucket_of(uint64_t ns)
{
	unsigned int msb;

	if (ns < SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	return SUB + (msb - SUB_BITS) * SUB + (unsigned int)((ns >> (msb - SUB_BITS)) & (SUB - 1));
}

/* Middle of a bucket's range, in ns. */
static double bucket_mid(unsigned int b)
{
	unsigned int shift;

	if (b < SUB)
		return b;
	shift = (b - SUB) / SUB;
	return ((double)(SUB + (b - SUB) % SUB) + 0.5) * (double)(1ull << shift);
}

void shim_stats_routed(enum shim_stat_op op, enum ioe_path path, size_t bytes, uint64_t latency_ns)
{
	if (!shim_stats_on)
		return;
	atomic_fetch_add_explicit(&st.ops[op], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.paths[path], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.bytes[op], bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.hist[bucket_of(latency_ns)], 1, memory_order_relaxed);
}

void shim_stats_fastpath(size_t bytes, bool whole)
{
	if (!shim_stats_on)
		return;
	if (whole)
		atomic_fetch_add_explicit(&st.fast_hits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.fast_bytes, bytes, memory_order_relaxed);
}

void shim_stats_fallback(void)
{
	if (!shim_stats_on)
		return;
	atomic_fetch_add_explicit(&st.fallbacks, 1, memory_order_relaxed);
}

void shim_stats_queue_depth(size_t depth)
{
	uint64_t cur;

	if (!shim_stats_on)
		return;
	cur = atomic_load_explicit(&st.peak_depth, memory_order_relaxed);
	while (depth > cur &&
	       !atomic_compare_exchange_weak_explicit(&st.peak_depth, &cur, depth,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void shim_stats_reset(void)
{
	memset(&st, 0, sizeof(st));
	atomic_store(&flushed, false);
}

static double percentile_us(const uint64_t *h, uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p + 0.999999), seen = 0;

	if (!total)
		return 0;
	if (!want)
		want = 1;
	for (unsigned int b = 0; b < NBUCKETS; b++) {
		seen += h[b];
		if (seen >= want)
			return bucket_mid(b) / 1000.0;
	}
	return 0;
}

/*
 * With IOENGINE_FAULT on, what was injected (the reliability tests read it):
 * replaces the line's newline by " faults_eio=N ... faults_enomem=N\n".
 */
static int add_faults(char *line, size_t size, int n)
{
#ifdef IOENGINE_FAULT_INJECTION
	const char *f = secure_getenv("IOENGINE_FAULT");
	int m;

	if (!f || !*f || n <= 0 || (size_t)n >= size)
		return n;
	m = snprintf(line + n - 1, size - (size_t)n + 1,
		     " faults_eio=%llu faults_short=%llu faults_eagain=%llu faults_enomem=%llu\n",
		     (unsigned long long)ioe_fault_count(IOE_FAULT_EIO),
		     (unsigned long long)ioe_fault_count(IOE_FAULT_SHORT),
		     (unsigned long long)ioe_fault_count(IOE_FAULT_EAGAIN),
		     (unsigned long long)ioe_fault_count(IOE_FAULT_ENOMEM));
	if (m > 0 && (size_t)(n - 1 + m) < size)
		return n - 1 + m;
	line[n - 1] = '\n';	/* did not fit: the plain line */
#else
	(void)line;
	(void)size;
#endif
	return n;
}

/*
 * May the summary be appended to this existing file? Only to a regular file
 * of the effective user, with one link (not a hard link to someone's file),
 * that neither group nor others may write (private, as one the shim creates).
 * As root that still describes /etc/shadow (root's, 0640, one link) and most
 * system files, so root appends only to an empty file (such as mktemp's) or
 * one that starts with the shim's own line: never into other content.
 */
static bool appendable(int fd)
{
	static const char own[] = "ioengine: stats ";
	char head[sizeof(own) - 1];
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)))
		return false;
	if (st.st_uid || !st.st_size)
		return true;
	return read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) && !memcmp(head, own, sizeof(head));
}

static int open_output(void)
{
	const char *path = shim_cfg.stats;
	int fd;

	if (!*path)
		return STDERR_FILENO;
	/*
	 * A file created here (O_EXCL, never through a symlink) is ours. Else
	 * the existing one is appended to (several processes can share the
	 * file) if appendable(); O_NOFOLLOW: never through a symlink;
	 * O_NONBLOCK: a FIFO nobody reads must not hang the program at exit.
	 * Root reads the file's first bytes (appendable()), so opens it O_RDWR.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EEXIST)
		goto out;
	fd = open(path, (geteuid() ? O_WRONLY : O_RDWR) | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && !appendable(fd)) {
		shim_log(SHIM_LOG_WARN,
			 "IOENGINE_STATS file %s is not a regular file of this user, with one link, that no one "
			 "else may write%s; not written", path, geteuid() ? "" : " (as root: empty or the shim's own)");
		close(fd);
		return -1;
	}
out:
	if (fd < 0)
		shim_log(SHIM_LOG_WARN, "cannot open IOENGINE_STATS file %s (errno %d)", path, errno);
	return fd;
}

void shim_stats_flush(const char *backend)
{
	uint64_t h[NBUCKETS], routed = 0, total = 0, v[9];
	char line[768];
	int fd, n, saved = errno;

	if (!shim_stats_on || atomic_exchange(&flushed, true))
		return;
	for (unsigned int i = 0; i < 3; i++)
		routed += (v[i] = atomic_load_explicit(&st.ops[i], memory_order_relaxed));
	for (unsigned int i = 0; i < 3; i++)
		v[3 + i] = atomic_load_explicit(&st.bytes[i], memory_order_relaxed);
	v[6] = atomic_load_explicit(&st.fast_hits, memory_order_relaxed);
	v[7] = atomic_load_explicit(&st.fallbacks, memory_order_relaxed);
	v[8] = atomic_load_explicit(&st.peak_depth, memory_order_relaxed);
	/* A process that never called an interposed function says nothing. */
	if (!routed && !v[6] && !v[7] && !ioe_fault_count(IOE_FAULT_EIO))
		goto out;
	for (unsigned int b = 0; b < NBUCKETS; b++)
		total += (h[b] = atomic_load_explicit(&st.hist[b], memory_order_relaxed));
	n = snprintf(line, sizeof(line),
		     "ioengine: stats pid=%d backend=%s routed_reads=%llu routed_writes=%llu "
		     "routed_syncs=%llu read_bytes=%llu write_bytes=%llu fastpath_hits=%llu "
		     "fastpath_bytes=%llu plain_syscalls=%llu own_queue=%llu shared_queue=%llu "
		     "fallbacks=%llu peak_queue_depth=%llu "
		     "p50_us=%.1f p99_us=%.1f\n",
		     (int)getpid(), backend ? backend : "none",
		     (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
		     (unsigned long long)v[3], (unsigned long long)v[4], (unsigned long long)v[6],
		     (unsigned long long)atomic_load_explicit(&st.fast_bytes, memory_order_relaxed),
		     (unsigned long long)atomic_load_explicit(&st.paths[IOE_PATH_PLAIN], memory_order_relaxed),
		     (unsigned long long)atomic_load_explicit(&st.paths[IOE_PATH_OWN_QUEUE], memory_order_relaxed),
		     (unsigned long long)atomic_load_explicit(&st.paths[IOE_PATH_SHARED], memory_order_relaxed),
		     (unsigned long long)v[7], (unsigned long long)v[8],
		     percentile_us(h, total, 0.50), percentile_us(h, total, 0.99));
	n = add_faults(line, sizeof(line), n);
	fd = open_output();
	if (fd < 0)
		goto out;
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		shim_log(SHIM_LOG_DEBUG, "stats summary not written (errno %d)", errno);
	if (fd != STDERR_FILENO)
		close(fd);
out:
	errno = saved;
}
