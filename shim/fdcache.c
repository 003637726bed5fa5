/* SPDX-License-Identifier: MIT */
/* The per-fd cache behind the read fast path: see fdcache.h for its limits. */
#include <fcntl.h>
#include <sys/stat.h>
#include "shim.h"
#include "fdcache.h"

_Atomic uint32_t shim_fdc[SHIM_FDC_SIZE];

static void store(int fd, uint32_t e)
{
	if ((unsigned int)fd < SHIM_FDC_SIZE)
		atomic_store_explicit(&shim_fdc[fd], e, memory_order_relaxed);
}

uint32_t shim_fd_refresh(int fd, int flags)
{
	uint32_t e = SHIM_FDC_VALID | SHIM_FDC_RECHECK * SHIM_FDC_USE;
	struct stat st;

	if (flags < 0)
		flags = fcntl(fd, F_GETFL);
	if (flags < 0) {
		store(fd, 0);
		return 0;
	}
	if (!fstat(fd, &st) && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		e |= SHIM_FDC_ROUTABLE;
	if (flags & O_DIRECT)
		e |= SHIM_FDC_DIRECT;
	store(fd, e);
	return e;
}

uint32_t shim_fd_route_info(int fd, int flags)
{
	uint32_t e, n;

	if ((unsigned int)fd >= SHIM_FDC_SIZE)
		return shim_fd_refresh(fd, flags);
	e = atomic_load_explicit(&shim_fdc[fd], memory_order_relaxed);
	/*
	 * "Not routable" is looked at again every time: the fd may have been
	 * reused for a file, and such calls (pipes, sockets) are rare. A stale
	 * "routable" is caught by the engine's own checks and the redo.
	 */
	if (!(e & SHIM_FDC_VALID) || !(e & SHIM_FDC_ROUTABLE) || e < SHIM_FDC_USE)
		return shim_fd_refresh(fd, flags);
	/* O_DIRECT can be switched by fcntl(F_SETFL): keep the fresh value. */
	n = (flags & O_DIRECT) ? e | SHIM_FDC_DIRECT : e & ~SHIM_FDC_DIRECT;
	if (n != e)
		store(fd, n);
	return n;
}

void shim_fd_nowait_bad(int fd)
{
	if ((unsigned int)fd < SHIM_FDC_SIZE)
		atomic_fetch_or_explicit(&shim_fdc[fd], SHIM_FDC_NOWAIT_BAD, memory_order_relaxed);
}
