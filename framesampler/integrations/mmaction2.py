"""mmaction2: ``FrameSamplerSampleFrames``, a frame-sampling transform in place of ``SampleFrames``.

In a pipeline config, after ``custom_imports = dict(imports=["framesampler.integrations.mmaction2"])``::

    dict(type="DecordInit"),      # optional: the transform reads results["filename"] itself
    dict(type="FrameSamplerSampleFrames", sampler="mgsampler", num_candidates=32, num_frames=8, test_mode=True),
    dict(type="DecordDecode"), ...

It writes what mmaction2's TSN-style ``SampleFrames(clip_len=1, frame_interval=1, num_clips=N)`` writes
(``frame_inds``, ``clip_len``, ``frame_interval``, ``num_clips``) with framesampler's chosen frames, plus
``candidate_inds``, ``candidate_scores`` and ``frame_scores`` (the sampler's scores; None for a rule).
The class is registered in mmaction2's ``TRANSFORMS`` when mmaction2 imports; without it, it is a plain
callable on a results dict (mmaction2 1.2 needs an mmcv with no wheel for this torch).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from framesampler.app.pipeline import load_pipeline, previous_frames
from framesampler.candidates import candidate_indices
from framesampler.integrations.common import in_memory, pipeline_for


class FrameSamplerSampleFrames:
    """Choose ``num_frames`` of ``num_candidates`` uniform candidates with a framesampler sampler.

    ``sampler``: a registered name; ``checkpoint``: a trained sampler's directory (its sampler must be
    ``sampler``). ``test_mode=True`` gives exactly what ``framesampler sample`` chooses; ``False``
    (training) draws each call's random choices (e.g. uniform's frame inside each segment) from this
    transform's own generator, seeded by ``seed``. The video is ``results["filename"]`` (decoded by
    framesampler with its exact frame index) or, without one, the ``results["video_reader"]`` an Init step
    left (decord's ``get_batch``, or framesampler's ``VideoReader``), with ``results["total_frames"]``.
    Frame indices are offset by ``results["start_index"]`` as ``SampleFrames`` does.
    """

    def __init__(self, sampler: str, num_candidates: int, num_frames: int, test_mode: bool = False,
                 checkpoint: str | os.PathLike | None = None, seed: int = 0, **options) -> None:
        self.sampler, self.num_candidates, self.num_frames = sampler, num_candidates, num_frames
        self.test_mode, self.checkpoint = test_mode, checkpoint
        spec = str(checkpoint or sampler)
        if test_mode:
            self.pipeline = pipeline_for(spec, T=num_candidates, N=num_frames, seed=seed, **options)
        else:  # its own pipeline: a training-free sampler switches to its training mode (random draws)
            self.pipeline = load_pipeline(spec, T=num_candidates, N=num_frames, seed=seed, **options)
            if not isinstance(self.pipeline.sampler, torch.nn.Module):
                self.pipeline.sampler.training = True
        if checkpoint is not None and self.pipeline.sampler.name != sampler:
            raise ValueError(f"checkpoint {checkpoint} holds a {self.pipeline.sampler.name!r} sampler, not {sampler!r}: "
                             f"pass sampler={self.pipeline.sampler.name!r}")
        self.rng = np.random.default_rng(seed)

    def __call__(self, results: dict) -> dict:
        return self.transform(results)

    def transform(self, results: dict) -> dict:
        """Write ``frame_inds`` (and the rest, see the module) into ``results`` and return it."""
        rng = None if self.test_mode else self.rng
        if results.get("filename") is not None:
            video = self.pipeline(results["filename"], rng=rng)
            candidates, chosen, scores, total = video.candidates, video.chosen, video.scores, video.num_frames
        elif results.get("video_reader") is not None:
            reader = results["video_reader"]
            total = int(results.get("total_frames") or len(reader))
            candidates = candidate_indices(total, self.num_candidates)
            selection = self.pipeline.select(_reader_frames(reader, candidates), candidates, total,
                                             results.get("avg_fps"), rng=rng,
                                             read_previous=_reader_frames(reader, previous_frames(candidates)))
            chosen, scores = selection.positions, selection.scores
        else:
            raise ValueError("FrameSamplerSampleFrames needs results['filename'] (a video path) or the "
                             "results['video_reader'] of an Init step (DecordInit) before it")
        start = int(results.get("start_index", 0))
        results.update(frame_inds=(candidates[chosen] + start).astype(np.int64), clip_len=1, frame_interval=1,
                       num_clips=len(chosen), total_frames=total, candidate_inds=candidates + start,
                       candidate_scores=scores, frame_scores=None if scores is None else scores[chosen])
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sampler={self.sampler!r}, num_candidates={self.num_candidates}, "
                f"num_frames={self.num_frames}, test_mode={self.test_mode}, checkpoint={self.checkpoint!r})")


def _reader_frames(reader: object, indices: np.ndarray):
    """``read(size=, crop=)`` over the candidates of an Init step's reader, decoded once, on first use."""
    if hasattr(reader, "frames"):  # framesampler's VideoReader: resized by its decoder, as the pipeline does
        return lambda *, size, crop: reader.frames(indices, size=size, crop=crop)
    if not hasattr(reader, "get_batch"):
        raise ValueError(f"cannot read frames from a {type(reader).__name__}: pass results['filename'] instead")
    decoded: list = []

    def read(*, size: int, crop: int) -> np.ndarray:
        if not decoded:
            batch = reader.get_batch(indices.tolist())
            decoded.append(in_memory(batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)))
        return decoded[0](size=size, crop=crop)

    return read


def _register() -> None:
    """Register the transform in mmaction2's ``TRANSFORMS`` when mmaction2 imports (as a BaseTransform)."""
    import importlib.util

    if importlib.util.find_spec("mmaction") is None:
        return
    try:
        from mmaction.registry import TRANSFORMS
        from mmcv.transforms import BaseTransform
    except Exception:  # mmaction2 present but its mmcv is not usable here: stay a plain callable
        return
    global FrameSamplerSampleFrames

    class Registered(FrameSamplerSampleFrames, BaseTransform):
        __doc__ = FrameSamplerSampleFrames.__doc__

    Registered.__name__ = Registered.__qualname__ = "FrameSamplerSampleFrames"
    # the registered subclass (a BaseTransform too) takes the plain class's name in this module
    FrameSamplerSampleFrames = TRANSFORMS.register_module(  # type: ignore[misc]
        name="FrameSamplerSampleFrames", module=Registered)


_register()
