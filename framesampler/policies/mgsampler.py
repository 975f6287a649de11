"""MGSampler (Zhi et al., ICCV 2021; code MCG-NJU/MGSampler): motion-guided sampling on the cumulative
motion distribution.

Motion of each candidate ``S_t`` is the change between *consecutive video frames* at it: the candidate's
frame and the video frame right after it (``candidates.next_pixels``; ``pairs="next_frame"``, the
default), as the paper computes it on every frame of the video:

- ``motion="image"`` (Eq. 1): ``S_t = sum_{x,y} |I(x, y, t+1) - I(x, y, t)|`` over pixels and channels;
- ``motion="ssim"`` (the official code's image difference, ``generate_img_diff.py``): ``1 - SSIM`` of the
  two frames in grayscale (OpenCV's RGB->gray weights, rounded to uint8; SSIM as scikit-image's
  ``compare_ssim`` defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, data range 255,
  mean over the window positions fully inside the frame);
- ``motion="conv"`` (Eqs. 2-3): one shallow convolution, 8 filters 7x7, stride 1, padding 3 (the PA module
  of PAN, which the official ``generate_feature_diff.py`` follows), on both frames (pixels 0..255),
  ``S_t = sum_{x,y} sqrt(sum_i (F_i(x, y, t+1) - F_i(x, y, t))^2)``. The official code loads PAN's trained
  filters, which are not available offline; here the 8 filters are PyTorch's default initialisation under
  ``conv_seed`` (fixed, so scores are reproducible);
- ``motion="feature"``: ``||f_t - f_{t-1}||_2`` between the cheap feature vectors of consecutive
  *candidates* (this project's reading for feature data, where there are no pixels: not the paper's
  shallow feature difference, which it warns deeper features do worse at).

``pairs="candidates"`` takes the image differences between consecutive candidates instead (``S_0 = 0``),
this project's first reading. ``motion="auto"`` uses ``"image"`` when the candidates carry pixels, else the
motion measured upstream when they carry it (``candidates.motion``: a video dataset from ``framesampler
extract`` stores the image differences of consecutive candidates, what auto computes on their pixels), else
``"feature"``, and pairs each candidate with the next video frame when the caller gives it
(``next_pixels``), else with the next candidate: it reads no more than the candidates themselves, which is
all the integrations' decoders hand over, so ``sample`` and the integrations agree; ask for
``motion="image"``, ``"ssim"`` or ``"conv"`` to have the pipeline decode the frame after each candidate
(Eq. 1 as the paper).

Scores are smoothed and normalised, ``M_t^mu / sum_s M_s^mu`` (Eq. 6; mu = 0.5 as the official code),
accumulated into ``C_t``, and the cumulative axis is cut into N equal bins; each bin contributes the
frame whose ``C_t`` is nearest its centre (test) or a uniform random point inside it (training). Any N
works (the official code hard-codes 16). Differences from the official code, both for the contract: the
official code can return one frame twice when two bins share a nearest frame; here a later bin takes
its nearest *unused* frame. The official code attributes the difference of frames (i, i+1) to frame
i + 1; here a candidate carries the difference to its next frame. A video with no motion at all is
sampled uniformly.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates, Reads, check_positive
from framesampler.policies.base import Context, Sampler
from framesampler.policies.registry import register_sampler

MOTIONS = ("auto", "image", "ssim", "conv", "feature", "mv")
PAIRS = ("next_frame", "candidates")
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # OpenCV's RGB -> gray


def image_difference(frames: np.ndarray, following: np.ndarray) -> np.ndarray:
    """Eq. 1: ``sum |I_{t+1} - I_t|`` [T] over pixels and channels of frames and the frames after them [T, ...]."""
    a, b = np.asarray(frames, dtype=np.float32), np.asarray(following, dtype=np.float32)
    return np.abs(b - a).reshape(len(a), int(np.prod(a.shape[1:]))).sum(axis=1).astype(np.float64)


def grayscale(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB [..., H, W, 3] -> uint8 gray [..., H, W] with OpenCV's weights, rounded."""
    return np.clip(np.round(np.asarray(frames, dtype=np.float64) @ GRAY_WEIGHTS), 0, 255).astype(np.uint8)


def _box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """Mean over every ``size`` x ``size`` window fully inside x [..., H, W] -> [..., H - size + 1, W - size + 1]."""
    padded = np.pad(np.cumsum(np.cumsum(x, axis=-2), axis=-1), [(0, 0)] * (x.ndim - 2) + [(1, 0), (1, 0)])
    s = padded[..., size:, size:] - padded[..., :-size, size:] - padded[..., size:, :-size] + padded[..., :-size, :-size]
    return s / (size * size)


def ssim(a: np.ndarray, b: np.ndarray, *, window: int = 7, data_range: float = 255.0) -> np.ndarray:
    """Mean SSIM [...] of gray images a, b [..., H, W], as scikit-image's ``compare_ssim`` defaults (uniform
    window, sample covariance, K1 = 0.01, K2 = 0.03), over the window positions fully inside the image."""
    if min(a.shape[-2:]) < window:
        raise ValueError(f"SSIM needs frames of at least {window}x{window} pixels, got {a.shape[-2:]}")
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ux, uy = _box_mean(x, window), _box_mean(y, window)
    norm = window * window / (window * window - 1)
    vx = norm * (_box_mean(x * x, window) - ux * ux)
    vy = norm * (_box_mean(y * y, window) - uy * uy)
    vxy = norm * (_box_mean(x * y, window) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(axis=(-2, -1))


def ssim_difference(frames: np.ndarray, following: np.ndarray) -> np.ndarray:
    """The official code's image difference: ``1 - SSIM`` [T] of grayscale frames and the frames after them."""
    return np.maximum(0.0, 1.0 - ssim(grayscale(frames), grayscale(following)))


def shallow_conv(seed: int = 0) -> nn.Conv2d:
    """Eq. 2's shallow layer: 8 filters 7x7, stride 1, padding 3, on RGB; PyTorch's default init under ``seed``."""
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    conv = nn.Conv2d(3, 8, 7, stride=1, padding=3)
    torch.random.set_rng_state(generator_state)
    return conv.requires_grad_(False)


@torch.no_grad()
def conv_difference(frames: np.ndarray, following: np.ndarray, conv: nn.Conv2d) -> np.ndarray:
    """Eqs. 2-3: ``sum_{x,y} sqrt(sum_i (F_i(t+1) - F_i(t))^2)`` [T] with F = ``conv`` on uint8 RGB [T, H, W, 3]."""
    def features(x: np.ndarray) -> torch.Tensor:
        return conv(torch.as_tensor(np.asarray(x), dtype=torch.float32).permute(0, 3, 1, 2))

    return torch.linalg.vector_norm(features(following) - features(frames), dim=1).sum(dim=(1, 2)).double().numpy()


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
    """Motion-guided sampler (see the module docstring for ``motion`` and ``pairs``). ``"mv"`` (an option
    beyond the paper, which measures motion on decoded frames) reads ``candidates.motion`` as ``M_t``: the
    motion at each candidate from the bitstream's motion vectors (``framesampler.video.bitstream``)."""

    def __init__(self, *, motion: str = "auto", pairs: str = "next_frame", mu: float = 0.5, conv_seed: int = 0,
                 **kw) -> None:
        super().__init__(**kw)
        if motion not in MOTIONS:
            raise ValueError(f"unknown motion {motion!r}: use one of {', '.join(MOTIONS)}")
        if pairs not in PAIRS:
            raise ValueError(f"unknown pairs {pairs!r}: use one of {', '.join(PAIRS)}")
        self.motion, self.pairs, self.mu = motion, pairs, check_positive(mu, "mu (the smoothing exponent)")
        self.conv = shallow_conv(conv_seed) if motion == "conv" else None
        pixels = Reads.PIXELS | (Reads.NEXT_PIXELS if pairs == "next_frame" else Reads.NOTHING)
        self.reads = {"feature": Reads.FEATURES, "mv": Reads.MOTION, "auto": Reads.PIXELS | Reads.FEATURES}.get(motion, pixels)

    @property
    def stochastic(self) -> bool:
        return self.training

    def resolved_motion(self, candidates: Candidates) -> str:
        """The motion kind used on these candidates (``"auto"``: image differences when the frames are there,
        else the motion measured upstream, ``"measured"``, else feature differences)."""
        if self.motion != "auto":
            return self.motion
        if candidates.pixels is not None:
            return "image"
        return "measured" if candidates.motion is not None else "feature"

    def resolved_pairs(self, candidates: Candidates) -> str:
        """``"auto"`` pairs each candidate with the next frame when given it, else with the next candidate."""
        if self.motion == "auto" and candidates.next_pixels is None:
            return "candidates"
        return self.pairs

    def motion_scores(self, candidates: Candidates) -> np.ndarray:
        if self.motion == "mv" or self.resolved_motion(candidates) == "measured":
            if candidates.motion is None:
                raise ValueError("mgsampler (motion='mv') needs candidates.motion (framesampler.video.bitstream."
                                 "motion_vectors); none was given")
            return np.asarray(candidates.motion, dtype=np.float64)
        kind = self.resolved_motion(candidates)
        if kind == "feature":
            if candidates.features is None:
                raise ValueError("mgsampler needs candidates.pixels (and next_pixels) or candidates.features; none was given")
            return feature_motion(candidates.features)
        pixels = candidates.pixels
        if pixels is None:
            raise ValueError(f"mgsampler (motion={kind!r}) needs candidates.pixels; none was given")
        pairs = self.resolved_pairs(candidates)
        if pairs == "next_frame":
            if candidates.next_pixels is None:
                raise ValueError(f"mgsampler (motion={kind!r}) needs candidates.next_pixels, the video frame after each "
                                 "candidate; none was given (or pass pairs='candidates')")
            frames, following = pixels, candidates.next_pixels
        else:
            frames, following = pixels[:-1], pixels[1:]
        if kind == "image":
            motion = image_difference(frames, following)
        elif kind == "ssim":
            motion = ssim_difference(frames, following)
        else:
            assert self.conv is not None  # built when motion == "conv", the only kind left
            motion = conv_difference(frames, following, self.conv)
        return motion if pairs == "next_frame" else np.concatenate([[0.0], motion])

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        """The motion of each candidate (``M_t``), which the cumulative bins are cut on."""
        return self.motion_scores(candidates)

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        assert scores is not None  # self.scores always scores
        return motion_guided_positions(scores, k, mu=self.mu, rng=rng if self.training else None)


register_sampler("mgsampler", MGSampler)
