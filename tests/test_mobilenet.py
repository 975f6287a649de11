import pytest
import torch

from framesampler.learned.mobilenet import MobileNetV2, MobileNetV2Encoder, make_divisible
from framesampler.learned.temporal_shift import shift_segments, temporal_shift


def test_shift_segments_hand_checked():
    # one video, T=3 frames, C=4 channels, x[t, c] = 10 t + c; fold_div=4 -> one channel each way
    x = (10 * torch.arange(3.0)[:, None] + torch.arange(4.0)).unsqueeze(0)
    expected = torch.tensor([[10.0, 0.0, 2.0, 3.0],    # ch0 from t+1, ch1 from t-1 (zero at the start)
                             [20.0, 1.0, 12.0, 13.0],
                             [0.0, 11.0, 22.0, 23.0]])  # ch0 from t+1 (zero at the end)
    assert torch.equal(shift_segments(x, fold_div=4), expected.unsqueeze(0))


def test_shift_default_fold_and_few_channels():
    x = torch.ones(1, 2, 16)
    out = shift_segments(x)  # fold_div 8 -> 2 channels each way
    assert torch.equal(out[0, 0], torch.tensor([1.0] * 2 + [0.0] * 2 + [1.0] * 12))
    assert torch.equal(out[0, 1], torch.tensor([0.0] * 2 + [1.0] * 14))
    assert torch.equal(shift_segments(torch.ones(1, 2, 7)), torch.ones(1, 2, 7))  # C < fold_div: nothing moves


def test_temporal_shift_stacked_layout_keeps_videos_apart():
    x = torch.cat([torch.zeros(3, 8, 2, 2), torch.ones(3, 8, 2, 2)])  # B=2 videos of T=3, video 1 all ones
    out = temporal_shift(x, num_segments=3, fold_div=4)
    assert torch.equal(out, shift_segments(x.reshape(2, 3, 8, 2, 2), fold_div=4).reshape(6, 8, 2, 2))
    assert torch.equal(out[:3], torch.zeros(3, 8, 2, 2))  # nothing leaks from video 1 into video 0
    assert torch.equal(out[3, :2], torch.ones(2, 2, 2)) and torch.equal(out[3, 2:4], torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="T=4"):
        temporal_shift(x, num_segments=4)
    with pytest.raises(ValueError, match="fold_div"):
        shift_segments(x.reshape(2, 3, 8, 2, 2), fold_div=1)


def test_make_divisible_matches_reference_rounding():
    assert [make_divisible(v) for v in (32, 16, 24 * 0.5, 16 * 0.5, 32 * 0.35, 1280)] == [32, 16, 16, 8, 16, 1280]


def test_torchvision_state_dict_layout():
    model = MobileNetV2(num_classes=1000)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(shapes) == 314
    expected = {
        "features.0.0.weight": (32, 3, 3, 3),
        "features.0.1.running_var": (32,),
        "features.1.conv.0.0.weight": (32, 1, 3, 3),
        "features.1.conv.1.weight": (16, 32, 1, 1),
        "features.1.conv.2.weight": (16,),
        "features.2.conv.0.0.weight": (96, 16, 1, 1),
        "features.2.conv.1.0.weight": (96, 1, 3, 3),
        "features.2.conv.2.weight": (24, 96, 1, 1),
        "features.2.conv.3.num_batches_tracked": (),
        "features.17.conv.2.weight": (320, 960, 1, 1),
        "features.18.0.weight": (1280, 320, 1, 1),
        "features.18.1.bias": (1280,),
        "classifier.1.weight": (1000, 1280),
        "classifier.1.bias": (1000,),
    }
    assert {k: shapes[k] for k in expected} == expected
    assert sum(p.numel() for p in model.parameters()) == 3_504_872
    assert not any(k.startswith("classifier") for k in MobileNetV2(shift_div=8).state_dict())
    MobileNetV2(shift_div=8, num_classes=1000).load_state_dict(model.state_dict())  # the shift adds no names


def test_forward_shapes_and_shift_needs_segments():
    frames = torch.randn(4, 3, 64, 64)
    small = MobileNetV2(0.5).eval()
    assert small.out_dim == 1280 and small(frames).shape == (4, 1280)
    wide = MobileNetV2(1.4, num_classes=10).eval()
    assert wide.out_dim == 1792 and wide(frames).shape == (4, 10) and wide.forward_features(frames).shape == (4, 1792)
    with pytest.raises(ValueError, match="num_segments"):
        MobileNetV2(0.5, shift_div=8)(frames)


def differs(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Relative test: an untrained MobileNetV2 in eval mode gives features of order 1e-8."""
    return bool((a - b).abs().max() > 1e-3 * a.abs().max())


@pytest.fixture(scope="module")
def encoders():
    torch.manual_seed(0)
    shifted = MobileNetV2Encoder(0.5, shift_div=8).eval()
    plain = MobileNetV2Encoder(0.5, shift_div=None).eval()
    plain.load_state_dict(shifted.state_dict())
    return shifted, plain


def test_encoder_shape_and_shift_changes_features(encoders):
    shifted, plain = encoders
    pixels = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        a, b = shifted(pixels), plain(pixels)
    assert a.shape == b.shape == (2, 4, shifted.out_dim) and shifted.out_dim == 1280
    assert differs(a, b)
    with torch.no_grad():  # without shift, frames are encoded independently
        assert not differs(b[1, 2], plain(pixels[1:2, 2:3])[0, 0])
    with pytest.raises(ValueError, match=r"\[B, T, 3, H, W\]"):
        shifted(pixels[0])


def test_shift_makes_frame_t_see_its_neighbours(encoders):
    shifted, plain = encoders
    pixels = torch.randn(2, 5, 3, 64, 64)
    for neighbour in (3, 1):  # change frame t+1, then frame t-1, of video 0; look at frame t=2
        changed = pixels.clone()
        changed[0, neighbour] = torch.randn(3, 64, 64)
        with torch.no_grad():
            before_s, after_s = shifted(pixels), shifted(changed)
            before_p, after_p = plain(pixels), plain(changed)
        assert differs(before_s[0, 2], after_s[0, 2])
        assert torch.equal(before_p[0, 2], after_p[0, 2])
        assert torch.equal(before_s[1], after_s[1])  # the other video is untouched
