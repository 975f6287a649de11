"""Samplers that need no scores: uniform (TSN), random, dense, and FrameExit's fixed order."""
from __future__ import annotations

import numpy as np

from framesampler.candidates import CandidateMode, Candidates, candidate_indices
from framesampler.policies.base import Context, Sampler, Selection, check_select
from framesampler.policies.registry import register_sampler


class UniformSampler(Sampler):
    """TSN segments (Wang et al. 2016): N equal segments of the T candidates, the centre of each at
    test, a random frame of each in training mode."""

    @property
    def stochastic(self) -> bool:
        return self.training

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        if k == 0:
            return np.empty(0, dtype=np.int64)
        mode: CandidateMode = "jitter" if self.training else "uniform"
        return candidate_indices(len(candidates), k, mode=mode, rng=rng)


class RandomSampler(Sampler):
    """N candidates drawn uniformly without replacement."""

    stochastic = True

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        return rng.choice(len(candidates), size=k, replace=False)


class DenseSampler(Sampler):
    """Every candidate, whatever N is: the "All" row of Lee et al. 2024, Table 1."""

    def choose(self, candidates: Candidates, n: int, *, context: Context | None = None,
               rng: np.random.Generator | None = None, short_policy: str = "all") -> Selection:
        """All T positions, whatever ``n`` (an integer >= 0) and ``short_policy`` are."""
        check_select(self, candidates, n, context, rng, "all")
        return Selection(np.arange(len(candidates), dtype=np.int64))


def frameexit_order(num_candidates: int) -> np.ndarray:
    """FrameExit's deterministic coarse-to-fine order (Ghodrati et al. 2021), generalised to any T.

    The centre ``T // 2`` first, then both ends, then repeatedly the midpoint of the largest gap
    between frames already taken (midpoints rounded half to even; equal gaps: the one whose midpoint
    is nearest the centre first, then the earlier). For T = 10 this gives the paper's
    ``[5, 0, 9, 2, 7, 4, 6, 3, 8, 1]``.
    """
    if num_candidates < 1:
        return np.empty(0, dtype=np.int64)
    centre = num_candidates // 2
    order = list(dict.fromkeys([centre, 0, num_candidates - 1]))
    taken = sorted(order)
    while len(order) < num_candidates:
        gaps = [(a, b) for a, b in zip(taken, taken[1:]) if b - a >= 2]
        a, b = min(gaps, key=lambda g: (-(g[1] - g[0]), abs(round((g[0] + g[1]) / 2) - centre), g[0]))
        middle = round((a + b) / 2)
        order.append(middle)
        taken = sorted(taken + [middle])
    return np.asarray(order, dtype=np.int64)


class FrameExitSampler(Sampler):
    """The first N frames of ``frameexit_order(T)``, i.e. scores that decrease along that order."""

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        order = frameexit_order(len(candidates))
        scores = np.empty(len(order))
        scores[order] = -np.arange(len(order), dtype=float)
        return scores


register_sampler("uniform", UniformSampler)
register_sampler("random", RandomSampler)
register_sampler("dense", DenseSampler)
register_sampler("frameexit", FrameExitSampler)
