"""The user's own classifier (``--classifier SPEC``): each kind of model, checked against the model run directly.

The models are tiny and random-initialised (Hugging Face ViT, TimeSformer and VideoMAE built from a config, a
TorchScript file, a torch.export file, a Python entry point); what is checked is that framesampler feeds each of
them exactly the documented input and uses exactly its output: ``sample --sampler semi_optimal_max`` picks the
top-N of the model's own per-frame confidences, computed here through transformers / torch directly, and
``extract`` stores the model's logits.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from framesampler.candidates import candidate_indices
from framesampler.cli import main
from framesampler.data.synthetic import write_synthetic_videos
from framesampler.video.decode import VideoReader

S = 32
CLASSES = ["disc", "square", "triangle"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 3 synthetic videos of 24 frames; returns the folder (manifest.txt, train.txt, test.txt)."""
    folder = tmp_path_factory.mktemp("videos")
    write_synthetic_videos(folder, classes=3, videos_per_class=3, frame_count=24, size=64)
    return folder


def tiny_cnn(seed: int = 0, classes: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes)).eval()


def torchscript(path: Path, seed: int = 0, classes: list[str] = CLASSES) -> Path:
    torch.jit.trace(tiny_cnn(seed, len(classes)), torch.zeros(1, 3, S, S)).save(str(path))
    path.with_suffix(".classes.txt").write_text("".join(c + "\n" for c in classes))
    return path


def candidates_at(video: Path, T: int, size: int) -> np.ndarray:
    """The T uniform candidates of ``video`` as uint8 [T, size, size, 3]: shorter side to ``size``, centre crop."""
    with VideoReader(video) as reader:
        return reader.frames(candidate_indices(reader.metadata.num_frames, T), size=size, crop=size)


def contract_input(frames: np.ndarray, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """The documented contract, written out independently: float32 [n, 3, S, S] RGB in [0, 1], then (x - mean) / std."""
    return (torch.from_numpy(frames.astype(np.float32) / 255.0).permute(0, 3, 1, 2) - mean) / std


def sampled(video: Path, spec: str, tmp_path: Path, *extra: str, T: int = 8, N: int = 3) -> dict:
    out = tmp_path / "sample.json"
    assert main(["sample", str(video), "--sampler", "semi_optimal_max", "--classifier", spec, "--T", str(T), "--N", str(N),
                 "--json", str(out), *extra]) == 0
    return json.loads(out.read_text())


def assert_top_n(summary: dict, confidences: np.ndarray, N: int) -> None:
    """The chosen positions are the N most confident candidates, and their scores are those confidences."""
    chosen = sorted(row["position"] for row in summary["chosen"])
    assert chosen == sorted(np.argsort(-confidences, kind="stable")[:N].tolist())
    np.testing.assert_allclose([row["score"] for row in summary["chosen"]], confidences[chosen], rtol=1e-4, atol=1e-5)


def hf_dir(tmp_path: Path, model: nn.Module, size: int, *, mean: float = 0.5, std: float = 0.5) -> Path:
    directory = tmp_path / type(model).__name__
    model.save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": size, "width": size}, "image_mean": [mean] * 3, "image_std": [std] * 3, "rescale_factor": 1 / 255}))
    return directory


def test_torchscript_sample_picks_the_models_own_top_n(videos: Path, tmp_path: Path) -> None:
    model = torchscript(tmp_path / "cnn.pt")
    video = videos / "videos" / "disc_000.mp4"
    summary = sampled(video, str(model), tmp_path, "--classifier-size", str(S))
    with torch.no_grad():
        probs = torch.jit.load(str(model))(contract_input(candidates_at(video, 8, S))).softmax(-1)
    assert_top_n(summary, probs.max(-1).values.numpy(), 3)
    assert summary["prediction"][0]["class"] in CLASSES


def test_export_program_and_entry_point(videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = videos / "videos" / "square_000.mp4"
    net = tiny_cnn(3)
    with torch.no_grad():
        confidences = net(contract_input(candidates_at(video, 8, S))).softmax(-1).max(-1).values.numpy()
    exported = tmp_path / "cnn.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(2, 3, S, S),),
                                          dynamic_shapes=({0: torch.export.Dim("n", min=1, max=64)},)), str(exported))
    (tmp_path / "cnn.classes.txt").write_text("\n".join(CLASSES))
    assert_top_n(sampled(video, str(exported), tmp_path, "--classifier-size", str(S)), confidences, 3)

    (tmp_path / "my_models.py").write_text(
        "import torch\nfrom torch import nn\n"
        "def tiny():\n"
        "    torch.manual_seed(3)\n"
        "    net = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))\n"
        "    net.classes = ['disc', 'square', 'triangle']\n"
        "    return net.eval()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert_top_n(sampled(video, "my_models:tiny", tmp_path, "--classifier-size", str(S)), confidences, 3)


def test_hugging_face_vit(videos: Path, tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    config = transformers.ViTConfig(image_size=S, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, num_labels=3, id2label=dict(enumerate(CLASSES)),
                                    label2id={c: i for i, c in enumerate(CLASSES)})
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(config).eval()
    directory = hf_dir(tmp_path, model, S, mean=0.45, std=0.25)
    video = videos / "videos" / "triangle_000.mp4"
    with torch.no_grad():
        logits = model(pixel_values=contract_input(candidates_at(video, 8, S), 0.45, 0.25)).logits
    assert_top_n(sampled(video, str(directory), tmp_path), logits.softmax(-1).max(-1).values.numpy(), 3)


@pytest.mark.parametrize("kind", ["timesformer", "videomae"])
def test_hugging_face_video_models_see_each_candidate_as_a_one_frame_clip(videos: Path, tmp_path: Path, kind: str) -> None:
    transformers = pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    common = dict(image_size=S, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                  intermediate_size=64, num_frames=4, num_labels=3, id2label=dict(enumerate(CLASSES)),
                  label2id={c: i for i, c in enumerate(CLASSES)})
    torch.manual_seed(1)
    if kind == "timesformer":
        model = transformers.TimesformerForVideoClassification(transformers.TimesformerConfig(**common)).eval()
    else:
        model = transformers.VideoMAEForVideoClassification(transformers.VideoMAEConfig(**common, tubelet_size=2)).eval()
    directory = hf_dir(tmp_path, model, S)
    video = videos / "videos" / "disc_001.mp4"
    frames = contract_input(candidates_at(video, 8, S), 0.5, 0.5)
    with torch.no_grad():  # pi_s, Sec. 4.1: each frame a one-frame clip, repeated to the model's 4 input frames
        logits = torch.cat([model(pixel_values=frame[None, None].expand(1, 4, -1, -1, -1)).logits for frame in frames])
    summary = sampled(video, str(directory), tmp_path)
    assert_top_n(summary, logits.softmax(-1).max(-1).values.numpy(), 3)
    assert summary["classifier_note"] == "each clip resampled to the model's 4 input frames (frames repeated)"
    chosen = sorted(row["position"] for row in summary["chosen"])
    clip = frames[chosen][[0, 0, 1, 2]]  # the N=3 chosen resampled to 4 frames: place i takes frame floor(i * 3 / 4)
    with torch.no_grad():
        expected = model(pixel_values=clip[None]).logits.softmax(-1)[0]
    top = summary["prediction"][0]
    assert top["class"] == CLASSES[int(expected.argmax())]
    assert top["prob"] == pytest.approx(float(expected.max()), abs=1e-4)


def test_extract_stores_the_models_logits_and_train_evaluate_sample_use_them(videos: Path, tmp_path: Path) -> None:
    model_path = torchscript(tmp_path / "cnn.pt")
    dataset = tmp_path / "dataset.npz"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["extract", str(videos / "train.txt"), "--test", str(videos / "test.txt"), "--T", "8", "--classifier",
                 str(model_path), "--classifier-size", str(S), "--out", str(dataset), "--no-progress", *cache]) == 0
    data = np.load(dataset)
    assert "features" not in data.files and data["frame_logits"].shape == (9, 8, 3)
    recorded = json.loads(str(data["classifier"]))
    assert recorded["classes"] == CLASSES and recorded["size"] == S and recorded["kind"] == "frame"
    net = torch.jit.load(str(model_path))
    for v in (0, 5):
        with torch.no_grad():
            expected = net(contract_input(candidates_at(Path(str(data["path"][v])), 8, S)))
        np.testing.assert_allclose(data["frame_logits"][v], expected.numpy(), rtol=1e-4, atol=1e-5)
    assert [CLASSES[i] for i in data["label"]] == [Path(str(p)).stem.split("_")[0] for p in data["path"]]

    checkpoint = tmp_path / "ck"
    assert main(["train", "--features", str(dataset), "--sampler", "sosampler", "--T", "8", "--N", "3", "--epochs", "1",
                 "--out", str(checkpoint), "--no-progress", *cache]) == 0
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["classifier_config"]["model"]["fingerprint"] == recorded["fingerprint"]
    report = tmp_path / "report.json"
    assert main(["evaluate", "--features", str(dataset), "--T", "8", "--N", "3", "--checkpoint", str(checkpoint),
                 "--policies", "uniform,semi_optimal_max", "--repeats", "1", "--json", str(report), "--no-progress",
                 *cache]) == 0
    result = json.loads(report.read_text())
    assert result["classifier"]["model"]["spec"] == str(model_path) and set(result["policies"]) >= {"sosampler", "uniform"}
    assert result["cost"]["uniform"]["classifier_gmacs"] > 0

    other = torchscript(tmp_path / "other.pt", seed=9)
    assert main(["sample", str(data["path"][0]), "--sampler", str(checkpoint), "--T", "8", "--N", "3"]) == 0
    assert main(["sample", str(data["path"][0]), "--sampler", str(checkpoint), "--T", "8", "--N", "3", "--classifier",
                 str(other), "--classifier-size", str(S)]) == 2
    assert main(["evaluate", "--features", str(dataset), "--T", "8", "--N", "3", "--classifier", str(other),
                 "--repeats", "1", "--no-progress", *cache]) == 2


def test_changed_model_gets_a_new_cache(videos: Path, tmp_path: Path) -> None:
    from framesampler.app.extract import extract
    from framesampler.classifiers.model import load_classifier
    from framesampler.data.dataset import ExtractConfig
    from framesampler.data.manifest import read_manifest

    splits = {"train": read_manifest(videos / "test.txt")}
    caches = set()
    for seed in (0, 1):
        model = load_classifier(str(torchscript(tmp_path / "cnn.pt", seed=seed)), size=S)
        config = ExtractConfig(T=4, classifier_resolution=S, classifier=model.spec, classifier_fingerprint=model.fingerprint)
        caches.add(extract(splits, config, cache_dir=tmp_path / "cache", progress=False, model=model).cache)
    assert len(caches) == 2


def test_bad_models_are_one_line_before_any_work(videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    not_a_model = tmp_path / "notes.pt"
    not_a_model.write_bytes(b"this is not a model")
    wrong_shape = tmp_path / "wide.pt"
    torch.jit.trace(nn.Sequential(nn.Flatten(), nn.Linear(3 * S * S, 5)).eval(), torch.zeros(1, 3, S, S)).save(str(wrong_shape))
    wrong_shape.with_suffix(".classes.txt").write_text("\n".join(CLASSES))
    nan = tmp_path / "nan.pt"

    class NaNs(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean((2, 3)) * float("nan")

    torch.jit.script(NaNs()).save(str(nan))
    nan.with_suffix(".classes.txt").write_text("\n".join(CLASSES))
    no_classes = tmp_path / "bare.pt"
    torch.jit.trace(tiny_cnn(), torch.zeros(1, 3, S, S)).save(str(no_classes))
    video = str(videos / "videos" / "disc_000.mp4")
    cases = {
        str(not_a_model): "is not a TorchScript module",
        str(wrong_shape): "output of shape (2, 5)",
        str(nan): "NaN or inf",
        str(no_classes): "no class names",
        str(tmp_path / "missing.pt"): "no such file",
        "no_such_package.module:function": "cannot import",
    }
    for spec, message in cases.items():
        assert main(["sample", video, "--classifier", spec, "--classifier-size", str(S)]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (spec, err)
    assert main(["sample", video, "--classifier", str(no_classes), "--classes", "a,b", "--classifier-size", str(S)]) == 2
    assert "C = 2 classes" in capsys.readouterr().err

    model = torchscript(tmp_path / "two.pt", classes=["disc", "ring", "square"])  # no triangle
    out = tmp_path / "never.npz"
    assert main(["extract", str(videos / "manifest.txt"), "--classifier", str(model), "--classifier-size", str(S),
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "triangle" in err and "disc, ring, square" in err and not out.exists() and not (tmp_path / "cache").exists()
    label_map = tmp_path / "labels.csv"
    label_map.write_text("triangle,ring\n")
    assert main(["extract", str(videos / "manifest.txt"), "--classifier", str(model), "--classifier-size", str(S),
                 "--label-map", str(label_map), "--T", "4", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
                 "--no-progress"]) == 0
    assert sorted(set(np.load(out)["label"].tolist())) == [0, 1, 2]


def test_hugging_face_directory_that_is_not_a_classifier(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    transformers = pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    directory = tmp_path / "bert"
    transformers.BertModel(transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                   intermediate_size=32, vocab_size=50)).save_pretrained(directory)
    from framesampler.classifiers.model import load_classifier

    with pytest.raises(ValueError, match="not an image or video classification model"):
        load_classifier(str(directory))


def test_python_api_protocol_and_integration(videos: Path, tmp_path: Path) -> None:
    import framesampler
    from framesampler.integrations.hf import indices_fn

    model = framesampler.load_classifier(str(torchscript(tmp_path / "cnn.pt")), size=S)
    assert isinstance(model, framesampler.Classifier) and model.classes == CLASSES and model.kind == "frame"
    frames = candidates_at(videos / "videos" / "disc_000.mp4", 8, S)
    with torch.no_grad():
        expected = torch.jit.load(str(tmp_path / "cnn.pt"))(contract_input(frames))
    torch.testing.assert_close(model.frame_logits(frames), expected)
    torch.testing.assert_close(model.clip_logits(frames), expected.mean(0))
    assert model.macs(2) == 2 * model.macs(1) > 0
    video = videos / "videos" / "disc_000.mp4"
    picked = indices_fn(video, "semi_optimal_max", T=8, N=3, classifier=model)()
    confidences = expected.softmax(-1).max(-1).values.numpy()
    with VideoReader(video) as reader:
        positions = candidate_indices(reader.metadata.num_frames, 8)
    assert sorted(picked.tolist()) == sorted(positions[np.argsort(-confidences)[:3]].tolist())


def test_aten_counter_agrees_with_the_module_hook_counter_on_cnns() -> None:
    from framesampler.classifiers.pretrained import EfficientNetLite0
    from framesampler.cost import aten_macs, count_macs

    for net, size in ((EfficientNetLite0().eval(), 224), (tiny_cnn(), S)):
        x = torch.zeros(1, 3, size, size)
        assert aten_macs(net, x) == count_macs(net, x)


def test_aten_counter_sees_attention_the_hook_counter_misses() -> None:
    attention = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    x = torch.zeros(1, 10, 16)
    from framesampler.cost import aten_macs

    projections = 10 * 16 * 16 * 4  # q, k, v and out
    products = 2 * 10 * 10 * 16  # q k^T and attention x v
    assert aten_macs(lambda t: attention(t, t, t), x) == projections + products



def test_evaluate_runs_a_clip_model_on_each_policys_chosen_frames(videos: Path, tmp_path: Path) -> None:
    """On a dataset of a video model, evaluate's prediction for a policy is the model itself on the N chosen frames as
    one clip (decoded again), and pi_o searches subsets through it: checked against the model run directly."""
    transformers = pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    from framesampler.app.evaluate import EvaluationConfig, run
    from framesampler.eval.metrics import mean_average_precision, top1

    config = transformers.TimesformerConfig(image_size=S, patch_size=8, hidden_size=32, num_hidden_layers=1,
                                            num_attention_heads=2, intermediate_size=64, num_frames=4, num_labels=3,
                                            id2label=dict(enumerate(CLASSES)), label2id={c: i for i, c in enumerate(CLASSES)})
    torch.manual_seed(2)
    model = transformers.TimesformerForVideoClassification(config).eval()
    directory = hf_dir(tmp_path, model, S)
    dataset = tmp_path / "dataset.npz"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["extract", str(videos / "train.txt"), "--test", str(videos / "test.txt"), "--T", "6", "--classifier",
                 str(directory), "--out", str(dataset), "--no-progress", *cache]) == 0
    report = run(EvaluationConfig(features=str(dataset), T=6, N=3, policies=["uniform", "oracle"], repeats=1,
                                  cache_dir=str(tmp_path / "cache")), progress=False)
    data = np.load(dataset)
    test = np.flatnonzero(data["split"] == "test")
    chosen = candidate_indices(6, 3)  # uniform's TSN centres among the 6 candidates
    probs, best = [], []
    for v in test:
        frames = contract_input(candidates_at(Path(str(data["path"][v])), 6, S), 0.5, 0.5)
        with torch.no_grad():
            probs.append(model(pixel_values=frames[chosen][[0, 0, 1, 2]][None]).logits.softmax(-1)[0].numpy())
            subsets = [list(s) for s in itertools.combinations(range(6), 3)]
            clips = torch.stack([frames[s][[0, 0, 1, 2]] for s in subsets])
            subset_probs = model(pixel_values=clips).logits.softmax(-1)
            best.append(int(subset_probs[subset_probs[:, data["label"][v]].argmax()].argmax()) == data["label"][v])
    probs = np.stack(probs)
    row = report["policies"]["uniform"]
    assert row["top1"] == pytest.approx(top1(probs, data["label"][test]))
    assert row["mAP"] == pytest.approx(mean_average_precision(probs, data["label"][test]), abs=1e-6)
    assert report["policies"]["oracle"]["top1"] == pytest.approx(np.mean(best))  # pi_o's exact search, via the model
