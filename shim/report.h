/* SPDX-License-Identifier: MIT */
/*
 * The pieces of the shim's reports (IOENGINE_STATS, IOENGINE_METRICS):
 * formatting a snapshot of the counters (summary.c, metrics.c) and writing
 * it safely (report_file.c). report.c decides when.
 */
#ifndef IOE_SHIM_REPORT_H
#define IOE_SHIM_REPORT_H

#include <stddef.h>
#include "shim.h"

/*
 * The summary line of snapshot s, newline included, into line; returns its
 * length (the line is cut at size). With prev (an earlier snapshot, secs
 * before), the interval's rates and latency percentiles are added.
 */
int shim_summary_format(char *line, size_t size, const struct shim_stats_snap *s,
			const struct shim_stats_snap *prev, double secs);

/* The Prometheus text exposition of s into buf; returns its length, or 0 if it does not fit. */
size_t shim_metrics_render(char *buf, size_t size, const struct shim_stats_snap *s);

/* The stats file, opened to append one line (STDERR_FILENO for IOENGINE_STATS=1), or -1. */
int shim_report_open_stats(void);

/* Replace the metrics file by buf, whole; 0 or -errno (one warning per process). */
int shim_report_replace_metrics(const char *buf, size_t len);

#endif
