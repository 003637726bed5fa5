/* SPDX-License-Identifier: MIT */
/*
 * The "ioengine: stats ..." line: the counters since the process started
 * (at exit, and every IOENGINE_STATS_INTERVAL seconds), the periodic line
 * followed by the interval's rates and latency percentiles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "report.h"

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

/* " interval_s=... reads_per_s=..." for the time from prev to s; replaces the line's newline. */
static int add_interval(char *line, size_t size, int n, const struct shim_stats_snap *s,
			const struct shim_stats_snap *prev, double secs)
{
	uint64_t hist[SHIM_STAT_BUCKETS], total = 0;
	int m;

	if (n <= 0 || (size_t)n >= size || secs <= 0)
		return n;
	for (unsigned int b = 0; b < SHIM_STAT_BUCKETS; b++)
		total += (hist[b] = s->hist[b] - prev->hist[b]);
#define RATE(f)	((double)(s->f - prev->f) / secs)
	m = snprintf(line + n - 1, size - (size_t)n + 1,
		     " interval_s=%.3f reads_per_s=%.1f writes_per_s=%.1f syncs_per_s=%.1f "
		     "read_bytes_per_s=%.0f write_bytes_per_s=%.0f fallbacks_per_s=%.1f "
		     "interval_p50_us=%.1f interval_p99_us=%.1f\n",
		     secs, RATE(ops[SHIM_STAT_READ]), RATE(ops[SHIM_STAT_WRITE]), RATE(ops[SHIM_STAT_SYNC]),
		     RATE(bytes[SHIM_STAT_READ]), RATE(bytes[SHIM_STAT_WRITE]), RATE(fallbacks_all),
		     shim_stats_percentile_us(hist, total, 0.50), shim_stats_percentile_us(hist, total, 0.99));
#undef RATE
	if (m > 0 && (size_t)(n - 1 + m) < size)
		return n - 1 + m;
	line[n - 1] = '\n';
	return n;
}

int shim_summary_format(char *line, size_t size, const struct shim_stats_snap *s,
			const struct shim_stats_snap *prev, double secs)
{
	int n;

	n = snprintf(line, size,
		     "ioengine: stats pid=%d backend=%s routed_reads=%llu routed_writes=%llu "
		     "routed_syncs=%llu read_bytes=%llu write_bytes=%llu fastpath_hits=%llu "
		     "fastpath_bytes=%llu plain_syscalls=%llu shared_queue=%llu "
		     "fallbacks=%llu peak_queue_depth=%llu merged_runs=%llu merged_requests=%llu "
		     "p50_us=%.1f p99_us=%.1f\n",
		     (int)getpid(), s->backend ? s->backend : "none",
		     (unsigned long long)s->ops[SHIM_STAT_READ], (unsigned long long)s->ops[SHIM_STAT_WRITE],
		     (unsigned long long)s->ops[SHIM_STAT_SYNC],
		     (unsigned long long)s->bytes[SHIM_STAT_READ], (unsigned long long)s->bytes[SHIM_STAT_WRITE],
		     (unsigned long long)s->fast_hits, (unsigned long long)s->fast_bytes,
		     (unsigned long long)s->paths[IOE_PATH_PLAIN], (unsigned long long)s->paths[IOE_PATH_SHARED],
		     (unsigned long long)s->fallbacks_all, (unsigned long long)s->peak_depth,
		     (unsigned long long)s->merged_runs, (unsigned long long)s->merged_requests,
		     shim_stats_percentile_us(s->hist, s->total, 0.50),
		     shim_stats_percentile_us(s->hist, s->total, 0.99));
	if (n >= (int)size)
		n = (int)size - 1;
	if (prev)
		return add_interval(line, size, n, s, prev, secs);
	return add_faults(line, size, n);
}
