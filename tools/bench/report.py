#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helper of tools/ioengine-bench: parses each run's output into one JSON
line of raw.jsonl, and turns raw.jsonl into the report (report.md,
results.json, results.csv, iops_vs_depth.svg, latency_cdf.svg).

  report.py fio RAW KEY=VAL...      fio --output-format=json on stdin
  report.py engine RAW KEY=VAL...   ioengine-benchmark output on stdin
  report.py merge RAW KEY=VAL...    ioengine-bench-merge output on stdin
  report.py stream RAW KEY=VAL...   ioengine-bench-stream output on stdin
  report.py fail RAW KEY=VAL...     a run that failed (stderr tail on stdin)
  report.py syscalls RAW KEY=VAL... FEW MANY
                                    system calls per request from two strace -c
                                    summaries (files), of few= and many= requests
  report.py report RAW META OUTDIR  write the report

KEY=VAL pairs describe the run (contender, rw, mode, depth, jobs, stats=FILE
for a shim stats summary to attach). Python standard library only.
"""
import csv
import json
import math
import sys
from xml.sax.saxutils import escape

# The percentiles asked from fio (--percentile_list) and printed by
# ioengine-benchmark's PCTL line: the points of the latency CDF.
PCT_LIST = [1, 5, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 99, 99.5, 99.9, 99.99]

# Every contender, in table order: name, group, description, references
# (the ratio columns), and whether it is itself a reference (dashed line).
CONTENDERS = [
    ("engine-uring", "engine", "libioengine, io_uring driver (ioengine-benchmark)",
     ["fio-io_uring"], False),
    ("engine-aio", "engine", "libioengine, Linux AIO driver (ioengine-benchmark)",
     ["fio-io_uring", "fio-libaio"], False),
    ("fio-io_uring", "engine", "fio ioengine=io_uring (reference)", [], True),
    ("fio-libaio", "engine", "fio ioengine=libaio (reference)", ["fio-io_uring"], True),
    ("posixaio-glibc", "posixaio", "fio ioengine=posixaio, glibc's POSIX AIO (reference)",
     ["fio-io_uring"], True),
    ("posixaio-shim-uring", "posixaio", "fio ioengine=posixaio under the shim, io_uring",
     ["fio-io_uring", "posixaio-glibc"], False),
    ("posixaio-shim-aio", "posixaio", "fio ioengine=posixaio under the shim, Linux AIO",
     ["fio-io_uring", "posixaio-glibc"], False),
    ("posixaio-shim-uring-nomerge", "posixaio", "the same, io_uring, IOENGINE_MERGE=0",
     ["fio-io_uring", "posixaio-shim-uring"], False),
    ("posixaio-shim-aio-nomerge", "posixaio", "the same, Linux AIO, IOENGINE_MERGE=0",
     ["fio-io_uring", "posixaio-shim-aio"], False),
    ("psync-native", "psync", "fio ioengine=psync, plain pread/pwrite (reference)", [], True),
    ("psync-shim", "psync", "fio ioengine=psync under the shim, fast path on",
     ["psync-native"], False),
    ("psync-shim-nofast", "psync", "fio ioengine=psync under the shim, fast path off",
     ["psync-native"], False),
]
CINFO = {c[0]: c for c in CONTENDERS}
COLORS = {
    "engine-uring": "#d62728", "engine-aio": "#ff7f0e", "fio-io_uring": "#1f77b4",
    "fio-libaio": "#17becf", "posixaio-glibc": "#7f7f7f", "posixaio-shim-uring": "#9467bd",
    "posixaio-shim-aio": "#e377c2", "psync-native": "#2ca02c", "psync-shim": "#8c564b",
    "psync-shim-nofast": "#bcbd22", "posixaio-shim-uring-nomerge": "#c5b0d5",
    "posixaio-shim-aio-nomerge": "#f7b6d2",
}
# read and write: sequential (what the engine merges), O_DIRECT only.
SECTIONS = [("randread", "hot"), ("randread", "direct"), ("randwrite", "hot"),
            ("randwrite", "direct"), ("read", "direct"), ("write", "direct")]
MODE_NAME = {"hot": "page cache hot", "direct": "O_DIRECT"}


def kv_args(args):
    out = {}
    for a in args:
        k, _, v = a.partition("=")
        out[k] = v
    for k in ("depth", "jobs"):
        if k in out:
            out[k] = int(out[k])
    return out


def shim_stats(path):
    """The last 'ioengine: stats' line of a stats file, as a dict."""
    try:
        lines = [l for l in open(path) if l.startswith("ioengine: stats ")]
    except OSError:
        return None
    if not lines:
        return None
    d = {}
    for f in lines[-1].split()[2:]:
        k, _, v = f.partition("=")
        try:
            d[k] = int(v) if v.isdigit() else float(v)
        except ValueError:
            d[k] = v
    return d


def append(raw, rec):
    if "stats" in rec:
        st = shim_stats(rec.pop("stats"))
        if st:
            rec["shim_stats"] = st
    with open(raw, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def parse_fio(text, rec):
    # fio may print notes before the JSON document.
    doc = json.loads(text[text.index("{"):])
    jobs = doc["jobs"]
    job = jobs[0]                       # --group_reporting: one entry
    d = job["write" if rec["rw"] in ("randwrite", "write") else "read"]
    lat = d.get("lat_ns", {}).get("percentile") or d["clat_ns"]["percentile"]
    pct = {float(k): v / 1e3 for k, v in lat.items()}
    rec.update(ok=True, iops=d["iops"], cpu_pct=job["usr_cpu"] + job["sys_cpu"],
               pct=sorted(pct.items()), p50_us=pct.get(50.0), p99_us=pct.get(99.0),
               fio_version=doc.get("fio version"), errors=job.get("error", 0))
    if d["iops"] <= 0:
        rec["ok"] = False
    return rec


def parse_engine(text, rec):
    res = pct = None
    for line in text.splitlines():
        if line.startswith("RESULT "):
            res = dict(f.split("=", 1) for f in line.split()[1:])
        elif line.startswith("PCTL "):
            pct = [(float(k), float(v)) for k, v in (f.split("=") for f in line.split()[1:])]
    if not res:
        raise ValueError("no RESULT line")
    rec.update(ok=True, iops=float(res["iops"]), p50_us=float(res["p50_us"]),
               p99_us=float(res["p99_us"]), cpu_pct=float(res["cpu_pct"]),
               backend=res["backend"], pct=pct or [])
    return rec


def parse_merge(text, rec, raw):
    n = 0
    for line in text.splitlines():
        if not line.startswith("RESULT merge "):
            continue
        f = dict(x.split("=", 1) for x in line.split()[2:])
        r = dict(rec, ok=True, group="merge", backend=f["backend"], op=f["op"],
                 unmerged_iops=float(f["unmerged_iops"]), merged_iops=float(f["merged_iops"]),
                 ratio=float(f["ratio"]), take_iops=float(f.get("take_merged_iops", 0)),
                 take_ratio=float(f.get("take_ratio", 0)))
        r["contender"] = "merge-" + ("uring" if f["backend"] == "io_uring" else f["backend"])
        append(raw, r)
        n += 1
    if not n:
        append(raw, dict(rec, ok=False, group="merge", contender="merge",
                         error=text.strip().splitlines()[-1:] or ["no output"]))


def parse_stream(text, rec):
    for line in text.splitlines():
        if line.startswith("RESULT stream "):
            f = dict(x.split("=", 1) for x in line.split()[2:])
            rec.update(ok=True, group="stream", kind=f["kind"], conns=int(f["conns"]),
                       size=int(f["size"]), requests=int(f["requests"]), rps=float(f["rps"]),
                       threads_start=int(f["threads_start"]), threads_peak=int(f["threads_peak"]))
            return rec
    raise ValueError("no RESULT stream line")


def strace_counts(path):
    """{syscall: calls} of an strace -c summary."""
    counts = {}
    for line in open(path):
        f = line.split()
        # "% time seconds usecs/call calls [errors] syscall"
        if len(f) < 5 or not f[0][0].isdigit() or f[-1] == "total":
            continue
        counts[f[-1]] = counts.get(f[-1], 0) + int(f[3])
    return counts


def parse_syscalls(rec, few_path, many_path):
    few, many = strace_counts(few_path), strace_counts(many_path)
    n = int(rec.pop("many")) - int(rec.pop("few"))
    per = {k: (many.get(k, 0) - few.get(k, 0)) / n for k in set(few) | set(many)}
    per = {k: v for k, v in per.items() if v >= 0.05}
    rec.update(ok=True, group="syscalls", per_request=sum(per.values()),
               calls=dict(sorted(per.items(), key=lambda kv: -kv[1])))
    return rec


def load(raw):
    recs = []
    for line in open(raw):
        line = line.strip()
        if line:
            recs.append(json.loads(line))
    return recs


# ---------------------------------------------------------------- formatting

def fmt_iops(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def fmt_tick(v):
    if v >= 1e6:
        return "%gM" % (v / 1e6)
    if v >= 1e4:
        return "%gk" % (v / 1e3)
    return "%g" % v


def fmt_us(v):
    if v is None:
        return "n/a"
    if v >= 1000:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def index(recs):
    """(contender, rw, mode, depth) -> record, for the IO runs."""
    idx = {}
    for r in recs:
        if r.get("group") in ("engine", "psync", "posixaio"):
            idx[r["contender"], r["rw"], r["mode"], r["depth"]] = r
    return idx


def ratios(idx, r):
    """[(reference, ratio or None)] for a record."""
    out = []
    for ref in CINFO[r["contender"]][3]:
        o = idx.get((ref, r["rw"], r["mode"], r["depth"]))
        if r.get("ok") and o and o.get("ok") and o["iops"] > 0:
            out.append((ref, r["iops"] / o["iops"]))
        else:
            out.append((ref, None))
    return out


def fmt_ratios(rs):
    return "; ".join("%s× %s" % ("%.2f" % v if v is not None else "n/a", ref) for ref, v in rs) or "—"


# ---------------------------------------------------------------- SVG

class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.items = w, h, []

    def add(self, s):
        self.items.append(s)

    def line(self, x1, y1, x2, y2, color="#000", width=1, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>'
                 % (x1, y1, x2, y2, color, width, d))

    def text(self, x, y, s, size=12, anchor="start", weight="normal", rotate=None, color="#000"):
        t = ' transform="rotate(%d %.1f %.1f)"' % (rotate, x, y) if rotate else ""
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" '
                 'fill="%s"%s>%s</text>' % (x, y, size, anchor, weight, color, t, escape(str(s))))

    def polyline(self, pts, color, width=2, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<polyline fill="none" stroke="%s" stroke-width="%s"%s points="%s"/>'
                 % (color, width, d, " ".join("%.1f,%.1f" % p for p in pts)))

    def marker(self, x, y, color, hollow=False, r=3.5):
        fill = "#fff" if hollow else color
        self.add('<circle cx="%.1f" cy="%.1f" r="%s" fill="%s" stroke="%s" stroke-width="1.5"/>'
                 % (x, y, r, fill, color))

    def write(self, path, title):
        with open(path, "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'viewBox="0 0 %d %d" font-family="sans-serif">\n' % (self.w, self.h, self.w, self.h))
            f.write("<title>%s</title>\n" % escape(title))
            f.write('<rect width="100%" height="100%" fill="#fff"/>\n')
            for s in self.items:
                f.write(s + "\n")
            f.write("</svg>\n")


def nice_ticks(hi, n=5):
    """0 .. >= hi in about n steps of 1, 2 or 5 x 10^k."""
    if hi <= 0:
        hi = 1
    raw = hi / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks = [0.0]
    while ticks[-1] < hi:
        ticks.append(ticks[-1] + step)
    return ticks


class Panel:
    """A plot area at (x, y) of size (w, h) with its axes."""

    def __init__(self, svg, x, y, w, h, title):
        self.svg, self.x, self.y, self.w, self.h = svg, x, y, w, h
        svg.text(x + w / 2, y - 10, title, size=14, anchor="middle", weight="bold")

    def frame(self, xticks, yticks, xlabel, ylabel, xfmt, yfmt, xmap, ymap):
        s = self.svg
        self.xmap, self.ymap = xmap, ymap
        for t in yticks:
            py = ymap(t)
            s.line(self.x, py, self.x + self.w, py, color="#ddd")
            s.text(self.x - 6, py + 4, yfmt(t), size=11, anchor="end")
        for t in xticks:
            px = xmap(t)
            s.line(px, self.y, px, self.y + self.h, color="#eee")
            s.text(px, self.y + self.h + 16, xfmt(t), size=11, anchor="middle")
        s.line(self.x, self.y + self.h, self.x + self.w, self.y + self.h, width=1.5)
        s.line(self.x, self.y, self.x, self.y + self.h, width=1.5)
        s.text(self.x + self.w / 2, self.y + self.h + 36, xlabel, size=12, anchor="middle")
        s.text(self.x - 52, self.y + self.h / 2, ylabel, size=12, anchor="middle", rotate=-90)

    def series(self, pts, name, r=3.5):
        ref = CINFO[name][4]
        color = COLORS[name]
        xy = [(self.xmap(a), self.ymap(b)) for a, b in pts]
        if len(xy) > 1:
            self.svg.polyline(xy, color, dash="6,4" if ref else None)
        for px, py in xy:
            self.svg.marker(px, py, color, hollow=ref, r=r)


def legend(svg, x, y, names):
    svg.text(x, y, "contender", size=13, weight="bold")
    for i, n in enumerate(names):
        yy = y + 22 + i * 20
        ref = CINFO[n][4]
        svg.line(x, yy - 4, x + 28, yy - 4, color=COLORS[n], width=2, dash="6,4" if ref else None)
        svg.marker(x + 14, yy - 4, COLORS[n], hollow=ref)
        svg.text(x + 36, yy, n, size=12)
    svg.text(x, y + 22 + len(names) * 20 + 6, "dashed, hollow: reference", size=11, color="#555")


def grid_layout(n):
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    return cols, rows


def plot_iops(idx, recs, meta, path):
    sections = [s for s in SECTIONS if any(k[1:3] == s for k in idx)]
    names = [c[0] for c in CONTENDERS if any(k[0] == c[0] for k in idx)]
    depths = sorted({k[3] for k in idx})
    cols, rows = grid_layout(max(1, len(sections)))
    pw, ph, left, top, gx, gy = 440, 260, 90, 70, 110, 110
    svg = Svg(left + cols * pw + (cols - 1) * gx + 250, top + rows * (ph + gy))
    svg.text(20, 28, "4 KiB random IO: IOPS against queue depth (%s)" % meta.get("title", ""),
             size=16, weight="bold")
    lo, hi = math.log2(min(depths)), math.log2(max(depths))
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    for i, (rw, mode) in enumerate(sections):
        c, r = i % cols, i // cols
        x, y = left + c * (pw + gx), top + 20 + r * (ph + gy)
        p = Panel(svg, x, y, pw, ph, "%s, %s" % (rw, MODE_NAME[mode]))
        vals = [v["iops"] for k, v in idx.items() if k[1:3] == (rw, mode) and v.get("ok")]
        yt = nice_ticks(max(vals) if vals else 1)
        p.frame(depths, yt, "queue depth (psync: jobs)", "IOPS", lambda t: "%d" % t, fmt_iops,
                lambda t: x + 10 + (math.log2(t) - lo) / (hi - lo) * (pw - 20),
                lambda t: y + ph - t / yt[-1] * ph)
        for n in names:
            pts = [(d, idx[n, rw, mode, d]["iops"]) for d in depths
                   if (n, rw, mode, d) in idx and idx[n, rw, mode, d].get("ok")]
            if pts:
                p.series(pts, n)
    legend(svg, left + cols * pw + (cols - 1) * gx + 30, top + 20, names)
    svg.write(path, "IOPS against queue depth")


def plot_cdf(idx, meta, path, depth):
    sections = [s for s in SECTIONS if any(k[1:3] == s and k[3] == depth for k in idx)]
    names = [c[0] for c in CONTENDERS
             if any(k[0] == c[0] and k[3] == depth and idx[k].get("pct") for k in idx)]
    cols, rows = grid_layout(max(1, len(sections)))
    pw, ph, left, top, gx, gy = 440, 260, 90, 70, 110, 110
    svg = Svg(left + cols * pw + (cols - 1) * gx + 250, top + rows * (ph + gy))
    svg.text(20, 28, "Latency CDF at queue depth %d (%s)" % (depth, meta.get("title", "")),
             size=16, weight="bold")
    for i, (rw, mode) in enumerate(sections):
        c, r = i % cols, i // cols
        x, y = left + c * (pw + gx), top + 20 + r * (ph + gy)
        p = Panel(svg, x, y, pw, ph, "%s, %s, QD%d" % (rw, MODE_NAME[mode], depth))
        lats = [l for n in names for (pc, l) in (idx.get((n, rw, mode, depth)) or {}).get("pct", [])
                if l > 0 and (idx.get((n, rw, mode, depth)) or {}).get("ok")]
        if not lats:
            lats = [1, 10]
        d0 = math.floor(math.log10(min(lats)))
        d1 = math.ceil(math.log10(max(lats)))
        if d1 == d0:
            d1 += 1
        xt = [10.0 ** e for e in range(d0, d1 + 1)]
        p.frame(xt, [0, 20, 40, 60, 80, 100], "latency (µs, log scale)", "percentile",
                fmt_tick, lambda t: "%d%%" % t,
                lambda t: x + (math.log10(t) - d0) / (d1 - d0) * pw,
                lambda t: y + ph - t / 100 * ph)
        for n in names:
            rec = idx.get((n, rw, mode, depth))
            if rec and rec.get("ok") and rec.get("pct"):
                p.series([(l, pc) for pc, l in rec["pct"] if l > 0], n, r=2)
    legend(svg, left + cols * pw + (cols - 1) * gx + 30, top + 20, names)
    svg.write(path, "Latency CDF at queue depth %d" % depth)


# ---------------------------------------------------------------- report

def report(raw, metapath, outdir):
    recs = load(raw)
    meta = json.load(open(metapath))
    idx = index(recs)
    depths = sorted({k[3] for k in idx})
    cdf_depth = 32 if 32 in depths else max((d for d in depths), default=1)
    head = 32 if 32 in depths else max(depths, default=1)
    md = []
    w = md.append
    w("# libioengine benchmark report")
    w("")
    w("| | |")
    w("|---|---|")
    for k, label in (("date", "date"), ("mode", "mode"), ("machine", "machine"),
                     ("cpu", "CPU"), ("kernel", "kernel"), ("backends", "backends"),
                     ("fio", "fio"), ("commit", "commit"), ("file", "test file"),
                     ("runtime", "per run"), ("load", "load average (start → end)"),
                     ("duration", "duration")):
        if meta.get(k):
            w("| %s | %s |" % (label, meta[k]))
    w("")
    w("4 KiB random IO on one file, every contender on the same file in the same run, "
      "each cell one run. *hot*: page cache, file read first, fio `--invalidate=0`; "
      "*O_DIRECT*: `--direct=1`. Latency is per IO, submission to completion "
      "(fio `lat_ns` percentiles; ioengine-benchmark measures the same). "
      "psync is synchronous: its \"queue depth\" is the number of jobs (threads). "
      "Ratios are IOPS against the reference at the same depth. The machine may be "
      "shared: absolute numbers drift from run to run, ratios between contenders of "
      "the same run hold better.")
    w("")
    failed = [r for r in recs if not r.get("ok")]

    def cell(r, refs=True):
        if not r:
            return "—"
        if not r.get("ok"):
            return "failed"
        s = fmt_iops(r["iops"])
        rs = [(ref, v) for ref, v in ratios(idx, r) if v is not None]
        if refs and rs:
            s += " (" + ", ".join("%.2f× %s" % (v, ref) for ref, v in rs) + ")"
        return s

    secs = [s for s in SECTIONS if any(k[1:3] == s for k in idx)]
    w("## Summary at queue depth %d" % head)
    w("")
    w("| contender | " + " | ".join("%s %s" % (rw, MODE_NAME[m]) for rw, m in secs) + " |")
    w("|---|" + "---|" * len(secs))
    for c in CONTENDERS:
        if c[1] == "psync":
            continue
        if not any(k[0] == c[0] for k in idx):
            continue
        w("| %s | " % c[0] + " | ".join(cell(idx.get((c[0], rw, m, head))) for rw, m in secs) + " |")
    w("")
    if any(k[0].startswith("psync") for k in idx):
        w("## Summary: psync (synchronous pread/pwrite), 1 job")
        w("")
        w("| contender | " + " | ".join("%s %s" % (rw, MODE_NAME[m]) for rw, m in secs) + " |")
        w("|---|" + "---|" * len(secs))
        for c in CONTENDERS:
            if c[1] != "psync" or not any(k[0] == c[0] for k in idx):
                continue
            cells = []
            for rw, m in secs:
                r = idx.get((c[0], rw, m, 1))
                s = cell(r)
                if r and r.get("ok") and c[0] != "psync-native":
                    nat = idx.get(("psync-native", rw, m, 1))
                    if nat and nat.get("ok") and r.get("p50_us") and nat.get("p50_us"):
                        s += ", p50 %+.1f µs" % (r["p50_us"] - nat["p50_us"])
                cells.append(s)
            w("| %s | " % c[0] + " | ".join(cells) + " |")
        w("")
    merges = [r for r in recs if r.get("group") == "merge"]
    if merges:
        w("## Merge: 4 KiB sequential O_DIRECT, merged into IOs up to 128 KiB (ioengine-bench-merge)")
        w("")
        w("ioe_merger: the public merger; engine take: plain events that the engine merges as it takes "
          "them from its queues (IOENGINE_MERGE).")
        w("")
        w("| contender | op | unmerged IOPS | ioe_merger IOPS | ioe_merger/unmerged | engine take IOPS "
          "| engine take/unmerged |")
        w("|---|---|---|---|---|---|---|")
        for r in merges:
            if r.get("ok"):
                w("| %s | %s | %s | %s | %.2f× | %s | %.2f× |" % (
                    r["contender"], r["op"], fmt_iops(r["unmerged_iops"]), fmt_iops(r["merged_iops"]),
                    r["ratio"], fmt_iops(r.get("take_iops")), r.get("take_ratio", 0)))
            else:
                w("| %s | — | failed | failed | — | failed | — |" % r["contender"])
        w("")
    streams = [r for r in recs if r.get("group") == "stream"]
    if streams:
        glibc = next((r for r in streams if r["contender"] == "stream-glibc" and r.get("ok")), None)
        w("## POSIX AIO on sockets: one aio_read outstanding per connection (ioengine-bench-stream)")
        w("")
        w("Socketpairs, each with one `aio_read` of 64 bytes outstanding; in rounds the "
          "program writes a message to every connection, then waits in `aio_suspend` "
          "until every read is done and submitted again. glibc's helper threads each "
          "wait in `read()` for one connection; under the shim on io_uring the reads "
          "wait in the kernel; with `IOENGINE_BACKEND=aio` they go to glibc. Threads: "
          "the process's tasks at the start and at the peak.")
        w("")
        w("| contender | connections | requests/s | vs glibc | threads (start → peak) |")
        w("|---|---|---|---|---|")
        for r in streams:
            if not r.get("ok"):
                w("| %s | %s | failed | | %s |" % (r["contender"], r.get("depth", ""), r.get("error", "")))
                continue
            vs = "%.2f×" % (r["rps"] / glibc["rps"]) if glibc and glibc["rps"] > 0 else "—"
            w("| %s | %d | %s | %s | %d → %d |" % (r["contender"], r["conns"], fmt_iops(r["rps"]), vs,
                                                r["threads_start"], r["threads_peak"]))
        w("")
    scs = [r for r in recs if r.get("group") == "syscalls"]
    if scs:
        w("## System calls per request (strace -f -c, all threads)")
        w("")
        w("The same fio job with two request counts; the difference in calls over the "
          "difference in requests leaves start-up and exit out. *cold*: buffered, the "
          "file's pages dropped first (fio `--invalidate=1`). strace slows the traced "
          "threads: a POSIX AIO request is then often done before `aio_suspend()` "
          "sleeps, so its counts are not those of an untraced run (docs/performance.md "
          "gives counts from `perf stat` tracepoints).")
        w("")
        w("| contender | workload | QD | per request | the calls |")
        w("|---|---|---|---|---|")
        for r in scs:
            calls = ", ".join("%s %.2f" % kv for kv in r["calls"].items())
            w("| %s | %s %s | %d | %.2f | %s |" % (r["contender"], r["rw"], r["mode"], r["depth"],
                                                  r["per_request"], calls))
        w("")
    w("## All runs")
    w("")
    for rw, m in secs:
        w("### %s, %s" % (rw, MODE_NAME[m]))
        w("")
        w("| contender | QD | IOPS | p50 µs | p99 µs | CPU % | vs reference |")
        w("|---|---|---|---|---|---|---|")
        for d in depths:
            for c in CONTENDERS:
                r = idx.get((c[0], rw, m, d))
                if not r:
                    continue
                if not r.get("ok"):
                    w("| %s | %d | failed | | | | %s |" % (c[0], d, r.get("error", "")))
                    continue
                w("| %s | %d | %.0f | %s | %s | %.0f | %s |" % (
                    c[0], d, r["iops"], fmt_us(r.get("p50_us")), fmt_us(r.get("p99_us")),
                    r.get("cpu_pct") or 0, fmt_ratios(ratios(idx, r))))
        w("")
    shim_runs = [r for r in recs if r.get("shim_stats")]
    if shim_runs:
        w("## Shim activity (IOENGINE_STATS of each shim run)")
        w("")
        w("Proof that the calls went where they should: routed through the engine, "
          "or served by the fast path (buffered reads that hit the page cache).")
        w("")
        w("| contender | rw | mode | QD | backend | routed reads | routed writes | fast path hits "
          "| fallbacks | peak queue depth | merged IOs (requests) | routed p50 µs |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in shim_runs:
            st = r["shim_stats"]
            routed = (st.get("routed_reads") or 0) + (st.get("routed_writes") or 0)
            w("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s (%s) | %s |" % (
                r["contender"], r["rw"], r["mode"], r["depth"], st.get("backend"),
                st.get("routed_reads"), st.get("routed_writes"), st.get("fastpath_hits"),
                st.get("fallbacks"), st.get("peak_queue_depth"), st.get("merged_runs", "—"),
                st.get("merged_requests", "—"), st.get("p50_us") if routed else "—"))
        w("")
    w("## Contenders")
    w("")
    for c in CONTENDERS:
        if any(k[0] == c[0] for k in idx):
            w("- `%s`: %s%s" % (c[0], c[2],
                               "; ratios against " + ", ".join(c[3]) if c[3] else ""))
    w("")
    if failed:
        w("## Failed runs")
        w("")
        for r in failed:
            w("- %s %s %s QD%s: %s" % (r.get("contender"), r.get("rw", ""), r.get("mode", ""),
                                      r.get("depth", ""), r.get("error", "")))
        w("")
    w("Plots: [IOPS against queue depth](iops_vs_depth.svg), "
      "[latency CDF at QD%d](latency_cdf.svg). Raw numbers: results.json, results.csv." % cdf_depth)
    w("")
    w("Reproduce: `%s`" % meta.get("command", "tools/ioengine-bench"))
    with open(outdir + "/report.md", "w") as f:
        f.write("\n".join(md) + "\n")

    for r in recs:
        if r.get("group") in ("engine", "psync", "posixaio"):
            r["vs"] = {ref: v for ref, v in ratios(idx, r)}
    with open(outdir + "/results.json", "w") as f:
        json.dump({"meta": meta, "runs": recs}, f, indent=1, sort_keys=True)
    cols = ["contender", "group", "rw", "mode", "depth", "jobs", "ok", "iops", "p50_us", "p99_us",
            "cpu_pct", "ratio_1", "ref_1", "ratio_2", "ref_2"]
    with open(outdir + "/results.csv", "w", newline="") as f:
        cw = csv.writer(f)
        cw.writerow(cols)
        for r in recs:
            if r.get("group") in ("merge", "syscalls", "stream"):
                continue
            rs = ratios(idx, r) if r.get("contender") in CINFO else []
            row = [r.get(k, "") for k in cols[:11]]
            for i in range(2):
                if i < len(rs):
                    row += ["%.4f" % rs[i][1] if rs[i][1] is not None else "", rs[i][0]]
                else:
                    row += ["", ""]
            cw.writerow(row)
        for r in merges:
            if r.get("ok"):
                cw.writerow([r["contender"], "merge", "seq" + r["op"], "direct", "", "", True,
                             r["merged_iops"], "", "", "", "%.4f" % r["ratio"], "unmerged", "", ""])
    plot_iops(idx, recs, meta, outdir + "/iops_vs_depth.svg")
    plot_cdf(idx, meta, outdir + "/latency_cdf.svg", cdf_depth)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, raw = argv[1], argv[2]
    if cmd == "report":
        report(raw, argv[3], argv[4])
        return
    if cmd == "syscalls":
        kv = [a for a in argv[3:] if "=" in a]
        files = [a for a in argv[3:] if "=" not in a]
        append(raw, parse_syscalls(kv_args(kv), files[0], files[1]))
        return
    rec = kv_args(argv[3:])
    text = sys.stdin.read()
    try:
        if cmd == "fio":
            append(raw, parse_fio(text, rec))
        elif cmd == "engine":
            append(raw, parse_engine(text, rec))
        elif cmd == "merge":
            parse_merge(text, rec, raw)
        elif cmd == "stream":
            append(raw, parse_stream(text, rec))
        elif cmd == "fail":
            tail = [l for l in text.strip().splitlines() if l.strip()][-1:]
            append(raw, dict(rec, ok=False, error=tail[0][:200] if tail else "failed"))
        else:
            sys.exit("report.py: unknown command " + cmd)
    except (ValueError, KeyError, IndexError) as e:
        tail = [l for l in text.strip().splitlines() if l.strip()][-1:]
        append(raw, dict(rec, ok=False, error="%s: %s" % (type(e).__name__, tail[0][:200] if tail else e)))


if __name__ == "__main__":
    main(sys.argv)
