"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018) in
plain torch, with TSM's residual temporal shift (Lin et al., ICCV 2019): the light per-frame pixel
encoder f_s of SOSampler (Lee et al., BMVC 2024) and OCSampler (Lin et al., CVPR 2022), which run it at
128 px on the T candidate frames.

Parameter names follow torchvision's MobileNetV2 (``features.0.0.weight`` ... ``features.18``,
``classifier.1``), so an ImageNet state dict in that layout loads with ``load_state_dict`` (into a
``MobileNetV2(num_classes=1000)``, or without its ``classifier.*`` keys into one without a classifier,
e.g. ``MobileNetV2Encoder.net``); the shift adds no parameters and no names.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from framesampler.learned.temporal_shift import temporal_shift

INVERTED_RESIDUAL_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # (t, c, n, s)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of ``divisor``, never more than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_relu6(inp: int, oup: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> ReLU6, keyed ``0``, ``1``, ``2`` like torchvision's Conv2dNormActivation."""
    return nn.Sequential(nn.Conv2d(inp, oup, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(oup), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise 3x3 -> linear project (1x1); identity shortcut when stride 1 and in == out.

    With ``shift_div`` set and a shortcut present, the residual branch starts with ``temporal_shift``
    (TSM's "residual shift"; the shortcut keeps the unshifted frame).
    """

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, shift_div: int | None = None) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        self.shift_div = shift_div if self.use_res_connect else None
        layers = [conv_bn_relu6(inp, hidden, kernel_size=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, num_segments: int = 1) -> torch.Tensor:
        if not self.use_res_connect:
            return self.conv(x)
        branch = x if self.shift_div is None else temporal_shift(x, num_segments, self.shift_div)
        return x + self.conv(branch)


class MobileNetV2(nn.Module):
    """MobileNetV2 on stacked frames [B*T, 3, H, W].

    ``forward_features`` gives globally average-pooled features [B*T, out_dim] with
    ``out_dim = make_divisible(1280 * max(1, width_mult))``; ``forward`` adds the classifier
    (Dropout + Linear, torchvision's ``classifier``) when ``num_classes`` is given (1000 for ImageNet).
    With ``shift_div`` set (TSM uses 8), every residual block shifts 1/shift_div of its channels each way
    across the T frames of a video, and both methods then require ``num_segments=T``.
    """

    def __init__(self, width_mult: float = 1.0, *, shift_div: int | None = None, num_classes: int | None = None,
                 dropout: float = 0.2) -> None:
        super().__init__()
        channels = make_divisible(32 * width_mult)
        self.out_dim = make_divisible(1280 * max(1.0, width_mult))
        self.shift_div = shift_div
        layers: list[nn.Module] = [conv_bn_relu6(3, channels, stride=2)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out_channels = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(channels, out_channels, s if i == 0 else 1, t, shift_div))
                channels = out_channels
        layers.append(conv_bn_relu6(channels, self.out_dim, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = (nn.Sequential(nn.Dropout(dropout), nn.Linear(self.out_dim, num_classes))
                           if num_classes is not None else None)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor, num_segments: int | None = None) -> torch.Tensor:
        """Pooled features [B*T, out_dim] of frames [B*T, 3, H, W]."""
        if self.shift_div is not None and num_segments is None:
            raise ValueError("this MobileNetV2 shifts channels across frames: pass num_segments=T "
                             "(frames per video in the stacked batch)")
        segments = 1 if num_segments is None else num_segments
        for layer in self.features:
            x = layer(x, segments) if isinstance(layer, InvertedResidual) else layer(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor, num_segments: int | None = None) -> torch.Tensor:
        """Logits [B*T, num_classes] with a classifier, else the pooled features of ``forward_features``."""
        features = self.forward_features(x, num_segments)
        return features if self.classifier is None else self.classifier(features)


class MobileNetV2Encoder(nn.Module):
    """Per-frame features [B, T, out_dim] of pixels [B, T, 3, H, W], with TSM across the T frames.

    The f_s of SOSampler / OCSampler (MobileNetV2 + TSM, 128 px there; any H, W works). Pixels are
    expected already normalised as the weights were trained (ImageNet mean/std for ImageNet weights).
    ``shift_div=None`` turns the shift off, making every frame's features depend on that frame only.
    """

    def __init__(self, width_mult: float = 1.0, *, shift_div: int | None = 8) -> None:
        super().__init__()
        self.net = MobileNetV2(width_mult, shift_div=shift_div)
        self.out_dim = self.net.out_dim

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dim() != 5 or pixels.shape[2] != 3:
            raise ValueError(f"expected pixels of shape [B, T, 3, H, W], got {tuple(pixels.shape)}")
        b, t = pixels.shape[:2]
        return self.net.forward_features(pixels.flatten(0, 1), num_segments=t).reshape(b, t, self.out_dim)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise_pixels(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Frames [T, H, W, 3] (uint8 0-255) -> float [T, 3, H, W] normalised with ImageNet mean and std."""
    frames = torch.as_tensor(np.asarray(pixels))
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames of shape [T, H, W, 3], got {tuple(frames.shape)}")
    frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (frames - mean) / std
