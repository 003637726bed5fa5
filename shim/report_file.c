/* SPDX-License-Identifier: MIT */
/*
 * Where reports are written, and the rules that keep them from harming
 * anyone's files: the stats file is appended to (one write() per line, the
 * file opened by path each time, so that logrotate's copytruncate or a
 * moved file are followed, and several processes can share it), the
 * metrics file is replaced whole (a temporary file in the same directory,
 * then rename(): a reader sees the old file or the new one, never a part).
 *
 * A file the shim creates is 0600, O_EXCL, never through a symlink. An
 * existing one is used only if it is a regular file of the effective user,
 * with one link (not a hard link to someone's file), that neither group nor
 * others may write; as root (who owns /etc/shadow and most system files)
 * only if it is also empty or starts with the shim's own text. In secure
 * execution no path is ever read (config.c). A refused file gets one
 * warning per process and is not written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shim.h"
#include "report.h"

static bool warned_stats, warned_metrics;

static bool own_file(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() && st->st_nlink == 1 &&
	       !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * As root: an empty file, or one that starts with what the shim writes
 * there. fd: just opened (at offset 0); read(), not the shim's own pread().
 */
static bool root_may_use(int fd, const struct stat *st, const char *own, size_t n)
{
	char head[32];

	if (st->st_uid || !st->st_size)
		return true;
	return n <= sizeof(head) && read(fd, head, n) == (ssize_t)n && !memcmp(head, own, n);
}

int shim_report_open_stats(void)
{
	static const char own[] = "ioengine: stats ";
	const char *path = shim_cfg.stats;
	struct stat st;
	int fd;

	if (!*path)
		return STDERR_FILENO;
	/*
	 * O_NONBLOCK: a FIFO nobody reads must not hang the writer. Root
	 * reads the file's first bytes (root_may_use()), so opens it O_RDWR.
	 */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != EEXIST)
		goto out;
	fd = open(path, (geteuid() ? O_WRONLY : O_RDWR) | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) || !own_file(&st) || !root_may_use(fd, &st, own, sizeof(own) - 1))) {
		if (!warned_stats)
			shim_log(SHIM_LOG_WARN,
				 "IOENGINE_STATS file %s is not a regular file of this user, with one link, that no one "
				 "else may write%s; not written", path, geteuid() ? "" : " (as root: empty or the shim's own)");
		warned_stats = true;
		close(fd);
		return -1;
	}
out:
	if (fd < 0 && !warned_stats)
		shim_log(SHIM_LOG_WARN, "cannot open IOENGINE_STATS file %s (errno %d)", path, errno);
	if (fd < 0)
		warned_stats = true;
	return fd;
}

/*
 * May the metrics file be replaced? Yes if there is none, or by the rules
 * above; *mode: the permissions the new one gets (an existing file's read
 * bits are kept: chmod 0644 once lets a node_exporter of another user read it).
 */
static int check_metrics_target(const char *path, mode_t *mode)
{
	static const char own[] = "# HELP ioengine_";
	struct stat st;
	bool ok;
	int fd;

	*mode = 0600;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	ok = own_file(&st);
	if (ok && !geteuid() && st.st_size) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		ok = fd >= 0 && !fstat(fd, &st) && own_file(&st) && root_may_use(fd, &st, own, sizeof(own) - 1);
		if (fd >= 0)
			close(fd);
	}
	if (!ok)
		return -EPERM;
	*mode = st.st_mode & (S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH);
	return 0;
}

/* "DIR/.NAME.PID.tmp" for "DIR/NAME": hidden, and not *.prom, so no collector reads it. */
static int temp_name(const char *path, char *tmp, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path + 1) : 0;
	int n = snprintf(tmp, size, "%.*s.%s.%d.tmp", dir, path, path + dir, (int)getpid());

	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* A new temporary file; one left by a killed process of the same pid is ours to remove. */
static int create_temp(const char *tmp, mode_t mode)
{
	struct stat st;
	int fd;

	for (int tries = 0; tries < 2; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (mode != 0600 && fchmod(fd, mode)) {
				int err = errno;

				close(fd);
				unlink(tmp);
				return -err;
			}
			return fd;
		}
		if (errno != EEXIST || lstat(tmp, &st) || !own_file(&st) || unlink(tmp))
			break;
	}
	return -errno;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int shim_report_replace_metrics(const char *buf, size_t len)
{
	const char *path = shim_cfg.metrics;
	char tmp[PATH_MAX];
	mode_t mode;
	int fd = -1, ret, saved = errno;

	ret = check_metrics_target(path, &mode);
	if (ret == -EPERM) {
		if (!warned_metrics)
			shim_log(SHIM_LOG_WARN,
				 "IOENGINE_METRICS file %s is not a regular file of this user, with one link, that no one "
				 "else may write%s; not written", path, geteuid() ? "" : " (as root: empty or the shim's own)");
		warned_metrics = true;
		goto out;
	}
	if (!ret)
		ret = temp_name(path, tmp, sizeof(tmp));
	if (!ret)
		ret = fd = create_temp(tmp, mode);
	if (ret >= 0) {
		ret = write_all(fd, buf, len);
		close(fd);
		if (!ret && rename(tmp, path))
			ret = -errno;
		if (ret)
			unlink(tmp);
	}
	if (ret < 0 && !warned_metrics)
		shim_log(SHIM_LOG_WARN, "cannot write IOENGINE_METRICS file %s (errno %d)", path, -ret);
	if (ret < 0)
		warned_metrics = true;
out:
	errno = saved;
	return ret < 0 ? ret : 0;
}
