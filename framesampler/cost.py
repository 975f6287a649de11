"""Compute cost of a forward pass in multiply-accumulates (MACs).

The convention of mmaction2's ``get_flops`` and fvcore, which the frame-sampling papers (SOSampler,
Lee et al. BMVC 2024; OCSampler, Lin et al. CVPR 2022) report as "GFLOPs": one MAC per multiply-add of
a convolution or fully connected layer, biases not counted, and nothing for normalisation,
activations, pooling or temporal shifts. ``count_macs`` counts ``nn.Conv1d/2d/3d`` and ``nn.Linear`` modules
only: operations done functionally (``F.linear``, ``torch.matmul``, attention) or in other module types contribute
nothing. ``aten_macs`` counts every aten op through PyTorch's own ``FlopCounterMode`` (matmuls and attention too,
what a ViT or TimeSformer spends), halved to the same convention; on the CNNs both agree (tests/test_cost.py). The
user's classifier is counted with ``aten_macs``.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from framesampler.candidates import CLASSIFIER_ON_ALL, Reads

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, _CONVS):
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    assert isinstance(module, nn.Linear)  # the hooks are registered on convolutions and linear layers only
    return output.numel() * module.in_features


@contextmanager
def inference(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no gradients for the block, the module's training mode restored after it."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            yield module
    finally:
        module.train(was_training)


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
    try:
        with inference(module):
            module(*example_inputs, **example_kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return total


def aten_macs(forward: Any, *example_inputs: Any) -> int:
    """MACs of ``forward(*example_inputs)`` by ``torch.utils.flop_counter.FlopCounterMode`` (every aten op that has
    a FLOP formula: convolutions, matmuls, attention), FLOPs / 2 as in the papers. No gradients are taken;
    ``nn.MultiheadAttention`` runs its unfused path while counting (the fused kernel has no formula)."""
    from torch.utils.flop_counter import FlopCounterMode

    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # nn.MultiheadAttention's fused kernel has no FLOP formula
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            forward(*example_inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
    return counter.get_total_flops() // 2


def macs_per_frame(module: nn.Module, frames: torch.Tensor, **example_kwargs: Any) -> float:
    """MACs per frame of ``module(frames)``, where every dimension of ``frames`` before the last three
    (C, H, W) counts frames: [N, C, H, W] for a per-frame network, [B, T, C, H, W] for a video encoder."""
    if frames.dim() < 4:
        raise ValueError(f"expected frames of shape [..., C, H, W] with at least one frame dimension, "
                         f"got {tuple(frames.shape)}")
    return count_macs(module, frames, **example_kwargs) / math.prod(frames.shape[:-3])


def video_macs(sampler: Any, *, num_candidates: int, num_chosen: float, classifier_frame: float,
               cheap_frame: float = 0.0, classifier_chosen: float | None = None) -> dict[str, float]:
    """MACs per video, ``{"sampler", "classifier", "total"}``: the sampler on the candidates it reads
    (``sampler.candidates_read(T)``, fewer than T for SCSampler's stride), each costing the cheap
    backbone when it reads features (``cheap_frame``), the classifier when it reads class scores
    (``classifier_frame``, pi_s; or its backbone's ImageNet head, SMART's language features) and its own network (``sampler.macs_per_frame()``); the classifier on
    the ``num_chosen`` frames picked, except for a sampler that read class scores: it already ran the
    classifier on every candidate, the chosen among them, so they are not charged twice (a clip
    classifier's head on the N chosen is then left out; it is well under 1% of its backbone), and for
    one whose own prediction replaces the classifier's (``sampler.predicts``, AdaFrame's f_p), unless it reads the
    classifier's vector of each frame it looks at (``Reads.FRAME_VECTORS``, AdaFrame's v_t): the chosen are the frames
    looked at, charged as the classifier on them, as the paper counts them. ``classifier_chosen``:
    the classifier's cost on the chosen frames when it is not ``num_chosen * classifier_frame`` (a clip model that
    resamples every clip to its fixed input length)."""
    read = sampler.candidates_read(num_candidates)
    per_candidate = sampler.macs_per_frame()
    per_candidate += cheap_frame if Reads.FEATURES in sampler.reads.candidate_input() else 0.0
    classifies_all = bool(sampler.reads & CLASSIFIER_ON_ALL)
    per_candidate += classifier_frame if classifies_all else 0.0
    looks = sampler.predicts and Reads.FRAME_VECTORS in sampler.reads  # AdaFrame's v_t: the backbone on each look
    chosen = 0.0 if classifies_all or (sampler.predicts and not looks) else \
        num_chosen * classifier_frame if classifier_chosen is None else classifier_chosen
    macs = {"sampler": float(read * per_candidate), "classifier": float(chosen)}
    return {**macs, "total": macs["sampler"] + macs["classifier"]}
