"""What every learned sampler shares: the encoder, the sampler contract, and checkpoints.

A learned sampler is an ``nn.Module`` and a ``Sampler``: ``frame_scores`` maps candidate features
[B, T, D] to importance logits [B, T] (differentiable), ``loss`` is its paper's training objective on
a batch, and ``select`` (inherited) is top-N of the scores, sorted by time.

A checkpoint is a directory with ``config.json`` (the sampler's name and options, T, N, the frozen
classifier's fingerprint and label map, the data and training settings) and ``weights.pt``; it is
written atomically, and ``load_checkpoint`` refuses one made for another classifier or label map.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates
from framesampler.classifiers.frozen import FrameClassifier, non_finite_weights
from framesampler.eval.cost import count_macs
from framesampler.learned.encoder import FeatureEncoder
from framesampler.learned.mobilenet import MobileNetV2Encoder, normalise_pixels
from framesampler.policies.base import Context, Sampler
from framesampler.storage import atomic_directory


@dataclass
class TrainingBatch:
    """One batch for ``loss``: candidate features [B, T, D], the frozen classifier's logits on each
    candidate [B, T, C], labels [B], and the classifier's consensus."""

    features: torch.Tensor
    frame_logits: torch.Tensor
    labels: torch.Tensor
    consensus: str


ENCODERS = ("features", "mobilenet_v2")
CHECKPOINT_KEYS = ("sampler", "options", "T", "N", "classifier")  # what marks a directory as a checkpoint


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


def classifier_fingerprint(classifier: FrameClassifier) -> dict:
    """What a checkpoint must match: the classifier's weights digest, label map and consensus."""
    buffer = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in sorted(classifier.state_dict().items())}, buffer)
    return {"weights_sha256": hashlib.sha256(buffer.getvalue()).hexdigest()[:16],
            "class_ids": list(classifier.config.class_ids), "class_names": list(classifier.config.class_names),
            "consensus": classifier.config.consensus, "head": classifier.config.head}


def save_checkpoint(sampler: LearnedSampler, directory: str | os.PathLike, *, T: int, N: int,
                    classifier: FrameClassifier, extra: dict | None = None, log: list[dict] | None = None) -> Path:
    """Write ``config.json``, ``weights.pt`` and ``train_log.jsonl`` atomically into ``directory``
    (replacing a previous checkpoint, never another folder): a reader sees the old checkpoint or the new
    one, never a mix. Non-finite weights (a diverged training) are refused, not saved."""
    bad = non_finite_weights(sampler)
    if bad:
        raise ValueError(f"training diverged: {sampler.name} has non-finite weights ({', '.join(bad[:3])}); "
                         "nothing was saved: lower --lr or check the data for NaN/inf")
    config = {"sampler": sampler.name, "options": sampler.options, "T": T, "N": N,
              "macs_per_frame": sampler.macs_per_frame(), "classifier": classifier_fingerprint(classifier),
              **(extra or {})}
    with atomic_directory(directory, keys=CHECKPOINT_KEYS) as staging:
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        torch.save(sampler.state_dict(), staging / "weights.pt")
        (staging / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log or []))
    return Path(directory)


def load_checkpoint(directory: str | os.PathLike, classifier: FrameClassifier | None = None) -> LearnedSampler:
    """Rebuild a trained sampler; with ``classifier``, refuse a checkpoint trained for another one."""
    from framesampler.policies.registry import create_sampler

    directory = Path(directory)
    if not (directory / "config.json").is_file() or not (directory / "weights.pt").is_file():
        raise FileNotFoundError(f"{directory} is not a sampler checkpoint (needs config.json and weights.pt); "
                                "make one with `framesampler train`")
    config = json.loads((directory / "config.json").read_text())
    if classifier is not None:
        expected, found = classifier_fingerprint(classifier), config["classifier"]
        if found["class_ids"] != expected["class_ids"]:
            raise ValueError(f"checkpoint {directory} was trained for classes {found['class_ids']}, "
                             f"but this evaluation's classifier has {expected['class_ids']}: use the same --vocab")
        if found["weights_sha256"] != expected["weights_sha256"]:
            raise ValueError(f"checkpoint {directory} was trained against another frozen classifier "
                             f"({found['weights_sha256']} != {expected['weights_sha256']}): train it again "
                             "with this evaluation's --features/--vocab/--seed/--consensus")
    sampler = create_sampler(config["sampler"], **config["options"])
    sampler.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
    sampler.checkpoint = config
    return sampler.eval()
