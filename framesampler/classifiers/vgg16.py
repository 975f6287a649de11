"""VGG16 up to relu6 (Simonyan and Zisserman 2015): the backbone of the shared UCF101 features, defined
for counting its cost (``framesampler.cost.count_macs``)."""
from __future__ import annotations

import torch
from torch import nn

from framesampler.cost import count_macs


def vgg16_relu6(device: str | torch.device = "meta") -> nn.Sequential:
    """VGG16 (Simonyan and Zisserman 2015) up to fc6 + ReLU: the backbone of the shared UCF101 features.
    Built on the meta device by default (no weights), which is all ``count_macs`` needs."""
    layers: list[nn.Module] = []
    channels = 3
    for width, convs in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)):
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, 3, padding=1, device=device), nn.ReLU()]
            channels = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096, device=device), nn.ReLU())


def vgg16_relu6_macs(size: int = 224, crops: int = 1) -> int:
    """MACs of the VGG16 relu6 feature of one frame from ``crops`` crops of ``size`` px (the shared
    UCF101 file averaged 5 crops of 224)."""
    return crops * count_macs(vgg16_relu6(), torch.empty(1, 3, size, size, device="meta"))
