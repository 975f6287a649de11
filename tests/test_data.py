import numpy as np
import pytest
import torch

from framesampler.data.features import load_feature_file, parse_classes, trimmed_videos
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos
from tests.conftest import write_feature_file


def build(path, seed=0, **kw):
    source = load_feature_file(path)
    config = UntrimmedConfig(length=kw.pop("length", 40), action_frames=kw.pop("action_frames", 8),
                             bursts=kw.pop("bursts", 3), seed=seed)
    return source, untrimmed_videos(source, [1, 2, 3], "test", background=source, background_classes=[4, 5, 6],
                                    config=config)


def runs_of(mask):
    return int(np.sum(np.diff(np.r_[0, mask.astype(int)]) == 1))


def test_untrimmed_videos_embed_bursts_of_the_clip_among_background(small_features):
    source, videos = build(small_features)
    frames_per_clip = source.features.shape[1]
    clip_of = videos.refs // frames_per_clip
    for v in range(len(videos)):
        mask = videos.action_mask[v]
        assert videos.refs.shape[1] == 40 and mask.sum() == 8
        assert 1 <= runs_of(mask) <= 3
        action_clip = np.unique(clip_of[v, mask])
        assert len(action_clip) == 1 and source.labels[action_clip[0]] in (1, 2, 3)
        assert np.all(np.diff(videos.refs[v, mask]) > 0), "action frames keep their order"
        background = np.unique(clip_of[v, ~mask])
        assert np.isin(source.labels[background], [4, 5, 6]).all()
        assert (source.split[background] == "test").all()


def test_untrimmed_is_deterministic_per_seed(small_features):
    _, a = build(small_features, seed=3)
    _, b = build(small_features, seed=3)
    _, c = build(small_features, seed=4)
    assert np.array_equal(a.refs, b.refs)
    assert not np.array_equal(a.refs, c.refs)


def test_background_from_another_file(tmp_path, small_features):
    other = load_feature_file(write_feature_file(tmp_path / "bg.npz", [7, 8], seed=1))
    source = load_feature_file(small_features)
    videos = untrimmed_videos(source, [1, 2], "train", background=other, background_classes=[7, 8])
    offset = source.features.shape[0] * source.features.shape[1]
    assert (videos.refs[~videos.action_mask] >= offset).all()
    assert (videos.refs[videos.action_mask] < offset).all()
    assert videos.frames.shape[0] == offset + other.features.shape[0] * other.features.shape[1]


@pytest.mark.parametrize("kw, message", [
    (dict(action_frames=20), "action_frames must be in 1..8"),
    (dict(bursts=9), "bursts must be in"),
    (dict(length=5), "length"),
])
def test_untrimmed_rejects_impossible_shapes(small_features, kw, message):
    with pytest.raises(ValueError, match=message):
        build(small_features, **kw)


def test_background_must_be_out_of_vocabulary(small_features):
    source = load_feature_file(small_features)
    with pytest.raises(ValueError, match="in the vocabulary"):
        untrimmed_videos(source, [1, 2], "test", background=source, background_classes=[2, 3])


def test_loader_dequantises_and_validates(tmp_path, small_features):
    source = load_feature_file(small_features)
    assert source.features.dtype.is_floating_point and source.features.max() > 1.5
    trimmed = trimmed_videos(source, [2, 3], "train")
    assert set(trimmed.labels.tolist()) == {0, 1} and trimmed.class_ids == [2, 3]
    broken = tmp_path / "broken.npz"
    np.savez(broken, features=np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(ValueError, match="lacks key"):
        load_feature_file(broken)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_feature_file(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable"):
        load_feature_file(tmp_path / "text.npz")


def test_parse_classes():
    assert parse_classes("2-7") == [2, 3, 4, 5, 6, 7]
    assert parse_classes("2,3,5") == [2, 3, 5]
    assert parse_classes("2-4, 9") == [2, 3, 4, 9]
    with pytest.raises(ValueError, match="write ids like"):
        parse_classes("a-b")


def float_copy(path, out, nan_rows=(), value=np.nan):
    """The feature file at ``path`` dequantised to float32, with ``value`` in one frame of each of ``nan_rows``."""
    data = dict(np.load(path))
    features = data.pop("features").astype(np.float32) / 255 * data.pop("scale")
    for row in nan_rows:
        features[row, 1, 3] = value
    np.savez(out, features=features, **data)
    return out


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_features_are_refused_naming_the_file_and_videos(tmp_path, small_features, value):
    """Issue 10, case 3: NaN/inf in two training clips is refused where the file is loaded."""
    bad = float_copy(small_features, tmp_path / "nan.npz", nan_rows=(1, 7), value=value)
    with pytest.raises(ValueError, match=r"nan.npz: 'features' holds NaN or inf in 2 video\(s\): "
                                         r"row 1 \(v_1_1\) frames 1; row 7 \(v_1_7\) frames 1"):
        load_feature_file(bad)
    clean = load_feature_file(float_copy(small_features, tmp_path / "clean.npz"))
    assert torch.allclose(clean.features, load_feature_file(small_features).features)


@pytest.mark.parametrize("damage, message", [
    ("truncate", "it is truncated, corrupt or in another format"),
    ("objects", "it holds Python objects"),
    ("text", "it is truncated, corrupt or in another format"),
    ("npy", "it is truncated, corrupt or in another format"),
])
def test_an_unreadable_feature_file_gives_one_line_with_its_name(tmp_path, small_features, damage, message):
    bad = tmp_path / "bad.npz"
    if damage == "truncate":
        bad.write_bytes(small_features.read_bytes()[: small_features.stat().st_size // 2])
    elif damage == "objects":
        data = dict(np.load(small_features))
        np.savez(bad, **{**data, "features": data["features"].astype(object)})
    elif damage == "text":
        bad.write_text("path label\n")
    else:
        with bad.open("wb") as file:
            np.save(file, np.zeros(3))
    with pytest.raises(ValueError) as error:
        load_feature_file(bad)
    assert str(error.value).startswith(f"{bad} is not a readable .npz feature file: {message}")
    assert "\n" not in str(error.value)
