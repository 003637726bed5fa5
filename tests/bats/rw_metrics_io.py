# SPDX-License-Identifier: MIT
# Runs under the shim (rw_metrics.bats): os.pwrite() and os.pread() on a
# file until the test writes a command into the FIFO:
#   q  return (a normal exit: the destructor writes the exit summary)
#   _  os._exit(0) (no destructor)
# With "fork" the program forks after its first IO; the child does IO, writes
# the names of its threads to CHILD_THREADS, and exits normally when the
# parent does (the parent closes a pipe). "threads" prints the program's own
# thread names after its first IO, and exits.
import os
import sys

data, fifo, mode = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""


def thread_names():
    return sorted(open("/proc/self/task/%s/comm" % t).read().strip() for t in os.listdir("/proc/self/task"))


def some_io(fd, n):
    for i in range(n):
        os.pwrite(fd, b"w" * 4096, (i % 16) * 4096)
        if len(os.pread(fd, 4096, (i % 16) * 4096)) != 4096:
            sys.exit("short read")


ctl = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
fd = os.open(data, os.O_RDWR | os.O_CREAT, 0o600)
some_io(fd, 16)
if mode == "threads":
    print(" ".join(thread_names()), flush=True)
    sys.exit(0)
child, keep = 0, None
if mode == "fork":
    r, keep = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(keep)
        some_io(fd, 64)
        with open(sys.argv[4] + ".tmp", "w") as f:
            f.write(" ".join(thread_names()) + "\n")
        os.rename(sys.argv[4] + ".tmp", sys.argv[4])
        os.read(r, 1)   # EOF when the parent closes its end
        sys.exit(0)
    os.close(r)
while True:
    some_io(fd, 64)
    try:
        cmd = os.read(ctl, 1)
    except BlockingIOError:
        continue
    if cmd == b"q":
        break
    if cmd == b"_":
        os._exit(0)
if child:
    os.close(keep)
    os.waitpid(child, 0)
