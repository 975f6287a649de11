from pathlib import Path

import numpy as np
import pytest

from framesampler.data.manifest import class_names, read_manifest
from framesampler.data.synthetic import CLASSES, write_synthetic_videos
from framesampler.video import probe, read_frames

SETTINGS = dict(classes=3, videos_per_class=3, frame_count=24, size=96, action_fraction=0.25)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_synthetic_videos(tmp_path_factory.mktemp("a"), **SETTINGS)


def class_pixels(frames: np.ndarray, label: int) -> np.ndarray:
    """Per frame, the fraction of pixels close to class ``label``'s colour."""
    distance = np.linalg.norm(frames.astype(np.float32) - np.array(CLASSES[label][1]), axis=-1)
    return (distance < 60).mean(axis=(1, 2))


def test_manifests_list_every_video_with_a_two_thirds_train_split(dataset):
    entries = read_manifest(dataset)
    train, test = read_manifest(dataset.parent / "train.txt"), read_manifest(dataset.parent / "test.txt")
    assert len(entries) == 9 and len(train) == 6 and len(test) == 3
    assert set(train + test) == set(entries)
    assert class_names(entries) == ["disc", "square", "triangle"] == class_names(test)
    for entry in entries:
        meta = probe(entry.path)
        assert (meta.num_frames, meta.width, meta.height, meta.fps) == (24, 96, 96, 8.0)


def test_the_class_shows_in_one_burst_and_nowhere_else(dataset):
    for entry in read_manifest(dataset):
        label = [name for name, _ in CLASSES].index(entry.label)
        shown = class_pixels(read_frames(entry.path, np.arange(24)), label)
        burst = np.flatnonzero(shown > 0.05)
        assert len(burst) == 6 and np.all(np.diff(burst) == 1), (entry.path, shown.round(3))
        assert shown[shown <= 0.05].max() < 0.005
        others = [class_pixels(read_frames(entry.path, burst), k).max() for k in range(3) if k != label]
        assert max(others) < 0.005


def test_same_seed_same_bytes_other_seed_other_videos(dataset, tmp_path):
    again = write_synthetic_videos(tmp_path / "again", **SETTINGS)
    other = write_synthetic_videos(tmp_path / "other", **SETTINGS, seed=1)
    for a, b, c in zip(read_manifest(dataset), read_manifest(again), read_manifest(other)):
        assert a.path.read_bytes() == b.path.read_bytes()
        assert a.path.read_bytes() != c.path.read_bytes()


@pytest.mark.parametrize("kwargs, message", [
    (dict(classes=0), "classes must be between 1"),
    (dict(classes=len(CLASSES) + 1), "classes must be between 1"),
    (dict(size=95), "size must be even"),
    (dict(action_fraction=0), "action_fraction"),
])
def test_bad_settings_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_synthetic_videos(tmp_path, **kwargs)
