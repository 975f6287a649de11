"""Compute cost of a forward pass in multiply-accumulates (MACs).

The convention of mmaction2's ``get_flops`` and fvcore, which the frame-sampling papers (SOSampler,
Lee et al. BMVC 2024; OCSampler, Lin et al. CVPR 2022) report as "GFLOPs": one MAC per multiply-add of
a convolution or fully connected layer, biases not counted, and nothing for normalisation,
activations, pooling or temporal shifts. Only ``nn.Conv1d/2d/3d`` and ``nn.Linear`` modules are
counted: operations done functionally (``F.linear``, ``torch.matmul``, attention) or in other module
types contribute nothing, so check a new architecture's count against its published figure.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, _CONVS):
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    return output.numel() * module.in_features


def count_macs(module: nn.Module, *example_inputs: Any, **example_kwargs: Any) -> int:
    """MACs of ``module(*example_inputs, **example_kwargs)`` for the whole example batch.

    Runs one forward pass without gradients in eval mode (so BatchNorm statistics stay untouched) and
    restores the module's training mode afterwards. A module called several times is counted each time.
    """
    total = 0

    def hook(layer: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += _layer_macs(layer, output)

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, (*_CONVS, nn.Linear))]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*example_inputs, **example_kwargs)
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return total


def macs_per_frame(module: nn.Module, frames: torch.Tensor, **example_kwargs: Any) -> float:
    """MACs per frame of ``module(frames)``, where every dimension of ``frames`` before the last three
    (C, H, W) counts frames: [N, C, H, W] for a per-frame network, [B, T, C, H, W] for a video encoder."""
    if frames.dim() < 4:
        raise ValueError(f"expected frames of shape [..., C, H, W] with at least one frame dimension, "
                         f"got {tuple(frames.shape)}")
    return count_macs(module, frames, **example_kwargs) / math.prod(frames.shape[:-3])


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


def sampler_macs_per_candidate(sampler: Any, *, features_macs: float, scorer_macs: float) -> float:
    """MACs a sampler spends on each of the T candidates: the cheap backbone when it reads features
    (``features_macs``), the per-frame classifier when it reads class scores (``scorer_macs``), and a
    learned sampler's own network (its ``macs_per_frame``). Rules that read nothing cost 0."""
    reads = set(getattr(sampler, "reads", sampler.needs))
    total = features_macs if "features" in reads else 0.0
    total += scorer_macs if "frame_logits" in reads else 0.0
    return total + (sampler.macs_per_frame() if hasattr(sampler, "macs_per_frame") else 0.0)
