/* SPDX-License-Identifier: MIT */
/*
 * Sequential-IO merging. The pending run is a list of caller events linked
 * through merged_next. A run of two or more goes out as one "master" event
 * whose buffer and struct share one 4096-aligned allocation; the master's
 * callback fans the result out to the sub-events and frees the allocation.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "fault.h"
#include "merge.h"
#include "tasks.h"

#define MERGE_ALIGN 4096

struct ioe_merger {
	struct ioe_context *ctx;
	int fd;
	enum ioe_action action;
	enum ioe_channel channel;
	size_t limit;

	/* The pending run. */
	struct ioe_event *head, **tail;
	unsigned int count;
	int64_t start;
	size_t bytes;
};

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
static void merge_done(struct ioe_event *master, void *arg)
{
	struct ioe_event *ev = master->merged;
	char *buf = master->buf;
	ssize_t res = master->res;
	bool read = master->action == IOE_READ;
	size_t rel = 0;

	(void)arg;
	/* Copy everything out first: the callbacks may free or reuse their events. */
	if (read && res > 0) {
		for (struct ioe_event *e = ev; e; e = e->merged_next) {
			size_t got = (size_t)res > rel ? (size_t)res - rel : 0;

			if (got > e->len)
				got = e->len;
			memcpy(e->buf, buf + rel, got);
			rel += e->len;
		}
	}
	free(buf);	/* the master lives in the same allocation */
	rel = 0;
	while (ev) {
		struct ioe_event *next = ev->merged_next;
		ssize_t r = res;

		if (res >= 0) {
			size_t got = (size_t)res > rel ? (size_t)res - rel : 0;

			r = (ssize_t)(got < ev->len ? got : ev->len);
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

static int submit_merged(struct ioe_merger *m, struct ioe_event *head, int64_t start, size_t bytes)
{
	size_t room = (bytes + MERGE_ALIGN - 1) & ~(size_t)(MERGE_ALIGN - 1);
	struct ioe_event *master;
	void *blk = NULL;
	int ret;

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
	ioe_set_callback(master, merge_done, NULL);
	master->merged = head;
	ret = ioe_submit(m->ctx, master, m->channel);
	if (ret) {
		free(blk);
		complete_list(head, ret);
	}
	return ret;
}

int ioe_merger_flush(struct ioe_merger *m)
{
	struct ioe_event *head;
	unsigned int count;
	int64_t start;
	size_t bytes;

	if (!m)
		return -EINVAL;
	if (!m->count)
		return 0;
	/* Detach first: a callback run from here may add to this merger. */
	head = m->head;
	count = m->count;
	start = m->start;
	bytes = m->bytes;
	m->head = NULL;
	m->tail = &m->head;
	m->count = 0;
	m->bytes = 0;
	if (count == 1)
		return submit_one(m, head);
	return submit_merged(m, head, start, bytes);
}

static bool continues_run(const struct ioe_merger *m, const struct ioe_event *ev)
{
	return ev->offset == m->start + (int64_t)m->bytes && ev->len <= m->limit - m->bytes;
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
