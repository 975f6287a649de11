"""The one sampler contract: score T candidates, pick N, return sorted unique positions.

``select(candidates, n, *, context, rng, short_policy)`` returns int64 positions into the candidates,
sorted by time and unique. Edge cases follow ``short_policy`` explicitly: ``n == 0`` gives an empty
array; ``n > T`` gives all T positions with ``"all"`` (the default) or raises with ``"error"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from framesampler.candidates import Candidates

SelectShortPolicy = Literal["all", "error"]


@dataclass(frozen=True)
class Context:
    """What a sampler may know beyond the candidates themselves.

    ``frame_logits``: [T, C] logits of the frozen classifier on each candidate alone (pi_s, pi_o).
    ``label``: the true class (pi_o and pi_s "label" use it; they are oracles).
    ``consensus``: how the classifier combines frames (see ``framesampler.classifiers.consensus``).
    """

    frame_logits: torch.Tensor | None = None
    label: int | None = None
    consensus: str = "avg_logits"


def check_budget(num_candidates: int, n: int, short_policy: SelectShortPolicy) -> int:
    """Validate ``n`` against ``T`` and return how many positions ``select`` will return."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n (frames to select) must be an integer >= 0, got {n!r}")
    if short_policy not in ("all", "error"):
        raise ValueError(f"unknown short_policy {short_policy!r}: use 'all' or 'error'")
    if n > num_candidates and short_policy == "error":
        raise ValueError(
            f"asked for {n} frames from {num_candidates} candidates; lower n, raise T, "
            "or pass short_policy='all' to take every candidate"
        )
    return int(min(n, num_candidates))


def top_n_sorted(scores: np.ndarray | torch.Tensor, n: int, *, short_policy: SelectShortPolicy = "all") -> np.ndarray:
    """Positions of the ``n`` highest scores, sorted by position (time). Ties go to the earlier frame.

    O(T) selection (``argpartition``) then an O(n log n) sort; the shared pick of every scoring sampler.
    """
    scores = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one value per candidate (1-D), got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: the sampler produced invalid importance values")
    k = check_budget(len(scores), n, short_policy)
    if k == len(scores):
        return np.arange(k, dtype=np.int64)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    # Negate and use a stable tie-break on position so equal scores prefer earlier frames.
    threshold = np.partition(-scores, k - 1)[k - 1]
    above = np.flatnonzero(-scores < threshold)
    ties = np.flatnonzero(-scores == threshold)[: k - len(above)]
    return np.sort(np.concatenate([above, ties])).astype(np.int64)


class Sampler:
    """Base of every sampler: validation and the edge policy live here, once.

    Subclasses either score (``scores`` -> [T] importance, picked by ``top_n_sorted``) or pick by a
    rule (override ``_select``). ``needs`` names what they read: ``"features"``/``"pixels"``/``"motion"`` on the
    candidates, ``"frame_logits"``/``"label"`` on the context.
    """

    name: str = "sampler"
    needs: tuple[str, ...] = ()

    def __init__(self, *, seed: int = 0, training: bool = False) -> None:
        self.training = training
        self.rng = np.random.default_rng(seed)

    def select(
        self,
        candidates: Candidates,
        n: int,
        *,
        context: Context | None = None,
        rng: np.random.Generator | None = None,
        short_policy: SelectShortPolicy = "all",
    ) -> np.ndarray:
        """Sorted unique int64 positions (into ``candidates``) of the chosen frames."""
        for what in self.needs:
            source = candidates if what in ("features", "pixels", "motion") else context
            if source is None or getattr(source, what) is None:
                where = "candidates" if source is candidates else "context"
                raise ValueError(f"sampler {self.name!r} needs {where}.{what}; none was given")
        k = check_budget(len(candidates), n, short_policy)
        chosen = self._select(candidates, k, context, self.rng if rng is None else rng)
        return np.sort(np.asarray(chosen, dtype=np.int64))

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator) -> np.ndarray:
        return top_n_sorted(self.scores(candidates, context), k)

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        """Importance of each candidate, higher is better (scoring samplers only)."""
        raise TypeError(f"sampler {self.name!r} picks by a rule, not by per-frame scores")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, training={self.training})"
