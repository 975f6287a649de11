"""Metrics of a sampler + classifier on a set of videos.

- ``top1``: fraction of videos whose highest-probability class is the label.
- ``mean_average_precision``: mean over classes of the average precision of the video-level scores
  for that class (scikit-learn's step-wise AP: sum over thresholds of (R_k - R_{k-1}) P_k; tied
  scores form one threshold). Classes with no positive video are left out.
- ``sampling_fidelity``: ``E |S_t ∩ S_o| / N`` against the optimal policy's subsets (Lee et al. 2024,
  Table 2).
- ``in_burst_fraction``: the share of all chosen frames that lie inside an action burst of an untrimmed
  video (the ground truth of the construction): the pixel-level analogue of fidelity.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of scores [V, C] against integer labels [V]."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if len(scores) == 0:
        raise ValueError("top-1 of zero videos is undefined")
    return float((scores.argmax(axis=1) == labels).mean())


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: scores [V], positives [V] bool (at least one positive)."""
    scores, positives = np.asarray(scores, dtype=np.float64), np.asarray(positives, dtype=bool)
    if not positives.any():
        raise ValueError("average precision needs at least one positive video")
    order = np.argsort(-scores, kind="stable")
    scores, positives = scores[order], positives[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(positives)[last_of_threshold]
    precision = true_positives / (last_of_threshold + 1)
    recall_gain = np.diff(np.r_[0, true_positives]) / positives.sum()
    return float((recall_gain * precision).sum())


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes (with at least one positive) of the AP of video scores [V, C]."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    classes = [c for c in range(scores.shape[1]) if (labels == c).any()]
    if not classes:
        raise ValueError("mAP needs at least one labeled video")
    return float(np.mean([average_precision(scores[:, c], labels == c) for c in classes]))


def sampling_fidelity(selected: Sequence[np.ndarray], optimal: Sequence[np.ndarray]) -> float:
    """Mean over videos of ``|S_t ∩ S_o| / |S_o|`` (``|S_o| = N``)."""
    if len(selected) != len(optimal) or not selected:
        raise ValueError("fidelity needs one selected and one optimal subset per video")
    return float(np.mean([len(np.intersect1d(s, o)) / max(len(o), 1) for s, o in zip(selected, optimal)]))


def in_burst_fraction(selected: Sequence[np.ndarray], inside: Sequence[np.ndarray] | np.ndarray) -> float:
    """Chosen frames inside a burst over all chosen frames, pooled over videos; ``selected[v]`` are
    positions into ``inside[v]`` ([T] bool, per candidate; ``inside`` a list or a [V, T] array)."""
    if len(selected) != len(inside) or not selected:
        raise ValueError("in_burst needs one selection and one inside-burst mask per video")
    chosen = sum(len(s) for s in selected)
    if chosen == 0:
        raise ValueError("in_burst of zero chosen frames is undefined")
    return float(sum(int(np.asarray(m, bool)[np.asarray(s, np.int64)].sum()) for s, m in zip(selected, inside)) / chosen)
