/* SPDX-License-Identifier: MIT */
/*
 * Sequential-IO merging. The pending run is a list of caller events linked
 * through merged_next. A run of two or more goes out as one "master" event:
 * a vectored IO over the sub-events' own buffers (no copy), or, where
 * O_DIRECT would refuse those buffers, an IO on one 4096-aligned bounce
 * buffer. The master's callback fans the result out to the sub-events and
 * frees the master.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "fault.h"
#include "merge.h"
#include "merge_master.h"
#include "tasks.h"

#define MERGE_ALIGN 4096

struct ioe_merger {
	struct ioe_context *ctx;
	int fd;
	enum ioe_action action;
	enum ioe_channel channel;
	size_t limit;
	bool direct;		/* O_DIRECT (or unknown): buffers must be aligned */

	/* The pending run. */
	struct ioe_event *head, **tail;
	unsigned int count;
	int64_t start;
	size_t bytes;
	bool misaligned;	/* a buffer or length of the run is not MERGE_ALIGNed */
};

/* A vectored master: the IO over the sub-events' buffers, in one allocation. */
struct vectored {
	struct ioe_event ev;
	struct iovec iov[];
};

/* O_DIRECT, or flags not known: vectored runs then need aligned buffers. */
static bool is_direct(int fd)
{
	int saved = errno, fl = fcntl(fd, F_GETFL);

	errno = saved;
	return fl < 0 || (fl & O_DIRECT);
}

struct ioe_merger *ioe_merger_new(struct ioe_context *ctx, int fd, enum ioe_action action,
				  enum ioe_channel channel, size_t limit)
{
	struct ioe_merger *m;

	if (!ctx || fd < 0 || (action != IOE_READ && action != IOE_WRITE) ||
	    (unsigned int)channel >= IOE_CHAN_MAX || !limit || limit > SSIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->ctx = ctx;
	m->fd = fd;
	m->action = action;
	m->channel = channel;
	m->limit = limit;
	m->direct = is_direct(fd);
	m->tail = &m->head;
	return m;
}

static void complete(struct ioe_event *ev, ssize_t res)
{
	ev->merged_next = NULL;
	ev->res = res;
	ev->cb(ev, ev->cb_arg);
}

/* Complete a detached list of events; each callback may free its event. */
static void complete_list(struct ioe_event *ev, ssize_t res)
{
	while (ev) {
		struct ioe_event *next = ev->merged_next;

		complete(ev, res);
		ev = next;
	}
}

/* Submit one event as it is; on failure it is called back with the error. */
static int submit_one(struct ioe_merger *m, struct ioe_event *ev)
{
	int ret;

	ev->merged_next = NULL;
	ret = ioe_submit(m->ctx, ev, m->channel);
	if (ret)
		complete(ev, ret);
	return ret;
}

/*
 * Master callback, in an engine thread. Each sub-event gets what a separate
 * IO of its range would have: the part of the merged result that fell in
 * that range (full, short at EOF, or 0), or the merged IO's error.
 */
static void merge_done(struct ioe_event *master, void *alloc)
{
	struct ioe_event *ev = master->merged;
	char *buf = master->buf;
	ssize_t res = master->res;
	bool read = master->action == IOE_READ;
	size_t rel = 0;

	/* Bounce buffer: copy everything out first, the callbacks may free or reuse their events. */
	if (read && res > 0) {
		for (struct ioe_event *e = ev; e; e = e->merged_next) {
			size_t got = (size_t)res > rel ? (size_t)res - rel : 0;

			if (got > e->len)
				got = e->len;
			memcpy(e->buf, buf + rel, got);
			rel += e->len;
		}
	}
	free(alloc);	/* the master and its buffer or iovecs */
	rel = 0;
	while (ev) {
		struct ioe_event *next = ev->merged_next;
		ssize_t r = res;

		if (res >= 0) {
			r = ioe_merge_share(res, rel, ev->len);
			if (r < 0)
				r = 0;
		}
		rel += ev->len;
		complete(ev, r);
		ev = next;
	}
}

/* The run as separate events: when no merge buffer can be had. */
static int submit_separately(struct ioe_merger *m, struct ioe_event *ev)
{
	while (ev) {
		struct ioe_event *next = ev->merged_next;
		int ret = submit_one(m, ev);

		if (ret) {
			/* The next submits would fail the same way: fail them all. */
			complete_list(next, ret);
			return ret;
		}
		ev = next;
	}
	return 0;
}

/* Hand the master to the engine; on failure every sub-event gets the error. */
static int submit_master(struct ioe_merger *m, struct ioe_event *master, void *alloc,
			 struct ioe_event *head)
{
	int ret;

	ioe_set_callback(master, merge_done, alloc);
	master->merged = head;
	ret = ioe_submit(m->ctx, master, m->channel);
	if (ret) {
		free(alloc);
		complete_list(head, ret);
	}
	return ret;
}

/* The run as one vectored IO over the sub-events' own buffers. */
static int submit_vectored(struct ioe_merger *m, struct ioe_event *head, unsigned int count, int64_t start)
{
	struct vectored *v;

	if (ioe_fault_merge_nomem() || !(v = malloc(sizeof(*v) + count * sizeof(v->iov[0]))))
		return submit_separately(m, head);
	ioe_merge_master_init(&v->ev, v->iov, head, count, start);
	return submit_master(m, &v->ev, v, head);
}

/* The run as one IO on an aligned bounce buffer, for buffers O_DIRECT would refuse. */
static int submit_bounced(struct ioe_merger *m, struct ioe_event *head, int64_t start, size_t bytes)
{
	size_t room = (bytes + MERGE_ALIGN - 1) & ~(size_t)(MERGE_ALIGN - 1);
	struct ioe_event *master;
	void *blk = NULL;

	if (ioe_fault_merge_nomem() ||
	    room > SIZE_MAX - sizeof(*master) ||
	    posix_memalign(&blk, MERGE_ALIGN, room + sizeof(*master)))
		return submit_separately(m, head);
	/* The master sits after the aligned data area: one allocation per run. */
	master = (struct ioe_event *)((char *)blk + room);
	memset(master, 0, sizeof(*master));
	if (m->action == IOE_WRITE) {
		size_t rel = 0;

		for (struct ioe_event *e = head; e; e = e->merged_next) {
			memcpy((char *)blk + rel, e->buf, e->len);
			rel += e->len;
		}
		ioe_prep_write(master, m->fd, blk, bytes, start);
	} else {
		ioe_prep_read(master, m->fd, blk, bytes, start);
	}
	return submit_master(m, master, blk, head);
}

int ioe_merger_flush(struct ioe_merger *m)
{
	struct ioe_event *head;
	unsigned int count;
	int64_t start;
	size_t bytes;
	bool bounce;

	if (!m)
		return -EINVAL;
	if (!m->count)
		return 0;
	/* Detach first: a callback run from here may add to this merger. */
	head = m->head;
	count = m->count;
	start = m->start;
	bytes = m->bytes;
	bounce = m->direct && m->misaligned;
	m->head = NULL;
	m->tail = &m->head;
	m->count = 0;
	m->bytes = 0;
	m->misaligned = false;
	if (count == 1)
		return submit_one(m, head);
	if (bounce)
		return submit_bounced(m, head, start, bytes);
	return submit_vectored(m, head, count, start);
}

static bool continues_run(const struct ioe_merger *m, const struct ioe_event *ev)
{
	return ev->offset == m->start + (int64_t)m->bytes && ev->len <= m->limit - m->bytes &&
	       m->count < IOV_MAX;
}

int ioe_merger_add(struct ioe_merger *m, struct ioe_event *ev)
{
	int ret = 0;

	if (!m || !ev || ev->fd != m->fd || ev->action != (uint32_t)m->action || ioe_event_check(ev))
		return -EINVAL;
	/* Too big to merge, or its end would overflow the offset: goes alone. */
	if (ev->len >= m->limit || (uint64_t)ev->offset + ev->len > INT64_MAX) {
		ret = ioe_merger_flush(m);
		return submit_one(m, ev) ?: ret;
	}
	/* A loop: callbacks of a failed flush may have started another run. */
	while (m->count && !continues_run(m, ev)) {
		int err = ioe_merger_flush(m);

		ret = ret ?: err;
	}
	if (!m->count)
		m->start = ev->offset;
	ev->merged_next = NULL;
	*m->tail = ev;
	m->tail = &ev->merged_next;
	m->count++;
	m->bytes += ev->len;
	m->misaligned |= ((uintptr_t)ev->buf | ev->len) & (MERGE_ALIGN - 1);
	if (m->bytes == m->limit) {
		int err = ioe_merger_flush(m);

		ret = ret ?: err;
	}
	return ret;
}

void ioe_merger_free(struct ioe_merger *m)
{
	if (!m)
		return;
	ioe_merger_flush(m);
	free(m);
}
