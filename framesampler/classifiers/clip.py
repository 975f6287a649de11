"""A frozen clip classifier whose frames interact: a small temporal transformer over per-frame features.

The per-frame head + consensus of ``classifiers/frozen.py`` lets frames meet only in the consensus, so
under the mean of probabilities pi_s(label) is pi_o by construction. The classifiers of Lee et al. (BMVC
2024) mix frames inside the network (TimeSformer's divided space-time attention); this one does so over
the precomputed per-frame vectors:

    frames [..., K, D] -> Linear(D, d) + sinusoidal encoding of each frame's place in the clip (0..K-1)
    -> ``layers`` pre-norm transformer blocks (``heads``-head self-attention over the K frames, MLP 4d)
    -> LayerNorm, mean over the K tokens -> Linear(d, C)

Frames are given in time order (a sampler's choice sorted by time). ``frame_logits`` treats each frame
as a one-frame clip (what pi_s scores, Lee et al. Sec. 4.1), ``video_log_probs`` reads the clip.
Trained like the per-frame head on the vocabulary's trimmed training clips, TSN-style: each step takes K
frames, one random frame in each of K equal segments, K drawn uniformly from 1..``max_frames`` per
batch, so it classifies any clip length it will be shown; AdamW with a cosine schedule, cross-entropy.
It is saved and cached the same way (``save_classifier``, ``cached_classifier`` with
``load_clip_classifier``); ``framesampler.classifiers.saved`` rebuilds either kind.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from framesampler.classifiers.frozen import ClassifierConfig, VideoClassifier, fit_tsn
from framesampler.cost import count_macs
from framesampler.data.features import VideoSet
from framesampler.data.manifest import stratified_split
from framesampler.storage import load_module, settings_from_dict

CLIP_HEAD = "transformer"


def positions_encoding(length: int, width: int) -> torch.Tensor:
    """Sinusoidal encoding [length, width] of places 0..length-1 (Vaswani et al. 2017)."""
    rates = torch.exp(-math.log(10000.0) * torch.arange(0, width, 2) / width)
    angles = torch.arange(length, dtype=torch.float32)[:, None] * rates
    encoding = torch.zeros(length, width)
    encoding[:, 0::2], encoding[:, 1::2] = torch.sin(angles), torch.cos(angles[:, : width // 2])
    return encoding


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(LN x), then x + MLP(LN x); projections are ``nn.Linear``
    modules so ``count_macs`` sees them (the two attention products are added in ``ClipClassifier.macs``)."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"the width {width} must be a multiple of the heads {heads}")
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * width, width))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, w = x.shape
        q, key, v = self.qkv(self.norm1(x)).reshape(b, k, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        attention = torch.softmax(q @ key.transpose(-1, -2) / math.sqrt(w // self.heads), dim=-1)
        x = x + self.dropout(self.out((attention @ v).transpose(1, 2).reshape(b, k, w)))
        return x + self.dropout(self.mlp(self.norm2(x)))


class ClipClassifier(VideoClassifier):
    """The clip classifier f_c (see the module docstring); ``config.hidden`` is the width d."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if config.head != CLIP_HEAD:
            raise ValueError(f"a clip classifier has head {CLIP_HEAD!r}, got {config.head!r}")
        self.config, self.layers, self.heads = config, config.layers, config.heads
        self.project = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.input_dim, config.hidden))
        self.blocks = nn.ModuleList(Block(config.hidden, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.hidden)
        self.classify = nn.Linear(config.hidden, config.num_classes)

    def clip_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Logits [..., C] of clips [..., K, D] (K >= 1 frames in time order)."""
        if frames.shape[-1] != self.config.input_dim:
            raise ValueError(f"the classifier takes {self.config.input_dim}-d frame features, got {frames.shape[-1]}-d")
        if frames.shape[-2] == 0:
            raise ValueError("a clip of zero frames cannot be classified: select at least one frame")
        lead, (k, d) = frames.shape[:-2], frames.shape[-2:]
        x = self.project(frames.reshape(-1, k, d)) + positions_encoding(k, self.config.hidden).to(frames.device)
        for block in self.blocks:
            x = block(x)
        return self.classify(self.norm(x).mean(dim=1)).reshape(*lead, -1)

    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Logits [..., C] of each frame [..., D] as a one-frame clip (pi_s's per-frame confidence)."""
        return self.clip_logits(frames[..., None, :])

    def video_log_probs(self, frames: torch.Tensor) -> torch.Tensor:
        """Log class probabilities [..., C] of clips [..., K, D]."""
        return torch.log_softmax(self.clip_logits(frames), dim=-1)

    def subset_log_probs(self, frames: torch.Tensor, frame_logits: torch.Tensor,
                         chunk: int = 4096) -> Callable[[torch.Tensor], torch.Tensor]:
        """``subsets [S, K] -> log probs [S, C]`` of this video's candidates ``frames`` [T, D] (sorted rows)."""
        def score(subsets: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return torch.cat([self.video_log_probs(frames[part]) for part in subsets.split(chunk)])
        return score

    def macs(self, num_frames: int) -> int:
        """MACs of everything after the backbone on a clip of K frames: the layers' ``nn.Linear`` modules
        and, per block, the products Q K^T and A V (2 K^2 d)."""
        linear = count_macs(self, torch.zeros(1, num_frames, self.config.input_dim))
        return linear + self.layers * 2 * num_frames * num_frames * self.config.hidden

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.clip_logits(frames)

    def freeze(self) -> ClipClassifier:
        self.eval()
        self.requires_grad_(False)
        return self


def random_clip_length(max_frames: int) -> Callable[[torch.Generator, int], int]:
    """K uniform in 1..max_frames (at most the video's length) for each training batch."""
    return lambda generator, length: int(torch.randint(1, min(max_frames, length) + 1, (1,), generator=generator))


@torch.no_grad()
def clip_scores(model: ClipClassifier, videos: VideoSet, members: np.ndarray, frames: int) -> float:
    """Top-1 of the classifier on ``frames`` uniform frames (segment centres) of each video."""
    length = videos.refs.shape[1]
    centres = ((np.arange(frames) + 0.5) * length / frames).astype(np.int64)
    logits = model.clip_logits(videos.frames[torch.from_numpy(videos.refs[members][:, centres])])
    return float((logits.argmax(-1).numpy() == videos.labels[members]).mean())


def train_clip_classifier(train: VideoSet, *, width: int = 128, layers: int = 2, heads: int = 4, max_frames: int = 16,
                          dropout: float = 0.1, epochs: int = 40, batch_size: int = 32, lr: float = 1e-3,
                          val_fraction: float = 0.15, seed: int = 0, trained_on: str = "") -> ClipClassifier:
    """Train the clip classifier on the training videos (a validation share held out for its report), freeze it."""
    torch.manual_seed(seed)
    fit, val = stratified_split(train.labels, val_fraction, np.random.default_rng(seed))
    config = ClassifierConfig(input_dim=train.frames.shape[1], class_ids=list(train.class_ids),
                              class_names=list(train.class_names), head=CLIP_HEAD, hidden=width, dropout=dropout,
                              consensus="clip", trained_on=trained_on, layers=layers, heads=heads)
    model = ClipClassifier(config)
    fit_tsn(model, train, fit, clip_frames=random_clip_length(max_frames), epochs=epochs, batch_size=batch_size,
            lr=lr, seed=seed)
    config.report.update({"validation_top1_1_frame": clip_scores(model, train, val, 1),
                          "validation_top1_6_frames": clip_scores(model, train, val, 6),
                          "validation_videos": int(len(val)), "train_videos": int(len(fit)),
                          "max_frames": max_frames, "epochs": epochs})
    return model.freeze()


def clip_from_saved(config: dict, weights: dict) -> ClipClassifier:
    """The frozen clip classifier of a saved ``ClassifierConfig`` (as a dict) and its state dict."""
    model = ClipClassifier(settings_from_dict(ClassifierConfig, config, where="the saved clip classifier's config",
                                              fix="train it again (framesampler train or evaluate --classifier clip)"))
    model.load_state_dict(weights)
    return model.freeze()


def load_clip_classifier(directory: str | os.PathLike) -> ClipClassifier:
    """Load a frozen clip classifier saved by ``framesampler.classifiers.frozen.save_classifier``."""
    config, states = load_module(directory, ("weights.pt",), what="saved clip classifier",
                                 make="framesampler train/evaluate --classifier clip")
    return clip_from_saved(config, states["weights.pt"])
