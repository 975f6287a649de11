"""Top-N selection over T = 100,000 scores: milliseconds per call of ``top_n_sorted`` (target < 10 ms).

    .venv/bin/python benchmarks/topn_speed.py [--T 100000] [--N 8,64,1000] [--repeats 50]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from framesampler.policies import top_n_sorted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--T", type=int, default=100_000)
    parser.add_argument("--N", default="8,64,1000")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    scores = np.random.default_rng(0).random(args.T).astype(np.float32)
    print(f"{'T':>8} {'N':>6} {'ms/call (median)':>18} {'ms/call (max)':>14}")
    for n in (int(x) for x in args.N.split(",")):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            top_n_sorted(scores, n)
            times.append((time.perf_counter() - start) * 1e3)
        print(f"{args.T:>8} {n:>6} {np.median(times):>18.3f} {np.max(times):>14.3f}")


if __name__ == "__main__":
    main()
