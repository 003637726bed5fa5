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
	if (!fstat(fd, &st)) {
		if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
			e |= SHIM_FDC_ROUTABLE;
		else if (S_ISFIFO(st.st_mode))
			e |= SHIM_FDC_PIPE;
		else if (S_ISSOCK(st.st_mode))
			e |= SHIM_FDC_SOCKET;
	}
	if (flags & O_DIRECT)
		e |= SHIM_FDC_DIRECT;
	store(fd, e);
	return e;
}

unsigned int shim_fd_rw_flags(int fd, int64_t offset)
{
	uint32_t e = shim_fd_get(fd);
	int saved = errno;
	bool stream;

	if (e & SHIM_FDC_ROUTABLE)
		return 0;
	if ((e & SHIM_FDC_PIPE) || ((e & SHIM_FDC_SOCKET) && !offset))
		return IOE_F_AT_POSITION | IOE_F_STREAM_OFFSET;
	stream = lseek(fd, 0, SEEK_CUR) < 0 && errno == ESPIPE;
	errno = saved;
	return stream ? IOE_F_AT_POSITION : IOE_F_NO_MERGE;
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
