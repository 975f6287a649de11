"""pytorchvideo: ``FrameSamplerTemporalSubsample``, an ``nn.Module`` in place of ``UniformTemporalSubsample``.

    ApplyTransformToKey("video", Compose([FrameSamplerTemporalSubsample("mgsampler", 8), Div255(), ...]))

It takes a clip tensor ``(C, T, H, W)`` as pytorchvideo decodes it (uint8, or float in 0..255: put it
before ``Div255``/``Normalize``), treats the clip's frames (or ``num_candidates`` uniform ones of them)
as the candidates (the clip frame before each is MGSampler's Eq. 1 neighbour), runs the sampler on them at its
own resolution, and returns the ``num_samples`` chosen frames ``(C, num_samples, H, W)`` untouched, in time order, with the input's dtype. pytorchvideo
itself is not imported: its ``transforms`` package needs torchvision.
"""
from __future__ import annotations

import numpy as np
import torch

from framesampler.app.pipeline import previous_frames
from framesampler.candidates import candidate_indices
from framesampler.integrations.common import SamplerSpec, in_memory, pipeline_for, to_uint8


class FrameSamplerTemporalSubsample(torch.nn.Module):
    """Choose ``num_samples`` frames of a clip with a framesampler sampler (name, checkpoint directory or
    :class:`Pipeline`). ``temporal_dim``: -3 for ``(C, T, H, W)`` (pytorchvideo's layout), -4 for
    ``(T, C, H, W)``. ``fps``: the clip's frame rate, for samplers that read it. ``options`` go to
    ``load_pipeline`` (``dataset``, ``cache_dir``, ``seed``). The choice is deterministic (test mode)."""

    def __init__(self, sampler: SamplerSpec, num_samples: int, *, num_candidates: int | None = None,
                 temporal_dim: int = -3, fps: float | None = None, **options) -> None:
        super().__init__()
        if temporal_dim not in (-3, -4, 0, 1):
            raise ValueError(f"temporal_dim must be -3 (C, T, H, W) or -4 (T, C, H, W), got {temporal_dim}")
        self.num_samples, self.num_candidates, self.fps = num_samples, num_candidates, fps
        self.temporal_dim = temporal_dim % 4
        # a clip brings its own candidates; the pipeline's T only matters for a path (and must hold N)
        self.pipeline = pipeline_for(sampler, T=num_candidates or num_samples, N=num_samples, **options)

    def chosen_indices(self, x: torch.Tensor) -> torch.Tensor:
        """Indices along the temporal dimension of the frames the sampler chooses."""
        if x.ndim != 4:
            raise ValueError(f"expected a clip tensor (C, T, H, W), got shape {tuple(x.shape)}")
        total = x.shape[self.temporal_dim]
        indices = candidate_indices(total, self.num_candidates or total)
        channels_first = x if self.temporal_dim == 1 else x.transpose(0, 1)

        def frames_at(positions: np.ndarray) -> torch.Tensor:
            return to_uint8(channels_first[:, torch.from_numpy(positions)].permute(1, 2, 3, 0).detach().cpu())

        if channels_first.shape[0] != 3:
            raise ValueError(f"expected 3 colour channels, got a clip of shape {tuple(x.shape)} "
                             f"(temporal_dim={self.temporal_dim - 4})")
        chosen = self.pipeline.select(in_memory(frames_at(indices)), indices, total, self.fps,
                                      read_previous=lambda **at: in_memory(frames_at(previous_frames(indices)))(**at)).positions
        return torch.from_numpy(indices[chosen]).to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.index_select(x, self.temporal_dim, self.chosen_indices(x))
