/* SPDX-License-Identifier: MIT */
#ifndef IOE_BENCH_MERGE_H
#define IOE_BENCH_MERGE_H

#include <stdio.h>
#include "ioengine.h"

/*
 * 4 KiB sequential O_DIRECT writes, then reads, of a 64 MiB file in `dir`,
 * three ways in the same run, on one backend: unmerged, through a merger
 * (128 KiB runs), and as plain events that the engine merges as it takes
 * them (128 KiB); prints the IOPS of each and their ratios to unmerged to
 * `out`. 0, or -errno (nothing usable measured, or an IO failed).
 */
int bench_merge(const char *dir, enum ioe_backend backend, FILE *out);

#endif
