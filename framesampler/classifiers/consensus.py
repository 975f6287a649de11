"""How the frozen classifier turns per-frame logits into one video-level prediction.

Three consensus rules (TSN's segmental consensus and its variants), all on logits ``z`` [..., K, C]
of K frames:

- ``"avg_logits"``: ``softmax(mean_k z_k)`` (TSN's average consensus, mmaction2's default);
- ``"avg_probs"``: ``mean_k softmax(z_k)`` (averaging class probabilities);
- ``"max"``: ``softmax(max_k z_k)`` (max pooling of class scores over frames).
"""
from __future__ import annotations

import torch

from framesampler.constants import CONSENSUS


def check_consensus(kind: str) -> str:
    if kind not in CONSENSUS:
        raise ValueError(f"unknown consensus {kind!r}; use one of {', '.join(CONSENSUS)}")
    return kind


def consensus_log_probs(frame_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Video-level log class probabilities [..., C] from frame logits [..., K, C] (K >= 1)."""
    check_consensus(kind)
    if frame_logits.shape[-2] == 0:
        raise ValueError("consensus over zero frames is undefined: select at least one frame")
    if kind == "avg_logits":
        return torch.log_softmax(frame_logits.mean(dim=-2), dim=-1)
    if kind == "max":
        return torch.log_softmax(frame_logits.amax(dim=-2), dim=-1)
    frame_log_probs = torch.log_softmax(frame_logits, dim=-1)
    k = frame_logits.shape[-2]
    return torch.logsumexp(frame_log_probs, dim=-2) - torch.log(torch.tensor(float(k), dtype=frame_logits.dtype))


def consensus_probs(frame_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Video-level class probabilities [..., C] from frame logits [..., K, C]."""
    return consensus_log_probs(frame_logits, kind).exp()
