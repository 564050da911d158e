#!/usr/bin/env python3
"""Runs `uswap sim` on every trace of DIRs at 10/25/50% of the footprint and
prints the Markdown tables of doc/policies.md: miss ratio / OPT per policy
(every reference seen), then, in faults mode, ratio / OPT, minor faults per
reference and estimated time per policy.

usage: table.py USWAP DIR...   (traces: *.txt text, *.u32[.zst], *.u64[.zst])
"""
import glob
import json
import os
import subprocess
import sys

CACHES = ("10%", "25%", "50%")


def traces(dirs):
    out = []
    for d in dirs:
        for p in sorted(glob.glob(os.path.join(d, "*"))):
            name = os.path.basename(p)
            fmt = "u32" if ".u32" in name else "u64" if ".u64" in name else "text" if name.endswith(".txt") else None
            if fmt:
                out.append((name.split(".")[0], p, fmt))
    return out


def sim(uswap, path, fmt, cache, observe):
    cat = ["zstd", "-dcq", path] if path.endswith(".zst") else ["cat", path]
    src = subprocess.Popen(cat, stdout=subprocess.PIPE)
    res = subprocess.run([uswap, "sim", "--trace", "-", "--format", fmt, "--cache", cache,
                          "--observe", observe, "--json"], stdin=src.stdout, capture_output=True,
                         text=True, check=True)
    src.wait()
    return [json.loads(line) for line in res.stdout.splitlines()]


def main():
    uswap, dirs = sys.argv[1], sys.argv[2:]
    rows = {}
    for name, path, fmt in traces(dirs):
        for cache in CACHES:
            for observe in ("all", "faults"):
                rows[(name, cache, observe)] = sim(uswap, path, fmt, cache, observe)
    names = sorted({k[0] for k in rows}, key=lambda n: [t[0] for t in traces(dirs)].index(n))
    policies = [r["policy"] for r in next(iter(rows.values()))]

    print("Miss ratio / OPT, every reference seen (`--observe all`):\n")
    print("| trace | cache | refs | pages | OPT miss ratio | " + " | ".join(policies[1:]) + " |")
    print("|---|---|---|---|---|" + "---|" * (len(policies) - 1))
    means = {c: {p: [] for p in policies} for c in CACHES}
    for n in names:
        for c in CACHES:
            rs = rows[(n, c, "all")]
            best = min(r["vs_opt"] for r in rs[1:])
            cells = []
            for r in rs[1:]:
                v = "%.3f" % r["vs_opt"]
                cells.append("**%s**" % v if r["vs_opt"] == best else v)
                means[c][r["policy"]].append(r["vs_opt"])
            print("| %s | %s (%d) | %d | %d | %.4f | %s |" % (n, c, rs[0]["cache"], rs[0]["references"],
                                                             rs[0]["distinct"], rs[0]["miss_ratio"], " | ".join(cells)))
    for c in CACHES:
        print("| **mean** | %s | | | | %s |" % (c, " | ".join("%.3f" % (sum(means[c][p]) / len(means[c][p]))
                                                            for p in policies[1:])))
    print("\nFaults mode (`--observe faults`): miss ratio / OPT, minor faults per reference, "
          "estimated time in seconds (70 µs a miss, 15 µs a minor fault):\n")
    print("| trace | cache | " + " | ".join(policies[1:]) + " |")
    print("|---|---|" + "---|" * (len(policies) - 1))
    for n in names:
        for c in CACHES:
            rs = rows[(n, c, "faults")]
            best = min(r["est_seconds"] for r in rs[1:])
            cells = []
            for r in rs[1:]:
                cell = "%.3f / %.4f / %.3g" % (r["vs_opt"], r["minor_faults"] / r["references"], r["est_seconds"])
                cells.append("**%s**" % cell if r["est_seconds"] == best else cell)
            print("| %s | %s | %s |" % (n, c, " | ".join(cells)))


if __name__ == "__main__":
    main()
