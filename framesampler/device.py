"""Where the networks run (``--device auto|cpu|cuda|cuda:K``), in which precision (``--precision``), and how many
frames go there at once (``--batch-size``).

The expensive networks (the classifier, built in or the user's, on every candidate at extraction and on the chosen
frames at inference; the sampler's shallow backbone) run on the device; frames are decoded on CPU threads, moved
there ``DEFAULT_BATCH_SIZE`` at a time, and every output comes back to the CPU as float32. A learned sampler scores
its candidates on the device too, and ``train`` trains it there (``train_sampler(device=)``), in float32; the frozen
head over cached features stays on the CPU. ``auto`` takes CUDA when torch sees it.

``precision``: ``float32`` (the default: results exactly as on the CPU before devices existed), or ``bfloat16`` /
``float16`` under ``torch.autocast`` (convolutions and matrix products in 16 bits, reductions in float32); float16
needs CUDA. The chosen frames agree with float32's on the shared videos (``benchmarks/device_agreement.py`` measures
by how much the probabilities move).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

import torch

from framesampler.constants import DEFAULT_BATCH_SIZE, PRECISIONS

DEVICE_CHOICES = "auto, cpu, cuda or cuda:K"


class DeviceSettings(TypedDict):
    """Where a network runs, frames per forward pass there, and in which precision: the keyword arguments that
    ``PretrainedBackbone``, ``load_classifier`` and ``Pipeline`` share, passed on as ``**settings``."""

    device: str | torch.device
    batch_size: int
    precision: str


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


def check_precision(name: str, device: str | torch.device = "cpu") -> str:
    """``name`` when it is one of ``PRECISIONS`` and ``device`` can run it; one line saying what to use otherwise."""
    if name not in PRECISIONS:
        raise ValueError(f"--precision {name}: use one of {', '.join(PRECISIONS)}")
    device = resolve_device(device)
    if name == "float16" and device.type != "cuda":
        raise ValueError(f"--precision float16 needs a CUDA device (this runs on {device}): use bfloat16 or float32 on "
                         "the CPU")
    if name == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--precision bfloat16: {torch.cuda.get_device_name(device)} has no bfloat16; use float16")
    return name


def check_batch_size(size: int) -> int:
    """``size`` frames per device batch, refused in one line unless an integer >= 1."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"--batch-size {size}: give the frames per device batch, an integer >= 1 (default "
                         f"{DEFAULT_BATCH_SIZE})")
    return size


@contextmanager
def autocast(device: str | torch.device, precision: str = "float32") -> Iterator[None]:
    """The block under ``torch.autocast`` in ``precision`` on ``device``'s type (checked beforehand by
    ``check_precision``, where the network is built); float32 changes nothing."""
    if precision == "float32":
        yield
        return
    if precision not in PRECISIONS:
        raise ValueError(f"--precision {precision}: use one of {', '.join(PRECISIONS)}")
    with torch.autocast(device_type=torch.device(device).type, dtype=getattr(torch, precision)):
        yield
