"""Decode and score each video of a collection once; train and evaluate many times on the result.

``extract`` reads a labeled collection (``framesampler.data.manifest``), and for every video: picks T
candidates (``framesampler.candidates``), decodes them at two resolutions, and stores

- ``sampler_features`` [T, D_s]: the sampler's cheap input, a shallow pretrained backbone on low-resolution
  frames (what a learned sampler's heads read, with a temporal shift across candidates);
- ``features`` [T, D_c]: the frozen classifier's input, the full pretrained backbone on the frames at
  classifier resolution (its head is trained on these by ``framesampler.app.prepare.prepare``).

Each video goes to its own file in the cache, written atomically, under a folder named by a hash of the
settings (``ExtractConfig.key``): a rerun after a kill skips finished videos, a changed setting starts a new
folder, and nothing already cached is ever rewritten. A video that cannot be read is reported with its
one-line reason and skipped. ``write_dataset`` gathers the videos into one ``.npz`` in the shared feature
format (plus ``sampler_features``, ``frame_indices``, ``fps``, ``num_frames``, ``path``), which ``train``
and ``evaluate`` take as ``--features``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framesampler.app.pipeline import decode_candidates
from framesampler.candidates import candidate_indices
from framesampler.classifiers.pretrained import LITE0_STAGES, PretrainedBackbone
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import read_npz
from framesampler.data.manifest import ManifestEntry, check_disjoint, class_names
from framesampler.storage import atomic_file
from framesampler.video.decode import VideoError, VideoReader


def check_extract_config(config: ExtractConfig) -> None:
    """Refuse settings ``extract`` cannot use, naming the command-line option, before any work."""
    if config.T < 1:
        raise ValueError(f"--T {config.T}: give at least 1 candidate per video")
    for flag, size in (("--classifier-size", config.classifier_resolution), ("--sampler-size", config.sampler_resolution)):
        if size < 32:
            raise ValueError(f"{flag} {size}: the backbone needs at least 32 px")
    if config.sampler_stages is not None and not 1 <= config.sampler_stages <= len(LITE0_STAGES):
        raise ValueError(f"--sampler-stages {config.sampler_stages}: the backbone has {len(LITE0_STAGES)} stages; "
                         f"use 1..{len(LITE0_STAGES)} (0: the whole network)")
    if config.short_policy not in ("error", "repeat"):
        raise ValueError(f"--short {config.short_policy!r}: use 'error' or 'repeat'")


class Extractor:
    """The two frozen backbones of an ``ExtractConfig``, built once and used for every video. The T
    candidates are decoded once and converted at both resolutions, exactly as ``Pipeline`` does."""

    def __init__(self, config: ExtractConfig) -> None:
        self.config = config
        self.classifier_backbone = PretrainedBackbone(config.backbone, resolution=config.classifier_resolution)
        self.sampler_backbone = PretrainedBackbone(config.backbone, resolution=config.sampler_resolution,
                                                   stages=config.sampler_stages)

    def __call__(self, path: Path) -> dict[str, np.ndarray]:
        """The cached arrays of one video; raises ``VideoError`` (one line) when it cannot be read."""
        c = self.config
        with VideoReader(path, backend=c.backend) as reader:
            meta = reader.metadata
            if meta.num_frames < c.T and c.short_policy == "error":
                raise VideoError(path, f"{meta.num_frames} frames, fewer than --T {c.T}",
                                 "extract with a smaller --T, or --short repeat to repeat frames")
            indices = candidate_indices(meta.num_frames, c.T, short_policy=c.short_policy)
            decoded = decode_candidates(reader, indices, keep=True).frames
            full = decoded.to_array(size=c.classifier_resolution, crop=c.classifier_resolution)
            low = decoded.to_array(size=c.sampler_resolution, crop=c.sampler_resolution)
        arrays = {
            "frame_indices": indices,
            "num_frames": np.int64(meta.num_frames),
            "fps": np.float64(meta.fps),
            "features": self.classifier_backbone.features(full).numpy().astype(np.float16),
            "sampler_features": self.sampler_backbone.features(low).numpy().astype(np.float16),
        }
        if not all(np.isfinite(arrays[k]).all() for k in ("features", "sampler_features")):
            raise VideoError(path, "its frames gave non-finite (NaN/inf) features", "check the video; it was not cached")
        return arrays


def video_key(path: Path) -> str:
    """A cache file name for a video: its resolved path, size and modification time."""
    stat = path.stat()
    text = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def save_npz_atomically(arrays: dict[str, np.ndarray], path: Path) -> None:
    """``np.savez`` to ``path`` through ``framesampler.storage.atomic_file``."""
    with atomic_file(path) as partial, partial.open("wb") as file:
        np.savez(file, **arrays)


CACHED_KEYS = ("frame_indices", "num_frames", "fps", "features", "sampler_features")


def cached(target: Path, video: Path) -> bool:
    """Whether ``target`` holds a complete cache entry; an unreadable one (damaged from outside) is reported
    on stderr and treated as missing, so that the video is extracted again (replacing it)."""
    if not target.is_file():
        return False
    try:
        arrays = read_npz(target, CACHED_KEYS, what="cache entry")
        if len(arrays) == len(CACHED_KEYS) and all(np.isfinite(arrays[k]).all() for k in ("features", "sampler_features")):
            return True
    except ValueError:
        pass
    print(f"framesampler: the cache entry {target} of {video} is unreadable; extracting it again", file=sys.stderr)
    return False


@dataclass
class ExtractReport:
    """Per entry of the manifest(s): the cache file of each video read, and ``(path, reason)`` of each not."""

    done: list[tuple[ManifestEntry, str, Path]]  # entry, split, cache file
    failed: list[tuple[str, str]]
    cache: Path
    config: ExtractConfig


def extract(splits: dict[str, list[ManifestEntry]], config: ExtractConfig, *, cache_dir: str | os.PathLike,
            progress: bool = True) -> ExtractReport:
    """Cache every video of every split (``{"train": entries, "test": entries}``); see the module docstring.
    A video in two splits, or settings it cannot use, are refused before any work."""
    check_disjoint(splits)
    check_extract_config(config)
    cache = Path(cache_dir) / "videos" / config.key()
    extractor: Extractor | None = None
    done, failed = [], []
    work = [(split, entry) for split, entries in splits.items() for entry in entries]
    for split, entry in tqdm(work, desc="extract", unit="video", disable=not progress or None, file=sys.stderr):
        try:
            if not entry.path.is_file():
                raise VideoError(entry.path, "no such file", "fix the path in the manifest")
            target = cache / f"{video_key(entry.path)}.npz"
            if not cached(target, entry.path):
                extractor = extractor or Extractor(config)  # invalid settings fail here, before anything is written
                arrays = extractor(entry.path)
                if not (cache / "config.json").is_file():
                    with atomic_file(cache / "config.json") as partial:
                        partial.write_text(json.dumps(asdict(config), indent=2))
                save_npz_atomically(arrays, target)
            done.append((entry, split, target))
        except VideoError as err:
            failed.append((str(entry.path), str(err)))
    return ExtractReport(done, failed, cache, config)


def write_dataset(report: ExtractReport, out: str | os.PathLike) -> Path:
    """One ``.npz`` of the extracted videos in the shared feature format (class ids 0..K-1 in the order of
    ``class_names``); written atomically."""
    if not report.done:
        raise ValueError("no video could be read: nothing to write (see the reasons reported above)")
    names = class_names([entry for entry, _, _ in report.done])
    cached = [read_npz(target, CACHED_KEYS, what="cache entry") for _, _, target in report.done]
    arrays = {
        "features": np.stack([c["features"] for c in cached]),
        "sampler_features": np.stack([c["sampler_features"] for c in cached]),
        "frame_indices": np.stack([c["frame_indices"] for c in cached]),
        "num_frames": np.array([c["num_frames"] for c in cached]),
        "fps": np.array([c["fps"] for c in cached]),
        "label": np.array([names.index(entry.label) for entry, _, _ in report.done], dtype=np.int16),
        "split": np.array([split for _, split, _ in report.done]),
        "video_id": np.array([entry.path.stem for entry, _, _ in report.done]),
        "path": np.array([str(entry.path) for entry, _, _ in report.done]),
        "class_id": np.arange(len(names), dtype=np.int16),
        "class_name": np.array(names),
        "extract_config": np.array(json.dumps(asdict(report.config))),
    }
    out = Path(out)
    save_npz_atomically(arrays, out)
    return out
