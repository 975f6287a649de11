"""What ``train`` and ``evaluate`` both start from: the data and the frozen classifier.

``DataConfig`` names a feature file, the vocabulary, the background and the regime; ``prepare``
loads them, trains (or loads from the cache) the frozen classifier on the vocabulary's trimmed
training clips, and returns a ``Setup`` whose ``videos(split, seed)`` builds the videos of a split:
the trimmed clips, or the untrimmed construction with that construction seed.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from framesampler.candidates import MAX_T, Reads
from framesampler.classifiers.clip import (
    ClipClassifier,
    clip_scores,
    load_clip_classifier,
    train_clip_classifier,
)
from framesampler.classifiers.frozen import VideoClassifier, cached_classifier, dense_scores, logits_head, train_classifier
from framesampler.classifiers.language import LANGUAGE_DIM, language_available, language_features
from framesampler.classifiers.model import clip_subsets, load_classifier, load_recorded
from framesampler.constants import REGIMES, default_cache_dir
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import (
    FeatureFile,
    VideoSet,
    has_trimmed_clips,
    load_feature_file,
    read_npz,
    trimmed_videos,
)
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos


@dataclass
class DataConfig:
    """The data and classifier settings shared by ``train`` and ``evaluate``."""

    features: str
    background: str | None = None
    vocab: list[int] | None = None
    background_classes: list[int] | None = None
    regime: str | None = None  # None: "trimmed" for a video dataset from ``extract``, else "untrimmed"
    length: int = 120
    action_frames: int | None = None
    bursts: int = 3
    seed: int = 0
    consensus: str = "avg_logits"
    classifier: str = "frame"  # "frame": head + consensus; "clip": frames interact (classifiers/clip.py); else the
    # user's model (``classifiers.model``), which must be the one a video dataset was extracted with
    cache_dir: str = field(default_factory=lambda: str(default_cache_dir()))


@dataclass
class Setup:
    classifier: VideoClassifier
    videos: Callable[[str, int], VideoSet]
    trimmed_test_top1: float
    sampler_input_dim: int
    extract: dict | None = None  # how a video dataset's inputs were extracted
    identity: dict = field(default_factory=dict)  # what defines the data: files' fingerprints, classes, regime, construction
    inputs: dict[Reads, int] = field(default_factory=dict)  # what the data carries for samplers, and its width


def file_fingerprint(path: str | os.PathLike) -> dict:
    """A file's resolved path, size and modification time (what tells a changed data file)."""
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns}


def resolve_classes(source: FeatureFile, background: FeatureFile, vocab: list[int] | None,
                    background_classes: list[int] | None) -> tuple[list[int], list[int]]:
    """Vocabulary and background classes, with the defaults of ``framesampler evaluate --help``.

    Same file: background = the file's classes outside ``vocab``; with neither given, the last third
    of the file's classes is background. A different background file: all its classes.
    """
    classes = source.class_ids
    if vocab is not None:
        unknown = sorted(set(vocab) - set(classes))
        if unknown:
            raise ValueError(f"vocabulary classes {unknown} are not in {source.path} (it has {classes})")
    if background is not source:
        return vocab or classes, background_classes or background.class_ids
    if vocab is None:
        if background_classes is None:
            background_classes = classes[len(classes) - math.ceil(len(classes) / 3):]
        vocab = [c for c in classes if c not in background_classes]
    if background_classes is None:
        background_classes = [c for c in classes if c not in vocab]
    if not vocab:
        raise ValueError("the vocabulary is empty: pass --vocab")
    overlap = sorted(set(vocab) & set(background_classes))
    if overlap:
        raise ValueError(f"--vocab and the background classes share {overlap}: background clips must be out of the "
                         "vocabulary; drop them from --vocab or --background-classes")
    return vocab, background_classes


def check_budget_flags(T: int | None, N: int) -> None:
    """``--T`` and ``--N`` of a run: 1 <= N <= T <= MAX_T (T None: every frame is a candidate, N >= 1)."""
    if N < 1 or (T is not None and not N <= T <= MAX_T):
        raise ValueError(f"--N {N} of --T {T}: need 1 <= N <= T <= {MAX_T} (N frames chosen from T candidates)")


def check_setting(config: DataConfig, source: FeatureFile, vocab: list[int], background_classes: list[int],
                  T: int | None) -> None:
    """Refuse settings that cannot give a meaningful result, before any training: a one-class vocabulary, an
    untrimmed regime without background, more candidates than the videos have frames."""
    if len(vocab) < 2:
        raise ValueError(f"--vocab {vocab} has one class: every prediction would be right (top-1 1.000 for any "
                         "sampler); give two or more classes")
    if config.regime == "untrimmed" and not background_classes:
        raise ValueError(f"--vocab {vocab} takes every class of {source.path}, leaving none as background for the "
                         "untrimmed regime: give fewer --vocab classes, a --background file, or --regime trimmed")
    length = source.features.shape[1] if config.regime == "trimmed" else config.length
    if T is not None and T > length:
        where = "trimmed clip" if config.regime == "trimmed" else "untrimmed video (--length)"
        raise ValueError(f"--T {T} is more than the {length} frames of each {where}: use --T {length} or less")


@torch.no_grad()
def language_frames(frames: torch.Tensor, backbone: str) -> torch.Tensor:
    """SMART's language features [M, 50] of the frames of a video dataset: its ``backbone``'s ImageNet head on the
    features ``extract`` stored (the whole network's pooled output at the classifier's resolution), then the
    GloVe vectors of the top 10 classes (``classifiers.language``)."""
    from framesampler.classifiers.pretrained import PretrainedBackbone

    imagenet = PretrainedBackbone(backbone).classifier
    assert imagenet is not None  # the whole network (stages=None) keeps its ImageNet classifier
    return language_features(imagenet(frames.float()))


def check_dataset_classifier(config: DataConfig, source: FeatureFile) -> None:
    """A classifier named with the data must be the one it was extracted with (one line, before any work): the
    user's model for a dataset of its logits (compared by fingerprint), a built-in one otherwise."""
    recorded = source.classifier
    if recorded is None:
        if config.classifier not in ("frame", "clip"):
            raise ValueError(f"{config.features} was not extracted with --classifier {config.classifier}: extract the "
                             f"videos with it first (framesampler extract ... --classifier {config.classifier})")
        return
    if config.classifier == "frame":  # the default: the dataset's own classifier
        return
    if config.classifier == "clip":
        raise ValueError(f"{config.features} holds the logits of classifier {recorded['spec']}: the built-in clip "
                         "classifier needs a dataset extracted without --classifier")
    given = load_classifier(config.classifier, size=recorded["size"], classes=recorded["classes"], kind=recorded["kind"],
                            probe=False)
    if given.fingerprint != recorded["fingerprint"]:
        raise ValueError(f"--classifier {config.classifier} (fingerprint {given.fingerprint}) is not the classifier "
                         f"{config.features} was extracted with ({recorded['spec']}, {recorded['fingerprint']}): drop "
                         "--classifier, or extract again with this one")


def clip_model_scorer(features: str, source: FeatureFile, vocab: list[int],
                      split: str) -> Callable[[int, np.ndarray], Callable[[torch.Tensor], torch.Tensor]]:
    """For a dataset of a user's clip model: (video v of ``split``, candidate positions) -> the model itself on subsets
    of them (``classifiers.model.clip_subsets``, decoding the video again). The one-frame-clip logits stay the frames
    (pi_s) and, under their average, the training signal of samplers that score subsets; evaluation uses the model."""
    if source.classifier is None or source.extract is None:
        raise ValueError(f"{features} holds no user's clip model: extract it with --classifier")
    model = load_recorded(source.classifier, probe=False)
    stored = read_npz(features, ("path", "frame_indices"), what="video dataset")
    rows = source.clips(vocab, split)
    backend = ExtractConfig(**source.extract).backend
    return lambda v, positions: clip_subsets(model, str(stored["path"][rows[v]]), stored["frame_indices"][rows[v]][positions],
                                             backend=backend)


def prepare(config: DataConfig, *, T: int | None = None) -> Setup:
    """Load the data, resolve the regime and the classes (written back into ``config``), check them (and
    ``T`` against the videos' length, if given) and get the frozen classifier. A video dataset (from ``framesampler extract``: it has ``sampler_features``) holds
    real videos: they are used as they are (regime "trimmed") with all their classes. When it was made from a
    ``framesampler construct`` folder, the classifier is trained on the source clips it holds as ``trimmed_*``
    (the vocabulary's trimmed clips, never the long videos), and its long videos carry their in-burst labels
    as ``action_mask``."""
    source = load_feature_file(config.features)
    check_dataset_classifier(config, source)
    real_videos = source.sampler_features is not None
    config.regime = config.regime or ("trimmed" if real_videos else "untrimmed")
    if config.regime not in REGIMES:
        raise ValueError(f"unknown regime {config.regime!r}: use 'trimmed' or 'untrimmed'")
    if real_videos and config.regime == "untrimmed":
        raise ValueError(f"{config.features} is a dataset of real videos (from `framesampler extract`): they are "
                         "used as they are; drop --regime untrimmed (the construction is for feature clips)")
    if real_videos and config.vocab is None and config.background is None:
        config.vocab = source.class_ids
    background = source if config.background in (None, config.features) else load_feature_file(config.background)
    vocab, background_classes = resolve_classes(source, background, config.vocab, config.background_classes)
    config.vocab, config.background_classes = vocab, background_classes
    check_setting(config, source, vocab, background_classes, T)
    trimmed = {split: trimmed_videos(source, vocab, split) for split in ("train", "test")}
    if real_videos and source.extract and source.classifier is None and language_available():  # computed when a sampler reads them
        language_of = partial(language_frames, backbone=source.extract["backbone"])
        trimmed = {split: replace(videos, language_of=language_of) for split, videos in trimmed.items()}
    clips = load_feature_file(config.features, prefix="trimmed_") if real_videos and has_trimmed_clips(config.features) \
        else None
    classifier_data = trimmed if clips is None else {split: trimmed_videos(clips, vocab, split) for split in ("train", "test")}
    data = file_fingerprint(config.features)
    key = {"features": data["path"], "size": data["size"], "mtime": data["mtime"],
           "vocab": vocab, "consensus": config.consensus, "seed": config.seed, "version": 2}
    classifier: VideoClassifier
    if source.classifier is not None:  # the user's classifier: its logits are the frames, nothing to train
        classifier = logits_head(source.classifier, config.consensus)
    elif config.classifier == "frame":
        classifier = cached_classifier(
            config.cache_dir, key,
            lambda: train_classifier(classifier_data["train"], consensus=config.consensus, seed=config.seed,
                                     trained_on=config.features),
        )
    elif config.classifier == "clip":
        key = {**key, "consensus": None, "classifier": "clip"}
        classifier = cached_classifier(
            config.cache_dir, key,
            lambda: train_clip_classifier(classifier_data["train"], seed=config.seed, trained_on=config.features),
            load=load_clip_classifier,
        )

    if source.classifier is not None and source.classifier["kind"] == "clip":
        trimmed = {split: replace(videos, clip_model=clip_model_scorer(config.features, source, vocab, split))
                   for split, videos in trimmed.items()}

    def videos(split: str, seed: int) -> VideoSet:
        if config.regime == "trimmed":
            return trimmed[split]
        shape = UntrimmedConfig(config.length, config.action_frames, config.bursts, seed)
        return untrimmed_videos(source, vocab, split, background=background,
                                background_classes=background_classes, config=shape)

    sampler_input = trimmed["test"].sampler_input
    identity = {"features": data, "vocab": vocab, "regime": config.regime, "consensus": config.consensus,
                "seed": config.seed}
    if config.regime == "untrimmed":
        identity.update(background=file_fingerprint(background.path), background_classes=background_classes,
                        length=config.length, action_frames=config.action_frames, bursts=config.bursts)
    if config.classifier == "clip":
        identity["classifier"] = "clip"
    if source.classifier is not None:
        identity["classifier"] = source.classifier["fingerprint"]
    test = classifier_data["test"]
    all_frames = clip_scores(classifier, test, np.arange(len(test)), test.refs.shape[1]) \
        if isinstance(classifier, ClipClassifier) else dense_scores(classifier, test)[0]
    inputs = {Reads.FEATURES: sampler_input.shape[1], Reads.FRAME_VECTORS: trimmed["test"].frames.shape[1]}
    if source.compressed is not None and config.regime == "trimmed":
        inputs[Reads.COMPRESSED] = source.compressed.shape[2]
    if source.audio is not None and config.regime == "trimmed":
        inputs[Reads.AUDIO] = source.audio.shape[2]
    if trimmed["test"].language_of is not None and config.regime == "trimmed":
        inputs[Reads.LANGUAGE] = LANGUAGE_DIM
    if source.augmented is not None and config.regime == "trimmed":
        inputs[Reads.AUGMENTED_VIEWS] = source.augmented.count
    return Setup(classifier, videos, all_frames, sampler_input.shape[1], source.extract, identity, inputs)
