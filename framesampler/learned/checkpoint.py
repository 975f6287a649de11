"""Checkpoints of learned samplers that stand alone.

A checkpoint is one directory (``framesampler.storage.save_module``): ``config.json``, the sampler's
``weights.pt``, the frozen classifier head it was trained against (``classifier.pt``, its config in
``config.json``) and ``train_log.jsonl``. ``config.json`` is versioned (``CheckpointConfig``): the sampler
and its options, T and N, the input it reads (its width and, on video data, how it was extracted), the
classifier's fingerprint and settings, the data and training settings. So ``sample`` and ``batch`` need
neither the training data nor any training, and ``load_checkpoint`` refuses a checkpoint used with
another T, N, input width or classifier, saying what differs. A checkpoint may come from anyone: its
``config.json`` is checked (its keys, their types, T, N and widths within bounds) and its models are built
and loaded on the meta device first, so a config that does not fit its weights costs no memory.

Checkpoints evolve: ``config.json`` records the framesampler and torch ``versions`` that wrote it, and a key this
framesampler does not know (a newer one wrote it) or a required key it lacks is refused in one line naming them and
the writer's version. Version 2 checkpoints written before ``versions`` existed load unchanged (no versions);
version 1 (before the frozen head was saved beside the sampler) lacks ``classifier.pt`` and cannot be migrated.
The weights are ``weights.pt``/``classifier.pt`` (``torch.save``, the default) or, with ``weights_format=
"safetensors"`` (the ``safetensors`` extra), ``.safetensors`` files; loading reads whichever is there,
``torch.load`` always with ``weights_only=True``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import typing
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from framesampler import __version__
from framesampler.candidates import MAX_T
from framesampler.classifiers.frozen import ClassifierConfig, VideoClassifier
from framesampler.classifiers.pretrained import MAX_RESOLUTION, MIN_RESOLUTION
from framesampler.classifiers.saved import any_classifier_from_saved
from framesampler.data.dataset import ExtractConfig
from framesampler.learned.base import MAX_INPUT_DIM, LearnedSampler, create_learned_sampler, learned_sampler_class
from framesampler.storage import WeightsFormat, key_problems, load_module, one_line, save_module

FORMAT = "framesampler-sampler-checkpoint"
VERSION = 2
MAKE = "`framesampler train`"
Loaded = typing.TypeVar("Loaded", bound=torch.nn.Module)


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
    versions: dict = field(default_factory=dict)  # {"framesampler": ..., "torch": ...} that wrote it
    format: str = FORMAT
    version: int = VERSION


@dataclass
class Checkpoint:
    """A loaded checkpoint: the sampler, the frozen head it was trained against, and its config."""

    sampler: LearnedSampler
    classifier: VideoClassifier
    config: CheckpointConfig

CHECKPOINT_KEYS = ("sampler", "options", "classifier")  # in config.json of every checkpoint version: what may be replaced


def classifier_fingerprint(classifier: VideoClassifier) -> dict:
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
                    classifier: VideoClassifier, extract: dict | None = None, data: dict | None = None,
                    training: dict | None = None, log: list[dict] | None = None, weights_format: WeightsFormat = "pt") -> Path:
    """Write the checkpoint atomically into ``directory`` (replacing a previous checkpoint, never another
    folder): a reader sees the old checkpoint or the new one, never a mix. Non-finite weights are refused.
    ``weights_format``: ``"pt"`` (``torch.save``) or ``"safetensors"`` (module docstring)."""
    config = CheckpointConfig(sampler=sampler.name, options=sampler.options, T=T, N=N,
                              input_dim=sampler.options["input_dim"], classifier=classifier_fingerprint(classifier),
                              classifier_config=asdict(classifier.config), extract=extract, data=data or {},
                              training=training or {}, macs_per_frame=sampler.macs_per_frame(),
                              versions={"framesampler": __version__, "torch": torch.__version__})
    return save_module(directory, asdict(config), {"weights.pt": sampler.state_dict(), "classifier.pt": classifier.state_dict()},
                       keys=CHECKPOINT_KEYS, texts={"train_log.jsonl": "".join(json.dumps(row) + "\n" for row in log or [])},
                       weights_format=weights_format)


def read_checkpoint(directory: str | os.PathLike, *, T: int | None = None, N: int | None = None,
                    input_dim: int | None = None, classifier: VideoClassifier | None = None) -> Checkpoint:
    """Load a checkpoint, checking each given setting against the one it was trained with."""
    directory = Path(directory)
    raw, states = load_module(directory, ("weights.pt", "classifier.pt"), what="sampler checkpoint", make=MAKE)
    if raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise ValueError(f"{directory} is a checkpoint of format {raw.get('format', 'unversioned')!r} version "
                         f"{raw.get('version', 1)}; this framesampler reads version {VERSION}: train it again with {MAKE}")
    config = checked_config(raw, directory)
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
    options = {**learned_sampler_class(config.sampler).earlier_options, **config.options}  # an older config
    sampler = _fitted(directory, lambda: _loaded(create_learned_sampler(config.sampler, **options), states["weights.pt"]))
    head = _fitted(directory, lambda: any_classifier_from_saved(config.classifier_config, states["classifier.pt"]))
    return Checkpoint(sampler.eval(), head, config)


def checked_config(raw: dict, directory: Path) -> CheckpointConfig:
    """``config.json`` as a ``CheckpointConfig``, refused (``ValueError``, one line) unless it has exactly its
    keys, each of its type, 1 <= N <= T <= ``MAX_T``, 1 <= input_dim <= ``MAX_INPUT_DIM``, a classifier
    fingerprint and ``extract`` settings with resolutions a backbone takes."""
    types = typing.get_type_hints(CheckpointConfig)
    wrong = [f"{key} {raw[key]!r:.30} is not {getattr(kind, '__name__', kind)}" for key, kind in types.items()
             if key in raw and (not isinstance(raw[key], kind) or (kind is int and isinstance(raw[key], bool)))]
    wrong += key_problems(CheckpointConfig, raw)
    if not wrong:
        wrong += [f"classifier_config has {problem}" for problem in key_problems(ClassifierConfig, raw["classifier_config"])]
        if not 1 <= raw["N"] <= raw["T"] <= MAX_T:
            wrong.append(f"T {raw['T']} and N {raw['N']}: need 1 <= N <= T <= {MAX_T}")
        if not 1 <= raw["input_dim"] <= MAX_INPUT_DIM:
            wrong.append(f"input_dim {raw['input_dim']}: need 1..{MAX_INPUT_DIM}")
        if not {"weights_sha256", "class_ids"} <= set(raw["classifier"]):
            wrong.append("classifier lacks weights_sha256 or class_ids")
        try:
            extract = ExtractConfig(**raw["extract"]) if raw["extract"] is not None else None
        except (TypeError, ValueError) as err:
            wrong.append(f"extract: {err}")
        else:
            sizes = [] if extract is None else [extract.classifier_resolution, extract.sampler_resolution]
            if not all(isinstance(size, int) and MIN_RESOLUTION <= size <= MAX_RESOLUTION for size in sizes):
                wrong.append(f"extract resolutions {sizes}: need {MIN_RESOLUTION}..{MAX_RESOLUTION} px")
    if wrong:
        writer = raw.get("versions", {}).get("framesampler") if isinstance(raw.get("versions"), dict) else None
        newer = f"; it was written by framesampler {writer} (this is {__version__}): use that version or" \
            if writer not in (None, __version__) else ";"
        raise ValueError(f"{directory / 'config.json'} is not a checkpoint's config ({'; '.join(wrong)}){newer} "
                         f"train it again with {MAKE}")
    return CheckpointConfig(**raw)


def _loaded(model: Loaded, state: dict) -> Loaded:
    model.load_state_dict(state)
    return model


def _fitted(directory: Path, make: Callable[[], Loaded]) -> Loaded:
    """``make()`` (build a model from config.json and load its weights), first on the meta device, which
    allocates nothing: another model's weights, or a config sized like no weights file, are refused first."""
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loading weights into meta tensors is a no-op: only shapes are checked
            make()
    except (RuntimeError, TypeError, ValueError, KeyError) as err:
        raise ValueError(f"checkpoint {directory}: its config.json and weights do not fit together ({one_line(err)}); "
                         f"train it again with {MAKE}") from None
    return make()


def load_checkpoint(directory: str | os.PathLike, classifier: VideoClassifier | None = None, *, T: int | None = None,
                    N: int | None = None, input_dim: int | None = None) -> LearnedSampler:
    """The trained sampler of a checkpoint (see ``read_checkpoint`` for the checks)."""
    return read_checkpoint(directory, T=T, N=N, input_dim=input_dim, classifier=classifier).sampler
