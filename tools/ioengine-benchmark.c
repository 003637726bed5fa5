/* SPDX-License-Identifier: MIT */
/*
 * ioengine-benchmark: 4 KiB random reads on one file through libioengine,
 * for a fixed time at a fixed queue depth.
 *
 * Exactly `depth` events are outstanding at all times: each completion
 * callback records the latency and resubmits its own event at a new random
 * offset, so no thread of the benchmark sits between the poller and the
 * submitter. The main thread only sleeps and reads counters.
 *
 * Output (key=value, for scripts): one RESULT line, then one PCTL line with
 * the latency at the percentiles of pct_list[] (the CDF for plots):
 *   RESULT engine=ioengine backend=io_uring rw=read depth=32 direct=0 workers=0
 *          runtime_s=5.00 ios=... iops=... p50_us=... p99_us=... cpu_pct=...
 *   PCTL 1=12.34 5=... 99.99=...		(percentile=latency in us)
 *
 * --write does the same with 4 KiB random overwrites.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ioengine.h"

#define BS		4096u
#define FILL_CHUNK	(1u << 20)

/*
 * Latency histogram, log-linear: 2^SUB_BITS buckets per power of two of
 * nanoseconds, so a percentile is within 1/2^SUB_BITS (~1.6%) of the truth.
 */
#define SUB_BITS	6
#define SUB		(1u << SUB_BITS)
#define NBUCKETS	((64 - SUB_BITS) * SUB)

struct hist {
	uint64_t ios;
	uint64_t bucket[NBUCKETS];
	struct hist *next;
};

struct bench_io {
	struct ioe_event ev;		/* first */
	uint64_t start_ns;
	uint64_t rng;
	void *buf;
};

struct bench {
	struct ioe_context *ctx;
	int fd;
	uint64_t nblocks;
	_Atomic bool measuring;		/* completions count only while set */
	_Atomic bool stop;		/* no more resubmissions */
	_Atomic unsigned int outstanding;
	_Atomic int error;		/* first IO error, as -errno */
	bool write;			/* random writes instead of reads */
	pthread_mutex_t lock;		/* guards hists (once per thread) */
	struct hist *hists;
};

static struct bench B;

/* The PCTL line's percentiles: the same list tools/ioengine-bench gives fio. */
static const double pct_list[] = {
	1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 99, 99.5, 99.9, 99.99,
};
static __thread struct hist *my_hist;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
	       ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

/* xorshift64*: per event, so no shared state between callback threads. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned int bucket_of(uint64_t ns)
{
	unsigned int msb;

	if (ns < SUB)
		return (unsigned int)ns;
	msb = 63u - (unsigned int)__builtin_clzll(ns);
	/* Top SUB_BITS bits below the leading one select the sub-bucket. */
	return (msb - SUB_BITS + 1) * SUB + (unsigned int)((ns >> (msb - SUB_BITS)) & (SUB - 1));
}

/* Lower bound of a bucket, in ns. */
static uint64_t bucket_ns(unsigned int b)
{
	unsigned int tier = b / SUB, sub = b % SUB;

	if (!tier)
		return sub;
	return ((uint64_t)SUB + sub) << (tier - 1);
}

static struct hist *thread_hist(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	if (!h) {
		fprintf(stderr, "ioengine-benchmark: out of memory\n");
		abort();
	}
	pthread_mutex_lock(&B.lock);
	h->next = B.hists;
	B.hists = h;
	pthread_mutex_unlock(&B.lock);
	return h;
}

static void submit_io(struct bench_io *io)
{
	int ret;

	int64_t off = (int64_t)((rnd(&io->rng) % B.nblocks) * BS);

	if (B.write)
		ioe_prep_write(&io->ev, B.fd, io->buf, BS, off);
	else
		ioe_prep_read(&io->ev, B.fd, io->buf, BS, off);
	io->start_ns = now_ns();
	ret = ioe_submit(B.ctx, &io->ev, B.write ? IOE_CHAN_WRITE : IOE_CHAN_READ);
	if (ret) {
		int zero = 0;

		atomic_compare_exchange_strong(&B.error, &zero, ret);
		atomic_fetch_sub_explicit(&B.outstanding, 1, memory_order_release);
	}
}

static void on_complete(struct ioe_event *ev, void *arg)
{
	struct bench_io *io = arg;
	uint64_t t = now_ns();

	(void)ev;
	if (io->ev.res != BS) {
		int zero = 0, err = io->ev.res < 0 ? (int)io->ev.res : -EIO;

		atomic_compare_exchange_strong(&B.error, &zero, err);
		atomic_store(&B.stop, true);
	}
	if (atomic_load_explicit(&B.measuring, memory_order_relaxed)) {
		struct hist *h = my_hist;

		if (!h)
			h = my_hist = thread_hist();
		h->ios++;
		h->bucket[bucket_of(t - io->start_ns)]++;
	}
	if (atomic_load_explicit(&B.stop, memory_order_relaxed)) {
		atomic_fetch_sub_explicit(&B.outstanding, 1, memory_order_release);
		return;
	}
	submit_io(io);
}

static uint64_t percentile(const uint64_t *sum, uint64_t total, double p)
{
	uint64_t want = (uint64_t)((double)total * p / 100.0), acc = 0;

	if (want >= total)
		want = total - 1;
	for (unsigned int b = 0; b < NBUCKETS; b++) {
		acc += sum[b];
		if (acc > want) {
			/* Middle of the bucket. */
			uint64_t lo = bucket_ns(b), hi = b + 1 < NBUCKETS ? bucket_ns(b + 1) : lo;

			return (lo + hi) / 2;
		}
	}
	return 0;
}

/* Fill the file with non-zero, non-repeating data up to `size` bytes. */
static int fill_file(int fd, uint64_t from, uint64_t size)
{
	uint64_t *chunk = malloc(FILL_CHUNK), s = 0x9e3779b97f4a7c15ull;
	uint64_t off;

	if (!chunk)
		return -ENOMEM;
	for (off = from - from % FILL_CHUNK; off < size; off += FILL_CHUNK) {
		size_t len = size - off < FILL_CHUNK ? (size_t)(size - off) : FILL_CHUNK;
		size_t done = 0;

		for (size_t i = 0; i < FILL_CHUNK / sizeof(*chunk); i++)
			chunk[i] = rnd(&s) ^ off;
		while (done < len) {
			ssize_t r = pwrite(fd, (char *)chunk + done, len - done, (off_t)(off + done));

			if (r < 0) {
				if (errno == EINTR)
					continue;
				free(chunk);
				return -errno;
			}
			done += (size_t)r;
		}
	}
	free(chunk);
	return fsync(fd) ? -errno : 0;
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	uint64_t mul = 1;

	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if ((*end == 'b' || *end == 'B') && end[1] == '\0')
		end++;
	if (end == s || *end || v <= 0)
		return 0;
	return (uint64_t)(v * (double)mul);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ioengine-benchmark --file PATH [options]\n"
		"  --file PATH        file to read (created and filled up to --size if short)\n"
		"  --size N[k|m|g]    bytes of the file to read (default: file size, or 512m to create)\n"
		"  --backend B        uring | aio | auto (default auto)\n"
		"  --depth N          IOs kept in flight (default 32)\n"
		"  --direct           open with O_DIRECT (default: buffered)\n"
		"  --write            random writes (overwrites) instead of reads\n"
		"  --runtime S        seconds to measure (default 5)\n"
		"  --ramp S           seconds to run before measuring (default 0.5)\n"
		"  --workers N        callback worker threads (default 0: inline in the poller)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "depth", required_argument, NULL, 'd' },
		{ "direct", no_argument, NULL, 'D' },
		{ "write", no_argument, NULL, 'W' },
		{ "runtime", required_argument, NULL, 'r' },
		{ "ramp", required_argument, NULL, 'R' },
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ioe_options opts = { .depth = 32, .workers = 0, .backend = IOE_BACKEND_AUTO };
	const char *path = NULL;
	uint64_t size = 0, t0, t1, c0, c1, total = 0, *sum;
	double runtime = 5.0, ramp = 0.5;
	bool direct = false;
	struct bench_io *ios;
	struct timespec ts;
	const char *backend;
	struct stat st;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f:s:b:d:DWr:R:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			path = optarg;
			break;
		case 's':
			size = parse_size(optarg);
			if (!size) {
				fprintf(stderr, "ioengine-benchmark: bad --size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'b':
			if (!strcmp(optarg, "uring") || !strcmp(optarg, "io_uring"))
				opts.backend = IOE_BACKEND_URING;
			else if (!strcmp(optarg, "aio") || !strcmp(optarg, "libaio"))
				opts.backend = IOE_BACKEND_AIO;
			else if (!strcmp(optarg, "auto"))
				opts.backend = IOE_BACKEND_AUTO;
			else {
				fprintf(stderr, "ioengine-benchmark: bad --backend '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			opts.depth = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'D':
			direct = true;
			break;
		case 'W':
			B.write = true;
			break;
		case 'r':
			runtime = strtod(optarg, NULL);
			break;
		case 'R':
			ramp = strtod(optarg, NULL);
			break;
		case 'w':
			opts.workers = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind != argc || runtime <= 0 || ramp < 0 ||
	    !opts.depth || opts.depth > IOE_MAX_DEPTH) {
		usage(stderr);
		return 2;
	}

	/* Create or extend the file through the page cache, then reopen. */
	B.fd = open(path, O_RDWR | O_CREAT, 0644);
	if (B.fd < 0 || fstat(B.fd, &st)) {
		fprintf(stderr, "ioengine-benchmark: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!size)
		size = st.st_size ? (uint64_t)st.st_size : 512ull << 20;
	if ((uint64_t)st.st_size < size) {
		ret = fill_file(B.fd, (uint64_t)st.st_size, size);
		if (ret) {
			fprintf(stderr, "ioengine-benchmark: filling %s: %s\n", path, strerror(-ret));
			return 1;
		}
	}
	close(B.fd);
	B.fd = open(path, (B.write ? O_WRONLY : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (B.fd < 0) {
		fprintf(stderr, "ioengine-benchmark: %s: %s\n", path, strerror(errno));
		return 1;
	}
	B.nblocks = size / BS;
	if (!B.nblocks) {
		fprintf(stderr, "ioengine-benchmark: --size below one block\n");
		return 1;
	}

	pthread_mutex_init(&B.lock, NULL);
	B.ctx = ioe_context_new_opts(&opts);
	if (!B.ctx) {
		fprintf(stderr, "ioengine-benchmark: ioe_context_new: %s\n", strerror(errno));
		return 1;
	}
	backend = ioe_backend_name(B.ctx);	/* a static string */
	ios = calloc(opts.depth, sizeof(*ios));
	if (!ios)
		return 1;
	atomic_store(&B.outstanding, opts.depth);
	for (unsigned int i = 0; i < opts.depth; i++) {
		ios[i].rng = 0x853c49e6748fea9bull * (i + 1) ^ (uint64_t)getpid();
		if (posix_memalign(&ios[i].buf, BS, BS))
			return 1;
		memset(ios[i].buf, B.write ? 0x5a ^ (int)i : 0, BS);
		ioe_set_callback(&ios[i].ev, on_complete, &ios[i]);
	}
	for (unsigned int i = 0; i < opts.depth; i++)
		submit_io(&ios[i]);

	if (ramp > 0) {
		ts.tv_sec = (time_t)ramp;
		ts.tv_nsec = (long)((ramp - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts))
			;
	}
	c0 = cpu_ns();
	t0 = now_ns();
	atomic_store(&B.measuring, true);
	ts.tv_sec = (time_t)runtime;
	ts.tv_nsec = (long)((runtime - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts))
		;
	atomic_store(&B.measuring, false);
	t1 = now_ns();
	c1 = cpu_ns();
	atomic_store(&B.stop, true);
	while (atomic_load_explicit(&B.outstanding, memory_order_acquire))
		usleep(1000);
	ioe_context_free(B.ctx);

	ret = atomic_load(&B.error);
	if (ret) {
		fprintf(stderr, "ioengine-benchmark: IO failed: %s\n", strerror(-ret));
		return 1;
	}
	sum = calloc(NBUCKETS, sizeof(*sum));
	if (!sum)
		return 1;
	for (struct hist *h = B.hists; h; h = h->next) {
		total += h->ios;
		for (unsigned int b = 0; b < NBUCKETS; b++)
			sum[b] += h->bucket[b];
	}
	if (!total) {
		fprintf(stderr, "ioengine-benchmark: no IO completed\n");
		return 1;
	}
	{
		double secs = (double)(t1 - t0) / 1e9;

		printf("RESULT engine=ioengine backend=%s rw=%s depth=%u direct=%d workers=%u "
		       "runtime_s=%.2f ios=%llu iops=%.0f p50_us=%.2f p99_us=%.2f cpu_pct=%.0f\n",
		       backend, B.write ? "write" : "read", opts.depth, direct, opts.workers, secs,
		       (unsigned long long)total, (double)total / secs,
		       (double)percentile(sum, total, 50) / 1e3,
		       (double)percentile(sum, total, 99) / 1e3,
		       100.0 * (double)(c1 - c0) / (double)(t1 - t0));
		printf("PCTL");
		for (size_t i = 0; i < sizeof(pct_list) / sizeof(pct_list[0]); i++)
			printf(" %g=%.2f", pct_list[i], (double)percentile(sum, total, pct_list[i]) / 1e3);
		printf("\n");
	}
	return 0;
}
