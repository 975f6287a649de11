"""SOSampler's training augmentation (Lee et al. 2024 App. A.3): random-resized crops and flips of each training
video, cached by ``extract`` as K views, each epoch seeing every video through one of them, the teacher too."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from framesampler import create_sampler
from framesampler.app.extract import Extractor, extract, extract_dataset, views_path
from framesampler.candidates import Reads
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import VideoSet, load_feature_file, trimmed_videos
from framesampler.data.manifest import read_manifest
from framesampler.data.synthetic import write_synthetic_videos
from framesampler.learned import TrainSettings, train_sampler
from framesampler.learned.sosampler import SOSampler
from framesampler.video.transforms import CROP_AREA, CROP_RATIO, crop_resize, random_crop_box


def test_random_crop_box_draws_mmaction2s_random_resized_crop():
    # mmaction2's RandomResizedCrop (Lee et al.'s config): area fraction in [0.08, 1], aspect in [3/4, 4/3], in the frame
    rng = np.random.default_rng(0)
    boxes = [random_crop_box(320, 240, rng) for _ in range(2000)]
    for left, top, width, height in boxes:
        assert 0 <= left and 0 <= top and left + width <= 320 and top + height <= 240
        assert CROP_AREA[0] - 0.01 <= width * height / (320 * 240) <= CROP_AREA[1]
        assert CROP_RATIO[0] - 0.02 <= width / height <= CROP_RATIO[1] + 0.02
    areas = np.array([w * h for _, _, w, h in boxes]) / (320 * 240)
    assert 0.4 < areas.mean() < 0.6 and areas.min() < 0.15 and areas.max() > 0.9  # the whole range, not one scale
    again = np.random.default_rng(0)
    assert [random_crop_box(320, 240, again) for _ in range(5)] == boxes[:5]


def test_random_crop_box_falls_back_to_the_central_square_when_no_draw_fits():
    # a frame 40 x 400: no box of aspect 3/4..4/3 with area >= 0.08 * 16000 fits 40 px wide... except small ones; with
    # an area range above the frame, nothing fits in 10 tries and mmaction2 takes the central square
    assert random_crop_box(40, 400, np.random.default_rng(0), area=(2.0, 3.0)) == (0, 180, 40, 40)


def test_crop_resize_takes_the_box_resizes_it_and_mirrors():
    frames = np.zeros((2, 60, 80, 3), np.uint8)
    frames[:, 10:30, 20:40] = 200  # the box (20, 10, 20, 20) is uniformly 200
    frames[:, 10:30, 20:30, 0] = 50  # its left half has red 50
    out = crop_resize(frames, (20, 10, 20, 20), 8)
    assert out.shape == (2, 8, 8, 3) and (out[:, :, :3, 0] == 50).all() and (out[:, :, 5:, 0] == 200).all()
    assert (out[..., 1] == 200).all()  # nothing from outside the box (0) bleeds in at its edges
    flipped = crop_resize(frames, (20, 10, 20, 20), 8, flip=True)
    assert (flipped == out[:, :, ::-1]).all()
    with pytest.raises(ValueError, match="does not fit"):
        crop_resize(frames, (70, 10, 20, 20), 8)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    manifest = write_synthetic_videos(root / "videos", classes=2, videos_per_class=3, frame_count=24, size=96)
    entries = read_manifest(manifest)
    splits = {"train": entries[:2] + entries[3:5], "test": [entries[2], entries[5]]}
    config = ExtractConfig(T=6, classifier_resolution=96)
    report = extract_dataset(splits, config, root / "data.npz", cache_dir=root / "cache", progress=False, views=3)
    return root, splits, config, report


def test_extract_caches_k_views_of_each_training_video_and_the_dataset_holds_them(dataset):
    root, splits, config, report = dataset
    stored = np.load(report.out)
    train_rows = [row for row, (_, split, _) in enumerate(report.videos.done) if split == "train"]
    assert stored["augmented_video"].tolist() == train_rows and len(train_rows) == 4
    assert stored["augmented_features"].shape == (4, 6, 3, 1280)
    assert stored["augmented_sampler_features"].shape == (4, 6, 3, stored["sampler_features"].shape[2])
    original = stored["features"][train_rows].astype(np.float32)
    views = stored["augmented_features"].astype(np.float32)
    assert all(not np.allclose(views[:, :, k], original, atol=1e-2) for k in range(3))  # each view is another image
    assert not np.allclose(views[:, :, 0], views[:, :, 1], atol=1e-2)
    # the test videos have none, and a rerun reads the cached views: the same numbers, nothing recomputed
    assert sorted(p.name.split(".")[-2] for p in (root / "cache" / "videos").glob("*/*.views3.npz")) == ["views3"] * 4
    entry, _, target = report.videos.done[train_rows[0]]
    again = Extractor(config).views(entry.path, np.load(target)["frame_indices"], 3)
    assert np.array_equal(again["augmented_features"], np.load(views_path(target, 3))["augmented_features"])


def test_the_view_tables_map_each_training_frame_to_its_own_views(dataset):
    _, _, _, report = dataset
    source = load_feature_file(report.out)
    assert source.augmented is not None and source.augmented.count == 3
    train = trimmed_videos(source, source.class_ids, "train")
    stored = np.load(report.out)
    for a, video in enumerate(stored["augmented_video"]):
        for frame in range(6):
            for k in range(3):
                row = train.views[video * 6 + frame, k]
                assert torch.allclose(train.view_frames[row], torch.from_numpy(stored["augmented_features"][a, frame, k]).float())
                assert torch.allclose(train.view_sampler_frames[row],
                                      torch.from_numpy(stored["augmented_sampler_features"][a, frame, k]).float())
    test = trimmed_videos(source, source.class_ids, "test")
    assert (test.views[test.refs] == -1).all()  # no views of a test video


def view_set(views: bool) -> VideoSet:
    """8 videos of 4 frames; frame features are 0-ish, every view of a frame holds its view number + 1 (1, 2, 3)."""
    frames = torch.rand(32, 4) * 0.1
    extra = {}
    if views:
        extra = {"views": np.arange(32 * 3).reshape(32, 3),
                 "view_frames": torch.arange(1, 4).repeat(32)[:, None].float().expand(-1, 4).contiguous(),
                 "view_sampler_frames": torch.arange(1, 4).repeat(32)[:, None].float().expand(-1, 4).contiguous()}
    return VideoSet(frames=frames, refs=np.arange(32).reshape(8, 4), labels=np.arange(8) % 2, class_ids=[0, 1],
                    class_names=["a", "b"], video_ids=[str(v) for v in range(8)], source="views.npz", **extra)


def recorded_batches(monkeypatch, augment: str, videos: VideoSet) -> list:
    from framesampler.classifiers.frozen import train_classifier

    classifier = train_classifier(view_set(False), epochs=5, heads=("linear",))
    sampler = create_sampler("sosampler", input_dim=4, num_classes=2, augment=augment)
    seen: list = []
    original = SOSampler.loss

    def loss(self, batch):
        seen.append((batch.features.clone(), batch.frame_logits.clone()))
        return original(self, batch)
    monkeypatch.setattr(SOSampler, "loss", loss)
    train_sampler(sampler, lambda epoch: videos, classifier, T=4, settings=TrainSettings(epochs=3, batch_size=4),
                  progress=False)
    return seen


def test_training_sees_each_video_through_one_view_and_the_teacher_scores_that_view(monkeypatch):
    seen = recorded_batches(monkeypatch, "views", view_set(True))
    drawn = set()
    for features, logits in seen:
        per_video = features[:, :, 0]
        assert (per_video >= 1).all()  # every frame from a view, none from the frames as they are
        assert (per_video == per_video[:, :1]).all()  # one view for all the frames of a video
        drawn |= set(per_video[:, 0].tolist())
        # the teacher (the frozen classifier's logits) is computed on the same view, not on the original frame
        same = [torch.allclose(logits[v, t], logits[v, 0]) for v in range(len(logits)) for t in range(4)]
        assert all(same)
    assert drawn == {1.0, 2.0, 3.0}  # the three views are all drawn over the epochs
    plain = recorded_batches(monkeypatch, "none", view_set(True))
    assert all((features < 1).all() for features, _ in plain)  # augment="none": the frames as they are


def test_auto_augments_where_the_data_has_views_and_views_without_them_is_a_clear_error(monkeypatch):
    auto = recorded_batches(monkeypatch, "auto", view_set(True))
    assert all((features >= 1).all() for features, _ in auto)
    without = recorded_batches(monkeypatch, "auto", view_set(False))
    assert all((features < 1).all() for features, _ in without)
    with pytest.raises(ValueError, match=r"augmented views .* --augment-views K, or train with --option augment=none"):
        recorded_batches(monkeypatch, "views", view_set(False))


def test_sosampler_augments_by_default_as_app_a3_says():
    # App. A.3: "All frames are randomly scaled and cropped ... followed by random flipping for augmentation"
    options = {"input_dim": 8, "num_classes": 3}
    assert create_sampler("sosampler", **options).options["augment"] == "auto"
    with_views = {Reads.FEATURES: 8, Reads.AUGMENTED_VIEWS: 4}
    assert SOSampler.data_options(dict(options), with_views)["augment"] == "views"
    assert "augment" not in SOSampler.data_options(dict(options), {Reads.FEATURES: 8})  # no pixels: no views, "auto"
    assert "augment" not in SOSampler.data_options({**options, "input": "compressed"}, {**with_views, Reads.COMPRESSED: 65})
    assert SOSampler.data_options({**options, "augment": "none"}, with_views)["augment"] == "none"  # the first reading
    with pytest.raises(ValueError, match="compressed-domain input has no views"):
        create_sampler("sosampler", input_dim=65, num_classes=3, input="compressed", augment="views")
    with pytest.raises(ValueError, match="unknown augment 'crop'"):
        create_sampler("sosampler", **options, augment="crop")


def test_extract_without_views_writes_none_and_a_view_failure_skips_the_video(dataset, tmp_path, monkeypatch):
    root, splits, config, _ = dataset
    plain = extract(splits, config, cache_dir=root / "cache", progress=False)
    assert plain.views == 0
    from framesampler.video.decode import VideoError

    def broken(self, path, indices, count):
        raise VideoError(path, "cannot decode", "check it")
    monkeypatch.setattr(Extractor, "views", broken)
    report = extract(splits, config, cache_dir=tmp_path / "cache", progress=False, views=2)
    assert len(report.failed) == 4 and len(report.done) == 2  # the four training videos, reported; the test ones kept
    assert all("cannot decode" in reason for _, reason in report.failed)


def test_the_view_count_is_part_of_a_kept_rows_key(small_features, tmp_path):
    from framesampler.app.experiments import Comparison, Learned, Runner
    from framesampler.app.prepare import DataConfig, prepare

    data = DataConfig(features=str(small_features), cache_dir=str(tmp_path / "cache"))
    setup = prepare(data, T=4)
    runner = Runner(setup, data, seeds=1, settings=TrainSettings(recipe="short"), out=tmp_path / "out", progress=False)
    comparison = Comparison(4, 2, learned={"sosampler": Learned("sosampler"), "scsampler": Learned("scsampler")})
    assert "augmented_views" not in runner.row_key(comparison, "sosampler")
    setup.inputs[Reads.AUGMENTED_VIEWS] = 4  # the same data, now with views of its training videos
    assert runner.row_key(comparison, "sosampler")["augmented_views"] == 4
    assert "augmented_views" not in runner.row_key(comparison, "scsampler")
