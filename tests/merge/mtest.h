/* SPDX-License-Identifier: MIT */
/* Helpers shared by the merge tests: counted events, patterns, waiting. */
#ifndef IOE_MTEST_H
#define IOE_MTEST_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include "check.h"
#include "merge.h"

/* A test event: counts its callbacks so "exactly once" can be checked. */
struct tev {
	struct ioe_event ev;	/* first: the callback gets &ev */
	atomic_int calls;
	void *buf;
};

struct tgroup {
	atomic_int done;
};

static inline void tev_cb(struct ioe_event *ev, void *arg)
{
	struct tev *t = (struct tev *)ev;
	struct tgroup *g = arg;

	atomic_fetch_add(&t->calls, 1);
	atomic_fetch_add(&g->done, 1);
}

static inline uint8_t pat(int64_t off, unsigned int seed)
{
	return (uint8_t)((uint64_t)off * 31 + ((uint64_t)off >> 9) * 7 + seed);
}

static inline void fill(void *buf, int64_t off, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = pat(off + (int64_t)i, seed);
}

/* Byte by byte, with the first bad offset in the message. */
#define CHECK_PAT(buf, off, len, seed) do { \
	for (size_t i_ = 0; i_ < (size_t)(len); i_++) { \
		if (((uint8_t *)(buf))[i_] != pat((int64_t)(off) + (int64_t)i_, seed)) { \
			fprintf(stderr, "%s:%d: byte at file offset %lld differs\n", __FILE__, __LINE__, \
				(long long)(off) + (long long)i_); \
			exit(1); \
		} \
	} \
} while (0)

static inline void *abuf(size_t len)
{
	void *p = NULL;

	CHECK(posix_memalign(&p, 4096, len ? len : 1) == 0);
	memset(p, 0xee, len);
	return p;
}

static inline void tev_prep(struct tev *t, struct tgroup *g, enum ioe_action a, int fd,
			    size_t len, int64_t off)
{
	memset(t, 0, sizeof(*t));
	t->buf = abuf(len);
	if (a == IOE_WRITE)
		ioe_prep_write(&t->ev, fd, t->buf, len, off);
	else
		ioe_prep_read(&t->ev, fd, t->buf, len, off);
	ioe_set_callback(&t->ev, tev_cb, g);
}

static inline void tev_release(struct tev *t, int n)
{
	for (int i = 0; i < n; i++)
		free(t[i].buf);
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until n callbacks ran in total, then a little more to see any extra. */
static inline void wait_done(struct tgroup *g, int n)
{
	time_t deadline = time(NULL) + 30;

	while (atomic_load(&g->done) < n) {
		if (time(NULL) > deadline) {
			fprintf(stderr, "timeout: %d of %d callbacks\n", atomic_load(&g->done), n);
			CHECK(!"callbacks missing");
		}
		usleep(100);
	}
	sleep_ms(5);
	CHECK_EQ(atomic_load(&g->done), n);
}

static inline void check_once(struct tev *t, int n)
{
	for (int i = 0; i < n; i++)
		CHECK_EQ(atomic_load(&t[i].calls), 1);
}

/* O_DIRECT on the same file as fd, through /proc (test_file() unlinks). */
static inline int reopen(int fd, int flags)
{
	char p[64];
	int nfd;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	nfd = open(p, O_RDWR | flags);
	CHECK(nfd >= 0);
	return nfd;
}

/* Does this filesystem refuse a misaligned O_DIRECT write? The limit and
 * run tests use that to see whether pieces went merged or alone. */
static inline int direct_refuses_misaligned(int dfd)
{
	void *b = abuf(4096);
	ssize_t r = pwrite(dfd, b, 1000, 0);
	int refuses = r < 0 && errno == EINVAL;

	free(b);
	return refuses;
}

#endif

/*
 * A submit that fails inside flush: a callback that runs while
 * ioe_context_free() drains (so ioe_submit() says -ESHUTDOWN) uses a merger.
 * Every event of the run is called back with the error before flush returns.
 */
enum { SD_N = 5 };

struct sd_state {
	struct ioe_merger *m;
	struct tev t[SD_N + 1];
	struct tgroup g;
	atomic_int freeing;
	int flush_ret, big_ret, done_before_return, fd;
};

/* Probes live on the heap: an accepted one completes after sd_cb returned. */
static inline void probe_cb(struct ioe_event *ev, void *arg)
{
	struct tev *t = (struct tev *)ev;

	*(ssize_t *)arg = ev->res;
	free(t->buf);
	free(t);
}

static inline void sd_cb(struct ioe_event *ev, void *arg)
{
	static ssize_t probe_res;
	struct sd_state *s = arg;

	(void)ev;
	while (!atomic_load(&s->freeing))
		usleep(100);
	/* Until the context refuses events: a single pending event goes as it is. */
	for (;;) {
		struct tev *probe = calloc(1, sizeof(*probe));
		int r;

		CHECK(probe);
		tev_prep(probe, NULL, IOE_READ, s->fd, 0, 0);
		ioe_set_callback(&probe->ev, probe_cb, &probe_res);
		probe_res = 1;
		CHECK_EQ(ioe_merger_add(s->m, &probe->ev), 0);
		r = ioe_merger_flush(s->m);
		if (r == -ESHUTDOWN) {
			CHECK_EQ(probe_res, -ESHUTDOWN);	/* called back before flush returned */
			break;
		}
		CHECK_EQ(r, 0);
		usleep(100);
	}
	for (int i = 0; i < SD_N; i++) {
		tev_prep(&s->t[i], &s->g, IOE_READ, s->fd, 1000, 1000 * i);
		CHECK_EQ(ioe_merger_add(s->m, &s->t[i].ev), 0);
	}
	s->flush_ret = ioe_merger_flush(s->m);
	s->done_before_return = atomic_load(&s->g.done);
	/* An event over the limit goes alone, and fails alone: add says so. */
	tev_prep(&s->t[SD_N], &s->g, IOE_READ, s->fd, 1 << 20, 0);
	s->big_ret = ioe_merger_add(s->m, &s->t[SD_N].ev);
}

static inline void t_shutdown(enum ioe_backend b, unsigned int workers)
{
	static struct sd_state s;
	struct ioe_context *ctx = test_context(b, 8, workers);
	struct ioe_event trig;

	memset(&s, 0, sizeof(s));
	s.fd = test_file(0);
	s.m = ioe_merger_new(ctx, s.fd, IOE_READ, IOE_CHAN_READ, 64 * 1024);
	CHECK(s.m);
	ioe_prep_fsync(&trig, s.fd);
	ioe_set_callback(&trig, sd_cb, &s);
	CHECK_EQ(ioe_submit(ctx, &trig, IOE_CHAN_PRIO), 0);
	atomic_store(&s.freeing, 1);
	ioe_context_free(ctx);	/* returns after sd_cb ran */
	CHECK_EQ(s.flush_ret, -ESHUTDOWN);
	CHECK_EQ(s.done_before_return, SD_N);
	CHECK_EQ(s.big_ret, -ESHUTDOWN);
	CHECK_EQ(atomic_load(&s.g.done), SD_N + 1);
	check_once(s.t, SD_N + 1);
	for (int i = 0; i <= SD_N; i++)
		CHECK_EQ(s.t[i].ev.res, -ESHUTDOWN);
	ioe_merger_free(s.m);	/* nothing pending: no submit */
	tev_release(s.t, SD_N + 1);
	close(s.fd);
}
