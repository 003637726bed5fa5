# SPDX-License-Identifier: MIT
# The checks of rw_metrics.bats, on the files a program under the shim
# writes with --stats=STATS --metrics=PROM --stats-interval 1.
#
#   watch STATS PROM FIFO LINES [CMD [AFTER]]
#       While the program runs: read PROM over and over (each read must
#       parse with prometheus_client's parser and hold the complete set of
#       series) and STATS (only complete lines), until LINES periodic lines
#       exist (AFTER: a file that must exist first, and LINES counted after
#       it appeared) with counters that grow, then write CMD (default q)
#       into FIFO, which ends the program. Fails after 120 s. PROM "-":
#       only the lines.
#   final STATS PROM
#       After a normal exit: the last line is the exit summary, and PROM
#       holds the same values.
#   complete STATS PROM
#       After _exit() or a signal: every line and PROM complete.
import os
import re
import sys
import time

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIP: python3-prometheus-client is not installed (the metrics file's parser)")
    sys.exit(77)

FIELDS = ("pid backend routed_reads routed_writes routed_syncs read_bytes write_bytes fastpath_hits "
          "fastpath_bytes plain_syscalls shared_queue fallbacks peak_queue_depth merged_runs merged_requests "
          "p50_us p99_us").split()
INTERVAL = ("interval_s reads_per_s writes_per_s syncs_per_s read_bytes_per_s write_bytes_per_s "
            "fallbacks_per_s interval_p50_us interval_p99_us").split()
LINE = re.compile(r"ioengine: stats " + " ".join(f + r"=(\S+)" for f in FIELDS) +
                  "(?: " + " ".join(f + r"=(\S+)" for f in INTERVAL) + ")?\n")
# Every series the metrics file has, with its label sets, whatever the counts.
SERIES = {
    "ioengine_requests_total": 6,
    "ioengine_bytes_total": 2,
    "ioengine_fastpath_hits_total": 1,
    "ioengine_fastpath_bytes_total": 1,
    "ioengine_fallbacks_total": 4,
    "ioengine_queue_depth_peak": 1,
    "ioengine_merged_runs_total": 1,
    "ioengine_merged_requests_total": 1,
    "ioengine_request_duration_seconds_bucket": 13,
    "ioengine_request_duration_seconds_sum": 1,
    "ioengine_request_duration_seconds_count": 1,
}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def lines_of(path):
    """The summary lines of PATH as dicts; each must be complete."""
    try:
        text = open(path).read()
    except FileNotFoundError:
        return []
    out = []
    for raw in text.splitlines(keepends=True):
        m = LINE.fullmatch(raw)
        if not m:
            fail("incomplete or unknown line in %s: %r" % (path, raw))
        d = dict(zip(FIELDS + INTERVAL, m.groups()))
        d["periodic"] = d["interval_s"] is not None
        out.append(d)
    return out


def parse_prom(text):
    """{sample name: {frozen labels: value}} of a complete metrics file, or fail."""
    try:
        fams = list(text_string_to_metric_families(text))
    except Exception as e:  # noqa: BLE001: any parse error is the failure
        fail("metrics file does not parse (%s):\n%s" % (e, text))
    samples = {}
    for fam in fams:
        for s in fam.samples:
            samples.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    got = {k: len(v) for k, v in samples.items()}
    if got != SERIES:
        fail("metrics file has series %s, not %s:\n%s" % (got, SERIES, text))
    pids = {dict(k)["pid"] for v in samples.values() for k in v}
    if len(pids) != 1:
        fail("several pids in one metrics file: %s" % pids)
    buckets = sorted(((float(dict(k)["le"]), v) for k, v in samples["ioengine_request_duration_seconds_bucket"].items()))
    if buckets[-1][0] != float("inf") or [v for _, v in buckets] != sorted(v for _, v in buckets):
        fail("histogram buckets not cumulative up to +Inf: %s" % buckets)
    if buckets[-1][1] != total(samples, "ioengine_request_duration_seconds_count"):
        fail("+Inf bucket is not _count")
    return samples


def total(samples, name, **want):
    return sum(v for k, v in samples[name].items() if all(dict(k).get(a) == b for a, b in want.items()))


def read_prom(path):
    try:
        return open(path).read()
    except FileNotFoundError:
        return None


def watch(stats, prom, fifo, n, cmd="q", after=None):
    deadline = time.monotonic() + 120
    reads, versions, base = 0, set(), None
    last_routed = -1
    try:
        while time.monotonic() < deadline:
            time.sleep(0.002)   # not for timing: only not to take a whole CPU from the program
            text = read_prom(prom) if prom != "-" else None
            if text is not None:
                s = parse_prom(text)
                reads += 1
                versions.add(text)
                routed = total(s, "ioengine_requests_total")
                if routed < last_routed:
                    fail("metrics went backwards: %d after %d" % (routed, last_routed))
                last_routed = routed
            lines = [d for d in lines_of(stats) if d["periodic"]]
            if after and base is None:
                if not os.path.exists(after):
                    continue
                base = len(lines)
            new = lines[base or 0:]
            if len(new) >= n and (len(versions) >= 2 or prom == "-"):
                r = [int(d["routed_reads"]) + int(d["routed_writes"]) for d in lines]
                if any(b < a for a, b in zip(r, r[1:])) or r[-1] <= r[0]:
                    fail("counters do not grow from line to line: %s" % r)
                if sum(float(d["reads_per_s"]) for d in lines) <= 0:
                    fail("no reads in any interval: %s" % [d["reads_per_s"] for d in lines])
                print("%d periodic lines, metrics file read %d times, %d versions" % (len(lines), reads, len(versions)))
                return
        fail("after 120 s: %d periodic lines, %d metrics versions" % (len(lines_of(stats)), len(versions)))
    finally:
        # End the program whatever happened (ENXIO: it has no reader any more).
        try:
            w = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.write(w, cmd.encode())
            os.close(w)
        except OSError:
            pass


def same(summary, samples):
    """The summary line's values in the metrics file."""
    want = {
        "routed_reads": total(samples, "ioengine_requests_total", op="read"),
        "routed_writes": total(samples, "ioengine_requests_total", op="write"),
        "routed_syncs": total(samples, "ioengine_requests_total", op="sync"),
        "plain_syscalls": total(samples, "ioengine_requests_total", path="plain_syscall"),
        "shared_queue": total(samples, "ioengine_requests_total", path="shared_queue"),
        "read_bytes": total(samples, "ioengine_bytes_total", op="read"),
        "write_bytes": total(samples, "ioengine_bytes_total", op="write"),
        "fastpath_hits": total(samples, "ioengine_fastpath_hits_total"),
        "fastpath_bytes": total(samples, "ioengine_fastpath_bytes_total"),
        "fallbacks": total(samples, "ioengine_fallbacks_total"),
        "peak_queue_depth": total(samples, "ioengine_queue_depth_peak"),
        "merged_runs": total(samples, "ioengine_merged_runs_total"),
        "merged_requests": total(samples, "ioengine_merged_requests_total"),
    }
    for k, v in want.items():
        if int(summary[k]) != v:
            fail("%s=%s in the summary, %s in the metrics file" % (k, summary[k], v))
    labels = dict(next(iter(samples["ioengine_requests_total"])))
    if labels["pid"] != summary["pid"] or labels["backend"] != summary["backend"]:
        fail("labels %s do not match the summary %s" % (labels, summary))
    routed = int(summary["routed_reads"]) + int(summary["routed_writes"]) + int(summary["routed_syncs"])
    if total(samples, "ioengine_request_duration_seconds_count") != routed:
        fail("histogram count is not the routed calls")


def no_temp(prom):
    d = os.path.dirname(prom) or "."
    left = [f for f in os.listdir(d) if f.endswith(".tmp")]
    if left:
        fail("temporary files left behind: %s" % left)


def final(stats, prom):
    lines = lines_of(stats)
    if not lines or lines[-1]["periodic"]:
        fail("no exit summary last in %s" % stats)
    text = read_prom(prom)
    if text is None:
        fail("no metrics file")
    same(lines[-1], parse_prom(text))
    no_temp(prom)
    print("final: %s" % " ".join("%s=%s" % (k, lines[-1][k]) for k in ("routed_reads", "routed_writes", "plain_syscalls", "shared_queue")))


def complete(stats, prom):
    lines = lines_of(stats)
    if not lines or any(not d["periodic"] for d in lines):
        fail("expected periodic lines only (no exit summary)")
    text = read_prom(prom)
    if text is None:
        fail("no metrics file")
    parse_prom(text)
    print("%d complete periodic lines, metrics file complete" % len(lines))


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "watch":
        watch(args[0], args[1], args[2], int(args[3]), *args[4:])
    elif what == "final":
        final(*args)
    elif what == "complete":
        complete(*args)
    else:
        fail("unknown check " + what)
