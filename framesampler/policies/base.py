"""The one sampler contract: score T candidates, pick N, return sorted unique positions.

``select(candidates, n, *, context, rng, short_policy)`` returns int64 positions into the candidates,
sorted by time and unique; ``choose(...)`` returns the same positions with the scores they were picked
by (``Selection``), so no caller computes them again. Edge cases follow ``short_policy`` explicitly:
``n == 0`` gives an empty array; ``n > T`` gives all T positions with ``"all"`` (the default) or raises
with ``"error"``. What a sampler reads is one declared value, ``Sampler.reads`` (``Reads`` flags),
checked here and nowhere else.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from framesampler.candidates import Candidates, Reads, check_integer, finite_array
from framesampler.classifiers.consensus import check_consensus
from framesampler.video.planner import decode_aware_top_n

SelectShortPolicy = Literal["all", "error"]



@dataclass(frozen=True)
class Context:
    """What a sampler may know beyond the candidates themselves.

    ``frame_logits``: [T, C] logits of the frozen classifier on each candidate alone (pi_s, pi_o).
    ``label``: the true class (pi_o and pi_s "label" use it; they are oracles).
    ``consensus``: how the classifier combines frames (see ``framesampler.classifiers.consensus``), or
    ``"clip"`` for a classifier whose frames interact: then ``video_log_probs`` (sorted candidate
    positions [S, K] -> log class probabilities [S, C]) is the only way to score a subset (pi_o).
    Checked when built: logits [T, C] all finite (a numpy array is converted to a tensor), ``label`` an
    integer class in ``0..C-1``, a known consensus; ``TypeError``/``ValueError`` naming the field otherwise.
    """

    frame_logits: torch.Tensor | None = None
    label: int | None = None
    consensus: str = "avg_logits"
    video_log_probs: Callable[[torch.Tensor], torch.Tensor] | None = None
    keyframes: np.ndarray | None = None
    decode_aware: float = 0.0

    def __post_init__(self) -> None:
        logits = self.frame_logits
        if logits is not None:
            if not isinstance(logits, torch.Tensor):
                logits = torch.from_numpy(finite_array(logits, "context.frame_logits", ndim=2, shape="[T, C]"))
            else:
                finite_array(logits, "context.frame_logits", ndim=2, shape="[T, C]")
            if logits.shape[1] < 1:
                raise ValueError("context.frame_logits has no classes: give logits [T, C] with C >= 1")
            object.__setattr__(self, "frame_logits", logits if logits.is_floating_point() else logits.float())
        if self.label is not None:
            label = check_integer(self.label, "context.label")
            if logits is not None and label >= logits.shape[1]:
                raise ValueError(f"context.label {label} is not a class of frame_logits (0..{logits.shape[1] - 1})")
            object.__setattr__(self, "label", label)
        if self.keyframes is not None:
            object.__setattr__(self, "keyframes", finite_array(self.keyframes, "context.keyframes", ndim=1).astype(np.int64))
        if not 0 <= self.decode_aware <= 1:
            raise ValueError(f"context.decode_aware is a fraction of the score range in [0, 1], got {self.decode_aware}")
        if not isinstance(self.consensus, str):
            raise TypeError(f"context.consensus must be a string, got {self.consensus!r}")
        if self.consensus != "clip":
            check_consensus(self.consensus)


def context_logits(context: Context | None) -> torch.Tensor:
    """``context.frame_logits`` [T, C]: there for a sampler that reads ``Reads.FRAME_LOGITS`` (``check_select``)."""
    if context is None or context.frame_logits is None:
        raise ValueError("this sampler needs context.frame_logits (the classifier's logits on each candidate)")
    return context.frame_logits


def context_label(context: Context | None) -> int:
    """``context.label``: there for a sampler that reads ``Reads.LABEL`` (``check_select``)."""
    if context is None or context.label is None:
        raise ValueError("this sampler needs context.label (the true class)")
    return context.label


@dataclass(frozen=True)
class Selection:
    """The chosen positions (sorted, unique int64 into the candidates) and the per-candidate scores they
    were picked by ([T] float64; None for a sampler that picks by a rule or a search)."""

    positions: np.ndarray
    scores: np.ndarray | None = None
    prediction: np.ndarray | None = None  # the sampler's own class probabilities [C] (AdaFrame's f_p), if it makes one


def check_budget(num_candidates: int, n: int, short_policy: SelectShortPolicy) -> int:
    """Validate ``n`` against ``T`` and return how many positions ``select`` will return."""
    n = check_integer(n, "n (frames to select)")
    if short_policy not in ("all", "error"):
        raise ValueError(f"unknown short_policy {short_policy!r}: use 'all' or 'error'")
    if n > num_candidates and short_policy == "error":
        raise ValueError(
            f"asked for {n} frames from {num_candidates} candidates; lower n, raise T, "
            "or pass short_policy='all' to take every candidate"
        )
    return int(min(n, num_candidates))


def check_select(sampler: Sampler, candidates: Candidates, n: int, context: Context | None,
                 rng: np.random.Generator | None, short_policy: SelectShortPolicy) -> int:
    """The checks at the start of every ``select``/``choose``: argument types, what the sampler reads,
    logits for every candidate, and ``n``; returns how many positions to pick (``check_budget``)."""
    if not isinstance(candidates, Candidates):
        raise TypeError(f"candidates must be a framesampler.Candidates, got {type(candidates).__name__}")
    if context is not None and not isinstance(context, Context):
        raise TypeError(f"context must be a framesampler.Context or None, got {type(context).__name__}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    for flag, field in ((Reads.FRAME_LOGITS, "frame_logits"), (Reads.LABEL, "label")):
        if flag in sampler.reads and (context is None or getattr(context, field) is None):
            raise ValueError(f"sampler {sampler.name!r} needs context.{field}; none was given")
    wanted = [field for flag, field in ((Reads.PIXELS, "pixels"), (Reads.FEATURES, "features"), (Reads.MOTION, "motion"),
                                        (Reads.COMPRESSED, "compressed"), (Reads.AUDIO, "audio")) if flag in sampler.reads]
    if wanted and all(getattr(candidates, what) is None for what in wanted):
        raise ValueError(f"sampler {sampler.name!r} needs candidates.{' or candidates.'.join(wanted)}; none was given")
    if Reads.LANGUAGE in sampler.reads and candidates.language is None:
        raise ValueError(f"sampler {sampler.name!r} needs candidates.language (the GloVe vector of each candidate's "
                         "ImageNet classes, framesampler.classifiers.language); none was given")
    if context is not None and context.frame_logits is not None and len(context.frame_logits) != len(candidates):
        raise ValueError(f"context.frame_logits has {len(context.frame_logits)} rows for {len(candidates)} candidates: "
                         "give the classifier's logits on each candidate")
    return check_budget(len(candidates), n, short_policy)


def top_n_sorted(scores: np.ndarray | torch.Tensor, n: int, *, short_policy: SelectShortPolicy = "all") -> np.ndarray:
    """Positions of the ``n`` highest scores, sorted by position (time). Ties go to the earlier frame.

    O(T) selection (``argpartition``) then an O(n log n) sort; the shared pick of every scoring sampler.
    """
    scores = scores.detach().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one value per candidate (1-D), got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: the sampler produced invalid importance values")
    k = min(check_budget(len(scores), n, short_policy), int(np.count_nonzero(scores > -np.inf)))
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

    Subclasses score (``scores`` -> [T] importance, picked by ``top_n_sorted``), pick by a rule or a
    search (override ``_select``; ``scores`` stays None), or both (``_select`` receives the scores).
    ``_select`` returns positions, or a ``Selection`` whose ``prediction`` is the sampler's own (AdaFrame).
    ``reads`` declares what they read; ``stochastic`` that two runs may pick differently; ``trainable``
    that it must be trained first (``framesampler.learned``); ``predicts`` that its own prediction replaces
    the frozen classifier's (no classifier runs on the frames it chose).
    """

    name: str = "sampler"
    reads: Reads = Reads.NOTHING
    trainable: bool = False
    predicts: bool = False

    def __init__(self, *, seed: int = 0, training: bool = False) -> None:
        self.training = training
        self.rng = np.random.default_rng(seed)

    @property
    def stochastic(self) -> bool:
        """Whether two runs may pick differently (a subclass overrides it with a class attribute or a property)."""
        return False

    def select(self, candidates: Candidates, n: int, *, context: Context | None = None,
               rng: np.random.Generator | None = None, short_policy: SelectShortPolicy = "all") -> np.ndarray:
        """Sorted unique int64 positions (into ``candidates``) of the chosen frames."""
        return self.choose(candidates, n, context=context, rng=rng, short_policy=short_policy).positions

    def choose(self, candidates: Candidates, n: int, *, context: Context | None = None,
               rng: np.random.Generator | None = None, short_policy: SelectShortPolicy = "all") -> Selection:
        """The chosen positions and the scores they were picked by (each computed once)."""
        k = check_select(self, candidates, n, context, rng, short_policy)
        if len(candidates) == 0:  # nothing to score or pick
            return Selection(np.empty(0, dtype=np.int64))
        scores = self.scores(candidates, context)
        scores = None if scores is None else np.asarray(scores, dtype=np.float64)
        chosen = self._select(candidates, k, context, self.rng if rng is None else rng, scores)
        if isinstance(chosen, Selection):  # a sampler that also makes its own prediction
            return Selection(np.sort(np.asarray(chosen.positions, dtype=np.int64)), scores, chosen.prediction)
        return Selection(np.sort(np.asarray(chosen, dtype=np.int64)), scores)

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray | Selection:
        if scores is None:
            raise NotImplementedError(f"sampler {self.name!r} gives no scores: it must override _select")
        if context is not None and context.decode_aware and context.keyframes is not None:
            return decode_aware_top_n(scores, k, candidates.frame_indices, context.keyframes, context.decode_aware)
        return top_n_sorted(scores, k)

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray | None:
        """Importance of each candidate, higher is better; None for a sampler that picks by a rule."""
        return None

    def candidates_read(self, num_candidates: int) -> int:
        """How many of the T candidates the sampler reads (its ``reads`` inputs are needed for these only)."""
        return num_candidates if self.reads else 0

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of the sampler's own network per candidate read (0 for a rule)."""
        return 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, training={self.training})"
