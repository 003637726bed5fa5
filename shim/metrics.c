/* SPDX-License-Identifier: MIT */
/*
 * IOENGINE_METRICS: a snapshot of the counters in the Prometheus text
 * exposition format (version 0.0.4), for node_exporter's textfile
 * collector. Every series carries the labels backend, program and pid; the
 * series are always the same set, zeros included, so that a reader never
 * sees one appear or vanish.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "report.h"

/* Histogram bounds: 2^10 .. 2^32 ns in steps of 4x (about 1 µs .. 4.3 s); exact, see stats.c. */
#define LE_FIRST_SHIFT	10
#define LE_STEP_SHIFT	2
#define LE_BOUNDS	12

/* A program name longer than this is cut (comm is 15 bytes; argv[0]'s base name can be anything). */
#define PROGRAM_MAX	64

struct out {
	char *p, *end;
	bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p, (size_t)(o->end - o->p), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= o->end - o->p)
		o->full = true;
	else
		o->p += n;
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void escape(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	for (; *src && i + 3 < size; src++) {
		if (*src == '\\' || *src == '"') {
			dst[i++] = '\\';
			dst[i++] = *src;
		} else if (*src == '\n') {
			dst[i++] = '\\';
			dst[i++] = 'n';
		} else {
			dst[i++] = *src;
		}
	}
	dst[i] = '\0';
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const op_names[SHIM_STAT_OPS] = { "read", "write", "sync" };
static const char *const path_names[IOE_PATHS] = { "plain_syscall", "shared_queue" };
static const char *const reason_names[SHIM_FALLBACK_REASONS] = { "fd_type", "no_engine", "engine_error",
								  "aio_inline" };

static void histogram(struct out *o, const char *lbl, const struct shim_stats_snap *s)
{
	static const char name[] = "ioengine_request_duration_seconds";
	unsigned int b = 0;
	uint64_t below = 0;

	head(o, name, "histogram",
	     "Latency of the routed calls, from the shim's call into the engine (POSIX AIO: from the request) "
	     "to the result.");
	for (unsigned int k = 0; k < LE_BOUNDS; k++) {
		unsigned int shift = LE_FIRST_SHIFT + k * LE_STEP_SHIFT;

		for (; b < SHIM_STAT_BUCKETS && shim_stats_bucket_start_ns(b) < (1ull << shift); b++)
			below += s->hist[b];
		put(o, "%s_bucket{%s,le=\"%.10g\"} %llu\n", name, lbl, (double)(1ull << shift) / 1e9,
		    (unsigned long long)below);
	}
	put(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, lbl, (unsigned long long)s->total);
	put(o, "%s_sum{%s} %.9f\n", name, lbl, (double)s->latency_sum_ns / 1e9);
	put(o, "%s_count{%s} %llu\n", name, lbl, (unsigned long long)s->total);
}

size_t shim_metrics_render(char *buf, size_t size, const struct shim_stats_snap *s)
{
	char prog[PROGRAM_MAX + 1], esc[2 * PROGRAM_MAX + 1], lbl[3 * PROGRAM_MAX];
	struct out o = { buf, buf + size, false };

	snprintf(prog, sizeof(prog), "%s", program_invocation_short_name);
	escape(esc, sizeof(esc), prog);
	snprintf(lbl, sizeof(lbl), "backend=\"%s\",program=\"%s\",pid=\"%d\"", s->backend ? s->backend : "none",
		 esc, (int)getpid());

	head(&o, "ioengine_requests_total", "counter",
	     "Calls the shim handed to the engine that succeeded, by operation and where the engine ran them.");
	for (unsigned int op = 0; op < SHIM_STAT_OPS; op++)
		for (unsigned int p = 0; p < IOE_PATHS; p++)
			put(&o, "ioengine_requests_total{%s,op=\"%s\",path=\"%s\"} %llu\n", lbl, op_names[op],
			    path_names[p], (unsigned long long)s->routed[op][p]);
	head(&o, "ioengine_bytes_total", "counter", "Bytes those calls moved.");
	for (unsigned int op = 0; op < SHIM_STAT_SYNC; op++)
		put(&o, "ioengine_bytes_total{%s,op=\"%s\"} %llu\n", lbl, op_names[op],
		    (unsigned long long)s->bytes[op]);
	head(&o, "ioengine_fastpath_hits_total", "counter",
	     "Reads answered whole in the caller's thread without blocking (RWF_NOWAIT).");
	put(&o, "ioengine_fastpath_hits_total{%s} %llu\n", lbl, (unsigned long long)s->fast_hits);
	head(&o, "ioengine_fastpath_bytes_total", "counter", "Bytes read in the caller's thread without blocking.");
	put(&o, "ioengine_fastpath_bytes_total{%s} %llu\n", lbl, (unsigned long long)s->fast_bytes);
	head(&o, "ioengine_fallbacks_total", "counter",
	     "Calls the shim took and then gave to the real function, by reason.");
	for (unsigned int r = 0; r < SHIM_FALLBACK_REASONS; r++)
		put(&o, "ioengine_fallbacks_total{%s,reason=\"%s\"} %llu\n", lbl, reason_names[r],
		    (unsigned long long)s->fallbacks[r]);
	head(&o, "ioengine_queue_depth_peak", "gauge",
	     "The most IOs queued or in flight on the engine's shared queue, plus the new one, "
	     "seen at a routed call.");
	put(&o, "ioengine_queue_depth_peak{%s} %llu\n", lbl, (unsigned long long)s->peak_depth);
	head(&o, "ioengine_merged_runs_total", "counter",
	     "IOs the engine made of adjacent requests waiting together (IOENGINE_MERGE).");
	put(&o, "ioengine_merged_runs_total{%s} %llu\n", lbl, (unsigned long long)s->merged_runs);
	head(&o, "ioengine_merged_requests_total", "counter", "Requests those merged IOs carried.");
	put(&o, "ioengine_merged_requests_total{%s} %llu\n", lbl, (unsigned long long)s->merged_requests);
	histogram(&o, lbl, s);
	return o.full ? 0 : (size_t)(o.p - buf);
}
