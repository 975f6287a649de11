"""Hugging Face transformers: framesampler's choice as a ``sample_indices_fn`` and as loaded frames.

transformers' ``load_video(video, backend=..., sample_indices_fn=fn)`` calls ``fn(metadata=VideoMetadata,
**kwargs)`` and decodes the indices it returns; a video processor's ``sample_frames(metadata, **kwargs)``
is the same hook on the processor side. The hook sees only metadata, so a content-aware sampler is a
closure bound to the file: :func:`indices_fn`. The indices are framesampler's, on its exact frame count
(the packets counted, not the header, which is 0 for Matroska and wrong for some AVI files), and the
closure writes that count and rate into the metadata it is given, so ``metadata.timestamps`` come out in
the same seconds as ``framesampler sample``. :func:`load_video` returns ``(frames, VideoMetadata)``
without transformers decoding anything, for a processor called with ``do_sample_frames=False``.

Needs ``pip install 'framesampler[hf]'`` (transformers) for ``VideoMetadata``; ``indices_fn`` itself
imports nothing from it.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from framesampler.app.pipeline import SampledVideo
from framesampler.integrations.common import SamplerSpec, pipeline_for
from framesampler.video.decode import read_frames

if TYPE_CHECKING:
    from transformers.video_utils import VideoMetadata


def indices_fn(path: str | os.PathLike, sampler: SamplerSpec, *, T: int, N: int, **options) -> Callable[..., np.ndarray]:
    """A ``sample_indices_fn(metadata=None, **kwargs)`` returning the frame indices that ``framesampler
    sample PATH --sampler SAMPLER --T T --N N`` chooses (``options``: ``dataset``, ``cache_dir``, ``reread``,
    ``seed``, as for ``load_pipeline``). The video runs through the pipeline once, on the first call; the
    given metadata gets the exact ``total_num_frames``, ``fps`` and ``duration``."""
    pipeline = pipeline_for(sampler, T=T, N=N, **options)
    result: list[SampledVideo] = []

    def sample_indices_fn(metadata: VideoMetadata | None = None, **kwargs) -> np.ndarray:
        if not result:
            result.append(pipeline(Path(path)))
        video = result[0]
        if metadata is not None:
            metadata.total_num_frames, metadata.fps = video.num_frames, video.fps
            metadata.duration = video.num_frames / video.fps if video.fps else 0.0
        return video.candidates[video.chosen].copy()

    return sample_indices_fn


def load_video(path: str | os.PathLike, sampler: SamplerSpec, *, T: int, N: int, size: int | None = None,
               **options) -> tuple[np.ndarray, VideoMetadata]:
    """``(frames, VideoMetadata)``: the N chosen frames as uint8 RGB ``[N, H, W, 3]`` (shorter side
    ``size`` if given) and transformers' metadata with ``frames_indices`` and the exact ``fps`` and
    frame count filled, so ``metadata.timestamps`` are the chosen frames' times in seconds."""
    from transformers.video_utils import VideoMetadata

    video = pipeline_for(sampler, T=T, N=N, **options)(Path(path))
    indices = video.candidates[video.chosen]
    frames = read_frames(path, indices, size=size)
    metadata = VideoMetadata(total_num_frames=video.num_frames, fps=video.fps, width=frames.shape[2],
                             height=frames.shape[1], duration=video.num_frames / video.fps if video.fps else 0.0,
                             video_backend="framesampler", frames_indices=indices.tolist())
    return frames, metadata
