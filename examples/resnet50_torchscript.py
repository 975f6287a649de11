"""A ResNet-50-sized classifier as a TorchScript file, for timing with a classifier of realistic cost.

He et al. 2016's ResNet-50 (bottleneck blocks 3-4-6-3, 4.1 GMACs a 224-px frame), written out in plain torch
(torchvision does not import beside the CPU torch here), random weights: the cost is real, the predictions are not.
It follows framesampler's classifier contract (float32 [n, 3, 224, 224] RGB in [0, 1] -> logits [n, C]):

    python examples/resnet50_torchscript.py --out resnet50.pt --classes 1000
    python benchmarks/pipeline_throughput.py --classifier resnet50.pt --classifier-size 224
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(self, inp: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(inp, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out))
        self.shortcut = nn.Identity() if stride == 1 and inp == out else \
            nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet50(num_classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    channels = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(channels, width, stride if i == 0 else 1))
            channels = width * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


class Normalised(nn.Module):
    """The contract's [0, 1] RGB -> ImageNet mean/std -> the network."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network((x - self.mean) / self.std)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = Normalised(resnet50(args.classes)).eval().to(memory_format=torch.channels_last)
    traced = torch.jit.trace(model, torch.rand(2, 3, 224, 224))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(args.out))
    args.out.with_suffix(".classes.txt").write_text("".join(f"class{i}\n" for i in range(args.classes)))
    print(f"wrote {args.out} (ResNet-50, random weights, {args.classes} classes) and {args.out.with_suffix('.classes.txt')}")


if __name__ == "__main__":
    main()
