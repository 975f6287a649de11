import pytest
import torch
from torch import nn

from framesampler.cost import count_macs, macs_per_frame
from framesampler.learned.mobilenet import MobileNetV2, MobileNetV2Encoder


def test_conv_and_linear_hand_checked():
    # conv 3->4, 3x3, stride 1, pad 1 on 5x5: 4*5*5 outputs x 3*9 MACs = 2700 per image
    # grouped conv 4->4, groups 2, 1x1: 4*5*5 outputs x 2 = 200; linear 100->7: 700; BN/ReLU/pool: 0
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 4, 1, groups=2), nn.Flatten(), nn.Linear(100, 7))
    assert count_macs(model, torch.zeros(2, 3, 5, 5)) == 2 * (2700 + 200 + 700)
    assert macs_per_frame(model, torch.zeros(2, 3, 5, 5)) == 3600
    conv1d, conv3d = nn.Conv1d(2, 3, 3), nn.Conv3d(1, 2, (2, 3, 3))
    assert count_macs(conv1d, torch.zeros(1, 2, 10)) == 3 * 8 * 2 * 3
    assert count_macs(conv3d, torch.zeros(1, 1, 4, 5, 5)) == 2 * 3 * 3 * 3 * 18
    assert count_macs(nn.Linear(4, 5), torch.zeros(3, 6, 4)) == 3 * 6 * 4 * 5  # every leading element counts


def test_counting_leaves_the_module_as_it_was():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    stats = model[1].running_mean.clone()
    count_macs(model, torch.randn(2, 3, 5, 5))
    assert model.training and torch.equal(model[1].running_mean, stats)
    assert not model[0]._forward_hooks
    with pytest.raises(ValueError, match=r"\[\.\.\., C, H, W\]"):
        macs_per_frame(model, torch.zeros(3, 5, 5))


def test_mobilenet_v2_matches_the_published_300m_macs():
    model = MobileNetV2(num_classes=1000)
    macs_224 = count_macs(model, torch.zeros(1, 3, 224, 224))
    assert 0.29e9 <= macs_224 <= 0.32e9  # Sandler et al. 2018: 300M multiply-adds
    macs_128 = count_macs(model, torch.zeros(1, 3, 128, 128))
    assert 0.09e9 <= macs_128 <= 0.11e9


def test_encoder_macs_per_frame_ignore_the_shift():
    frames = torch.zeros(1, 3, 3, 64, 64)
    shifted = macs_per_frame(MobileNetV2Encoder(0.5), frames)
    assert shifted == macs_per_frame(MobileNetV2Encoder(0.5, shift_div=None), frames)
    assert shifted == count_macs(MobileNetV2(0.5), torch.zeros(1, 3, 64, 64))


def test_vgg16_relu6_matches_the_published_cost():
    from framesampler.cost import vgg16_relu6_macs

    # VGG16 is 15.47 GMACs at 224 px with fc7 and fc8 (4096*4096 + 4096*1000 = 20.9 M) included
    assert vgg16_relu6_macs() == pytest.approx(15.47e9 - 20.9e6, rel=0.002)
    assert vgg16_relu6_macs(crops=5) == 5 * vgg16_relu6_macs()


def test_sampler_cost_per_candidate_charges_what_each_sampler_reads():
    from framesampler.cost import sampler_macs_per_candidate
    from framesampler.policies import create_sampler

    def cost(sampler):
        return sampler_macs_per_candidate(sampler, features_macs=100.0, scorer_macs=1000.0)

    assert cost(create_sampler("uniform")) == 0.0
    assert cost(create_sampler("semi_optimal_max")) == 1000.0
    assert cost(create_sampler("mgsampler")) == 100.0 and cost(create_sampler("mgsampler", motion="image")) == 0.0
    learned = create_sampler("sosampler", input_dim=8, num_classes=3, width=4)
    assert cost(learned) == 100.0 + learned.macs_per_frame() > 100.0
