"""The semi-optimal policy pi_s (Lee et al., BMVC 2024, Sec. 4.1, Eq. 2).

Each candidate is scored *on its own* by the frozen classifier, ``c(v_t) = p(y | v_t)`` for the true
label y (``importance="label"``) or ``max_c p(c | v_t)`` (``importance="max"``, label-free), and the
N highest are taken: ``pi_s(V) = top-N_t c(v_t)``. This reduces the search from C(T, N) subsets to T
evaluations. The label variant under the average-of-probabilities consensus is exactly the optimal policy pi_o
(pi_o maximises the mean true-label probability, a sum of per-frame terms); the max variant, or another
consensus, is not.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from framesampler.candidates import Candidates, Reads
from framesampler.policies.base import Context, Sampler, context_label, context_logits
from framesampler.policies.registry import register_sampler

Importance = Literal["label", "max"]


def frame_importance(frame_logits: torch.Tensor, importance: Importance, label: int | None = None) -> torch.Tensor:
    """``c(v_t)`` of each frame [T] from its logits [T, C]: true-label or maximum confidence."""
    probs = torch.softmax(frame_logits.double(), dim=-1)  # float64: float32 rounds confident frames to 1.0, a false tie
    if importance == "max":
        return probs.amax(dim=-1)
    if importance == "label":
        if label is None:
            raise ValueError("importance='label' needs the true label; use importance='max' when it is unknown")
        return probs[..., label]
    raise ValueError(f"unknown importance {importance!r}: use 'label' or 'max'")


class SemiOptimalPolicy(Sampler):
    """pi_s: top N of the classifier's per-frame confidence."""

    def __init__(self, *, importance: Importance = "max", **kw) -> None:
        super().__init__(**kw)
        if importance not in ("label", "max"):
            raise ValueError(f"unknown importance {importance!r}: use 'label' or 'max'")
        self.importance = importance
        self.reads = Reads.FRAME_LOGITS | (Reads.LABEL if importance == "label" else Reads.NOTHING)

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        label = context_label(context) if self.importance == "label" else None
        return frame_importance(context_logits(context), self.importance, label).cpu().numpy()


register_sampler("semi_optimal", SemiOptimalPolicy, listed=False)
register_sampler("semi_optimal_label", SemiOptimalPolicy, importance="label")
register_sampler("semi_optimal_max", SemiOptimalPolicy, importance="max")
