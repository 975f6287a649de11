"""Speed of exact pi_o (meet-in-the-middle search) against a naive per-subset Python loop.

    .venv/bin/python benchmarks/oracle_speed.py [--videos 3] [--t 30] [--n 8] [--classes 200] [--threads 1]

Random logits (scale 3) stand in for a classifier's output on T candidates. The naive loop scores
``softmax(mean z[S])[y]`` subset by subset with torch; on the large problem it runs on the first
``--loop-subsets`` subsets and is extrapolated to all C(T, N), and on a small problem it runs in full.
Also reports the approximate search's time and its gap (in log-probability) to the exact optimum.
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framesampler.policies.optimal import (  # noqa: E402
    approximate_optimal_subset,
    optimal_subset,
    subset_log_confidence,
)

CONSENSUS = "avg_logits"


def random_video(seed: int, t: int, classes: int) -> tuple[torch.Tensor, int]:
    torch.manual_seed(seed)
    return 3 * torch.randn(t, classes), int(torch.randint(classes, (1,)))


def naive_loop(logits: torch.Tensor, n: int, label: int, limit: int | None) -> tuple[float, int, float]:
    """Best probability, subsets scored and seconds of a plain loop over (the first ``limit``) subsets."""
    start, best, count = time.perf_counter(), -1.0, 0
    for subset in itertools.islice(itertools.combinations(range(logits.shape[0]), n), limit):
        best = max(best, float(torch.softmax(logits[list(subset)].mean(dim=0), dim=-1)[label]))
        count += 1
    return best, count, time.perf_counter() - start


def log_confidence(logits: torch.Tensor, subset: np.ndarray, label: int) -> float:
    return float(subset_log_confidence(logits.double(), torch.as_tensor(subset)[None], label, CONSENSUS))


def timed(fn, *args) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--t", type=int, default=30)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--loop-subsets", type=int, default=20_000)
    parser.add_argument("--small-t", type=int, default=16)
    parser.add_argument("--small-n", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    total = math.comb(args.t, args.n)
    warm_logits, warm_label = random_video(args.seed, args.t, args.classes)
    optimal_subset(warm_logits, args.n, warm_label, CONSENSUS)  # warm-up: first-call overheads
    exact_s, approx_s, gaps, loop_per_subset = [], [], [], []
    for video in range(args.videos):
        logits, label = random_video(args.seed + video, args.t, args.classes)
        exact, seconds = timed(optimal_subset, logits, args.n, label, CONSENSUS)
        exact_s.append(seconds)
        approx, seconds = timed(approximate_optimal_subset, logits, args.n, label, CONSENSUS)
        approx_s.append(seconds)
        gaps.append(log_confidence(logits, exact, label) - log_confidence(logits, approx, label))
        _, count, seconds = naive_loop(logits, args.n, label, args.loop_subsets)
        loop_per_subset.append(seconds / count)

    exact_video = sum(exact_s) / len(exact_s)
    naive_video = total * sum(loop_per_subset) / len(loop_per_subset)

    logits, label = random_video(args.seed, args.small_t, args.classes)
    small_exact, small_exact_s = timed(optimal_subset, logits, args.small_n, label, CONSENSUS)
    small_best, small_count, small_naive_s = naive_loop(logits, args.small_n, label, None)
    small_match = math.isclose(math.log(small_best), log_confidence(logits, small_exact, label), abs_tol=1e-5)

    large = f"T={args.t}, N={args.n}"
    small = f"T={args.small_t}, N={args.small_n}"
    rows = [
        (f"exact pi_o, {large} ({total:,} subsets)", f"{exact_video:.3f} s/video"),
        (f"naive loop, {large} (extrapolated from {args.loop_subsets:,})", f"{naive_video:.1f} s/video"),
        (f"speed-up, {large}", f"{naive_video / exact_video:.0f}x"),
        (f"approximate pi_o, {large}", f"{sum(approx_s) / len(approx_s):.3f} s/video"),
        (f"approximate gap to exact, {large} (log p_y, mean / max)", f"{sum(gaps) / len(gaps):.4f} / {max(gaps):.4f}"),
        (f"exact pi_o, {small} ({small_count:,} subsets)", f"{small_exact_s:.4f} s/video"),
        (f"naive loop, {small} (full)", f"{small_naive_s:.3f} s/video"),
        (f"speed-up, {small}", f"{small_naive_s / small_exact_s:.0f}x"),
        (f"exact == naive optimum, {small}", str(small_match)),
    ]
    print(f"consensus={CONSENSUS}, C={args.classes}, videos={args.videos}, torch threads={torch.get_num_threads()}")
    width = max(len(name) for name, _ in rows)
    for name, figure in rows:
        print(f"{name:<{width}}  {figure}")


if __name__ == "__main__":
    main()
