"""Shared fixtures: the real UCF101 feature file and small feature files written in its format."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from framesampler.data.features import SHARED_FEATURES, VideoSet, default_features_path

REAL_FEATURES = Path(__file__).resolve().parents[1].parent / SHARED_FEATURES
CI = os.environ.get("CI") == "true"


def write_feature_file(path: Path, class_ids: list[int], *, clips_per_class: int = 10, frames: int = 8,
                       dims: int = 16, seed: int = 0) -> Path:
    """A small file in the shared format: class c lights up feature dimension c % dims (uint8 + scale)."""
    rng = np.random.default_rng(seed)
    features, labels, split, ids = [], [], [], []
    for c in class_ids:
        for i in range(clips_per_class):
            clip = rng.random((frames, dims)) * 0.5
            clip[:, c % dims] += 2.0
            features.append(clip)
            labels.append(c)
            split.append("test" if i % 3 == 0 else "train")
            ids.append(f"v_{c}_{i}")
    features = np.stack(features).astype(np.float32)
    scale = features.max(axis=(0, 1))
    np.savez(path, features=np.round(features / scale * 255).astype(np.uint8), scale=scale.astype(np.float32),
             label=np.asarray(labels, np.int16), split=np.asarray(split), video_id=np.asarray(ids),
             class_id=np.asarray(class_ids, np.int16), class_name=np.asarray([f"class{c}" for c in class_ids]))
    return path


@pytest.fixture(scope="session")
def real_features() -> Path:
    if not REAL_FEATURES.is_file():
        raise FileNotFoundError(f"the shared feature file is missing at {REAL_FEATURES}; tests need ../shared beside the repo")
    return REAL_FEATURES


@pytest.fixture
def small_features(tmp_path: Path) -> Path:
    return write_feature_file(tmp_path / "small.npz", [1, 2, 3, 4, 5, 6])


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    """The shared real video files (``shared/data/videos``), found above the repository as the feature file is."""
    videos = default_features_path().parents[1] / "videos"
    if not videos.is_dir():
        raise FileNotFoundError(f"the shared videos are missing at {videos}; tests need ../shared beside the repo")
    return videos


def tiny_video_set(field: str, make_input, *, with_input: bool = True) -> VideoSet:
    """12 videos of 6 frames: class c's action shows in features dimension c at one random frame;
    ``make_input(rng, action)`` gives each video's [6, D] rows of the VideoSet table ``field`` (a sampler's
    own input, e.g. ``compressed_frames``), left out when not ``with_input``."""
    import torch

    rng = np.random.default_rng(0)
    frames, extra, labels = [], [], []
    for v in range(12):
        label, action = v % 2, rng.integers(0, 6)
        features = rng.random((6, 4)) * 0.2
        features[action, label] += 2.0
        frames.append(features)
        extra.append(make_input(rng, action))
        labels.append(label)
    table = torch.tensor(np.concatenate(extra), dtype=torch.float32) if with_input else None
    return VideoSet(frames=torch.tensor(np.concatenate(frames), dtype=torch.float32), refs=np.arange(72).reshape(12, 6),
                    labels=np.array(labels), class_ids=[0, 1], class_names=["a", "b"], video_ids=[str(v) for v in range(12)],
                    source="tiny.npz", **{field: table})


def assert_trains(sampler, videos: VideoSet) -> None:
    """``sampler`` trains 3 epochs on ``videos`` against a frozen linear head: finite losses, weights moved."""
    import torch

    from framesampler.classifiers.frozen import train_classifier
    from framesampler.learned import TrainSettings
    from framesampler.learned.train import train_sampler

    classifier = train_classifier(videos, epochs=20, heads=("linear",))
    before = [p.detach().clone() for p in sampler.parameters()]
    log = train_sampler(sampler, lambda epoch: videos, classifier, T=6, settings=TrainSettings(epochs=3, batch_size=4),
                        progress=False)
    assert len(log) == 3 and all(np.isfinite(row["loss"]) for row in log)
    assert any(not torch.equal(a, b) for a, b in zip(before, sampler.parameters()))


def assert_old_cache_entry_gains(keys: tuple[str, ...], tmp_path: Path, monkeypatch) -> dict:
    """Extract one synthetic video, drop ``keys`` from its cache entry (as written before they existed) and extract
    again with extracting and decoding forbidden: the entry gets exactly the dropped arrays back, every other one
    unchanged. Returns the fresh entry."""
    from framesampler.app.extract import CACHED_KEYS, Extractor, extract
    from framesampler.data.dataset import ExtractConfig
    from framesampler.data.manifest import read_manifest
    from framesampler.data.synthetic import write_synthetic_videos
    from framesampler.video import VideoReader

    manifest = write_synthetic_videos(tmp_path / "videos", classes=1, videos_per_class=1, frame_count=24, size=64)
    splits = {"train": read_manifest(manifest)}
    config = ExtractConfig(T=8, classifier_resolution=64, sampler_resolution=64, sampler_stages=2)
    [(_, _, target)] = extract(splits, config, cache_dir=tmp_path / "cache", progress=False).done
    fresh = dict(np.load(target))
    assert set(fresh) == set(CACHED_KEYS)
    np.savez(target, **{k: v for k, v in fresh.items() if k not in keys})
    monkeypatch.setattr(Extractor, "__call__", lambda *args: pytest.fail("the video was extracted again"))
    monkeypatch.setattr(VideoReader, "decode", lambda *args: pytest.fail("the candidates were decoded"))
    assert extract(splits, config, cache_dir=tmp_path / "cache", progress=False).done[0][2] == target
    upgraded = dict(np.load(target))
    assert set(upgraded) == set(CACHED_KEYS)
    for key, value in fresh.items():
        np.testing.assert_array_equal(upgraded[key], value)
    return fresh
