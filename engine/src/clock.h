/* SPDX-License-Identifier: MIT */
/* The engine's clock: CLOCK_MONOTONIC in ns (vDSO; no system call). */
#ifndef IOE_CLOCK_H
#define IOE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ioe_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
