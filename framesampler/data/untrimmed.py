"""The untrimmed construction: long videos in which a labeled clip is a few bursts among background.

Each labeled clip of the vocabulary becomes one video of ``length`` frames: ``action_frames`` of its
real frames (all by default; evenly spaced if fewer than the clip has), cut into ``bursts`` contiguous pieces in
order, inserted at random places into a stream of real background frames. The background stream is
whole clips of out-of-vocabulary classes (same split), concatenated in random order from a random
start. Deterministic per ``seed``: video i uses ``default_rng([seed, split, i])``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from framesampler.constants import MAX_UNTRIMMED_LENGTH as MAX_LENGTH
from framesampler.data.features import FeatureFile, VideoSet, vocabulary_labels

SPLIT_CODES = {"train": 0, "test": 1}


@dataclass(frozen=True)
class UntrimmedConfig:
    length: int = 120
    action_frames: int | None = None  # None: every frame of the clip
    bursts: int = 3
    seed: int = 0

    def for_clips(self, clip_frames: int) -> UntrimmedConfig:
        """This config with ``action_frames`` resolved for clips of ``clip_frames`` frames, validated."""
        config = replace(self, action_frames=self.action_frames_of(clip_frames))
        config.check(clip_frames)
        return config

    def action_frames_of(self, clip_frames: int) -> int:
        """The action frames taken from a clip of ``clip_frames`` frames (all of them when ``action_frames`` is None)."""
        return clip_frames if self.action_frames is None else self.action_frames

    def check(self, clip_frames: int) -> None:
        action_frames = self.action_frames_of(clip_frames)
        if not 1 <= action_frames <= clip_frames:
            raise ValueError(f"action_frames must be in 1..{clip_frames} (frames per clip), got {action_frames}")
        if not 1 <= self.bursts <= action_frames:
            raise ValueError(f"bursts must be in 1..action_frames ({action_frames}), got {self.bursts}")
        if not action_frames <= self.length <= MAX_LENGTH:
            raise ValueError(f"length ({self.length}) must be >= action_frames ({action_frames}) and at most {MAX_LENGTH}")


def build_video(action: np.ndarray, background_clips: list[np.ndarray], config: UntrimmedConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Frame refs [L] and action mask [L] of one untrimmed video.

    ``action``: the clip's frame refs; ``background_clips``: frame refs of each background clip.
    """
    action_frames = config.action_frames_of(len(action))
    keep = np.round(np.linspace(0, len(action) - 1, action_frames)).astype(np.int64)
    pieces = np.array_split(action[keep], config.bursts)
    needed = config.length - action_frames
    stream: list[np.ndarray] = []
    have = 0
    while have < needed:
        clip = background_clips[rng.integers(len(background_clips))]
        start = int(rng.integers(len(clip))) if not stream else 0
        stream.append(clip[start:])
        have += len(clip) - start
    background = np.concatenate(stream)[:needed] if stream else np.empty(0, dtype=np.int64)
    slots = np.sort(rng.choice(needed + 1, size=config.bursts, replace=needed + 1 < config.bursts))
    refs, mask, previous = [], [], 0
    for slot, piece in zip(slots, pieces):
        refs += [background[previous:slot], piece]
        mask += [np.zeros(slot - previous, bool), np.ones(len(piece), bool)]
        previous = slot
    refs.append(background[previous:])
    mask.append(np.zeros(needed - previous, bool))
    return np.concatenate(refs).astype(np.int64), np.concatenate(mask)


def untrimmed_videos(source: FeatureFile, vocab: list[int], split: str, *, background: FeatureFile,
                     background_classes: list[int], config: UntrimmedConfig = UntrimmedConfig()) -> VideoSet:
    """Build one untrimmed video per ``split`` clip of ``vocab`` (see the module docstring)."""
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    overlap = sorted(set(vocab) & set(background_classes)) if background is source else []
    if overlap:
        raise ValueError(f"background classes {overlap} are in the vocabulary; background must be out-of-vocabulary")
    clip_frames = source.features.shape[1]
    config = config.for_clips(clip_frames)
    clips = source.clips(vocab, split)
    bg_clips = background.clips(background_classes, split)
    if len(clips) == 0:
        raise ValueError(f"{source.path} has no '{split}' clips of classes {vocab}; check --vocab")
    if len(bg_clips) == 0:
        raise ValueError(f"{background.path} has no '{split}' clips of background classes {background_classes}")
    if background.features.shape[2] != source.features.shape[2]:
        raise ValueError(
            f"background features are {background.features.shape[2]}-d but {source.path} has "
            f"{source.features.shape[2]}-d: use a background file from the same backbone"
        )
    frames = source.features.reshape(-1, source.features.shape[2])
    offset = 0
    if background is not source:
        offset = frames.shape[0]
        frames = torch.cat([frames, background.features.reshape(-1, background.features.shape[2])])
    bg_frames = background.features.shape[1]
    bg_refs = [offset + c * bg_frames + np.arange(bg_frames) for c in bg_clips]
    refs, masks = [], []
    for i, clip in enumerate(clips):
        rng = np.random.default_rng([config.seed, SPLIT_CODES[split], i])
        video, mask = build_video(clip * clip_frames + np.arange(clip_frames), bg_refs, config, rng)
        refs.append(video)
        masks.append(mask)
    return VideoSet(
        frames=frames,
        refs=np.stack(refs),
        labels=vocabulary_labels(source.labels[clips], vocab),
        class_ids=list(vocab),
        class_names=[source.class_names[c] for c in vocab],
        video_ids=source.video_ids[clips].tolist(),
        action_mask=np.stack(masks),
        source=source.path,
    )
