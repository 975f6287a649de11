"""MGSampler (Zhi et al., ICCV 2021; code MCG-NJU/MGSampler): motion-guided sampling on the cumulative
motion distribution.

Motion of each candidate ``S_t`` is the change between *consecutive video frames* at it, as the paper computes
it on every frame of the video: Eq. 1 subtracts "the previous frame I(x, y, t - 1) from the current frame
I(x, y, t)", ``S_1 = 0``, and the official code (``generate_img_diff.py``, ``loading.py``) stores the difference of
frames (i, i + 1) and attributes it to frame i + 1 (``find_nearest`` returns ``idx + 1``): both pair frame t with
the frame *before* it. So the default, ``pairs="previous_frame"``, pairs each candidate with the video frame right
before it (``candidates.previous_pixels``; the candidate itself at frame 0, so ``S = 0`` there as ``S_1``):

- ``motion="image"`` (Eq. 1): ``S_t = sum_{x,y} |I(x, y, t) - I(x, y, t-1)|`` over pixels and channels;
- ``motion="ssim"`` (the official code's image difference, ``generate_img_diff.py``): ``1 - SSIM`` of the
  two frames in grayscale (OpenCV's RGB->gray weights, rounded to uint8; SSIM as scikit-image's
  ``compare_ssim`` defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, data range 255,
  mean over the window positions fully inside the frame);
- ``motion="conv"`` (Eqs. 2-3): one shallow convolution, 8 filters 7x7, stride 1, padding 3 (the PA module
  of PAN, which the official ``generate_feature_diff.py`` follows), on both frames (pixels 0..255),
  ``S_t = sum_{x,y} sqrt(sum_i (F_i(x, y, t) - F_i(x, y, t-1))^2)``. The official code loads PAN's trained
  filters, which are not available offline; here the 8 filters are PyTorch's default initialisation under
  ``conv_seed`` (fixed, so scores are reproducible);
- ``motion="feature"``: ``||f_t - f_{t-1}||_2`` between the cheap feature vectors of consecutive
  *candidates* (this project's reading for feature data, where there are no pixels: not the paper's
  shallow feature difference, which it warns deeper features do worse at).

Earlier readings, kept as options: ``pairs="next_frame"`` pairs each candidate with the video frame right *after*
it (``candidates.next_pixels``; this project's second reading, Eq. 1 shifted by one frame), ``pairs="candidates"``
takes the differences between consecutive candidates (``S_0 = 0``; the first reading), which on T candidates
spread over a video compares frames seconds apart.

``motion="auto"`` (the default) takes the neighbour-frame reading wherever the input allows it: image differences
with the neighbour frame when the candidates carry pixels and that frame (the pipeline decodes the frame before
each candidate on a video file: ``Reads.PREVIOUS_PIXELS``), else Eq. 1 measured upstream
(``candidates.neighbour_motion``: a video dataset from ``framesampler extract`` stores it), and falls back where only
the candidates are given: image differences of consecutive candidates (pixels alone, as an integration whose decoder
hands over only the candidates), else the consecutive-candidate motion a video dataset extracted before
``neighbour_motion`` existed stores (``candidates.motion``), else ``"feature"``. A feature dataset (the UCF101 VGG16
file) holds one vector per candidate and nothing of the frames between: it cannot give Eq. 1, and auto reads its
features. ``reading(candidates)`` names what was used (``evaluate`` reports it beside the row).

Scores are smoothed and normalised, ``M_t^mu / sum_s M_s^mu`` (Eq. 6; mu = 0.5 as the official code),
accumulated into ``C_t``, and the cumulative axis is cut into N equal bins; Sec. 3.3: "from each interval one
value will be chosen randomly in its segment and its corresponding frame index on the x-axis will be picked out"
(nearest ``C_t``). The paper gives this one rule for training and test; the official code's test mode takes each
bin's centre instead. ``test_point="random"`` (the default, the paper's) draws the point at test as well, from
the ``rng`` given to ``select`` (seeded: ``sample`` and ``evaluate`` repeat their draws);
``test_point="centre"`` is the official code's test rule and this project's earlier reading. Training mode
always draws. Any N works (the official code hard-codes 16). One difference from the official code, for the
contract: it can return one frame twice when two bins share a nearest frame; here a later bin takes its nearest
*unused* frame. A video with no motion at all is sampled uniformly.

Measured (``benchmarks/mgsampler_paper.py``, ``results/mgsampler_paper.json``; small samples, spreads there): on 8
long videos constructed from ucf101-clips (30 s, 2 action bursts), through ``sample``'s decode stage at
T = 64 -> N = 8, the fraction of chosen frames inside the bursts is 0.323 with the previous frame (random point,
3 draws; 0.328 at the centres), the same with the next frame, and 0.255 (0.281 at the centres) on consecutive
candidates, the first reading; decoding the frame before each candidate doubles the decode stage (0.62 s against
0.30 s per video). On the UCF101 feature file (untrimmed, T = 30 -> N = 8, feature differences) the test point
barely matters: top-1 0.550 +- 0.017 over 3 random draws, 0.551 at the centres (uniform 0.507).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates, Reads, check_positive
from framesampler.policies.base import Context, Sampler
from framesampler.policies.registry import register_sampler

MOTIONS = ("auto", "image", "ssim", "conv", "feature", "mv")
PAIRS = ("previous_frame", "next_frame", "candidates")
TEST_POINTS = ("random", "centre")
NEIGHBOUR = {"previous_frame": ("previous_pixels", Reads.PREVIOUS_PIXELS, "before"),
             "next_frame": ("next_pixels", Reads.NEXT_PIXELS, "after")}  # pairs -> candidates field, flag, word
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # OpenCV's RGB -> gray


def image_difference(frames: np.ndarray, following: np.ndarray) -> np.ndarray:
    """Eq. 1: ``sum |I_t - I_{t-1}|`` [T] over pixels and channels, ``frames`` [T, ...] being each I_{t-1} and
    ``following`` each I_t."""
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
    """The k frames nearest a point of each of k equal bins of the cumulative motion (Sec. 3.3): a uniform random
    point of the bin when ``rng`` is given, else its centre (the official code's test mode)."""
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
    """Motion-guided sampler (see the module docstring for ``motion``, ``pairs`` and ``test_point``). ``"mv"`` (an
    option beyond the paper, which measures motion on decoded frames) reads ``candidates.motion`` as ``M_t``: the
    motion at each candidate from the bitstream's motion vectors (``framesampler.video.bitstream``)."""

    def __init__(self, *, motion: str = "auto", pairs: str = "previous_frame", test_point: str = "random",
                 mu: float = 0.5, conv_seed: int = 0, **kw) -> None:
        super().__init__(**kw)
        for name, value, allowed in (("motion", motion, MOTIONS), ("pairs", pairs, PAIRS),
                                     ("test_point", test_point, TEST_POINTS)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")
        self.motion, self.pairs, self.test_point = motion, pairs, test_point
        self.mu = check_positive(mu, "mu (the smoothing exponent)")
        self.conv = shallow_conv(conv_seed) if motion == "conv" else None
        neighbour = NEIGHBOUR[pairs][1] if pairs in NEIGHBOUR else Reads.NOTHING
        self.reads = {"feature": Reads.FEATURES, "mv": Reads.MOTION,
                      "auto": Reads.PIXELS | Reads.FEATURES | neighbour}.get(motion, Reads.PIXELS | neighbour)

    @property
    def stochastic(self) -> bool:
        return self.training or self.test_point == "random"

    def _neighbour_pixels(self, candidates: Candidates) -> np.ndarray | None:
        return getattr(candidates, NEIGHBOUR[self.pairs][0]) if self.pairs in NEIGHBOUR else None

    def _has_neighbour(self, candidates: Candidates) -> bool:
        """Whether the candidates carry this ``pairs``' neighbour frame (or, before it, Eq. 1 measured upstream)."""
        if candidates.pixels is not None and self._neighbour_pixels(candidates) is not None:
            return True
        return self.pairs == "previous_frame" and candidates.neighbour_motion is not None

    def resolved_motion(self, candidates: Candidates) -> str:
        """The motion kind used on these candidates; for ``"auto"``: ``"image"`` on pixels with their neighbour
        frames, else ``"measured"`` (Eq. 1 stored upstream), else ``"image"`` on the pixels alone, else
        ``"measured"`` (the consecutive-candidate motion stored upstream), else ``"feature"``."""
        if self.motion != "auto":
            return self.motion
        if self._has_neighbour(candidates):
            return "image" if candidates.pixels is not None and self._neighbour_pixels(candidates) is not None \
                else "measured"
        if candidates.pixels is not None:
            return "image"
        return "measured" if candidates.motion is not None else "feature"

    def resolved_pairs(self, candidates: Candidates) -> str:
        """What each candidate is compared with: ``pairs``, except ``"candidates"`` for feature differences and
        for ``"auto"`` when the candidates carry no neighbour frame (the fallback)."""
        if self.motion == "feature" or (self.motion == "auto" and not self._has_neighbour(candidates)):
            return "candidates"
        return self.pairs

    def reading(self, candidates: Candidates) -> str:
        """What the motion of these candidates is, e.g. ``"image, previous_frame"`` (Eq. 1) or, where it fell back,
        ``"feature, candidates"``; ``"mv"`` for the bitstream's motion."""
        if self.motion == "mv":
            return "mv"
        kind = self.resolved_motion(candidates)
        return f"{'stored' if kind == 'measured' else kind}, {self.resolved_pairs(candidates)}"

    def motion_scores(self, candidates: Candidates) -> np.ndarray:
        kind, pairs = self.resolved_motion(candidates), self.resolved_pairs(candidates)
        if self.motion == "mv" or kind == "measured":
            if self.motion == "auto" and pairs == "previous_frame":
                return np.asarray(candidates.neighbour_motion, dtype=np.float64)
            if candidates.motion is None:
                raise ValueError("mgsampler (motion='mv') needs candidates.motion (framesampler.video.bitstream."
                                 "motion_vectors); none was given")
            return np.asarray(candidates.motion, dtype=np.float64)
        if kind == "feature":
            if candidates.features is None:
                raise ValueError("mgsampler needs candidates.pixels (and the neighbour frames) or candidates.features; "
                                 "none was given")
            return feature_motion(candidates.features)
        if candidates.pixels is None:
            raise ValueError(f"mgsampler (motion={kind!r}) needs candidates.pixels; none was given")
        if pairs in NEIGHBOUR:
            field, _, word = NEIGHBOUR[pairs]
            neighbour = getattr(candidates, field)
            if neighbour is None:
                raise ValueError(f"mgsampler (motion={kind!r}, pairs={pairs!r}) needs candidates.{field}, the video frame "
                                 f"{word} each candidate; none was given (or pass pairs='candidates')")
            # Eq. 1 as written: I(t) - I(t-1), the previous frame first; the next frame follows the candidate
            frames, following = (neighbour, candidates.pixels) if pairs == "previous_frame" else (candidates.pixels, neighbour)
        else:
            frames, following = candidates.pixels[:-1], candidates.pixels[1:]
        if kind == "image":
            motion = image_difference(frames, following)
        elif kind == "ssim":
            motion = ssim_difference(frames, following)
        else:
            assert self.conv is not None  # built when motion == "conv", the only kind left
            motion = conv_difference(frames, following, self.conv)
        return motion if pairs in NEIGHBOUR else np.concatenate([[0.0], motion])

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        """The motion of each candidate (``M_t``), which the cumulative bins are cut on."""
        return self.motion_scores(candidates)

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        assert scores is not None  # self.scores always scores
        return motion_guided_positions(scores, k, mu=self.mu, rng=rng if self.stochastic else None)


register_sampler("mgsampler", MGSampler)
