"""Decode planning: which frames to decode for a request, and how the decoder gets to them.

Frames are numbered in display order; a GOP is a keyframe and the frames up to the next keyframe. Frame
``i`` decodes only after the frames of its GOP from the keyframe up to ``i``. So for sorted frame indices
``wanted`` the *floor* is the frames any strategy must decode: in each GOP holding a wanted frame, its
keyframe up to its last wanted frame (``floor_frames``).

A plan is a list of runs; each run is one sequential pass from a keyframe up to its last wanted frame,
entered in one of four ways:

- ``"start"``: the first run (the reader seeks to its keyframe; the decoder starts empty);
- ``"seek"``: a container seek to the run's keyframe (the decoder is flushed);
- ``"skip"``: the packets up to the run's keyframe are demuxed and dropped, not decoded (no seek, no
  flush: the keyframe resets the decoder);
- ``"continue"``: the run follows the previous one, the frames between them are decoded too.

Strategies (``STRATEGIES``):

- ``"seek"``: one run per GOP with a wanted frame, each entered by a seek (the reader before the planner);
- ``"sequential"``: one run from the first needed keyframe to the last wanted frame, every frame between
  decoded;
- ``"auto"`` (the default): one run per needed GOP; the gap between two runs is decoded through when
  that costs less than ending a run and entering the next (``DecodeCosts.restart``), else skipped when
  demuxing the gap's packets costs less than a seek, else sought over.

Which frames a plan decodes does not change which frames come out: every strategy returns the same pixels
(tests compare them on the shared videos).

A sampler can also plan for the decoder (``decode_aware_top_n``): among candidates whose scores are within a
stated tolerance of the best one left, take the one that adds the fewest frames to the plan, so that frames of
one action burst share the GOP passes already paid for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Strategy = Literal["auto", "seek", "sequential"]
STRATEGIES: tuple[Strategy, ...] = ("auto", "seek", "sequential")


def check_strategy(strategy: str) -> Strategy:
    """``strategy`` as a ``Strategy``; ``ValueError`` naming the known ones otherwise."""
    for known in STRATEGIES:
        if strategy == known:
            return known
    raise ValueError(f"unknown decode strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class DecodeCosts:
    """Costs in units of one decoded frame, measured with PyAV 18 on the shared videos (2 CPU cores):
    demuxing a packet without decoding it takes 3-11 us against 0.3-2 ms to decode a frame; a seek is
    cheap itself (0.03 ms) but ends a run like a skip does. ``restart``: ending a run early, i.e. the
    frames the decoder holds back (B-frame reordering, frame threads) that must be pushed out by feeding
    packets past the last wanted frame."""

    restart: float = 1.0
    seek: float = 1.0
    packet: float = 0.01


@dataclass(frozen=True)
class Run:
    """One sequential pass: from the keyframe ``start`` to the last wanted frame ``stop`` (frame indices)."""

    start: int
    stop: int
    entry: str

    @property
    def frames(self) -> int:
        return self.stop - self.start + 1


@dataclass(frozen=True)
class DecodePlan:
    """The runs for one request; ``frames`` is the number of frames they decode (at least)."""

    runs: tuple[Run, ...]
    strategy: str

    @property
    def frames(self) -> int:
        return sum(run.frames for run in self.runs)

    @property
    def seeks(self) -> int:
        return sum(run.entry in ("start", "seek") for run in self.runs)


@dataclass(frozen=True)
class DecodeFloor:
    """The floor of a request: ``frames`` that must be decoded, and the time ``seconds`` of the fastest
    strategy (``strategy``), measured with every strategy (``seconds_by_strategy``)."""

    frames: int
    seconds: float
    strategy: str
    seconds_by_strategy: dict[str, float]


def needed_gops(wanted: np.ndarray, keyframes: np.ndarray) -> list[tuple[int, int]]:
    """``(keyframe, last wanted frame)`` of each GOP that holds a wanted frame, in order.

    ``wanted``: sorted unique frame indices; ``keyframes``: sorted frame indices of the keyframes, the
    first being 0 (frame 0 is always reachable)."""
    wanted, keyframes = np.asarray(wanted, dtype=np.int64), np.asarray(keyframes, dtype=np.int64)
    if wanted.size == 0:
        return []
    if keyframes.size == 0 or keyframes[0] != 0:
        raise ValueError("keyframes must be sorted frame indices starting at 0")
    if np.any(np.diff(wanted) <= 0) or wanted[0] < 0:
        raise ValueError("wanted must be sorted unique frame indices >= 0")
    keys = keyframes[np.searchsorted(keyframes, wanted, side="right") - 1]
    last = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))
    return [(int(keys[i]), int(wanted[i])) for i in last]


def floor_frames(wanted: np.ndarray, keyframes: np.ndarray) -> int:
    """Frames any strategy must decode for ``wanted`` (see the module docstring)."""
    return sum(stop - start + 1 for start, stop in needed_gops(wanted, keyframes))


def plan_decode(wanted: np.ndarray, keyframes: np.ndarray, *, strategy: Strategy = "auto",
                costs: DecodeCosts = DecodeCosts()) -> DecodePlan:
    """The runs that decode the sorted unique frames ``wanted`` of a video with these ``keyframes``."""
    strategy = check_strategy(strategy)
    gops = needed_gops(wanted, keyframes)
    if not gops:
        return DecodePlan((), strategy)
    if strategy == "sequential":
        return DecodePlan((Run(gops[0][0], gops[-1][1], "start"),), strategy)
    if strategy == "seek":
        return DecodePlan(tuple(Run(start, stop, "seek" if i else "start") for i, (start, stop) in enumerate(gops)),
                          strategy)
    runs = [Run(*gops[0], "start")]
    for start, stop in gops[1:]:
        gap = start - runs[-1].stop - 1  # frames between the previous run's last wanted frame and this keyframe
        enter = min(gap * costs.packet, costs.seek)
        if gap <= costs.restart + enter:
            runs[-1] = Run(runs[-1].start, stop, runs[-1].entry)
        else:
            runs.append(Run(start, stop, "skip" if gap * costs.packet <= costs.seek else "seek"))
    return DecodePlan(tuple(runs), strategy)


def plan_sparse(frames: np.ndarray, keyframes: np.ndarray, *, costs: DecodeCosts = DecodeCosts()) -> DecodePlan:
    """Runs for decoding the packets of the sorted unique ``frames`` only, none between them (keyframes
    alone, or motion vectors of predicted frames): one run per GOP holding one of them, from its keyframe
    to its last one, entered by a skip when demuxing the gap costs less than a seek, else by a seek."""
    runs: list[Run] = []
    for start, stop in needed_gops(frames, keyframes):
        gap = start - runs[-1].stop - 1 if runs else 0
        entry = "start" if not runs else "skip" if gap * costs.packet <= costs.seek else "seek"
        runs.append(Run(start, stop, entry))
    return DecodePlan(tuple(runs), "sparse")


def decode_aware_top_n(scores: np.ndarray, k: int, frames: np.ndarray, keyframes: np.ndarray, tolerance: float, *,
                       costs: DecodeCosts = DecodeCosts()) -> np.ndarray:
    """Positions of ``k`` high-scoring candidates, sorted, preferring those cheaper to decode.

    Greedy over ``k`` picks: the candidates left whose score is within ``tolerance`` of the best score left
    (``tolerance`` is a fraction of the score range over all candidates, max - min) are eligible, and the pick
    is the eligible one that adds the fewest frames to ``plan_decode`` of the picks so far (ties: the higher
    score, then the earlier frame). ``tolerance=0`` gives the plain top-k of ``top_n_sorted`` except among equal
    scores. ``scores`` [T] finite, ``frames`` [T] the candidates' sorted frame numbers, ``keyframes`` the video's."""
    scores, frames = np.asarray(scores, dtype=np.float64), np.asarray(frames, dtype=np.int64)
    if scores.shape != frames.shape or scores.ndim != 1:
        raise ValueError(f"need one score per candidate frame, got {scores.shape} scores for {frames.shape} frames")
    if not np.isfinite(scores).all():
        raise ValueError("decode-aware selection needs finite scores: the sampler produced NaN or infinite ones")
    if tolerance < 0:
        raise ValueError(f"the decode-aware tolerance is a fraction of the score range, >= 0; got {tolerance}")
    k = min(int(k), len(scores))
    margin = tolerance * float(np.ptp(scores)) if len(scores) else 0.0
    left = np.ones(len(scores), dtype=bool)
    chosen: list[int] = []
    cost = 0
    for _ in range(k):
        eligible = np.flatnonzero(left & (scores >= scores[left].max() - margin))
        added = [plan_decode(np.sort(frames[chosen + [int(i)]]), keyframes, costs=costs).frames - cost for i in eligible]
        best = min(range(len(eligible)), key=lambda j: (added[j], -scores[eligible[j]], eligible[j]))
        chosen.append(int(eligible[best]))
        cost += added[best]
        left[eligible[best]] = False
    return np.sort(np.asarray(chosen, dtype=np.int64))
