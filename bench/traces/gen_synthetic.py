#!/usr/bin/env python3
"""Writes the synthetic page traces of doc/policies.md, in text format, to
DIR (default: this folder's generated/). Deterministic (fixed seeds).

  loop     - pages 0..999 in order, 20 times: a loop larger than most caches
             (LRU and FIFO miss every reference once the cache is smaller)
  scan     - a hot set of 200 pages referenced at random, with a one-time
             scan of 2,000 fresh pages after every 2,000 hot references
  zipf     - 2,000 pages, zipf(0.9) popularity, 100,000 references
  phases   - four working sets of 500 pages one after the other, each
             referenced at random 15,000 times (recency-friendly: LRU's case)

usage: gen_synthetic.py [DIR]
"""
import bisect
import os
import random
import sys


def loop():
    return [p for _ in range(20) for p in range(1000)]


def scan():
    r = random.Random(2)
    out, fresh = [], 10_000
    for _ in range(10):
        out += [r.randrange(200) for _ in range(2000)]
        out += list(range(fresh, fresh + 2000))
        fresh += 2000
    return out


def zipf(n=2000, theta=0.9, refs=100_000):
    r = random.Random(3)
    weights = [1 / (k + 1) ** theta for k in range(n)]
    cdf, s = [], 0.0
    for w in weights:
        s += w
        cdf.append(s)
    perm = list(range(n))
    r.shuffle(perm)  # popularity unrelated to page number
    return [perm[bisect.bisect_left(cdf, r.random() * s)] for _ in range(refs)]


def phases():
    r = random.Random(4)
    return [base + r.randrange(500) for base in (0, 400, 800, 1200) for _ in range(15_000)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "generated")
    os.makedirs(out, exist_ok=True)
    for name, gen in (("loop", loop), ("scan", scan), ("zipf", zipf), ("phases", phases)):
        with open(os.path.join(out, name + ".txt"), "w") as f:
            f.write("".join("%d\n" % p for p in gen()))
        print(os.path.join(out, name + ".txt"))


if __name__ == "__main__":
    main()
