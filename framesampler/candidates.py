"""Which T frames of a video are candidates for a sampler.

Four rules, all returning sorted frame indices into a video of ``frame_count`` frames (F; ``num_frames=``, its
old name, still works with a ``DeprecationWarning``):

- ``"uniform"``: TSN segment centres, ``floor((i + 0.5) * F / T)`` for ``i < T`` (test mode).
- ``"jitter"``: one random frame per equal segment (TSN training mode); needs ``rng``.
- ``"fps"``: one frame every ``1 / fps`` seconds of a video recorded at ``video_fps``.
- ``"keyframes"``: the video's keyframes (``keyframes=``, e.g. ``VideoReader.keyframes``), which decode
  alone (``skip_frame="NONKEY"``): the uniform rule applied to the list of K keyframes, i.e.
  ``keyframes[floor((i + 0.5) * K / T)]``. More than T keyframes are thinned to T evenly spread ones;
  fewer than T follow ``short_policy`` like a short video (``"repeat"`` pads to T by repeating keyframes).

When the video has fewer frames than asked (``F < T``), ``short_policy`` decides, never a silent modulo:
``"all"`` returns every frame once (fewer than T candidates), ``"repeat"`` returns T indices with
repeats (the TSN/mmaction2 behaviour), ``"error"`` raises.
"""
from __future__ import annotations

import enum
import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from framesampler.constants import MAX_T
from framesampler.deprecation import renamed_keyword

CandidateMode = Literal["uniform", "jitter", "fps", "keyframes"]
ShortPolicy = Literal["all", "repeat", "error"]


def check_integer(value: Any, name: str, minimum: int = 0, maximum: int | None = None) -> int:
    """``value`` as an int; ``TypeError`` unless it is an integer (bool is not), ``ValueError`` outside
    ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be an integer in {minimum}..{maximum}, got {number}")
    return number


def check_positive(value: Any, name: str) -> float:
    """``value`` as a float; ``TypeError`` unless it is a real number, ``ValueError`` unless finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number > 0, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return number


def finite_array(value: Any, name: str, *, ndim: int, rows: int | None = None, shape: str = "") -> np.ndarray:
    """``value`` (a numpy array, tensor or nested list of numbers) as a numpy array of ``ndim`` dimensions
    and ``rows`` rows, every value finite: ``TypeError`` for non-numbers, ``ValueError`` naming ``name`` and
    the rows otherwise. ``shape`` describes the expected shape in the message, e.g. ``"[T, D]"``."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise TypeError(f"{name} must be a numeric array {shape}, got {type(value).__name__} ({err})") from None
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric array {shape}, got dtype {array.dtype} ({type(value).__name__})")
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions {shape}, got shape {array.shape}")
    if rows is not None and len(array) != rows:
        raise ValueError(f"{name} has {len(array)} rows for {rows} candidates: give one row per candidate")
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(array).all(axis=tuple(range(1, ndim))))
        if len(bad):
            listed = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
            raise ValueError(f"{name} holds NaN or inf in row(s) {listed} (of {len(array)}): fix or drop those frames")
    return array


@renamed_keyword("num_frames", "frame_count")
def candidate_indices(
    frame_count: int,
    num_candidates: int | None = None,
    *,
    mode: CandidateMode = "uniform",
    fps: float | None = None,
    video_fps: float | None = None,
    short_policy: ShortPolicy = "all",
    rng: np.random.Generator | None = None,
    keyframes: np.ndarray | None = None,
) -> np.ndarray:
    """Return sorted int64 frame indices of the T candidates of a video of ``frame_count`` frames."""
    check_integer(frame_count, "frame_count")
    if mode == "keyframes":
        return _keyframe_candidates(frame_count, num_candidates, keyframes, short_policy)
    if mode == "fps":
        if fps is None or video_fps is None:
            raise ValueError("mode='fps' needs fps > 0 (the sampling rate) and video_fps > 0 (the video's rate)")
        step = check_positive(video_fps, "video_fps") / check_positive(fps, "fps")
        if num_candidates is not None:
            check_integer(num_candidates, "num_candidates (T)")
        indices = np.floor(np.arange(0.0, frame_count, step)).astype(np.int64)
        return indices if num_candidates is None else indices[:num_candidates]
    if num_candidates is None:
        raise ValueError(f"num_candidates (T) must be >= 1 for mode={mode!r}, got None")
    check_integer(num_candidates, "num_candidates (T)", minimum=1, maximum=MAX_T)
    if frame_count == 0:
        raise ValueError("the video has no frames: nothing to sample (check that it decodes)")
    if mode not in ("uniform", "jitter"):
        raise ValueError(f"unknown candidate mode {mode!r}: use 'uniform', 'jitter', 'fps' or 'keyframes'")
    if frame_count < num_candidates:
        if short_policy == "all":
            return np.arange(frame_count, dtype=np.int64)
        if short_policy == "error":
            raise ValueError(
                f"the video has {frame_count} frames, fewer than the {num_candidates} candidates asked; "
                "lower T or pass short_policy='all' or 'repeat'"
            )
        if short_policy != "repeat":
            raise ValueError(f"unknown short_policy {short_policy!r}: use 'all', 'repeat' or 'error'")
    if mode == "uniform":
        return segment_points(torch.full((num_candidates,), 0.5, dtype=torch.float64), frame_count).numpy()
    if rng is None:
        raise ValueError("mode='jitter' is random: pass rng=np.random.default_rng(seed)")
    # a random frame of each whole-frame segment [floor(i F / T), floor((i + 1) F / T)): disjoint, so no frame
    # is drawn twice while F >= T (segment_points' floor((i + u) F / T) can repeat one, e.g. F = 4, T = 3)
    starts = np.floor(np.arange(num_candidates) * frame_count / num_candidates).astype(np.int64)
    ends = np.floor(np.arange(1, num_candidates + 1) * frame_count / num_candidates).astype(np.int64)
    return np.clip(starts + np.floor(rng.random(num_candidates) * np.maximum(ends - starts, 1)).astype(np.int64),
                   0, frame_count - 1)


def _keyframe_candidates(frame_count: int, num_candidates: int | None, keyframes: np.ndarray | None,
                         short_policy: ShortPolicy) -> np.ndarray:
    if keyframes is None:
        raise ValueError("mode='keyframes' needs keyframes=<the video's keyframe indices> (VideoReader.keyframes)")
    keys = np.asarray(keyframes)
    if keys.ndim != 1 or keys.size == 0 or not np.issubdtype(keys.dtype, np.integer):
        raise ValueError(f"keyframes must be a non-empty 1-d array of frame indices, got {keys.dtype} of shape {keys.shape}")
    if np.any(np.diff(keys) <= 0) or keys[0] < 0 or keys[-1] >= frame_count:
        raise ValueError(f"keyframes must be sorted unique frame indices in 0..{frame_count - 1}")
    if num_candidates is None:
        return keys.astype(np.int64)
    if short_policy == "error" and len(keys) < num_candidates:
        raise ValueError(f"the video has {len(keys)} keyframes, fewer than the {num_candidates} candidates asked; "
                         "lower T or pass short_policy='all' or 'repeat'")
    return keys.astype(np.int64)[candidate_indices(len(keys), num_candidates, short_policy=short_policy)]


class Reads(enum.Flag):
    """What a sampler reads beyond the candidates' frame numbers (``Sampler.reads``)."""

    NOTHING = 0
    FEATURES = enum.auto()  # candidates.features: cheap per-frame features
    PIXELS = enum.auto()  # candidates.pixels: low-resolution frames
    FRAME_LOGITS = enum.auto()  # context.frame_logits: the frozen classifier on each candidate alone
    LABEL = enum.auto()  # context.label: the true class (oracles only)
    NEXT_PIXELS = enum.auto()  # candidates.next_pixels: the video frame after each candidate (MGSampler)
    PREVIOUS_PIXELS = enum.auto()  # candidates.previous_pixels: the video frame before each candidate (MGSampler, Eq. 1)
    FRAME_VECTORS = enum.auto()  # candidates.frame_vectors: the frozen classifier's vector of each candidate (AdaFrame's v_t)
    MOTION = enum.auto()  # candidates.motion: motion at each candidate (the bitstream's motion vectors)
    COMPRESSED = enum.auto()  # candidates.compressed: the compressed-domain vector of each candidate (SCSampler)
    AUDIO = enum.auto()  # candidates.audio: the log-MEL patch of the audio around each candidate (SCSampler)
    LANGUAGE = enum.auto()  # candidates.language: the GloVe vector of each candidate's top ImageNet classes (SMART)
    CODED_SIZES = enum.auto()  # of candidates.compressed, only the coded sizes: no motion vector is read
    AUGMENTED_VIEWS = enum.auto()  # in training only: augmented views of the training frames (SOSampler, App. A.3)

    def candidate_input(self) -> Reads:
        """The one candidate input to give: a sampler that reads either pixels or features (MGSampler's
        ``motion="auto"``) gets the low-resolution pixels, free once decoded; at least one is required."""
        return Reads.PIXELS if Reads.PIXELS in self else self & Reads.FEATURES


# what needs the classifier's backbone on every candidate: its class scores (pi_s), or its ImageNet classes (SMART)
CLASSIFIER_ON_ALL = Reads.FRAME_LOGITS | Reads.LANGUAGE

# the optional per-candidate inputs of ``Candidates``: field, dimensions, shape named in errors
INPUT_SHAPES = (("features", 2, "[T, D]"), ("pixels", 4, "[T, H, W, C]"), ("next_pixels", 4, "[T, H, W, C]"),
                ("previous_pixels", 4, "[T, H, W, C]"), ("motion", 1, "[T]"), ("neighbour_motion", 1, "[T]"),
                ("compressed", 2, "[T, D]"), ("audio", 2, "[T, D]"), ("language", 2, "[T, D]"),
                ("frame_vectors", 2, "[T, D]"))


@dataclass(frozen=True)
class Candidates:
    """What a sampler may look at: the T candidate frames of one video.

    ``frame_indices`` are the candidates' frame numbers in the source video; a sampler's ``select``
    returns positions into them (``0..T-1``). ``features`` ([T, D] cheap per-frame features),
    ``pixels`` ([T, H, W, C] low-resolution frames), ``next_pixels`` ([T, H, W, C], the video frame right
    after each candidate, the candidate itself for the last frame), ``previous_pixels`` ([T, H, W, C], the video
    frame right before each candidate, the candidate itself for frame 0: MGSampler's Eq. 1 reads it) and
    ``neighbour_motion`` ([T] Eq. 1 measured upstream, ``sum |I_t - I_{t-1}|`` between each candidate and the video
    frame before it at the sampler's resolution, what a video dataset from ``framesampler extract`` stores) and
    ``frame_vectors`` ([T, D] the frozen classifier's vector of each candidate, the backbone features its head reads:
    AdaFrame's v_t) and ``motion`` ([T] motion at each candidate measured upstream: the bitstream's motion vectors,
    ``framesampler.video.bitstream``, or the image differences of consecutive candidates that a video dataset
    stores in place of pixels) and ``compressed`` ([T, D] each candidate's compressed-domain vector, its motion
    frame's motion-vector map and coded size read without decoding it: ``bitstream.compressed_vectors``)
    and ``audio`` ([T, D] the log-MEL patch of the audio around each candidate, ``video.audio.audio_patches``;
    silence for a video without audio) and ``language`` ([T, D] the mean GloVe vector of each candidate's top 10
    ImageNet classes, ``classifiers.language``: SMART's language features) are optional; samplers that need one
    say so. Checked when built:
    integer frame numbers within the video, increasing (each frame once), one feature row, frame and motion
    value per candidate, every value finite (``TypeError``/``ValueError`` naming the field otherwise). Tensors
    and nested lists are stored as numpy arrays.
    """

    frame_indices: np.ndarray
    num_frames: int
    fps: float | None = None
    features: np.ndarray | None = None
    pixels: np.ndarray | None = None
    next_pixels: np.ndarray | None = None
    previous_pixels: np.ndarray | None = None
    motion: np.ndarray | None = None
    neighbour_motion: np.ndarray | None = None
    compressed: np.ndarray | None = None
    audio: np.ndarray | None = None
    language: np.ndarray | None = None
    frame_vectors: np.ndarray | None = None

    def __post_init__(self) -> None:
        num_frames = check_integer(self.num_frames, "num_frames")
        indices = np.asarray(self.frame_indices.detach().cpu() if hasattr(self.frame_indices, "detach") else self.frame_indices)
        if indices.ndim != 1 or (indices.dtype.kind not in "iu" and indices.size):
            raise TypeError(f"frame_indices must be a 1-D array of integer frame numbers, got {indices.dtype} "
                            f"of shape {indices.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= num_frames):
            raise ValueError(f"frame_indices must lie in 0..num_frames-1 = 0..{num_frames - 1}, "
                             f"got {indices.min()}..{indices.max()}")
        if np.any(np.diff(indices) <= 0):
            at = int(np.flatnonzero(np.diff(indices) <= 0)[0])
            raise ValueError(f"frame_indices must be increasing, each frame once (samplers return positions in time "
                             f"order), got {indices[at]} then {indices[at + 1]} at position {at + 1}: pass np.unique(indices)")
        object.__setattr__(self, "frame_indices", indices.astype(np.int64))
        if self.fps is not None:
            check_positive(self.fps, "fps")
        for name, ndim, shape in INPUT_SHAPES:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, finite_array(value, f"candidates.{name}", ndim=ndim, rows=len(indices),
                                                            shape=shape))

    def __len__(self) -> int:
        return len(self.frame_indices)

    @classmethod
    def of_length(cls, num_candidates: int, **kw) -> Candidates:
        """Candidates that are simply frames ``0..T-1`` of a T-frame video."""
        return cls(frame_indices=np.arange(num_candidates), num_frames=num_candidates, **kw)


def segment_points(offsets: torch.Tensor, length: int) -> torch.Tensor:
    """TSN's segments (Wang et al. 2016), the one formula: with ``offsets`` [..., S] in [0, 1), the point
    ``floor((i + offset_i) * length / S)`` of each of the S equal segments of ``0..length-1`` (int64)."""
    segments = offsets.shape[-1]
    points = torch.floor((torch.arange(segments, dtype=torch.float64) + offsets.double()) * length / segments)
    return points.long().clamp_(0, length - 1)


def segment_positions(batch: int, length: int, segments: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """TSN training sampling for a batch: one random position in each of ``segments`` equal parts of
    ``0..length-1``, for ``batch`` videos at once -> LongTensor [batch, segments] (sorted rows)."""
    return segment_points(torch.rand(batch, segments, generator=generator), length)
