"""Frame independence: how related consecutive candidate frames are at a given sampling rate.

Lee et al. (BMVC 2024, Sec. 4.1, Fig. 1) argue that at low sampling rates consecutive candidates are
nearly independent, so scoring each frame on its own (the semi-optimal policy) is close to optimal.
The relevance of two frames is a Gaussian kernel on their embeddings (Eq. 1):

    I(x_i, x_j) = exp(-||e_i - e_j||^2 / (2 sigma^2))

The core works on embeddings (``gaussian_relevance``, ``median_bandwidth``, ``relevance_from_sequences``);
``relevance_by_rate`` is the thin video layer: decode, embed with a frozen backbone, then the core.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.nn import functional as F

from framesampler.candidates import MAX_T, candidate_indices
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.deprecation import renamed_keyword
from framesampler.device import DEFAULT_BATCH_SIZE
from framesampler.video import VideoError, VideoReader

DEFAULT_RATES = (0.5, 1, 2, 5, 10)


class FrameEmbedder(Protocol):
    def features(self, frames: np.ndarray, *, batch_size: int | None = None) -> torch.Tensor: ...


def gaussian_relevance(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Eq. 1, row by row: ``exp(-||a_k - b_k||^2 / (2 sigma^2))`` for embeddings [n, d] -> [n] in (0, 1]."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"expected two embedding matrices [n, d] of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if not bandwidth > 0:
        raise ValueError(f"bandwidth (sigma) must be > 0, got {bandwidth}")
    return torch.exp(-(a - b).pow(2).sum(dim=1) / (2 * bandwidth**2))


def consecutive_relevance(embeddings: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """Eq. 1 for each consecutive pair of a sequence [T, d] -> [T - 1]."""
    return gaussian_relevance(embeddings[:-1], embeddings[1:], bandwidth)


def median_bandwidth(embeddings_per_video: list[torch.Tensor], *, max_points: int = 2000) -> float:
    """The median heuristic: sigma = median of the pairwise Euclidean distances ||e_i - e_j|| (i < j)
    between all embeddings, pooled over videos (and rates: pass each frame once).

    One sigma for every rate keeps the rates comparable. Above ``max_points`` embeddings, evenly spaced
    rows of the pooled matrix are used (deterministic).
    """
    pooled = torch.cat([e.detach().double().cpu() for e in embeddings_per_video]) if embeddings_per_video else torch.empty(0)
    if len(pooled) < 2:
        raise ValueError(f"the median bandwidth needs at least 2 embeddings, got {len(pooled)}")
    if len(pooled) > max_points:
        pooled = pooled[np.linspace(0, len(pooled) - 1, max_points).round().astype(np.int64)]
    distances = torch.cdist(pooled, pooled)
    i, j = torch.triu_indices(len(pooled), len(pooled), offset=1)
    sigma = float(np.median(distances[i, j].numpy()))
    if sigma <= 0:
        raise ValueError("most embeddings are identical: the median distance is 0, so no bandwidth can be set")
    return sigma


@renamed_keyword("num_frames", "frame_count")
def candidates_by_rate(frame_count: int, video_fps: float, rates: Sequence[float], *,
                       max_candidates: int) -> dict[float, np.ndarray]:
    """Frame indices of the candidates at each rate (frames per second): the first ``max_candidates``
    of ``candidate_indices(mode="fps")``, so consecutive from the video's start. A rate above the
    video's own fps (beyond 0.1 % for rounding) is left out, not clamped: it would repeat frames and
    fake a relevance of 1, or, clamped, measure the video's rate under another rate's name."""
    return {rate: candidate_indices(frame_count, max_candidates, mode="fps", fps=rate, video_fps=video_fps)
            for rate in rates if rate <= video_fps * 1.001}


def relevance_from_sequences(sequences: Mapping[float, Sequence[torch.Tensor]], bandwidth: float) -> dict[float, np.ndarray]:
    """Eq. 1 on every consecutive pair of every candidate sequence [T, d], pooled per rate."""
    return {rate: np.concatenate([consecutive_relevance(s, bandwidth).double().cpu().numpy() for s in seqs] or [np.zeros(0)])
            for rate, seqs in sequences.items()}


def rate_key(rate: float) -> str:
    """A rate as the user typed it: 0.5 -> "0.5", 1 -> "1", 10 -> "10"."""
    return f"{float(rate):g}"


@dataclass
class RelevanceResult:
    """Relevances of consecutive candidates at each rate (pooled over videos), the shared bandwidth,
    the videos used and those that failed (``{"path", "reason"}``)."""

    relevances: dict[float, np.ndarray]
    bandwidth: float | None
    videos: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict:
        """``{"rates": {"0.5": {"mean", "median", "pairs"}, ...}, "bandwidth", "videos", "failed"}``;
        mean and median are None for a rate with no pairs."""
        rates = {}
        for rate, values in self.relevances.items():
            empty = len(values) == 0
            rates[rate_key(rate)] = {"mean": None if empty else float(values.mean()),
                                     "median": None if empty else float(np.median(values)), "pairs": len(values)}
        return {"rates": rates, "bandwidth": self.bandwidth, "videos": list(self.videos), "failed": list(self.failed)}


def relevance_by_rate(paths: Sequence[str | os.PathLike], rates: Sequence[float] = DEFAULT_RATES, *,
                      backbone: FrameEmbedder | str = "efficientnet_lite0", resolution: int = 160,
                      max_frames_per_video: int = 300,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> RelevanceResult:
    """Eq. 1 between consecutive candidates of real videos at each sampling rate (Fig. 1).

    Per video: the candidates at each rate (``candidates_by_rate``: at most ``max_frames_per_video``
    consecutive ones from the start; rates above the video's fps are skipped for that video) are
    decoded in one read (the union of their frames, shorter side and centre crop ``resolution``) and
    embedded once: the backbone's pooled features, L2-normalised so distances (and sigma) do not
    depend on the feature scale. sigma is ``median_bandwidth`` over every decoded frame of every video,
    shared by all rates. ``backbone`` is a frame embedder or a ``PretrainedBackbone`` name (built at
    ``resolution``). A video that fails to decode is listed in ``failed`` with its reason and skipped.
    """
    if len({rate_key(r) for r in rates}) != len(rates) or not all(r > 0 for r in rates):
        raise ValueError(f"rates must be distinct and > 0 (frames per second), got {list(rates)}")
    if not 2 <= max_frames_per_video <= MAX_T:
        raise ValueError(f"max_frames_per_video (--max-frames) must be 2..{MAX_T} (a pair at least), got {max_frames_per_video}")
    if isinstance(backbone, str):
        backbone = PretrainedBackbone(backbone, resolution=resolution)
    sequences: dict[float, list[torch.Tensor]] = {rate: [] for rate in rates}
    frame_embeddings, videos, failed = [], [], []
    for path in paths:
        try:
            with VideoReader(path) as reader:
                meta = reader.metadata
                by_rate = candidates_by_rate(meta.num_frames, meta.fps, rates, max_candidates=max_frames_per_video)
                union = np.unique(np.concatenate([np.zeros(0, np.int64), *by_rate.values()]))
                frames = reader.frames(union, size=resolution, crop=resolution)
        except VideoError as error:
            failed.append({"path": str(path), "reason": str(error)})
            continue
        embeddings = F.normalize(backbone.features(frames, batch_size=batch_size).float().cpu(), dim=1)
        frame_embeddings.append(embeddings)
        for rate, indices in by_rate.items():
            sequences[rate].append(embeddings[np.searchsorted(union, indices)])
        videos.append(str(path))
    if sum(len(e) for e in frame_embeddings) < 2:
        return RelevanceResult({rate: np.zeros(0) for rate in rates}, None, videos, failed)
    bandwidth = median_bandwidth(frame_embeddings)
    return RelevanceResult(relevance_from_sequences(sequences, bandwidth), bandwidth, videos, failed)


def gaussian_kde(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of 1-D ``values`` on ``grid``, bandwidth by Scott's rule
    h = std * n^(-1/5) (floored at 1e-3 so identical values still draw a peak)."""
    values = np.asarray(values, dtype=np.float64)
    h = max(values.std(ddof=1) * len(values) ** -0.2 if len(values) > 1 else 0.0, 1e-3)
    z = (grid[:, None] - values[None, :]) / h
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(values) * h * np.sqrt(2 * np.pi))


def plot_relevance_density(result: RelevanceResult, path: str | os.PathLike) -> Path:
    """Fig. 1: the kernel density of the relevance (x in [0, 1]) at each rate, one curve per rate,
    the legend giving the rate and its mean; saved as PNG. Rates with no pairs are left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    grid = np.linspace(0.0, 1.0, 501)
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for rate, values in result.relevances.items():
        if len(values):
            ax.plot(grid, gaussian_kde(values, grid), label=f"{rate_key(rate)} fps (mean {values.mean():.3f}, {len(values)} pairs)")
    ax.set_xlim(0, 1)
    ax.set_xlabel("relevance of consecutive candidates, Eq. 1")
    ax.set_ylabel("density")
    if result.bandwidth is not None:
        ax.set_title(f"Frame relevance by sampling rate (sigma = {result.bandwidth:.3f})")
    if ax.lines:
        ax.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
