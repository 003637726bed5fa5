/* SPDX-License-Identifier: MIT */
/*
 * IOENGINE_* environment variables, read once by the constructor. A bad
 * value gets one message naming the variable and the default it falls back
 * to; nothing is ever fatal.
 *
 * In secure-execution mode (set-user-ID, set-group-ID or file capabilities:
 * AT_SECURE) the environment is the unprivileged caller's, so none of it is
 * read (secure_getenv, as glibc does for its own variables): defaults only,
 * no stats or metrics file, no log level, no backend override.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"

#define SHIM_DEFAULT_DEPTH	128
#define SHIM_DEFAULT_WORKERS	0	/* callbacks in the poller: one hand-off less */

/* Usable before shim_config_load(): warnings are on, as by default. */
struct shim_config shim_cfg = {
	.backend = IOE_BACKEND_AUTO,
	.depth = SHIM_DEFAULT_DEPTH,
	.workers = SHIM_DEFAULT_WORKERS,
	.fastpath = true,
	.log = SHIM_LOG_WARN,
	.stats = NULL,
	.interval = 0,
	.metrics = NULL,
	.merge_limit = 128 * 1024,	/* the engine's default: see ioe_merge_parse() */
};

bool shim_stats_on;

/* Private copies: the program may change its environment later. */
static char stats_path[PATH_MAX];
static char metrics_path[PATH_MAX];

#define SHIM_MAX_INTERVAL	86400

static const char *env(const char *name)
{
	const char *v = secure_getenv(name);

	return v && *v ? v : NULL;
}

static bool parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (unsigned int)v;
	return true;
}

static void load_log(void)
{
	static const char *const names[] = { "off", "error", "warn", "info", "debug" };
	const char *v = env("IOENGINE_LOG");

	if (!v)
		return;
	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(v, names[i])) {
			shim_cfg.log = (enum shim_log_level)i;
			return;
		}
	}
	shim_log(SHIM_LOG_WARN, "IOENGINE_LOG=%s is not off|error|warn|info|debug, using warn", v);
}

static void load_backend(void)
{
	const char *v = env("IOENGINE_BACKEND");

	/* The engine's parsing; a bad value leaves the default (auto). */
	if (ioe_backend_parse(v, &shim_cfg.backend))
		shim_log(SHIM_LOG_WARN, "IOENGINE_BACKEND=%s is not auto|uring|aio, using auto", v);
}

static void load_uint(const char *name, unsigned int min, unsigned int max, unsigned int *val)
{
	const char *v = env(name);
	unsigned int def = *val;

	if (v && !parse_uint(v, min, max, val))
		shim_log(SHIM_LOG_WARN, "%s=%s is not a number in %u..%u, using %u", name, v, min, max, def);
}

static void load_fastpath(void)
{
	const char *v = env("IOENGINE_FASTPATH");

	if (!v)
		return;
	if (!strcmp(v, "0"))
		shim_cfg.fastpath = false;
	else if (!strcmp(v, "1"))
		shim_cfg.fastpath = true;
	else
		shim_log(SHIM_LOG_WARN, "IOENGINE_FASTPATH=%s is not 0 or 1, using 1", v);
}

/* By the engine's own rules (ioe_merge_parse()); a bad value: one message, the default. */
static void load_merge(void)
{
	const char *on = env("IOENGINE_MERGE"), *max = env("IOENGINE_MERGE_MAX");
	size_t limit;

	if (on && ioe_merge_parse(on, NULL, &limit)) {
		shim_log(SHIM_LOG_WARN, "IOENGINE_MERGE=%s is not 0 or 1, using 1", on);
		on = NULL;
	}
	if (max && ioe_merge_parse(NULL, max, &limit)) {
		shim_log(SHIM_LOG_WARN, "IOENGINE_MERGE_MAX=%s is not a number of bytes in 4096..67108864, "
			 "using 131072", max);
		max = NULL;
	}
	ioe_merge_parse(on, max, &shim_cfg.merge_limit);
}

static void load_stats(void)
{
	const char *v = env("IOENGINE_STATS");

	if (!v || !strcmp(v, "0"))
		return;
	if (!strcmp(v, "1")) {
		shim_cfg.stats = "";
	} else if (strlen(v) >= sizeof(stats_path)) {
		shim_log(SHIM_LOG_WARN, "IOENGINE_STATS path is too long, writing the summary to stderr");
		shim_cfg.stats = "";
	} else {
		strcpy(stats_path, v);
		shim_cfg.stats = stats_path;
	}
	shim_stats_on = true;
}

/* node_exporter's textfile collector reads only *.prom files. */
static void load_metrics(void)
{
	const char *v = env("IOENGINE_METRICS");
	size_t n;

	if (!v)
		return;
	n = strlen(v);
	if (n >= sizeof(metrics_path) || n <= 5 || strcmp(v + n - 5, ".prom") || v[n - 6] == '/') {
		shim_log(SHIM_LOG_WARN, "IOENGINE_METRICS=%s is not a file name ending in .prom, writing no metrics", v);
		return;
	}
	strcpy(metrics_path, v);
	shim_cfg.metrics = metrics_path;
	shim_stats_on = true;
}

void shim_config_load(void)
{
	int saved = errno;

	load_log();
	load_backend();
	load_uint("IOENGINE_DEPTH", 1, IOE_MAX_DEPTH, &shim_cfg.depth);
	load_uint("IOENGINE_WORKERS", 0, IOE_MAX_WORKERS, &shim_cfg.workers);
	load_fastpath();
	load_merge();
	load_stats();
	load_metrics();
	load_uint("IOENGINE_STATS_INTERVAL", 0, SHIM_MAX_INTERVAL, &shim_cfg.interval);
	if (shim_cfg.interval && !shim_stats_on)
		shim_log(SHIM_LOG_WARN, "IOENGINE_STATS_INTERVAL is set without IOENGINE_STATS or IOENGINE_METRICS: "
			 "nothing to write");
	errno = saved;
}
