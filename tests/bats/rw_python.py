# SPDX-License-Identifier: MIT
# os.pread/os.pwrite/os.preadv/os.pwritev round trips and error cases; prints
# one line per check so that runs with and without the shim can be compared.
import errno
import os
import socket
import sys
import zlib

d = sys.argv[1]
path = os.path.join(d, "py.dat")
out = []


def res(name, f):
    try:
        r = f()
    except OSError as e:
        r = "OSError " + errno.errorcode.get(e.errno, str(e.errno))
    if isinstance(r, (bytes, bytearray)):
        r = "%d bytes sha %08x" % (len(r), zlib.crc32(r))
    out.append("%s: %s" % (name, r))


fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
blob = bytes((i * 7 + i // 4096) & 0xff for i in range(1 << 20))
for i in range(64):
    res("pwrite %d" % i, lambda: os.pwrite(fd, blob[i * 16384:(i + 1) * 16384], i * 16384))
res("pread all", lambda: os.pread(fd, 1 << 20, 0) == blob)
for off in (0, 1, 4095, 4096, 65536 + 17, (1 << 20) - 10, 1 << 20, (1 << 20) + 100):
    res("pread 8192@%d" % off, lambda: os.pread(fd, 8192, off))
res("pread 0", lambda: os.pread(fd, 0, 0))
bufs = [bytearray(100), bytearray(5000), bytearray(3)]
res("preadv", lambda: os.preadv(fd, bufs, 123))
res("preadv data", lambda: b"".join(bufs) == blob[123:123 + 5103])
res("pwritev", lambda: os.pwritev(fd, [b"abc", b"", b"defgh" * 1000], 777))
res("pread after pwritev", lambda: os.pread(fd, 6000, 770))
res("pwrite extend", lambda: os.pwrite(fd, b"tail", (1 << 20) + 5000))
res("size", lambda: os.fstat(fd).st_size)
res("pread hole", lambda: os.pread(fd, 10000, (1 << 20) - 100))
res("pread neg", lambda: os.pread(fd, 10, -1))
res("pwrite neg", lambda: os.pwrite(fd, b"x", -5))
res("preadv neg", lambda: os.preadv(fd, [bytearray(10)], -1))
for i in range(200):
    os.pread(fd, 4096, (i * 37 % 256) * 4096)
res("random reads done", lambda: True)

ro = os.open(path, os.O_RDONLY)
res("pwrite ro", lambda: os.pwrite(ro, b"x", 0))
res("pread ro", lambda: os.pread(ro, 5, 777))
os.close(ro)
wo = os.open(path, os.O_WRONLY)
res("pread wo", lambda: os.pread(wo, 5, 0))
os.close(wo)
ap = os.open(path, os.O_RDWR | os.O_APPEND)
res("pwrite append", lambda: os.pwrite(ap, b"APPENDED", 0))
res("append landed", lambda: os.pread(ap, 20, os.fstat(ap).st_size - 20))
res("start untouched", lambda: os.pread(ap, 8, 0))
os.close(ap)
r, w = os.pipe()
res("pread pipe", lambda: os.pread(r, 5, 0))
res("pwrite pipe", lambda: os.pwrite(w, b"x", 0))
s1, s2 = socket.socketpair()
res("pread socket", lambda: os.pread(s1.fileno(), 5, 0))
res("pread dir", lambda: os.pread(os.open(d, os.O_RDONLY), 5, 0))
res("pread badfd", lambda: os.pread(9999, 5, 0))
res("pwrite badfd", lambda: os.pwrite(9999, b"x", 0))
res("final", lambda: os.pread(fd, 2 << 20, 0))
os.close(fd)
print("\n".join(out))
