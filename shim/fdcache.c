/* SPDX-License-Identifier: MIT */
/* The per-fd cache behind the read fast path: see fdcache.h for its limits. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
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

bool shim_fd_is_stream(int fd)
{
	int saved = errno;
	bool stream;

	if (shim_fd_get(fd) & SHIM_FDC_ROUTABLE)
		return false;
	stream = lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE;
	errno = saved;
	return stream;
}

void shim_fd_nowait_bad(int fd)
{
	if ((unsigned int)fd < SHIM_FDC_SIZE)
		atomic_fetch_or_explicit(&shim_fdc[fd], SHIM_FDC_NOWAIT_BAD, memory_order_relaxed);
}

void shim_fd_forget(int fd)
{
	store(fd, 0);
}

void shim_fd_forget_range(unsigned int first, unsigned int last)
{
	if (last >= SHIM_FDC_SIZE)
		last = SHIM_FDC_SIZE - 1;
	for (unsigned int fd = first; fd <= last; fd++)
		atomic_store_explicit(&shim_fdc[fd], 0, memory_order_relaxed);
}
