/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fault.h"

#ifdef IOENGINE_FAULT_INJECTION
static double p_short;
static uint64_t seed = 1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t rng;

static void parse(void)
{
	const char *env = getenv("IOENGINE_FAULT");
	char buf[256], *save, *tok;

	if (!env || strlen(env) >= sizeof(buf))
		return;
	strcpy(buf, env);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "seed=", 5))
			seed = strtoull(tok + 5, NULL, 0) | 1;
		else if (!strncmp(tok, "short=", 6))
			p_short = strtod(tok + 6, NULL);
	}
}

static double uniform(void)
{
	if (!rng)
		rng = seed ^ (uint64_t)(uintptr_t)&rng;
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / (double)(1ull << 53);
}

/* Cut at a multiple of 4096 or 512 where the length allows, so O_DIRECT IO stays aligned. */
size_t ioe_fault_len(size_t len)
{
	size_t unit = len % 4096 == 0 ? 4096 : len % 512 == 0 ? 512 : 1;

	pthread_once(&once, parse);
	if (len < 2 * unit || p_short <= 0 || uniform() >= p_short)
		return len;
	return unit * (1 + (size_t)(uniform() * (double)(len / unit - 1)));
}
#endif
