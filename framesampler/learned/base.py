"""What every learned sampler shares: the encoder and the sampler contract.

A learned sampler is an ``nn.Module`` and a ``Sampler``: ``frame_scores`` maps candidate features
[B, T, D] to importance logits [B, T] (differentiable), ``loss`` is its paper's training objective on
a batch, and ``select`` (inherited) is top-N of the scores, sorted by time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates
from framesampler.cost import count_macs
from framesampler.learned.encoder import FeatureEncoder
from framesampler.learned.mobilenet import MobileNetV2Encoder, normalise_pixels
from framesampler.policies.base import Context, Sampler


@dataclass
class TrainingBatch:
    """One batch for ``loss``: candidate features [B, T, D], the frozen classifier's logits on each
    candidate [B, T, C], labels [B], and the classifier's consensus."""

    features: torch.Tensor
    frame_logits: torch.Tensor
    labels: torch.Tensor
    consensus: str


ENCODERS = ("features", "mobilenet_v2")


class LearnedSampler(nn.Module, Sampler):
    """Encoder f_s (``"features"``: ``FeatureEncoder`` on frame vectors; ``"mobilenet_v2"``: MobileNetV2
    + TSM on candidate pixels) plus a head. Subclasses define ``frame_scores(features [B, T, D]) -> [B, T]`` and
    ``loss(batch: TrainingBatch) -> {"loss": scalar, ...components}``."""

    needs = ("features",)
    default_lr = 1e-3
    budget_option: str | None = None  # the constructor option that takes N, for samplers trained for one N

    def __init__(self, *, input_dim: int, num_classes: int, encoder: str = "features", width: int = 256,
                 width_mult: float = 1.0, resolution: int = 128, shift_div: int = 8, dropout: float = 0.5,
                 seed: int = 0) -> None:
        nn.Module.__init__(self)
        Sampler.__init__(self, seed=seed)
        torch.manual_seed(seed)
        self.options: dict[str, Any] = dict(input_dim=input_dim, num_classes=num_classes, encoder=encoder,
                                             width=width, width_mult=width_mult, resolution=resolution,
                                             shift_div=shift_div, dropout=dropout, seed=seed)
        if encoder == "features":
            self.encoder = FeatureEncoder(input_dim, width, shift_div=shift_div, dropout=dropout)
        elif encoder == "mobilenet_v2":
            self.encoder = MobileNetV2Encoder(width_mult, shift_div=shift_div or None)
        else:
            raise ValueError(f"unknown encoder {encoder!r}: use one of {', '.join(ENCODERS)}")
        self.needs = ("features",) if encoder == "features" else ("pixels",)

    def candidate_input(self, candidates: Candidates) -> torch.Tensor:
        """The encoder's input for one video: features [1, T, D] or normalised pixels [1, T, 3, H, W]."""
        if self.options["encoder"] == "features":
            if candidates.features.shape[1] != self.options["input_dim"]:
                raise ValueError(f"candidates.features are {candidates.features.shape[1]}-d, but {self.name!r} takes "
                                 f"{self.options['input_dim']}-d features (its input_dim): give the input it was trained on")
            return torch.as_tensor(candidates.features, dtype=torch.float32)[None]
        if candidates.pixels.shape[-1] != 3:
            raise ValueError(f"candidates.pixels must be RGB frames [T, H, W, 3], got shape {candidates.pixels.shape}")
        return normalise_pixels(candidates.pixels)[None]

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        features = self.candidate_input(candidates)
        was_training = self.training
        self.eval()
        with torch.no_grad():
            scores = self.frame_scores(features)[0]
        self.train(was_training)
        return scores.numpy()

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of f_s and the scoring head for one candidate (pixel encoders at
        ``resolution`` px)."""
        if self.options["encoder"] == "features":
            example = torch.zeros(1, 1, self.options["input_dim"])
        else:
            example = torch.zeros(1, 1, 3, self.options["resolution"], self.options["resolution"])
        return count_macs(self.encoder, example) + self.encoder.out_dim
