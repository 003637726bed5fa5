/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "fault.h"

#ifndef IOENGINE_FAULT_INJECTION
#error "fault.c belongs to the tests' fault-injection builds only (ioengine_fault_objs)"
#endif

static const char *const names[IOE_FAULT_KINDS] = { "eio", "short", "eagain", "enomem", "merge_nomem" };
static double prob[IOE_FAULT_KINDS];
static _Atomic uint64_t injected[IOE_FAULT_KINDS];
static uint64_t seed = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t rng;

/*
 * A probability in 0..1; garbage is ignored with a message. eagain and enomem
 * are retried until they pass, so 1 (or inf) would retry forever: below 1.
 */
static double parse_prob(const char *name, const char *v, int kind)
{
	double max = kind == IOE_FAULT_EAGAIN || kind == IOE_FAULT_ENOMEM ? 0.99 : 1.0, p;
	char msg[200], *end;
	int n;

	errno = 0;
	p = strtod(v, &end);
	if (!errno && end != v && !*end && p >= 0 && p <= max)
		return p;
	n = snprintf(msg, sizeof(msg), "ioengine: IOENGINE_FAULT: %s=%.40s is not a probability in 0..%g, ignored\n",
		     name, v, max);
	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		return 0;
	return 0;
}

static void parse(void)
{
	const char *env = secure_getenv("IOENGINE_FAULT");
	char buf[256], *save, *tok;

	if (!env || strlen(env) >= sizeof(buf))
		return;
	strcpy(buf, env);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		if (!strcmp(tok, "seed"))
			seed = strtoull(eq + 1, NULL, 0) | 1;
		for (int k = 0; k < IOE_FAULT_KINDS; k++)
			if (!strcmp(tok, names[k]))
				prob[k] = parse_prob(tok, eq + 1, k);
	}
}

/* True with the probability set for kind; counts what it injects. */
static int roll(enum ioe_fault_kind kind)
{
	pthread_once(&once, parse);
	if (prob[kind] <= 0)
		return 0;
	if (!rng)
		rng = seed ^ ((uint64_t)(uintptr_t)&rng * 0x9e3779b97f4a7c15ull);
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	if ((double)(rng >> 11) / (double)(1ull << 53) >= prob[kind])
		return 0;
	atomic_fetch_add_explicit(&injected[kind], 1, memory_order_relaxed);
	return 1;
}

/* Cut at a multiple of 4096 or 512 where the length allows, so O_DIRECT IO stays aligned. */
size_t ioe_fault_len(size_t len)
{
	size_t unit = len % 4096 == 0 ? 4096 : len % 512 == 0 ? 512 : 1;

	if (len < 2 * unit || !roll(IOE_FAULT_SHORT))
		return len;
	return unit * (1 + (size_t)(rng % (len / unit - 1)));
}

int ioe_fault_submit(void)
{
	if (roll(IOE_FAULT_EAGAIN))
		return -EAGAIN;
	if (roll(IOE_FAULT_ENOMEM))
		return -ENOMEM;
	return 0;
}

long ioe_fault_result(long res)
{
	return roll(IOE_FAULT_EIO) ? -EIO : res;
}

int ioe_fault_merge_nomem(void)
{
	return roll(IOE_FAULT_MERGE_NOMEM);
}

uint64_t ioe_fault_count(enum ioe_fault_kind kind)
{
	return atomic_load_explicit(&injected[kind], memory_order_relaxed);
}
