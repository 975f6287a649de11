"""MGSampler (Zhi et al., ICCV 2021): motion-guided sampling on the cumulative motion distribution.

Motion per frame ``M_t`` is the change into frame t (``M_0 = 0``): image level
``sum |I_t - I_{t-1}|`` over pixels, or feature level ``||f_t - f_{t-1}||_2``. Scores are smoothed
and normalised, ``M_t^mu / sum_s M_s^mu`` (mu = 0.5 in the official code), accumulated into
``C_t``, and the cumulative axis is cut into N equal bins; each bin contributes the frame whose
``C_t`` is nearest its centre (test) or a uniform random point inside it (training). Any N works
(the official code hard-codes 16). Differences from the official code, both for the contract: the
official code can return one frame twice when two bins share a nearest frame; here a later bin takes
its nearest *unused* frame. The official code never returns frame 0; here frame 0 (``C_0 = 0``) is
eligible like any other. A video with no motion at all is sampled uniformly.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from framesampler.candidates import Candidates, Reads, check_positive
from framesampler.policies.base import Context, Sampler
from framesampler.policies.registry import register_sampler


def image_motion(pixels: np.ndarray) -> np.ndarray:
    """``M_t = sum |I_t - I_{t-1}|`` over all pixels and channels, ``M_0 = 0``; pixels [T, ...]."""
    frames = np.asarray(pixels, dtype=np.float32)
    frames = frames.reshape(len(frames), int(np.prod(frames.shape[1:])))
    motion = np.zeros(len(frames))
    motion[1:] = np.abs(np.diff(frames, axis=0)).sum(axis=1)
    return motion


def feature_motion(features: np.ndarray) -> np.ndarray:
    """``M_t = ||f_t - f_{t-1}||_2`` between consecutive per-frame features, ``M_0 = 0``."""
    frames = np.asarray(features, dtype=np.float32)
    frames = frames.reshape(len(frames), int(np.prod(frames.shape[1:])))
    motion = np.zeros(len(frames))
    motion[1:] = np.linalg.norm(np.diff(frames, axis=0), axis=1)
    return motion


def cumulative_motion(motion: np.ndarray, mu: float = 0.5) -> np.ndarray:
    """``C_t = sum_{s<=t} M_s^mu / sum_s M_s^mu``; a linear ramp 0..1 when there is no motion."""
    weights = np.power(np.asarray(motion, dtype=np.float64), mu)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        return np.linspace(0.0, 1.0, len(weights)) if len(weights) > 1 else np.zeros(len(weights))
    return np.cumsum(weights) / total


def motion_guided_positions(motion: np.ndarray, k: int, *, mu: float = 0.5, rng: np.random.Generator | None = None) -> np.ndarray:
    """The k frames nearest the bin centres (or random bin points if ``rng``) of the cumulative motion."""
    cumulative = cumulative_motion(motion, mu)
    bins = np.arange(k)
    targets = (bins + (0.5 if rng is None else rng.random(k))) / max(k, 1)
    distance = np.abs(cumulative[None, :] - targets[:, None])
    chosen: list[int] = []
    for row in distance:
        row = row.copy()
        row[chosen] = np.inf
        chosen.append(int(np.argmin(row)))
    return np.asarray(chosen, dtype=np.int64)


class MGSampler(Sampler):
    """Motion-guided sampler; ``motion="image"`` reads ``candidates.pixels``, ``"feature"`` reads
    ``candidates.features``, ``"auto"`` uses pixels when present. ``"mv"`` (an option beyond the paper,
    which measures motion on decoded frames) reads ``candidates.motion`` as ``M_t``: the motion at each
    candidate from the bitstream's motion vectors (``framesampler.video.bitstream``), no pixels decoded."""

    def __init__(self, *, motion: Literal["auto", "image", "feature", "mv"] = "auto", mu: float = 0.5, **kw) -> None:
        super().__init__(**kw)
        if motion not in ("auto", "image", "feature", "mv"):
            raise ValueError(f"unknown motion {motion!r}: use 'auto', 'image', 'feature' or 'mv'")
        self.motion, self.mu = motion, check_positive(mu, "mu (the smoothing exponent)")
        self.reads = {"image": Reads.PIXELS, "feature": Reads.FEATURES, "mv": Reads.MOTION}.get(motion, Reads.PIXELS | Reads.FEATURES)

    @property
    def stochastic(self) -> bool:
        return self.training

    def motion_scores(self, candidates: Candidates) -> np.ndarray:
        if self.motion == "mv":
            if candidates.motion is None:
                raise ValueError("mgsampler (motion='mv') needs candidates.motion (framesampler.video.bitstream."
                                 "motion_vectors); none was given")
            return np.asarray(candidates.motion, dtype=np.float64)
        use_pixels = self.motion == "image" or (self.motion == "auto" and candidates.pixels is not None)
        source = candidates.pixels if use_pixels else candidates.features
        if source is None:
            raise ValueError(
                f"mgsampler (motion={self.motion!r}) needs candidates.{'pixels' if use_pixels else 'features'}; "
                "none were given"
            )
        return image_motion(source) if use_pixels else feature_motion(source)

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        """The motion of each candidate (``M_t``), which the cumulative bins are cut on."""
        return self.motion_scores(candidates)

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        return motion_guided_positions(scores, k, mu=self.mu, rng=rng if self.training else None)


register_sampler("mgsampler", MGSampler)
