"""The pixel path end to end on synthetic videos: extract -> train the classifier -> train SOSampler ->
evaluate -> sample, with bad videos in the manifest, an interrupted extraction and a changed setting."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from framesampler.app.extract import Extractor, extract
from framesampler.cli import main
from framesampler.data.dataset import ExtractConfig
from framesampler.data.manifest import read_manifest, split_entries
from framesampler.data.synthetic import write_synthetic_videos
from framesampler.video import probe

SIZE = ["--classifier-size", "160"]


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    """Synthetic train/test manifests, the train one with five broken entries appended."""
    root = tmp_path_factory.mktemp("pixels")
    manifest = write_synthetic_videos(root / "videos", classes=3, videos_per_class=12, frame_count=48, size=128)
    videos = manifest.parent
    good = videos / "videos" / "disc_000.mp4"
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "notes.mp4").write_text("not a video\n")
    (videos / "cut.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    write_synthetic_videos(root / "short", classes=1, videos_per_class=1, frame_count=8, size=64)
    shutil.copy(root / "short" / "videos" / "disc_000.mp4", videos / "short.mp4")
    with (videos / "train.txt").open("a") as lines:
        lines.write("empty.mp4 disc\nnotes.mp4 square\ncut.mp4 disc\nshort.mp4 disc\nmissing.mp4 triangle\n")
    return videos


def test_synthetic_videos_go_through_extract_train_evaluate_and_sample(collection, tmp_path, capsys):
    cache, data = ["--cache-dir", str(tmp_path / "cache")], tmp_path / "data.npz"
    extract_args = ["extract", str(collection / "train.txt"), "--test", str(collection / "test.txt"), "--out", str(data),
                    "--T", "16", *SIZE, *cache, "--no-progress"]
    assert main(extract_args) == 0
    out, err = capsys.readouterr()
    assert "extracted 36 videos (24 train, 12 test), skipped 5; 0 of the videos have an audio track" in out
    for name in ("empty.mp4", "notes.mp4", "cut.mp4", "short.mp4", "missing.mp4"):  # one line each, with the reason
        assert len([line for line in err.splitlines() if name in line]) == 1, err
    assert "8 frames, fewer than --T 16" in err and "short_policy" not in err and "empty" in err

    stored = np.load(data)
    assert stored["features"].shape == (36, 16, 1280) and stored["sampler_features"].shape == (36, 16, 112)
    assert list(stored["class_name"]) == ["disc", "square", "triangle"]
    assert stored["augmented_features"].shape == (24, 16, 4, 1280)  # SOSampler's augmentation (App. A.3): 4 views each

    cached = sorted((tmp_path / "cache" / "videos").glob("*/*.npz"))
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    assert len(cached) == 36 + 24 and main(extract_args) == 0  # and the training videos' views; a rerun rewrites nothing
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps

    train = ["train", "--features", str(data), "--sampler", "sosampler", "--T", "16", "--N", "3", *cache, "--no-progress"]
    assert main([*train, "--out", str(tmp_path / "sos")]) == 0
    report = tmp_path / "report.json"
    assert main(["evaluate", "--features", str(data), "--T", "16", "--N", "3", "--policies", "uniform,random",
                 "--checkpoint", str(tmp_path / "sos"), "--repeats", "1", "--json", str(report), *cache, "--no-progress"]) == 0
    policies, cost = json.loads(report.read_text())["policies"], json.loads(report.read_text())["cost"]
    assert cost["uniform"]["sampler_gmacs"] == 0 < cost["sosampler"]["sampler_gmacs"] < cost["uniform"]["classifier_gmacs"]
    assert policies["sosampler"]["top1"] > policies["uniform"]["top1"] + 0.15, policies
    assert json.loads(report.read_text())["config"]["regime"] == "trimmed"  # real videos are used as they are

    video = collection / "videos" / "triangle_002.mp4"
    sample = tmp_path / "sample.json"
    assert main(["sample", str(video), "--sampler", str(tmp_path / "sos"), "--T", "16", "--N", "3", "--json", str(sample),
                 "--sheet", str(tmp_path / "sheet.png"), *cache]) == 0
    chosen = json.loads(sample.read_text())
    fps = probe(video).fps
    assert len(chosen["chosen"]) == 3 and chosen["prediction"][0]["class"] in ("disc", "square", "triangle")
    assert all(row["time"] == pytest.approx(row["frame"] / fps, abs=1e-3) for row in chosen["chosen"])
    assert chosen["gmacs"]["sampler"] > 0 and chosen["gmacs"]["classifier"] > 0
    assert (tmp_path / "sheet.png").stat().st_size > 10_000

    # The checkpoint stands alone: with the dataset file and every cache gone, sample trains nothing.
    data.unlink()
    shutil.rmtree(tmp_path / "cache")
    again = tmp_path / "again.json"
    assert main(["sample", str(video), "--sampler", str(tmp_path / "sos"), "--T", "16", "--N", "3", "--json", str(again),
                 "--cache-dir", str(tmp_path / "untouched")]) == 0
    assert json.loads(again.read_text())["chosen"] == chosen["chosen"] and not (tmp_path / "untouched").exists()
    capsys.readouterr()
    for flag, value in (("--T", "20"), ("--N", "4")):
        budget = {"--T": "16", "--N": "3", flag: value}
        assert main(["sample", str(video), "--sampler", str(tmp_path / "sos"), *[x for kv in budget.items() for x in kv]]) == 2
        trained = {"--T": 16, "--N": 3}[flag]
        assert f"trained with {flag[2:]} {trained} (asked {value})" in capsys.readouterr().err


def test_one_sample_call_scores_once_and_decodes_each_frame_once(collection, tmp_path, monkeypatch):
    from framesampler.app.pipeline import Pipeline
    from framesampler.policies import create_sampler
    from framesampler.video import decode

    sampler = create_sampler("sosampler", input_dim=112, num_classes=3)
    pipeline = Pipeline(sampler, T=12, N=3, thumbnails=48)
    decoded, scored = [], []
    read, scores = decode._PyAVSource.read, type(sampler).scores
    monkeypatch.setattr(decode._PyAVSource, "read", lambda self, wanted, *args: decoded.extend(wanted.tolist()) or read(self, wanted, *args))
    monkeypatch.setattr(type(sampler), "scores", lambda self, *args: scored.append(1) or scores(self, *args))
    result = pipeline(collection / "videos" / "square_001.mp4")
    assert len(scored) == 1 and result.scores is not None and len(result.scores) == 12
    assert sorted(decoded) == result.candidates.tolist()  # every candidate decoded once, nothing decoded again
    assert result.thumbnails.shape[:2] == (12, 48)


def test_an_interrupted_extraction_resumes_and_a_changed_setting_starts_afresh(collection, tmp_path, monkeypatch):
    entries = read_manifest(collection / "test.txt")[:4]
    config = ExtractConfig(T=8, classifier_resolution=96, sampler_resolution=64, sampler_stages=2)
    calls, interrupt = [], True
    original = Extractor.__call__

    def interrupted(self, path):
        calls.append(path)
        if len(calls) == 3 and interrupt:
            raise KeyboardInterrupt
        return original(self, path)

    monkeypatch.setattr(Extractor, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract({"test": entries}, config, cache_dir=tmp_path, progress=False)
    folder = tmp_path / "videos" / config.key()
    assert len(list(folder.glob("*.npz"))) == 2 and not list(folder.glob("*partial*"))
    calls.clear()
    interrupt = False
    report = extract({"test": entries}, config, cache_dir=tmp_path, progress=False)
    assert len(report.done) == 4 and len(calls) == 2  # only the two unfinished videos were decoded
    changed = extract({"test": entries[:1]}, ExtractConfig(**{**config.__dict__, "T": 6}), cache_dir=tmp_path, progress=False)
    assert changed.cache != report.cache and len(calls) == 3


def test_split_entries_is_stratified_and_deterministic(collection):
    entries = read_manifest(collection / "test.txt")
    splits = split_entries(entries, 0.5, seed=1)
    assert splits == split_entries(entries, 0.5, seed=1)
    assert sorted(e.label for e in splits["test"]) == ["disc", "disc", "square", "square", "triangle", "triangle"]
    with pytest.raises(ValueError, match="test_fraction"):
        split_entries(entries, 1.0)


REAL_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


@pytest.mark.parametrize("sampler", ["uniform", "mgsampler", "semi_optimal_max"])
def test_training_free_samplers_sample_a_real_video_with_the_imagenet_head(sampler, tmp_path, capsys):
    out = tmp_path / "cup.json"
    assert main(["sample", str(REAL_VIDEOS / "opencv-doc" / "cup.mp4"), "--sampler", sampler, "--T", "12", "--N", "4",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    frames = [row["frame"] for row in result["chosen"]]
    assert len(frames) == 4 and frames == sorted(set(frames)) and set(frames) <= set(result["candidates"])
    assert (result["chosen"][0]["score"] is None) == (sampler == "uniform")  # MGSampler's score is the motion
    per_frame = 0.3852  # Lite0 + its ImageNet layer; pi_s classified all T, so its chosen cost nothing more
    assert result["gmacs"]["classifier"] == pytest.approx(0 if sampler == "semi_optimal_max" else 4 * per_frame, rel=0.01)
    assert (result["gmacs"]["sampler"] > 0) == (sampler == "semi_optimal_max")
    assert len(result["prediction"]) == 5
    assert main(["sample", str(tmp_path / "missing.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_independence_command_writes_the_summary_and_the_plot(tmp_path):
    out, plot = tmp_path / "fig1.json", tmp_path / "fig1.png"
    video = REAL_VIDEOS / "intel-sample-videos" / "car-detection.mp4"
    assert main(["independence", str(video), str(tmp_path / "gone.mp4"), "--fps", "1,5", "--max-frames", "20",
                 "--resolution", "96", "--json", str(out), "--plot", str(plot)]) == 0
    summary = json.loads(out.read_text())
    assert set(summary["rates"]) == {"1", "5"} and summary["rates"]["5"]["pairs"] == 19
    assert summary["rates"]["5"]["mean"] > summary["rates"]["1"]["mean"]
    assert len(summary["failed"]) == 1 and plot.stat().st_size > 0


def test_mgsampler_on_motion_vectors_and_its_image_fallback(tmp_path):
    """The motion-vector view on an H.264 video, and on cinepak (no vectors) image differences, stated."""
    from framesampler.app.pipeline import load_pipeline

    pipeline = load_pipeline("mgsampler", T=16, N=4, options={"motion": "mv"})
    h264 = pipeline(REAL_VIDEOS / "intel-sample-videos" / "car-detection.mp4").summary()
    assert h264["motion"].startswith("motion vectors (h264") and len(h264["chosen"]) == 4
    assert h264["gmacs"]["sampler"] == 0
    assert main(["sample", str(REAL_VIDEOS / "opencv-doc" / "tree.avi"), "--sampler", "mgsampler", "--option", "motion=mv",
                 "--T", "16", "--N", "4", "--json", str(tmp_path / "tree.json")]) == 0
    cinepak = json.loads((tmp_path / "tree.json").read_text())
    assert cinepak["motion"] == "image differences of the candidates at 64 px (none: FFmpeg's cinepak decoder exports " \
                                "no motion vectors)"
    image = load_pipeline("mgsampler", T=16, N=4, options={"pairs": "candidates"})(REAL_VIDEOS / "opencv-doc" / "tree.avi")
    assert [row["frame"] for row in cinepak["chosen"]] == image.candidates[image.chosen].tolist()


def test_decode_then_run_is_the_pipeline_and_keyframe_candidates(tmp_path):
    from framesampler.app.pipeline import load_pipeline
    from framesampler.video import VideoReader

    video = REAL_VIDEOS / "intel-sample-videos" / "one-by-one-person-detection.mp4"
    pipeline = load_pipeline("mgsampler", T=16, N=4)
    whole, staged = pipeline(video), pipeline.run(pipeline.decode(video))
    assert whole.chosen.tolist() == staged.chosen.tolist() and set(staged.seconds) == {"decode_candidates", "sampler",
                                                                                       "decode_chosen", "classifier"}
    np.testing.assert_allclose(whole.probs, staged.probs, atol=1e-6)
    pipeline.candidates = "keyframes"
    keyed = pipeline(video)
    with VideoReader(video) as reader:
        assert set(keyed.candidates.tolist()) <= set(reader.keyframes.tolist()) and len(keyed.candidates) == 16


def test_a_sampler_that_predicts_is_taken_at_its_word_and_no_classifier_runs(collection, monkeypatch):
    from framesampler.app.pipeline import Pipeline
    from framesampler.classifiers.pixel import PixelClassifier
    from framesampler.policies import create_sampler

    sampler = create_sampler("adaframe", input_dim=112, num_classes=3, K=3, memory_frames=4, frame_vector="cheap",
                             lstm_width=16)
    assert sampler.predicts and not create_sampler("adaframe", input_dim=112, num_classes=3, prediction="classifier").predicts
    pipeline = Pipeline(sampler, T=8, N=3)
    monkeypatch.setattr(PixelClassifier, "frame_logits", lambda *args: pytest.fail("the frozen classifier ran"))
    result = pipeline(collection / "videos" / "square_001.mp4")
    video = pipeline.decode(collection / "videos" / "square_001.mp4")
    pipeline._choose(video, None)
    assert np.allclose(result.probs, video.selection.prediction) and np.isclose(result.probs.sum(), 1.0)
    assert result.macs["classifier"] == 0 and "decode_chosen" not in result.seconds


def test_adaframe_reads_the_classifiers_backbone_features_as_v_t_in_the_pipeline(collection, monkeypatch):
    """Eq. 1's v_t on a video file: the frozen classifier's backbone features of each candidate at its resolution (what
    a video dataset stores as ``features``); its head does not run (f_p predicts), and the frames looked at are charged
    as the classifier on them."""
    from framesampler.app.pipeline import Pipeline
    from framesampler.classifiers.pixel import PixelClassifier
    from framesampler.policies import create_sampler
    from framesampler.video import VideoReader

    sampler = create_sampler("adaframe", input_dim=112, num_classes=3, K=3, memory_frames=4, frame_dim=1280, lstm_width=16)
    pipeline = Pipeline(sampler, T=8, N=3)
    seen = []
    choose = sampler.choose
    monkeypatch.setattr(sampler, "choose", lambda candidates, *a, **k: seen.append(candidates) or choose(candidates, *a, **k))
    monkeypatch.setattr(PixelClassifier, "frame_logits", lambda *args: pytest.fail("the frozen classifier's head ran"))
    path = collection / "videos" / "square_001.mp4"
    result = pipeline(path)
    with VideoReader(path) as reader:
        size = pipeline.config.classifier_resolution
        expected = pipeline.classifier.backbone.features(reader.frames(result.candidates, size=size, crop=size)).numpy()
    np.testing.assert_allclose(seen[0].frame_vectors, expected, rtol=1e-4, atol=1e-5)
    assert result.macs["classifier"] == len(result.chosen) * pipeline.frame_macs


def test_decode_aware_pipeline_decodes_no_more_frames_and_picks_within_the_tolerance():
    """pi_s (semi_optimal_max) on a shared video with a keyframe every 10 frames, T=32 -> N=8: the decode-aware choice
    needs fewer frames than the plain one by the planner's count (35 against 44 when written), and each of its picks
    stays within the tolerance of the plain top-N's scores."""
    from framesampler.app.pipeline import load_pipeline
    from framesampler.video import VideoReader
    from framesampler.video.planner import plan_decode

    video = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "intel-sample-videos" / \
        "one-by-one-person-detection.mp4"
    plain = load_pipeline("semi_optimal_max", T=32, N=8)(video)
    aware = load_pipeline("semi_optimal_max", T=32, N=8, decode_aware=0.2)(video)
    with VideoReader(video) as reader:
        keyframes = reader.keyframes
    frames = {name: plan_decode(np.sort(r.candidates[r.chosen]), keyframes).frames
              for name, r in (("plain", plain), ("aware", aware))}
    assert frames["aware"] < frames["plain"]
    margin = 0.2 * np.ptp(plain.scores) + 1e-9
    assert np.all(np.sort(aware.scores[aware.chosen])[::-1] >= np.sort(plain.scores[plain.chosen])[::-1] - margin)
