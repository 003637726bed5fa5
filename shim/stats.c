/* SPDX-License-Identifier: MIT */
/*
 * IOENGINE_STATS and IOENGINE_METRICS: lock-free counters and a latency
 * histogram, read by shim_stats_snapshot() for the summary line and the
 * metrics file (report.c writes them). Every hook returns at once when
 * statistics are off (the inline wrappers in shim.h).
 *
 * Histogram: 8 buckets per power of two of the latency in ns (about 12%
 * resolution), plain relaxed atomic adds. No bucket straddles a power of
 * two, so counts below 2^n ns are exact (the metrics file's le bounds).
 */
#include <stdatomic.h>
#include <string.h>
#include "shim.h"

#define SUB_BITS	3
#define SUB		(1u << SUB_BITS)

_Static_assert(SHIM_STAT_BUCKETS == SUB + (64 - SUB_BITS) * SUB, "histogram size");

struct shim_stats {
	_Atomic uint64_t routed[SHIM_STAT_OPS][IOE_PATHS];	/* by operation and where it ran */
	_Atomic uint64_t bytes[SHIM_STAT_OPS];
	_Atomic uint64_t fast_hits, fast_bytes;
	_Atomic uint64_t fallbacks[SHIM_FALLBACK_REASONS];
	_Atomic uint64_t peak_depth;
	_Atomic uint64_t latency_sum_ns;
	_Atomic uint64_t hist[SHIM_STAT_BUCKETS];
	const char *_Atomic backend;
	struct ioe_context *_Atomic engine;	/* for its merge counters */
};

static struct shim_stats st;

static unsigned int bucket_of(uint64_t ns)
{
	unsigned int msb;

	if (ns < SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	return SUB + (msb - SUB_BITS) * SUB + (unsigned int)((ns >> (msb - SUB_BITS)) & (SUB - 1));
}

uint64_t shim_stats_bucket_start_ns(unsigned int b)
{
	if (b < SUB)
		return b;
	return (uint64_t)(SUB + (b - SUB) % SUB) << ((b - SUB) / SUB);
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

void shim_stats_count_routed(enum shim_stat_op op, enum ioe_path path, size_t bytes, uint64_t latency_ns)
{
	atomic_fetch_add_explicit(&st.routed[op][path], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.bytes[op], bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.latency_sum_ns, latency_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.hist[bucket_of(latency_ns)], 1, memory_order_relaxed);
}

void shim_stats_count_fastpath(size_t bytes, bool whole)
{
	if (whole)
		atomic_fetch_add_explicit(&st.fast_hits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.fast_bytes, bytes, memory_order_relaxed);
}

void shim_stats_count_fallback(enum shim_fallback_reason why)
{
	atomic_fetch_add_explicit(&st.fallbacks[why], 1, memory_order_relaxed);
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

void shim_stats_engine(struct ioe_context *ctx)
{
	atomic_store_explicit(&st.backend, ioe_backend_name(ctx), memory_order_relaxed);
	atomic_store_explicit(&st.engine, ctx, memory_order_relaxed);
}

void shim_stats_reset(void)
{
	memset(&st, 0, sizeof(st));
}

/*
 * Each counter is read once, relaxed: counters that requests on other
 * threads are adding to meanwhile may be a request apart, but whoever
 * formats a snapshot formats the same numbers everywhere.
 */
void shim_stats_snapshot(struct shim_stats_snap *s)
{
	s->total = 0;
	s->routed_all = 0;
	for (unsigned int o = 0; o < SHIM_STAT_OPS; o++) {
		s->ops[o] = 0;
		for (unsigned int p = 0; p < IOE_PATHS; p++) {
			s->routed[o][p] = atomic_load_explicit(&st.routed[o][p], memory_order_relaxed);
			s->ops[o] += s->routed[o][p];
		}
		s->routed_all += s->ops[o];
		s->bytes[o] = atomic_load_explicit(&st.bytes[o], memory_order_relaxed);
	}
	for (unsigned int p = 0; p < IOE_PATHS; p++) {
		s->paths[p] = 0;
		for (unsigned int o = 0; o < SHIM_STAT_OPS; o++)
			s->paths[p] += s->routed[o][p];
	}
	s->fast_hits = atomic_load_explicit(&st.fast_hits, memory_order_relaxed);
	s->fast_bytes = atomic_load_explicit(&st.fast_bytes, memory_order_relaxed);
	s->fallbacks_all = 0;
	for (unsigned int r = 0; r < SHIM_FALLBACK_REASONS; r++)
		s->fallbacks_all += (s->fallbacks[r] = atomic_load_explicit(&st.fallbacks[r], memory_order_relaxed));
	s->peak_depth = atomic_load_explicit(&st.peak_depth, memory_order_relaxed);
	s->latency_sum_ns = atomic_load_explicit(&st.latency_sum_ns, memory_order_relaxed);
	for (unsigned int b = 0; b < SHIM_STAT_BUCKETS; b++)
		s->total += (s->hist[b] = atomic_load_explicit(&st.hist[b], memory_order_relaxed));
	s->backend = atomic_load_explicit(&st.backend, memory_order_relaxed);
	ioe_merge_counts(atomic_load_explicit(&st.engine, memory_order_relaxed), &s->merged_runs,
			 &s->merged_requests);
}

double shim_stats_percentile_us(const uint64_t *hist, uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p + 0.999999), seen = 0;

	if (!total)
		return 0;
	if (!want)
		want = 1;
	for (unsigned int b = 0; b < SHIM_STAT_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want)
			return bucket_mid(b) / 1000.0;
	}
	return 0;
}
