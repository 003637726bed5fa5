/* SPDX-License-Identifier: MIT */
/*
 * Exhaustion and hostile input, run with libioengine-preload.so preloaded
 * (IOENGINE_BACKEND set by ctest). One scenario per invocation:
 *
 *   aio-max DIR     io_uring refused (seccomp EPERM) and the AIO context limit
 *                   (aio-max-nr) used up by this process: the program's IO works
 *                   on the real calls, exactly one message on stderr (IOENGINE_LOG=info).
 *   nofile DIR      RLIMIT_NOFILE exhausted before the engine starts: IO works
 *                   (AIO backend, which needs no fd, or the real calls), every fd
 *                   of the program is the same file afterwards, none was taken.
 *   aio-limit DIR   IOENGINE_AIO_MAX outstanding requests: the next is -1/EAGAIN,
 *                   none of the accepted ones is lost; lio_listio over it EINVAL.
 *   close DIR       fds closed while their requests are in flight: each request
 *                   completes (a result or an error), notification included.
 *   twice DIR       the same aiocb submitted again while in flight.
 *   fuzz DIR [N]    random aiocb fields through every entry point, each also
 *                   given to glibc's own functions: never a crash or a hang,
 *                   every request ends with a valid state; differences printed.
 */
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); \
	fprintf(stderr, " (errno %d)\n", errno); \
	exit(1); \
} while (0)
#define CHECK(c) do { if (!(c)) FAIL("CHECK failed: %s", #c); } while (0)

static const char *dir;

static int new_file(size_t len, int flags)
{
	char path[4096];
	char *b = malloc(len + 1);
	int fd;

	snprintf(path, sizeof(path), "%s/hostile-XXXXXX", dir);
	fd = mkstemp(path);
	CHECK(fd >= 0 && b);
	for (size_t i = 0; i < len; i++)
		b[i] = (char)(i * 7 + 1);
	CHECK(write(fd, b, len) == (ssize_t)len);	/* not interposed */
	free(b);
	if (flags) {
		/* O_DIRECT only now: the content went in through an unaligned buffer. */
		int fd2 = open(path, O_RDWR | flags);

		CHECK(fd2 >= 0 && !fsync(fd));
		close(fd);
		fd = fd2;
	}
	unlink(path);
	return fd;
}

/* The shim must be loaded, or these tests prove nothing. */
static void require_shim(void)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	CHECK(libc);
	if (dlsym(RTLD_DEFAULT, "aio_read") == dlsym(libc, "aio_read") ||
	    dlsym(RTLD_DEFAULT, "pread") == dlsym(libc, "pread")) {
		fprintf(stderr, "libioengine-preload.so is not preloaded\n");
		exit(1);
	}
}

/* A hang, not a slow fsync: one takes up to 2.3 s on these VMs next to a stress run. */
#define HANG_S 120

static void aio_wait(const struct aiocb *cb)
{
	const struct aiocb *l[1] = { cb };
	time_t t0 = time(NULL);

	while (aio_error(cb) == EINPROGRESS) {
		aio_suspend(l, 1, &(struct timespec){ 1, 0 });
		if (time(NULL) - t0 > HANG_S)
			FAIL("request still in progress after %d s", HANG_S);
	}
}

/* pread/pwrite/aio round trip on fd: the program's IO works. */
static void does_io(int fd)
{
	char a[8192], b[8192];
	struct aiocb cb;

	memset(a, 'x', sizeof(a));
	CHECK(pwrite(fd, a, sizeof(a), 4096) == (ssize_t)sizeof(a));
	CHECK(pread(fd, b, sizeof(b), 4096) == (ssize_t)sizeof(b));
	CHECK(!memcmp(a, b, sizeof(a)));
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = b;
	cb.aio_nbytes = sizeof(b);
	cb.aio_offset = 4096;
	memset(b, 0, sizeof(b));
	CHECK(aio_read(&cb) == 0);
	aio_wait(&cb);
	CHECK(aio_error(&cb) == 0 && aio_return(&cb) == (ssize_t)sizeof(b));
	CHECK(!memcmp(a, b, sizeof(a)));
}

/* Run fn in a child with stderr captured; returns the number of stderr lines. */
static int in_child(int (*fn)(void), char *err, size_t errlen)
{
	int p[2], st, lines = 0;
	ssize_t n, len = 0;
	pid_t pid;

	CHECK(!pipe(p));
	pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		_exit(fn());
	}
	close(p[1]);
	while ((n = read(p[0], err + len, errlen - 1 - (size_t)len)) > 0)
		len += n;
	err[len] = 0;
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid);
	fputs(err, stdout);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("child failed: status 0x%x", st);
	for (char *c = err; *c; c++)
		lines += *c == '\n';
	return lines;
}

/* ---- aio-max ---- */

static void deny_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	CHECK(!prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(!prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog));
}

static int aio_max_child(void)
{
	aio_context_t ctx[4096];
	int n = 0, fd = new_file(65536, 0);
	long nr = 4096;

	deny_uring();
	/* Take every AIO context the system allows, big ones first. */
	while (n < 4096 && nr >= 1) {
		ctx[n] = 0;
		if (syscall(SYS_io_setup, nr, &ctx[n]) == 0)
			n++;
		else if (errno == EAGAIN)
			nr /= 2;
		else
			FAIL("io_setup");
	}
	printf("took %d AIO contexts\n", n);
	does_io(fd);
	for (int i = 0; i < n; i++)
		syscall(SYS_io_destroy, ctx[i]);
	return 0;
}

static void aio_max(void)
{
	char err[4096];
	int lines = in_child(aio_max_child, err, sizeof(err));

	if (lines != 1 || !strstr(err, "plain system calls"))
		FAIL("expected exactly one message, got %d lines: %s", lines, err);
	printf("ok: io_uring refused and aio-max-nr reached: real calls, one message\n");
}

/* ---- nofile ---- */

struct fdid {
	dev_t dev;
	ino_t ino;
};

static int nofile_child(void)
{
	static struct fdid ids[256];
	struct rlimit rl = { 64, 64 };
	struct stat st;
	int fd = new_file(65536, 0), top = 0;

	CHECK(!setrlimit(RLIMIT_NOFILE, &rl));
	for (;;) {
		int d = open("/dev/null", O_RDONLY);

		if (d < 0) {
			CHECK(errno == EMFILE);
			break;
		}
		top = d;
	}
	for (int i = 0; i <= top; i++)
		if (!fstat(i, &st))
			ids[i] = (struct fdid){ st.st_dev, st.st_ino };
	does_io(fd);
	for (int i = 0; i <= top; i++) {
		CHECK(!fstat(i, &st));
		if (st.st_dev != ids[i].dev || st.st_ino != ids[i].ino)
			FAIL("fd %d changed under the program", i);
	}
	/* The engine took no fd: the table is still full. */
	CHECK(open("/dev/null", O_RDONLY) < 0 && errno == EMFILE);
	return 0;
}

static void nofile(void)
{
	char err[4096];
	int lines = in_child(nofile_child, err, sizeof(err));

	if (lines > 1)
		FAIL("more than one message: %s", err);
	printf("ok: RLIMIT_NOFILE exhausted: IO works, fds untouched (%d message)\n", lines);
}

/* ---- aio-limit (IOENGINE_AIO_MAX=16) ---- */

static void aio_limit(void)
{
	enum { MAX = 16, N = 64, LEN = 1 << 20 };
	static struct aiocb cbs[N];
	struct aiocb *list[MAX + 1];
	char *buf = aligned_alloc(4096, (size_t)N * LEN);
	int fd = new_file(LEN, O_DIRECT), accepted = 0, refused = 0;

	CHECK(buf);
	for (int i = 0; i < N; i++) {
		memset(&cbs[i], 0, sizeof(cbs[i]));
		cbs[i].aio_fildes = fd;
		cbs[i].aio_buf = buf + (size_t)i * LEN;
		cbs[i].aio_nbytes = LEN;
		if (aio_read(&cbs[i]) == 0) {
			accepted++;
		} else {
			CHECK(errno == EAGAIN);
			refused++;
			cbs[i].aio_fildes = -1;
		}
	}
	CHECK(refused > 0 && accepted >= MAX);
	for (int i = 0; i < N; i++) {
		if (cbs[i].aio_fildes < 0)
			continue;
		aio_wait(&cbs[i]);
		CHECK(aio_error(&cbs[i]) == 0 && aio_return(&cbs[i]) == LEN);
		CHECK(((char *)cbs[i].aio_buf)[LEN - 1] == (char)((LEN - 1) * 7 + 1));
	}
	/* More than the limit in one list: EINVAL (the shim's documented limit). */
	for (int i = 0; i <= MAX; i++) {
		list[i] = &cbs[i];
		cbs[i].aio_fildes = fd;
		cbs[i].aio_lio_opcode = LIO_READ;
	}
	CHECK(lio_listio(LIO_WAIT, list, MAX + 1, NULL) == -1 && errno == EINVAL);
	/* And at the limit it works again. */
	CHECK(lio_listio(LIO_WAIT, list, MAX, NULL) == 0);
	printf("ok: %d accepted, %d refused with EAGAIN, none lost; lio_listio over the limit EINVAL\n",
	       accepted, refused);
}

/* ---- close ---- */

static _Atomic int notes;

static void note(union sigval v)
{
	(void)v;
	atomic_fetch_add(&notes, 1);
}

static void close_inflight(void)
{
	enum { N = 64, LEN = 256 * 1024 };
	static struct aiocb cbs[N];
	char *buf = aligned_alloc(4096, (size_t)N * LEN);
	int want = 0, errs = 0;

	CHECK(buf);
	for (int round = 0; round < 20; round++) {
		int fd = new_file(LEN, round % 2 ? O_DIRECT : 0);

		for (int i = 0; i < N; i++) {
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_fildes = fd;
			cbs[i].aio_buf = buf + (size_t)i * LEN;
			cbs[i].aio_nbytes = LEN;
			cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
			cbs[i].aio_sigevent.sigev_notify_function = note;
			CHECK((i % 3 ? aio_read(&cbs[i]) : i % 2 ? aio_write(&cbs[i]) : aio_fsync(O_SYNC, &cbs[i])) == 0);
			want++;
		}
		close(fd);
		for (int i = 0; i < N; i++) {
			int e;

			aio_wait(&cbs[i]);
			e = aio_error(&cbs[i]);
			if (e) {
				CHECK(aio_return(&cbs[i]) == -1);
				CHECK(e == EBADF || e == ECANCELED || e == EIO);
				errs++;
			} else {
				CHECK(aio_return(&cbs[i]) >= 0);
			}
		}
	}
	for (time_t t0 = time(NULL); atomic_load(&notes) < want && time(NULL) - t0 < 30;)
		usleep(1000);
	CHECK(atomic_load(&notes) == want);
	printf("ok: %d requests on closed fds completed (%d with an error), %d notifications\n", want, errs,
	       want);
}

/* ---- twice ---- */

static void twice(void)
{
	enum { LEN = 1 << 20 };
	char *buf = aligned_alloc(4096, LEN);
	int fd = new_file(LEN, O_DIRECT), again = 0;
	struct aiocb cb;

	CHECK(buf);
	for (int i = 0; i < 200; i++) {
		memset(&cb, 0, sizeof(cb));
		cb.aio_fildes = fd;
		cb.aio_buf = buf;
		cb.aio_nbytes = LEN;
		CHECK(aio_read(&cb) == 0);
		/* The same aiocb again, as a read and as a write, while in flight. */
		if (aio_read(&cb) == 0 || aio_write(&cb) == 0) {
			/* Accepted: then it must complete too (glibc queues it twice). */
			aio_wait(&cb);
		} else {
			CHECK(errno == EAGAIN);
			again++;
		}
		aio_wait(&cb);
		CHECK(aio_error(&cb) == 0 && aio_return(&cb) == LEN);
		/* Done: now it may be submitted again. */
		CHECK(aio_read(&cb) == 0);
		aio_wait(&cb);
		CHECK(aio_error(&cb) == 0 && aio_return(&cb) == LEN);
	}
	printf("ok: aiocb submitted twice: %d of 200 refused with EAGAIN, the first request intact\n", again);
}

/* ---- fuzz ---- */

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct {
	int (*aio_read)(struct aiocb *);
	int (*aio_write)(struct aiocb *);
	int (*aio_fsync)(int, struct aiocb *);
	int (*aio_error)(const struct aiocb *);
	ssize_t (*aio_return)(struct aiocb *);
	int (*aio_cancel)(int, struct aiocb *);
	int (*aio_suspend)(const struct aiocb *const[], int, const struct timespec *);
	int (*lio_listio)(int, struct aiocb *const[], int, struct sigevent *);
} glibc;

#define SIG_FUZZ (SIGRTMIN + 5)
static _Atomic int fuzz_sigs;

static void on_fuzz_sig(int s)
{
	(void)s;
	atomic_fetch_add(&fuzz_sigs, 1);
}

static void fuzz_note(union sigval v)
{
	(void)v;
}

static int fuzz_fds[8];
#define FUZZ_BUF (1 << 20)
static char *fuzz_buf;	/* FUZZ_BUF bytes, then a PROT_NONE page */

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd() % n];
}

static void fuzz_cb(struct aiocb *cb)
{
	static const uint64_t lens[] = { 0, 1, 511, 512, 4096, 65536, FUZZ_BUF, FUZZ_BUF + 1, SSIZE_MAX,
					 (uint64_t)SSIZE_MAX + 1, SIZE_MAX, 1ull << 31, 0x7ffff000 };
	static const uint64_t offs[] = { 0, 1, 4096, 65535, 1ull << 20, (uint64_t)-1, (uint64_t)-4096,
					 (uint64_t)INT64_MIN, (uint64_t)INT64_MAX, 1ull << 40, 1ull << 62 };
	int notify[] = { SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID, 3, 99, -1 };
	int signos[] = { SIG_FUZZ, 0, 65, -3, 1000 };

	memset(cb, 0, sizeof(*cb));
	/* Never 0..2: a write to the test's stdout or a read of its stdin proves nothing. */
	cb->aio_fildes = rnd() % 4 ? fuzz_fds[rnd() % 8] : rnd() % 3 ? 100 + (int)(rnd() % 2000) : -(int)(rnd() % 5);
	cb->aio_lio_opcode = rnd() % 3 ? (int)(rnd() % 4) : (int)rnd();
	cb->aio_reqprio = rnd() % 2 ? 0 : (int)(rnd() % 50) - 10;
	cb->aio_buf = fuzz_buf + (rnd() % 2 ? 0 : rnd() % 4096);
	cb->aio_nbytes = (size_t)pick(lens, sizeof(lens) / sizeof(lens[0]));
	cb->aio_offset = (off_t)pick(offs, sizeof(offs) / sizeof(offs[0]));
	cb->aio_sigevent.sigev_notify = notify[rnd() % 7];
	cb->aio_sigevent.sigev_signo = signos[rnd() % 5];
	cb->aio_sigevent.sigev_value.sival_int = (int)rnd();
	/* Never a NULL or wild function: that crashes glibc's own AIO just the same. */
	cb->aio_sigevent.sigev_notify_function = fuzz_note;
	/* SIGEV_THREAD_ID: this thread, or a tid that is not ours (shares a union with the function). */
	if (cb->aio_sigevent.sigev_notify == SIGEV_THREAD_ID)
		cb->aio_sigevent._sigev_un._tid = rnd() % 2 ? gettid() : (int)(rnd() % 100000);
}

/* Submit through one implementation; returns the call's result, sets *err. */
static int fuzz_submit(bool shim, int how, struct aiocb *cb, int *err)
{
	struct aiocb *list[2] = { cb, NULL };
	int r;

	errno = 0;
	switch (how) {
	case 0:
		r = shim ? aio_read(cb) : glibc.aio_read(cb);
		break;
	case 1:
		r = shim ? aio_write(cb) : glibc.aio_write(cb);
		break;
	case 2: {
		int op = rnd() % 3 ? (rnd() % 2 ? O_SYNC : O_DSYNC) : (int)rnd();

		r = shim ? aio_fsync(op, cb) : glibc.aio_fsync(op, cb);
		break;
	}
	default:
		r = shim ? lio_listio(LIO_NOWAIT, list, 2, NULL) : glibc.lio_listio(LIO_NOWAIT, list, 2, NULL);
		break;
	}
	*err = r ? errno : 0;
	return r;
}

static bool valid_state(int e)
{
	return e >= 0 && e < 4096;
}

static void fuzz(int n)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	int diffs = 0, kinds[4] = { 0 };
	int sp[2], p[2];

	CHECK(libc);
	*(void **)&glibc.aio_read = dlsym(libc, "aio_read");
	*(void **)&glibc.aio_write = dlsym(libc, "aio_write");
	*(void **)&glibc.aio_fsync = dlsym(libc, "aio_fsync");
	*(void **)&glibc.aio_error = dlsym(libc, "aio_error");
	*(void **)&glibc.aio_return = dlsym(libc, "aio_return");
	*(void **)&glibc.aio_cancel = dlsym(libc, "aio_cancel");
	*(void **)&glibc.aio_suspend = dlsym(libc, "aio_suspend");
	*(void **)&glibc.lio_listio = dlsym(libc, "lio_listio");
	CHECK(glibc.aio_read && glibc.lio_listio);
	signal(SIG_FUZZ, on_fuzz_sig);
	signal(SIGXFSZ, SIG_IGN);	/* writes past the file size limit: EFBIG, not death */
	fuzz_buf = mmap(NULL, FUZZ_BUF + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(fuzz_buf != MAP_FAILED);
	CHECK(!mprotect(fuzz_buf + FUZZ_BUF, 4096, PROT_NONE));
	CHECK(!pipe(p) && !socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	/* glibc reads a socket with read(2): non-blocking, or an empty one hangs it. */
	CHECK(!fcntl(sp[0], F_SETFL, O_NONBLOCK));
	fuzz_fds[0] = new_file(256 * 1024, 0);
	fuzz_fds[1] = new_file(256 * 1024, O_DIRECT);
	fuzz_fds[2] = open("/dev/null", O_RDWR);
	fuzz_fds[3] = open(dir, O_RDONLY | O_DIRECTORY);
	fuzz_fds[4] = open("/dev/zero", O_RDONLY);
	fuzz_fds[5] = new_file(4096, 0);
	fuzz_fds[6] = -1;
	fuzz_fds[7] = sp[0];
	/* Make file 5 read-only: writes EBADF. */
	{
		char path[64];
		int ro;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fuzz_fds[5]);
		ro = open(path, O_RDONLY);
		CHECK(ro >= 0);
		close(fuzz_fds[5]);
		fuzz_fds[5] = ro;
	}
	(void)p;
	for (int i = 0; i < n; i++) {
		struct aiocb a, b;
		uint64_t save;
		int how = (int)(rnd() % 4), ra, rb, ea, eb;
		int sa, sb;
		ssize_t va, vb;

		fuzz_cb(&a);
		save = rng;
		b = a;
		kinds[how]++;
		ra = fuzz_submit(true, how, &a, &ea);
		rng = save;	/* the same fsync op for both */
		rb = fuzz_submit(false, how, &b, &eb);
		if (rnd() % 8 == 0) {
			/* Cancel it, or everything on its fd. */
			int ca = aio_cancel(a.aio_fildes, rnd() % 2 ? &a : NULL);

			CHECK(ca == AIO_CANCELED || ca == AIO_NOTCANCELED || ca == AIO_ALLDONE || ca == -1);
			glibc.aio_cancel(b.aio_fildes, NULL);
		}
		/* Accepted, or a list member that may have been: it must end. */
		if (!ra || how == 3)
			aio_wait(&a);
		if (!rb || how == 3) {
			const struct aiocb *l[1] = { &b };

			for (time_t t0 = time(NULL); glibc.aio_error(&b) == EINPROGRESS;) {
				glibc.aio_suspend(l, 1, &(struct timespec){ 1, 0 });
				CHECK(time(NULL) - t0 < 30);
			}
		}
		sa = ra && how != 3 ? -1 : aio_error(&a);
		sb = rb && how != 3 ? -1 : glibc.aio_error(&b);
		va = ra && how != 3 ? -1 : aio_return(&a);
		vb = rb && how != 3 ? -1 : glibc.aio_return(&b);
		if (!ra || how == 3)
			CHECK(valid_state(sa) && sa != EINPROGRESS && (sa ? va == -1 : va >= 0));
		/* A cancel races differently in the two: not a difference. */
		if ((ra != rb || ea != eb || sa != sb || va != vb) && sa != ECANCELED && sb != ECANCELED) {
			if (diffs++ < 40)
				printf("differs from glibc: %s fd=%d op=%d len=%zu off=%lld prio=%d notify=%d: "
				       "shim %d/%d state %d ret %zd, glibc %d/%d state %d ret %zd\n",
				       (const char *[]){ "aio_read", "aio_write", "aio_fsync", "lio_listio" }[how],
				       a.aio_fildes, a.aio_lio_opcode, a.aio_nbytes, (long long)a.aio_offset,
				       a.aio_reqprio, a.aio_sigevent.sigev_notify, ra, ea, sa, va, rb, eb, sb, vb);
		}
	}
	/* aio_suspend with garbage lists: never-submitted aiocbs, NULLs, nent <= 0. */
	{
		struct aiocb z;
		const struct aiocb *l[4] = { NULL, &z, NULL, NULL };

		memset(&z, 0, sizeof(z));
		CHECK(aio_suspend(l, 4, &(struct timespec){ 0, 1000 }) == 0 || errno == EAGAIN);
		CHECK(aio_suspend(l, 0, &(struct timespec){ 0, 1000 }) == 0 || errno == EAGAIN);
		CHECK(aio_suspend(l, -5, &(struct timespec){ 0, 1000 }) == 0 || errno == EAGAIN ||
		      errno == EINVAL);
		CHECK(aio_suspend(l, 1, &(struct timespec){ -1, -1 }) == 0 || errno == EINVAL);
		CHECK(lio_listio(77, (struct aiocb *const *)l, 1, NULL) == -1 && errno == EINVAL);
		CHECK(lio_listio(LIO_WAIT, (struct aiocb *const *)l, 0, NULL) == 0);
		CHECK(aio_cancel(-1, NULL) == -1 && errno == EBADF);
		CHECK(aio_cancel(123456, &z) == -1 && errno == EBADF);
	}
	printf("ok: %d fuzzed requests (%d aio_read, %d aio_write, %d aio_fsync, %d lio_listio), "
	       "%d signals; %d differ from glibc (printed above, at most 40)\n",
	       n, kinds[0], kinds[1], kinds[2], kinds[3], atomic_load(&fuzz_sigs), diffs);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s aio-max|nofile|aio-limit|close|twice|fuzz DIR [N]\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	require_shim();
	if (!strcmp(argv[1], "aio-max"))
		aio_max();
	else if (!strcmp(argv[1], "nofile"))
		nofile();
	else if (!strcmp(argv[1], "aio-limit"))
		aio_limit();
	else if (!strcmp(argv[1], "close"))
		close_inflight();
	else if (!strcmp(argv[1], "twice"))
		twice();
	else if (!strcmp(argv[1], "fuzz"))
		fuzz(argc > 3 ? atoi(argv[3]) : 2000);
	else
		FAIL("unknown scenario %s", argv[1]);
	return 0;
}
