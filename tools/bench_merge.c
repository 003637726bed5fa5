/* SPDX-License-Identifier: MIT */
/*
 * Merge benchmark: the same 4 KiB sequential O_DIRECT IO three ways: as
 * plain events on a context that merges nothing (IOENGINE_MERGE=0's), through
 * ioe_merger (runs of up to 128 KiB), and as plain events on a context that
 * merges what waits in its queues (the engine's take, merge_take.h, 128 KiB).
 *
 * Every way keeps the same number of 4 KiB events outstanding (OUTSTANDING),
 * so the comparison is per caller event: unmerged that is OUTSTANDING kernel
 * IOs in flight, merged OUTSTANDING * 4 KiB / 128 KiB larger ones. The main
 * thread refills events as completions hand them back through a lock-free
 * stack; it sleeps on a semaphore only when it has none, and a completion
 * posts it only then (one post per sleep, not per event: a post per 4 KiB
 * event costs the completing thread an atomic on the main thread's line for
 * each, and the merged IO's fan-out 32 of them). The file is filled first,
 * so every measured write is an overwrite (no block allocation), and each
 * pass runs BM_ROUNDS times, the ways alternating, best kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_merge.h"
#include "ioengine_internal.h"
#include "merge.h"

#define BM_BS		4096u
#define BM_FILE		(64u << 20)
#define BM_LIMIT	(128u << 10)
#define BM_OUTSTANDING	256u
#define BM_ROUNDS	3

struct bm_io {
	struct ioe_event ev;		/* first: the callback gets &ev */
	struct bm_io *next;
	struct bm *b;
};

/* The three ways. */
enum { BM_PLAIN, BM_MERGER, BM_TAKE, BM_WAYS };

struct bm {
	struct ioe_context *ctx;	/* merges nothing: BM_PLAIN, BM_MERGER */
	struct ioe_context *take_ctx;	/* merges in its take: BM_TAKE */
	int fd;
	struct bm_io io[BM_OUTSTANDING];
	void *bufs;
	_Atomic(struct bm_io *) done;	/* completed, back to the main thread */
	_Atomic bool sleeping;		/* the main thread sleeps, or is about to, on sem */
	sem_t sem;			/* one post per sleep */
	atomic_uint errors;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bm_cb(struct ioe_event *ev, void *arg)
{
	struct bm_io *io = (struct bm_io *)ev;
	struct bm *b = arg;
	struct bm_io *old = atomic_load_explicit(&b->done, memory_order_relaxed);

	if (ev->res != BM_BS)
		atomic_fetch_add_explicit(&b->errors, 1, memory_order_relaxed);
	/* Release: the main thread sees the finished event with it. */
	do {
		io->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&b->done, &old, io,
			memory_order_seq_cst, memory_order_relaxed));
	/* Seq_cst with reap(): either it sees this event, or this sees it asleep. */
	if (atomic_load(&b->sleeping) && atomic_exchange(&b->sleeping, false))
		sem_post(&b->sem);
}

/* Take back completed events; sleeps only when none came back yet. */
static struct bm_io *reap(struct bm *b, struct ioe_merger *m)
{
	struct bm_io *list;

	while (!(list = atomic_exchange_explicit(&b->done, NULL, memory_order_acquire))) {
		/* Whatever waits in the merger must go, or nothing will come back. */
		if (m)
			ioe_merger_flush(m);
		atomic_store(&b->sleeping, true);
		if (atomic_load(&b->done)) {
			/* Came meanwhile: no sleep; a post already made is taken by the next. */
			if (!atomic_exchange(&b->sleeping, false))
				while (sem_wait(&b->sem) && errno == EINTR)
					;
			continue;
		}
		while (sem_wait(&b->sem) && errno == EINTR)
			;
	}
	return list;
}

static unsigned int count(const struct bm_io *io)
{
	unsigned int n = 0;

	for (; io; io = io->next)
		n++;
	return n;
}

/* One pass over the file; returns 4 KiB IOs per second, or -errno. */
static double pass(struct bm *b, enum ioe_action action, int way)
{
	enum ioe_channel ch = action == IOE_READ ? IOE_CHAN_READ : IOE_CHAN_WRITE;
	struct ioe_context *ctx = way == BM_TAKE ? b->take_ctx : b->ctx;
	struct ioe_merger *m = NULL;
	struct bm_io *free_list = NULL;
	unsigned int out = 0, total = BM_FILE / BM_BS;
	double t0, t;
	int ret = 0;

	if (way == BM_MERGER) {
		m = ioe_merger_new(ctx, b->fd, action, ch, BM_LIMIT);
		if (!m)
			return -errno;
	}
	for (unsigned int i = 0; i < BM_OUTSTANDING; i++) {
		b->io[i].next = free_list;
		free_list = &b->io[i];
	}
	atomic_store(&b->sleeping, false);
	while (!sem_trywait(&b->sem))
		;	/* a post left over from the last pass */
	atomic_store(&b->errors, 0);
	t0 = now_s();
	for (unsigned int n = 0; n < total && !ret; n++) {
		struct bm_io *io;

		if (!free_list) {
			free_list = reap(b, m);
			out -= count(free_list);
		}
		io = free_list;
		free_list = io->next;
		if (action == IOE_READ)
			ioe_prep_read(&io->ev, b->fd, io->ev.buf, BM_BS, (int64_t)n * BM_BS);
		else
			ioe_prep_write(&io->ev, b->fd, io->ev.buf, BM_BS, (int64_t)n * BM_BS);
		ioe_set_callback(&io->ev, bm_cb, b);
		ret = m ? ioe_merger_add(m, &io->ev) : ioe_submit(ctx, &io->ev, ch);
		/* Only a plain submit error or -EINVAL means no callback will come. */
		if (!ret || (m && ret != -EINVAL))
			out++;
	}
	if (m)
		ioe_merger_flush(m);
	while (out)
		out -= count(reap(b, NULL));
	t = now_s() - t0;
	ioe_merger_free(m);
	if (ret)
		return ret;
	if (atomic_load(&b->errors))
		return -EIO;
	return (double)total / t;
}

static int fill(int fd)
{
	size_t chunk = 1u << 20;
	void *p;
	int ret = 0;

	if (posix_memalign(&p, 4096, chunk))
		return -ENOMEM;
	memset(p, 0x5a, chunk);
	for (size_t off = 0; off < BM_FILE && !ret; off += chunk)
		if (pwrite(fd, p, chunk, (off_t)off) != (ssize_t)chunk)
			ret = -errno ?: -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	free(p);
	return ret;
}

static int setup(struct bm *b, const char *dir, enum ioe_backend backend)
{
	struct ioe_options o = { .depth = BM_OUTSTANDING, .workers = 0, .backend = backend };
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/ioe-bench-merge-XXXXXX", dir);
	b->fd = mkostemp(path, O_RDWR | O_DIRECT);
	if (b->fd < 0)
		return -errno;
	unlink(path);
	ret = fill(b->fd);
	if (ret)
		return ret;
	if (posix_memalign(&b->bufs, 4096, (size_t)BM_OUTSTANDING * BM_BS))
		return -ENOMEM;
	memset(b->bufs, 0xa5, (size_t)BM_OUTSTANDING * BM_BS);
	for (unsigned int i = 0; i < BM_OUTSTANDING; i++) {
		b->io[i].b = b;
		b->io[i].ev.buf = (char *)b->bufs + (size_t)i * BM_BS;
	}
	if (sem_init(&b->sem, 0, 0))
		return -errno;
	b->ctx = ioe_context_new_merging(&o, 0);
	if (!b->ctx)
		return -errno;
	b->take_ctx = ioe_context_new_merging(&o, BM_LIMIT);
	if (!b->take_ctx)
		return -errno;
	return 0;
}

int bench_merge(const char *dir, enum ioe_backend backend, FILE *out)
{
	static const char *const what[] = { "read", "write" };
	struct bm *b = calloc(1, sizeof(*b));
	double best[2][BM_WAYS] = { { 0 } };	/* [write][way] */
	int ret;

	if (!b)
		return -ENOMEM;
	b->fd = -1;
	ret = setup(b, dir, backend);
	if (ret)
		goto out;
	/* Writes first (the reads then read what they wrote); unmerged and merged alternate. */
	for (int w = 1; w >= 0 && !ret; w--) {
		for (int r = 0; r < BM_ROUNDS && !ret; r++) {
			for (int way = 0; way < BM_WAYS; way++) {
				double iops = pass(b, w ? IOE_WRITE : IOE_READ, way);

				if (iops < 0) {
					ret = (int)iops;
					break;
				}
				if (iops > best[w][way])
					best[w][way] = iops;
			}
		}
	}
	if (ret)
		goto out;
	fprintf(out, "merge benchmark: backend=%s file=%u MiB bs=%u O_DIRECT sequential, "
		"limit=%u KiB, %u events outstanding, best of %d\n",
		ioe_backend_name(b->ctx), BM_FILE >> 20, BM_BS, BM_LIMIT >> 10, BM_OUTSTANDING, BM_ROUNDS);
	for (int w = 1; w >= 0; w--)
		fprintf(out, "RESULT merge backend=%s op=%s unmerged_iops=%.0f merged_iops=%.0f ratio=%.2f "
			"take_merged_iops=%.0f take_ratio=%.2f\n",
			ioe_backend_name(b->ctx), what[w], best[w][BM_PLAIN], best[w][BM_MERGER],
			best[w][BM_MERGER] / best[w][BM_PLAIN], best[w][BM_TAKE], best[w][BM_TAKE] / best[w][BM_PLAIN]);
out:
	if (b->ctx)
		ioe_context_free(b->ctx);
	if (b->take_ctx)
		ioe_context_free(b->take_ctx);
	if (b->fd >= 0)
		close(b->fd);
	free(b->bufs);
	free(b);
	return ret;
}
