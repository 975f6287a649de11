"""Temporal shift (TSM; Lin, Gan and Han, "TSM: Temporal Shift Module for Efficient Video Understanding",
ICCV 2019): a zero-parameter, zero-MAC exchange of channels between neighbouring frames.

Of C channels, the first ``C // fold_div`` move one step towards the past (frame t takes the values of
frame t+1), the next ``C // fold_div`` one step towards the future (frame t takes those of frame t-1),
and the rest stay; vacated places at the ends of each video are zeros (bidirectional, zero-padded shift).
With ``C < fold_div`` nothing moves.

Two layouts, one rule:

- ``shift_segments(x)`` takes ``x`` of shape [B, T, C, ...] (time is dimension 1);
- ``temporal_shift(x, num_segments)`` takes TSM's stacked layout [B*T, C, ...] (B videos of T frames,
  video-major) and never mixes frames of different videos.
"""
from __future__ import annotations

import torch


def shift_segments(x: torch.Tensor, fold_div: int = 8) -> torch.Tensor:
    """Shift channels of ``x`` [B, T, C, ...] along T (dimension 1); returns a new tensor of the same shape."""
    if x.dim() < 3:
        raise ValueError(f"expected x of shape [B, T, C, ...], got {tuple(x.shape)}")
    if fold_div < 2:
        raise ValueError(f"fold_div must be at least 2 (TSM uses 8), got {fold_div}")
    fold = x.shape[2] // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out


def temporal_shift(x: torch.Tensor, num_segments: int, fold_div: int = 8) -> torch.Tensor:
    """Shift channels of ``x`` [B*T, C, ...] across the T = ``num_segments`` frames of each video."""
    if num_segments < 1 or x.dim() < 2 or x.shape[0] % num_segments:
        raise ValueError(f"expected x of shape [B*T, C, ...] with T={num_segments} dividing the first "
                         f"dimension, got {tuple(x.shape)}")
    videos = x.reshape(x.shape[0] // num_segments, num_segments, *x.shape[1:])
    return shift_segments(videos, fold_div).reshape(x.shape)
