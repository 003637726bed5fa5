#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compare the ratios of two sets of ioengine-bench reports (A/B).

usage: compare.py [--limit PCT] --base DIR [DIR...] --new DIR [DIR...]

Each DIR is an --out directory of tools/ioengine-bench (its results.json).
Run the two builds one after the other on the same machine, alternating
(base, new, base, new, ...): a single run drifts by more than the changes
to be seen. For every ratio a report gives (a contender against each
reference at the same depth, merged against unmerged), the median over
the base reports and over the new reports, and the change. Ratios, not
IOPS: the machine's drift between runs cancels within one run.

Exit status 1 if a median ratio dropped by more than PCT percent
(default 5), else 0.
"""
import argparse
import json
import os
import statistics
import sys


def ratios(outdir):
    """{cell: ratio} of one report; a cell names what the ratio compares."""
    with open(os.path.join(outdir, "results.json")) as f:
        runs = json.load(f)["runs"]
    out = {}
    for r in runs:
        if not r.get("ok"):
            continue
        if r.get("group") == "merge":
            out[(r["contender"], r["op"], "merged/unmerged", 0)] = r["ratio"]
            continue
        where = f'{r["rw"]} {r["mode"]}'
        for ref, v in r.get("vs", {}).items():
            out[(r["contender"], where, "/" + ref, r["depth"])] = v
    return out


def medians(dirs):
    seen = {}
    for d in dirs:
        for cell, v in ratios(d).items():
            seen.setdefault(cell, []).append(v)
    return {cell: statistics.median(vs) for cell, vs in seen.items()}, \
        {cell: len(vs) for cell, vs in seen.items()}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", nargs="+", required=True)
    ap.add_argument("--new", nargs="+", required=True)
    ap.add_argument("--limit", type=float, default=5.0)
    a = ap.parse_args(argv)
    base, nb = medians(a.base)
    new, nn = medians(a.new)
    drops = 0
    print(f"median ratios over {len(a.base)} base and {len(a.new)} new reports")
    print(f"{'contender':22} {'workload':18} {'ratio':18} {'QD':>3} {'base':>7} {'new':>7} {'change':>7}")
    for cell in sorted(set(base) | set(new), key=str):
        contender, where, ref, depth = cell
        b, n = base.get(cell), new.get(cell)
        if b is None or n is None:
            print(f"{contender:22} {where:18} {ref:18} {depth:>3} only in {'new' if b is None else 'base'}")
            continue
        change = (n / b - 1) * 100
        flag = ""
        if change < -a.limit:
            flag = f"  drop > {a.limit:g}%"
            drops += 1
        print(f"{contender:22} {where:18} {ref:18} {depth:>3} {b:7.2f} {n:7.2f} {change:+6.1f}%{flag}")
    print(f"{drops} median ratio(s) dropped by more than {a.limit:g}%")
    return 1 if drops else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
