"""What the adapters share: the pipeline for a sampler, and candidates that another library decoded."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

from framesampler.app.pipeline import Pipeline, load_pipeline
from framesampler.candidates import check_integer
from framesampler.policies import list_samplers
from framesampler.video.transforms import center_crop, resize_short_side

SamplerSpec = str | os.PathLike | Pipeline


def pipeline_for(sampler: SamplerSpec, *, T: int, N: int, **options) -> Pipeline:
    """The pipeline ``framesampler sample`` runs for ``sampler`` (a registered name or a checkpoint
    directory; ``options`` go to ``load_pipeline``: ``dataset``, ``cache_dir``, ``reread``, ``seed``, ``classifier``
    (the user's model: a spec, or a loaded ``Classifier``)), or
    ``sampler`` itself when it is already a :class:`Pipeline`. Loaded pipelines are kept (the last 8), so
    a per-video call does not reload the networks."""
    if isinstance(sampler, Pipeline):
        if sampler.N != N:
            raise ValueError(f"the pipeline picks N={sampler.N} frames but N={N} was asked: build it with N={N}")
        return sampler
    if not isinstance(options.get("classifier"), (str, type(None))):  # a loaded model: not a cache key
        return load_pipeline(str(sampler) if isinstance(sampler, os.PathLike) else sampler, T=T, N=N, **options)
    return _load(str(sampler), T, N, json.dumps(options, sort_keys=True, default=str))


@lru_cache(maxsize=8)
def _load(sampler: str, T: int, N: int, options: str) -> Pipeline:
    if check_integer(N, "N", minimum=1) > check_integer(T, "T", minimum=1):  # said in Python's words, not the CLI's
        raise ValueError(f"N={N} frames cannot be chosen from T={T} candidates: pass N <= T")
    if sampler not in list_samplers() and not os.path.isdir(sampler):
        raise ValueError(f"sampler={sampler!r} is neither a sampler name (framesampler.list_samplers()) nor a "
                         "checkpoint directory")
    return load_pipeline(sampler, T=T, N=N, **json.loads(options))


def in_memory(frames: np.ndarray | torch.Tensor) -> Callable[..., np.ndarray]:
    """``read(size=, crop=)`` for :meth:`Pipeline.select` over decoded uint8 RGB frames ``[T, H, W, 3]``:
    resized in memory (torch's antialiased bilinear; the pipeline's own decoder uses swscale, so pixels
    agree closely, not bit for bit)."""
    array = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)

    def read(*, size: int, crop: int) -> np.ndarray:
        return np.ascontiguousarray(center_crop(resize_short_side(array, size), crop))

    return read


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames from uint8 or float frames in 0..255 (pytorchvideo's decoded range); refuses others."""
    if frames.dtype == torch.uint8:
        return frames
    if not frames.is_floating_point():
        raise ValueError(f"frames must be uint8 or float in 0..255, got {frames.dtype}")
    low, high = float(frames.min()), float(frames.max())
    scaled_to_one = high <= 1.0 and bool((frames != frames.round()).any())
    if low < 0 or high > 255 or scaled_to_one:
        raise ValueError(f"frames must hold pixel values in 0..255 (got {low:.3g}..{high:.3g}): subsample before "
                         "Div255/Normalize in the transform chain")
    return frames.round().to(torch.uint8)
