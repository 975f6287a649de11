"""Checkpoints of learned samplers.

A checkpoint is a directory with ``config.json`` (the sampler's name and options, T, N, the frozen
classifier's fingerprint and label map, the data and training settings) and ``weights.pt``; it is
written atomically, and ``load_checkpoint`` refuses one made for another classifier or label map.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import torch

from framesampler.classifiers.frozen import FrameClassifier, non_finite_weights
from framesampler.learned.base import LearnedSampler
from framesampler.storage import atomic_directory

CHECKPOINT_KEYS = ("sampler", "options", "T", "N", "classifier")  # what marks a directory as a checkpoint


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


def read_checkpoint_config(directory: str | os.PathLike) -> dict:
    """The ``config.json`` of the checkpoint in ``directory``; one line naming the file when the directory
    is not a checkpoint or its config is not a JSON object with the checkpoint's keys."""
    directory = Path(directory)
    if not (directory / "config.json").is_file() or not (directory / "weights.pt").is_file():
        raise FileNotFoundError(f"{directory} is not a sampler checkpoint (needs config.json and weights.pt); "
                                "make one with `framesampler train`")
    path = directory / "config.json"
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}): the checkpoint is damaged; train it again") from None
    missing = [key for key in CHECKPOINT_KEYS if key not in config] if isinstance(config, dict) else CHECKPOINT_KEYS
    if missing:
        raise ValueError(f"{path} is not a checkpoint's config (lacks {', '.join(missing)}): the checkpoint is "
                         "damaged or not framesampler's; train it again")
    return config


def load_checkpoint(directory: str | os.PathLike, classifier: FrameClassifier | None = None) -> LearnedSampler:
    """Rebuild a trained sampler; with ``classifier``, refuse a checkpoint trained for another one."""
    from framesampler.policies.registry import create_sampler

    directory = Path(directory)
    config = read_checkpoint_config(directory)
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
