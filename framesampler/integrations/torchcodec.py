"""torchcodec: ``clips_at_sampler_indices``, beside torchcodec's ``clips_at_regular_indices``.

    from torchcodec.decoders import VideoDecoder
    clips = clips_at_sampler_indices(VideoDecoder(path), "mgsampler", num_candidates=32, num_frames=8)
    clips.data.shape  # (8, 1, C, H, W): N clips of one frame, as torchcodec's samplers shape them

torchcodec's PyPI wheel is a CUDA build that does not import with a CPU-only torch; there the adapter
cannot run (framesampler's own ``--backend pyav`` decodes the same frames).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from framesampler.app.pipeline import previous_frames
from framesampler.candidates import candidate_indices
from framesampler.integrations.common import SamplerSpec, in_memory, pipeline_for

if TYPE_CHECKING:
    from torchcodec import FrameBatch
    from torchcodec.decoders import VideoDecoder


def clips_at_sampler_indices(decoder: VideoDecoder, sampler: SamplerSpec, *, num_candidates: int, num_frames: int,
                             **options) -> FrameBatch:
    """The ``num_frames`` frames a framesampler sampler picks among ``num_candidates`` uniform candidates
    of ``decoder`` (a ``torchcodec.decoders.VideoDecoder``), as a 5-D ``FrameBatch`` of ``num_frames`` clips
    of one frame (time order). The candidates are decoded once; the chosen are taken from them."""
    from torchcodec import FrameBatch

    total = len(decoder)
    indices = candidate_indices(total, num_candidates)
    candidates = decoder.get_frames_at(indices.tolist())
    data = candidates.data
    nhwc = data.shape[-1] == 3 and data.shape[1] != 3
    pipeline = pipeline_for(sampler, T=num_candidates, N=num_frames, **options)
    fps = getattr(decoder.metadata, "average_fps", None)
    def previous(**at: int) -> np.ndarray:  # the frame before each candidate, decoded only for a sampler that reads it
        frames = decoder.get_frames_at(previous_frames(indices).tolist()).data
        return in_memory(frames if nhwc else frames.permute(0, 2, 3, 1))(**at)

    chosen = pipeline.select(in_memory(data if nhwc else data.permute(0, 2, 3, 1)), indices, total, fps,
                             read_previous=previous).positions
    keep = torch.from_numpy(chosen).to(data.device)
    return FrameBatch(data=data[keep].unsqueeze(1), pts_seconds=candidates.pts_seconds[chosen].unsqueeze(1),
                      duration_seconds=candidates.duration_seconds[chosen].unsqueeze(1))
