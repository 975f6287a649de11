"""Checkpoints of learned samplers that stand alone.

A checkpoint is one directory (``framesampler.storage.save_module``): ``config.json``, the sampler's
``weights.pt``, the frozen classifier head it was trained against (``classifier.pt``, its config in
``config.json``) and ``train_log.jsonl``. ``config.json`` is versioned (``CheckpointConfig``): the sampler
and its options, T and N, the input it reads (its width and, on video data, how it was extracted), the
classifier's fingerprint and settings, the data and training settings. So ``sample`` and ``batch`` need
neither the training data nor any training, and ``load_checkpoint`` refuses a checkpoint used with
another T, N, input width or classifier, saying what differs.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.saved import any_classifier_from_saved
from framesampler.learned.base import LearnedSampler
from framesampler.policies.registry import create_sampler
from framesampler.storage import load_module, save_module

FORMAT = "framesampler-sampler-checkpoint"
VERSION = 2
MAKE = "`framesampler train`"


@dataclass
class CheckpointConfig:
    """``config.json`` of a checkpoint. ``extract``: the ``ExtractConfig`` (as a dict) of the video
    dataset the sampler's input came from, None for a plain feature file."""

    sampler: str
    options: dict
    T: int
    N: int
    input_dim: int
    classifier: dict  # the fingerprint: weights digest, class ids and names, consensus, head
    classifier_config: dict
    extract: dict | None = None
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    macs_per_frame: int = 0
    format: str = FORMAT
    version: int = VERSION


@dataclass
class Checkpoint:
    """A loaded checkpoint: the sampler, the frozen head it was trained against, and its config."""

    sampler: LearnedSampler
    classifier: FrameClassifier
    config: CheckpointConfig

CHECKPOINT_KEYS = ("sampler", "options", "classifier")  # in config.json of every checkpoint version: what may be replaced


def classifier_fingerprint(classifier: FrameClassifier) -> dict:
    """What a checkpoint must match: the classifier's weights digest (with the user's model's fingerprint), label
    map and consensus."""
    buffer = io.BytesIO()
    torch.save({k: v.contiguous() for k, v in sorted(classifier.state_dict().items())}, buffer)
    model = classifier.config.model  # the user's classifier behind an identity head: its fingerprint is the weights'
    digest = hashlib.sha256(buffer.getvalue() + (model["fingerprint"].encode() if model else b""))
    return {"weights_sha256": digest.hexdigest()[:16],
            "class_ids": list(classifier.config.class_ids), "class_names": list(classifier.config.class_names),
            "consensus": classifier.config.consensus, "head": classifier.config.head}


def save_checkpoint(sampler: LearnedSampler, directory: str | os.PathLike, *, T: int, N: int,
                    classifier: FrameClassifier, extract: dict | None = None, data: dict | None = None,
                    training: dict | None = None, log: list[dict] | None = None) -> Path:
    """Write the checkpoint atomically into ``directory`` (replacing a previous checkpoint, never another
    folder): a reader sees the old checkpoint or the new one, never a mix. Non-finite weights are refused."""
    config = CheckpointConfig(sampler=sampler.name, options=sampler.options, T=T, N=N,
                              input_dim=sampler.options["input_dim"], classifier=classifier_fingerprint(classifier),
                              classifier_config=asdict(classifier.config), extract=extract, data=data or {},
                              training=training or {}, macs_per_frame=sampler.macs_per_frame())
    return save_module(directory, asdict(config), {"weights.pt": sampler.state_dict(), "classifier.pt": classifier.state_dict()},
                       keys=CHECKPOINT_KEYS, texts={"train_log.jsonl": "".join(json.dumps(row) + "\n" for row in log or [])})


def read_checkpoint(directory: str | os.PathLike, *, T: int | None = None, N: int | None = None,
                    input_dim: int | None = None, classifier: FrameClassifier | None = None) -> Checkpoint:
    """Load a checkpoint, checking each given setting against the one it was trained with."""
    directory = Path(directory)
    raw, states = load_module(directory, ("weights.pt", "classifier.pt"), what="sampler checkpoint", make=MAKE)
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise ValueError(f"{directory} is a checkpoint of format {raw.get('format', 'unversioned')!r} version "
                         f"{raw.get('version', 1)}; this framesampler reads version {VERSION}: train it again with {MAKE}")
    config = CheckpointConfig(**raw)
    differences = [f"{name} {trained} (asked {asked})" for name, trained, asked in
                   (("T", config.T, T), ("N", config.N, N), ("input width", config.input_dim, input_dim))
                   if asked is not None and asked != trained]
    if differences:
        raise ValueError(f"checkpoint {directory} was trained with {', '.join(differences)}: use its settings "
                         f"or train one for these with {MAKE}")
    if classifier is not None:
        expected, found = classifier_fingerprint(classifier), config.classifier
        if found["class_ids"] != expected["class_ids"]:
            raise ValueError(f"checkpoint {directory} was trained for classes {found['class_ids']}, "
                             f"but this evaluation's classifier has {expected['class_ids']}: use the same --vocab")
        if found["weights_sha256"] != expected["weights_sha256"]:
            raise ValueError(f"checkpoint {directory} was trained against another frozen classifier "
                             f"({found['weights_sha256']} != {expected['weights_sha256']}): train it again "
                             "with this evaluation's --features/--vocab/--seed/--consensus")
    sampler = create_sampler(config.sampler, **config.options)
    sampler.load_state_dict(states["weights.pt"])
    head = any_classifier_from_saved(config.classifier_config, states["classifier.pt"])
    return Checkpoint(sampler.eval(), head, config)


def load_checkpoint(directory: str | os.PathLike, classifier: FrameClassifier | None = None, *, T: int | None = None,
                    N: int | None = None, input_dim: int | None = None) -> LearnedSampler:
    """The trained sampler of a checkpoint (see ``read_checkpoint`` for the checks)."""
    return read_checkpoint(directory, T=T, N=N, input_dim=input_dim, classifier=classifier).sampler
