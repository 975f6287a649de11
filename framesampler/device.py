"""Where the networks run: ``--device auto|cpu|cuda|cuda:K``.

The expensive networks (the classifier, built in or the user's, on every candidate at extraction and on the chosen
frames at inference; the sampler's shallow backbone) run on the device; frames are decoded on CPU threads, moved
there in batches, and every output comes back to the CPU. The learned samplers' own heads (1-20 M MACs a candidate)
and their training on cached arrays stay on the CPU. ``auto`` takes CUDA when torch sees it.
"""
from __future__ import annotations

import torch

DEVICE_CHOICES = "auto, cpu, cuda or cuda:K"


def resolve_device(spec: str | torch.device = "cpu") -> torch.device:
    """The ``torch.device`` for ``spec``; one line when it names a device this machine does not have."""
    if isinstance(spec, torch.device):
        return spec
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise ValueError(f"--device {spec}: use {DEVICE_CHOICES}") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"--device {spec}: use {DEVICE_CHOICES}")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {spec}: this PyTorch sees no CUDA device (torch {torch.__version__}); use --device "
                         "cpu or auto")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {spec}: there are {torch.cuda.device_count()} CUDA devices (cuda:0.."
                         f"cuda:{torch.cuda.device_count() - 1})")
    return device
