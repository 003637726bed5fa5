#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The A/B table of tools/ioengine-bench --ab: new against base, run by run.

usage: ab.py RAW OUT.md BASE-DIR NEW-DIR

RAW is the A/B's raw.jsonl: each run of this project's code K times per
side (side=base|new, round=N), the two sides of a round back to back.
For every run (contender, workload, depth) the ratio new/base of each
round, of IOPS (requests per second for the socket runs; for the merge
benchmark its merged/unmerged ratio, which is the benchmark's own figure),
then the median and the range over the rounds. A contender's ratio to a
reference changes by exactly this factor: the reference is the same
program on both sides. Writes OUT.md and prints it; the last line counts
the medians below 0.95.
"""
import json
import statistics
import sys

LIMIT = 0.95


def value(r):
    if r.get("group") == "merge":
        return r["ratio"]
    if r.get("group") == "stream":
        return r["rps"]
    return r["iops"]


def key(r):
    if r.get("group") == "merge":
        return (r["contender"], r["op"], "merged/unmerged", 0)
    return (r["contender"], r["rw"], r["mode"], r["depth"])


def main(argv):
    raw, out, base_dir, new_dir = argv[1:5]
    rounds = {}
    for line in open(raw):
        r = json.loads(line)
        if not r.get("ok") or "side" not in r:
            continue
        rounds.setdefault(key(r), {}).setdefault(r["round"], {})[r["side"]] = value(r)
    lines = [f"# A/B: {new_dir} (new) against {base_dir} (base)", "",
             "new/base per round, back to back; median and range over the rounds.", "",
             "| contender | workload | mode | depth | rounds | median | range | base median | new median |",
             "|---|---|---|---|---|---|---|---|---|"]
    low = 0
    for k in sorted(rounds, key=str):
        pairs = [v for v in rounds[k].values() if "base" in v and "new" in v and v["base"] > 0]
        if not pairs:
            lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | 0 | | | | |")
            continue
        q = [v["new"] / v["base"] for v in pairs]
        med = statistics.median(q)
        flag = " **below 0.95**" if med < LIMIT else ""
        low += med < LIMIT
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {len(q)} | {med:.3f}{flag} | "
                     f"{min(q):.3f}–{max(q):.3f} | {statistics.median(v['base'] for v in pairs):.4g} | "
                     f"{statistics.median(v['new'] for v in pairs):.4g} |")
    lines += ["", f"{low} of {len(rounds)} medians below {LIMIT}"]
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
