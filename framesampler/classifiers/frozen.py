"""The frozen classifier f_c: per-frame backbone output -> head -> consensus -> class probabilities.

On feature data the backbone output is given (e.g. VGG16 relu6); the head (linear, or a small MLP) is
trained TSN-style (random frame per segment, consensus, cross-entropy), chosen by validation
accuracy, saved with its config, and then frozen. ``frame_logits`` scores frames on their own (what
pi_s needs); ``video_log_probs`` combines any subset of frames with the consensus.
"""
from __future__ import annotations

import abc
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar, overload

import numpy as np
import torch
from torch import nn

from framesampler.candidates import segment_positions
from framesampler.classifiers.consensus import check_consensus, consensus_log_probs
from framesampler.cost import count_macs
from framesampler.data.features import VideoSet
from framesampler.data.manifest import stratified_split
from framesampler.storage import load_module, save_module, settings_from_dict

HEADS = ("linear", "mlp")  # the heads framesampler trains
LOGITS_HEAD = "identity"  # the user's own classifier: its cached per-frame logits are the frames, nothing is trained
CLASSIFIER_KEYS = ("input_dim", "class_ids", "class_names", "head", "consensus")  # what marks a saved classifier


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild the classifier and to check it matches a dataset."""

    input_dim: int
    class_ids: list[int]
    class_names: list[str]
    head: str = "linear"
    hidden: int = 512
    dropout: float = 0.5
    consensus: str = "avg_logits"
    backbone: str = "precomputed-features"
    trained_on: str = ""
    report: dict = field(default_factory=dict)
    layers: int = 2  # the clip classifier's (head "transformer") blocks and attention heads
    heads: int = 4
    model: dict = field(default_factory=dict)  # head "identity": the user's classifier (``ModelClassifier.identity``)

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)


class VideoClassifier(nn.Module, metaclass=abc.ABCMeta):
    """The frozen classifier of frame features, either kind (``FrameClassifier``, ``ClipClassifier``): what
    ``fit_tsn`` trains, ``save_classifier`` saves and the samplers are trained and evaluated against. An abstract
    interface: each kind implements the four methods."""

    config: ClassifierConfig

    @abc.abstractmethod
    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Logits [..., C] of each frame [..., D] alone."""

    @abc.abstractmethod
    def video_log_probs(self, frames: torch.Tensor) -> torch.Tensor:
        """Log class probabilities [..., C] of clips of frames [..., K, D]."""

    @abc.abstractmethod
    def subset_log_probs(self, frames: torch.Tensor, frame_logits: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """``subsets [S, K] -> log probs [S, C]`` of one video's candidates: frames [T, D], their logits [T, C]."""

    @abc.abstractmethod
    def macs(self, num_frames: int) -> int:
        """MACs of the classifier after the backbone on K frames."""


class FrameClassifier(VideoClassifier):
    """Head over per-frame features plus the consensus; eval mode and no gradients once frozen."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if config.head not in (*HEADS, LOGITS_HEAD):
            raise ValueError(f"unknown head {config.head!r}: use one of {', '.join(HEADS)}")
        check_consensus(config.consensus)
        self.config = config
        self.head: nn.Module
        if config.head == LOGITS_HEAD:
            self.head = nn.Identity()
            return
        layers: list[nn.Module] = [nn.Dropout(config.dropout)]
        if config.head == "mlp":
            layers += [nn.Linear(config.input_dim, config.hidden), nn.ReLU(), nn.Dropout(config.dropout)]
        layers.append(nn.Linear(config.hidden if config.head == "mlp" else config.input_dim, config.num_classes))
        self.head = nn.Sequential(*layers)

    def frame_logits(self, frames: torch.Tensor) -> torch.Tensor:
        """Logits [..., C] of each frame alone, frames [..., D]."""
        if frames.shape[-1] != self.config.input_dim:
            raise ValueError(f"the classifier takes {self.config.input_dim}-d frame features, got {frames.shape[-1]}-d")
        return self.head(frames)

    def video_log_probs(self, frames: torch.Tensor) -> torch.Tensor:
        """Log class probabilities [..., C] of clips of frames [..., K, D] under the consensus."""
        return consensus_log_probs(self.frame_logits(frames), self.config.consensus)

    def subset_log_probs(self, frames: torch.Tensor, frame_logits: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """``subsets [S, K] -> log probs [S, C]`` of one video's candidates: the consensus of their logits
        ``frame_logits`` [T, C] (``frames`` [T, D] are not needed again)."""
        return lambda subsets: consensus_log_probs(frame_logits[subsets], self.config.consensus)

    def macs(self, num_frames: int) -> int:
        """MACs of the head on K frames (the consensus costs nothing; the identity head none)."""
        if self.config.head == LOGITS_HEAD:
            return 0
        return num_frames * count_macs(self.head, torch.zeros(1, self.config.input_dim))

    def freeze(self) -> FrameClassifier:
        self.eval()
        self.requires_grad_(False)
        return self


def logits_head(model: dict, consensus: str = "avg_logits") -> FrameClassifier:
    """The frozen classifier over a user's cached logits: frames are the model's logits [..., C] on each frame
    (``extract --classifier``), the head is the identity, the video prediction their ``consensus``. ``model``: the
    classifier's identity (spec, fingerprint, classes, size, kind), recorded in every checkpoint trained against it."""
    classes = list(model["classes"])
    config = ClassifierConfig(input_dim=len(classes), class_ids=list(range(len(classes))), class_names=classes,
                              head=LOGITS_HEAD, consensus=consensus, backbone=model["spec"], model=dict(model))
    return FrameClassifier(config).freeze()


def fit_tsn(model: VideoClassifier, videos: VideoSet, members: np.ndarray, *, clip_frames: Callable[[torch.Generator, int], int],
            epochs: int, batch_size: int, lr: float, seed: int) -> None:
    """TSN training of a classifier with ``video_log_probs``: each step, one random frame in each of
    ``clip_frames(generator, length)`` segments of every video of the batch, cross-entropy of the video's
    prediction; AdamW and a cosine schedule."""
    generator = torch.Generator().manual_seed(seed)
    refs = torch.from_numpy(videos.refs[members])
    labels = torch.from_numpy(videos.labels[members])
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, epochs)
    length = refs.shape[1]
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(members), generator=generator).split(batch_size):
            segments = clip_frames(generator, length)
            frames = videos.frames[refs[batch].gather(1, segment_positions(len(batch), length, segments, generator))]
            loss = nn.functional.nll_loss(model.video_log_probs(frames), labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
    model.eval()


@torch.no_grad()
def dense_scores(model: VideoClassifier, videos: VideoSet, members: np.ndarray | None = None) -> tuple[float, float]:
    """(top-1, mean negative log-likelihood) of the classifier on all frames of each video."""
    members = np.arange(len(videos)) if members is None else members
    log_probs = model.video_log_probs(videos.frames[torch.from_numpy(videos.refs[members])])
    labels = torch.from_numpy(videos.labels[members])
    top1 = (log_probs.argmax(-1) == labels).float().mean().item()
    return top1, nn.functional.nll_loss(log_probs, labels).item()


def train_classifier(train: VideoSet, *, heads: tuple[str, ...] = HEADS, consensus: str = "avg_logits",
                     segments: int = 3, epochs: int = 30, batch_size: int = 32, lr: float = 1e-3,
                     val_fraction: float = 0.15, seed: int = 0, trained_on: str = "") -> FrameClassifier:
    """Train each head kind on the training videos, keep the best by validation top-1 (ties: lower
    validation NLL), freeze it."""
    torch.manual_seed(seed)
    if not heads:
        raise ValueError("heads is empty: name at least one of " + ", ".join(HEADS))
    fit, val = stratified_split(train.labels, val_fraction, np.random.default_rng(seed))
    best: FrameClassifier | None = None
    best_key = (-math.inf, -math.inf)
    top1s: dict[str, float] = {}
    nlls: dict[str, float] = {}
    for head in heads:
        config = ClassifierConfig(input_dim=train.frames.shape[1], class_ids=list(train.class_ids),
                                  class_names=list(train.class_names), head=head, consensus=consensus,
                                  trained_on=trained_on)
        model = FrameClassifier(config)
        fit_tsn(model, train, fit, clip_frames=lambda generator, length: segments, epochs=epochs,
                batch_size=batch_size, lr=lr, seed=seed)
        top1, nll = dense_scores(model, train, val)
        top1s[head], nlls[head] = top1, nll
        if best is None or (top1, -nll) > best_key:
            best, best_key = model, (top1, -nll)
    assert best is not None  # heads is not empty
    best.config.report.update({"validation_top1": top1s, "validation_nll": nlls, "validation_videos": int(len(val)),
                               "train_videos": int(len(fit))}, chosen_head=best.config.head)
    return best.freeze()


def save_classifier(model: VideoClassifier, directory: str | os.PathLike) -> Path:
    """Write ``config.json`` and ``weights.pt`` atomically: a reader sees the old or the new, never half.
    It replaces only a saved classifier, and one with non-finite weights is refused (``save_module``)."""
    return save_module(directory, asdict(model.config), {"weights.pt": model.state_dict()}, keys=CLASSIFIER_KEYS)


def classifier_from_saved(config: dict, weights: dict) -> FrameClassifier:
    """The frozen classifier of a saved ``ClassifierConfig`` (as a dict) and its state dict."""
    model = FrameClassifier(settings_from_dict(ClassifierConfig, config, where="the saved classifier's config",
                                               fix="train it again (framesampler train or evaluate)"))
    model.load_state_dict(weights)
    return model.freeze()


def load_head(directory: str | os.PathLike) -> FrameClassifier:
    """Load a frozen classifier saved by ``save_classifier`` (one with non-finite weights is refused)."""
    config, states = load_module(directory, ("weights.pt",), what="saved classifier", make="framesampler train/evaluate")
    return classifier_from_saved(config, states["weights.pt"])


Trained = TypeVar("Trained", bound=VideoClassifier)


@overload
def cached_classifier(cache_dir: str | os.PathLike, key: dict, train: Callable[[], FrameClassifier]) -> FrameClassifier: ...
@overload
def cached_classifier(cache_dir: str | os.PathLike, key: dict, train: Callable[[], Trained],
                      load: Callable[[Path], Trained]) -> Trained: ...
def cached_classifier(cache_dir: str | os.PathLike, key: dict, train: Callable[[], VideoClassifier],
                      load: Callable[[Path], VideoClassifier] = load_head) -> VideoClassifier:
    """Load the classifier trained for ``key`` from ``cache_dir``, or train, save and return it. A cached
    one with non-finite weights (written by an older version) is trained again; none is ever saved."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    directory = Path(cache_dir) / "classifiers" / digest
    if (directory / "weights.pt").is_file():
        try:
            return load(directory)
        except ValueError as err:
            print(f"framesampler: {err}; training it again", file=sys.stderr)
    model = train()
    save_classifier(model, directory)
    return model
