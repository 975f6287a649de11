import pytest
import torch
from torch import nn

from framesampler.cost import count_macs, macs_per_frame


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


def test_vgg16_relu6_matches_the_published_cost():
    from framesampler.classifiers.vgg16 import vgg16_relu6_macs

    # VGG16 is 15.47 GMACs at 224 px with fc7 and fc8 (4096*4096 + 4096*1000 = 20.9 M) included
    assert vgg16_relu6_macs() == pytest.approx(15.47e9 - 20.9e6, rel=0.002)
    assert vgg16_relu6_macs(crops=5) == 5 * vgg16_relu6_macs()


def test_video_cost_charges_what_each_sampler_reads_on_the_candidates_it_reads():
    from framesampler import create_sampler  # registers the learned samplers too
    from framesampler.cost import video_macs

    def cost(sampler, T=10):
        return video_macs(sampler, num_candidates=T, num_chosen=3, classifier_frame=1000.0, cheap_frame=100.0)

    assert cost(create_sampler("uniform")) == {"sampler": 0.0, "classifier": 3000.0, "total": 3000.0}
    # pi_s classified all T candidates: the N chosen are among them, not charged twice
    assert cost(create_sampler("semi_optimal_max")) == {"sampler": 10 * 1000.0, "classifier": 0.0, "total": 10 * 1000.0}
    assert cost(create_sampler("mgsampler", motion="feature"))["sampler"] == 10 * 100.0
    assert cost(create_sampler("mgsampler", motion="image"))["sampler"] == 0.0
    learned = create_sampler("sosampler", input_dim=8, num_classes=3, width=4)
    assert cost(learned)["sampler"] == 10 * (100.0 + learned.macs_per_frame())
    strided = create_sampler("scsampler", input_dim=8, num_classes=3, width=4, stride=4)
    assert cost(strided)["sampler"] == 3 * (100.0 + strided.macs_per_frame())  # SCSampler App. D: ceil(10 / 4) scored
