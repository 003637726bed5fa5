/* SPDX-License-Identifier: MIT */
/* Merging in the engine's take: see merge_take.h. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "context.h"
#include "ioengine_internal.h"
#include "merge_take.h"
#include "../map.h"
#include "../merge_master.h"
#include "../run_inline.h"

/* Whole decimal digits only, within [min, max]. */
static int parse_bytes(const char *v, size_t min, size_t max, size_t *out)
{
	unsigned long long n = 0;

	if (!*v)
		return -EINVAL;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (ULLONG_MAX - 9) / 10)
			return -EINVAL;
		n = n * 10 + (unsigned long long)(*v - '0');
	}
	if (n < min || n > max)
		return -EINVAL;
	*out = (size_t)n;
	return 0;
}

int ioe_merge_parse(const char *on, const char *max, size_t *limit)
{
	size_t bytes = IOE_MERGE_DEFAULT_BYTES;
	bool enabled = true;

	if (on && *on) {
		if (strcmp(on, "0") && strcmp(on, "1"))
			return -EINVAL;
		enabled = on[0] == '1';
	}
	if (max && *max && parse_bytes(max, IOE_MERGE_MIN_BYTES, IOE_MERGE_MAX_BYTES, &bytes))
		return -EINVAL;
	*limit = enabled ? bytes : 0;
	return 0;
}

size_t ioe_merge_limit_from_env(void)
{
	size_t limit;

	if (ioe_merge_parse(secure_getenv("IOENGINE_MERGE"), secure_getenv("IOENGINE_MERGE_MAX"), &limit))
		ioe_merge_parse(NULL, NULL, &limit);
	return limit;
}

int ioe_merge_pool_init(struct ioe_merge_pool *p, unsigned int size, size_t limit)
{
	memset(p, 0, sizeof(*p));
	atomic_init(&p->returned, NULL);
	atomic_init(&p->runs, 0);
	atomic_init(&p->requests, 0);
	p->limit = limit;
	if (!p->limit)
		return 0;
	p->entries = ioe_map(size * sizeof(*p->entries));
	if (!p->entries)
		return -ENOMEM;
	p->size = size;
	return 0;
}

void ioe_merge_pool_fini(struct ioe_merge_pool *p)
{
	ioe_unmap(p->entries, p->size * sizeof(*p->entries));
	p->entries = NULL;
}

/* Taker only: a free master, or NULL. */
static struct ioe_merge_entry *entry_get(struct ioe_merge_pool *p)
{
	struct ioe_merge_entry *e = p->spare;

	if (!e)
		e = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
	if (e) {
		p->spare = e->next_free;
		return e;
	}
	if (p->fresh < p->size)
		return &p->entries[p->fresh++];
	return NULL;
}

/* Any thread, once a master is fanned out. */
static void entry_put(struct ioe_merge_pool *p, struct ioe_merge_entry *e)
{
	struct ioe_merge_entry *old = atomic_load_explicit(&p->returned, memory_order_relaxed);

	do {
		e->next_free = old;
	} while (!atomic_compare_exchange_weak_explicit(&p->returned, &old, e, memory_order_release,
							 memory_order_relaxed));
}

/* A read or write that may start a run or join one: positioned, of a file (IOE_F_NO_MERGE), not vectored, not empty. */
static bool mergeable(const struct ioe_merge_pool *p, const struct ioe_event *ev)
{
	return (ev->action == IOE_READ || ev->action == IOE_WRITE) &&
	       !(ev->flags & (IOE_F_AT_POSITION | IOE_F_NO_MERGE)) &&
	       ev->len && ev->len < p->limit;
}

/* ev continues the run that starts with head, is `bytes` long and has `count` members. */
static bool continues(const struct ioe_merge_pool *p, const struct ioe_event *head, size_t bytes,
		      unsigned int count, const struct ioe_event *ev)
{
	return count < IOE_MERGE_MAX_EVENTS && ev->fd == head->fd && ev->action == head->action &&
	       ev->flags == head->flags && mergeable(p, ev) && ev->offset == head->offset + (int64_t)bytes &&
	       ev->len <= p->limit - bytes;
}

/*
 * The master's callback: each member gets its share of the master's
 * result, or is done again alone (see merge_take.h), and is called back;
 * then the master goes back to the pool.
 */
static void fan_out(struct ioe_event *master, void *arg)
{
	struct ioe_merge_entry *e = (struct ioe_merge_entry *)master;
	ssize_t res = master->res;
	size_t rel = 0;

	for (unsigned int i = 0; i < e->count; i++) {
		struct ioe_event *ev = atomic_load_explicit(&e->members[i], memory_order_relaxed);
		size_t len = ev->len;
		ssize_t r = ioe_merge_share(res, rel, len);

		rel += len;
		ev->merged_next = NULL;
		if (r >= 0)
			ev->res = r;
		else
			ioe_event_run_inline(ev);
		atomic_store_explicit(&e->members[i], NULL, memory_order_relaxed);
		ev->cb(ev, ev->cb_arg);
	}
	entry_put(arg, e);
}

struct ioe_event *ioe_merge_take(struct ioe_merge_pool *p, struct ioe_event *first, struct ioe_mpsc *q,
				 unsigned int *popped)
{
	struct ioe_event *next, **tail;
	struct ioe_merge_entry *e;
	unsigned int count = 1;
	size_t bytes;

	if (!p->limit || !mergeable(p, first))
		return first;
	next = ioe_mpsc_peek(q);
	if (!next || !continues(p, first, first->len, 1, next) || !(e = entry_get(p)))
		return first;
	atomic_store_explicit(&e->members[0], first, memory_order_relaxed);
	first->merged_next = NULL;
	tail = &first->merged_next;
	bytes = first->len;
	do {
		ioe_mpsc_pop(q);
		atomic_store_explicit(&e->members[count++], next, memory_order_relaxed);
		next->merged_next = NULL;
		*tail = next;
		tail = &next->merged_next;
		bytes += next->len;
	} while ((next = ioe_mpsc_peek(q)) && continues(p, first, bytes, count, next));
	e->count = count;
	*popped += count - 1;
	ioe_merge_master_init(&e->ev, e->iov, first, count, first->offset);
	/* A read goes on after a short count; a write keeps its members' one call (a limit's short count). */
	e->ev.flags = first->action == IOE_WRITE ? first->flags : first->flags & ~IOE_F_ONE_CALL;
	ioe_set_callback(&e->ev, fan_out, p);
	atomic_fetch_add_explicit(&p->runs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->requests, count, memory_order_relaxed);
	return &e->ev;
}

bool ioe_merge_holds(struct ioe_merge_pool *p, const struct ioe_event *ev)
{
	for (unsigned int i = 0; i < p->fresh; i++) {
		struct ioe_merge_entry *e = &p->entries[i];

		for (unsigned int j = 0; j < e->count; j++)
			if (atomic_load_explicit(&e->members[j], memory_order_relaxed) == ev)
				return true;
	}
	return false;
}

void ioe_merge_counts(const struct ioe_context *ctx, uint64_t *runs, uint64_t *requests)
{
	*runs = ctx ? atomic_load_explicit(&ctx->shared.merge.runs, memory_order_relaxed) : 0;
	*requests = ctx ? atomic_load_explicit(&ctx->shared.merge.requests, memory_order_relaxed) : 0;
}
