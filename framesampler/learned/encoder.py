"""The light per-frame encoder f_s of learned samplers, on precomputed frame vectors.

``FeatureEncoder``: ``x -> ReLU(W1 x) -> temporal shift across the T candidates -> ReLU(W2 .)``.
It reads the given per-frame vector (on the shared UCF101 data, the VGG16 relu6 feature the
classifier's head also reads), so it measures the *sampling policy*, not a saving in backbone cost:
in a deployment f_s reads its own cheap input (on video files: a shallow pretrained backbone at low resolution).
Its own cost is ``D*W + W*W`` multiply-accumulates per frame, e.g. 1.1 M for
D = 4096, W = 256, against ~15.5 G for the VGG16 frame the classifier needs.
"""
from __future__ import annotations

import torch
from torch import nn

from framesampler.learned.temporal_shift import shift_segments


class FeatureEncoder(nn.Module):
    """f_s on [B, T, D] frame vectors -> [B, T, W]; ``shift_div = 0`` disables the temporal shift; ``log_input``
    reads ``log1p`` of the (non-negative) input first: the compressed-domain vectors (motion magnitudes, coded
    sizes), as SCSampler's visual sampler does."""

    def __init__(self, input_dim: int, width: int = 256, *, shift_div: int = 8, dropout: float = 0.5,
                 log_input: bool = False) -> None:
        super().__init__()
        self.input_dim, self.out_dim, self.shift_div, self.log_input = input_dim, width, shift_div, log_input
        self.project = nn.Sequential(nn.Dropout(dropout), nn.Linear(input_dim, width), nn.ReLU())
        self.mix = nn.Sequential(nn.Linear(width, width), nn.ReLU())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.ndim != 3 or features.shape[-1] != self.input_dim:
            raise ValueError(f"the encoder takes [videos, T, {self.input_dim}] features, got {tuple(features.shape)}")
        hidden = self.project(torch.log1p(features) if self.log_input else features)
        if self.shift_div:
            hidden = shift_segments(hidden, fold_div=self.shift_div)
        return self.mix(hidden)
