"""From a video file to a classified video: the two-resolution pipeline.

    decode T candidates -> sampler on them at low resolution -> the N chosen at classifier resolution
    -> frozen classifier on those N only -> consensus

Stages, each timed (``SampledVideo.seconds``):

- ``decode_candidates``: the T candidates in one forward pass (``framesampler.video.decode``), converted
  to the sampler's resolution by swscale. With ``reread="memory"`` (the default) the decoded frames are
  kept, and the chosen N are converted again at classifier resolution; with ``"decode"`` only the
  low-resolution arrays are kept and the chosen N are decoded again.
- ``sampler``: what the sampler reads, made from the candidates (a shallow pretrained backbone's features
  at ``sampler_resolution``, low-resolution pixels, or per-frame class scores), and its ``select``.
- ``decode_chosen``: the N chosen frames at classifier resolution (converted from memory, or decoded again).
- ``classifier``: the frozen classifier (backbone + head) on the N frames and its consensus.

Samplers that read nothing (uniform, dense) skip the sampler stage. A sampler that reads
``frame_logits`` (semi_optimal, AdaFrame's ``confidence="agreement"``) gets the frozen classifier's logits
on every candidate at classifier resolution: that is pi_s itself, at the cost of T classifier frames (the
reference SOSampler learns to imitate cheaply), and its chosen frames need no second conversion.
``SampledVideo.macs`` counts multiply-accumulates per video for the sampler and the classifier separately
(``framesampler.cost``).
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from framesampler.app.prepare import DataConfig, check_budget_flags, prepare
from framesampler.candidates import Candidates, Reads, candidate_indices
from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.pixel import PixelClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.cost import video_macs
from framesampler.data.dataset import ExtractConfig, PipelineConfig, dataset_config
from framesampler.learned.base import LearnedSampler
from framesampler.learned.checkpoint import read_checkpoint
from framesampler.policies import Context, Sampler, create_sampler, list_samplers
from framesampler.video.decode import DecodedFrames, VideoMetadata, VideoReader

REREADS = ("memory", "decode")


@dataclass
class DecodedCandidates:
    """The T candidates of one video decoded once (``frames``; None when nothing needed them)."""

    metadata: VideoMetadata
    indices: np.ndarray
    frames: DecodedFrames | None


def decode_candidates(reader: VideoReader, indices: np.ndarray, *, keep: bool) -> DecodedCandidates:
    """The one place candidates are decoded (pipeline, extraction, contact sheet): with ``keep`` every
    candidate is decoded once and kept in the decoder's format, to convert at any size later."""
    return DecodedCandidates(reader.metadata, indices, reader.decode(indices) if keep else None)


@dataclass
class SampledVideo:
    """One video through the pipeline; ``chosen`` are positions into ``candidates`` (frame indices)."""

    path: str
    num_frames: int
    fps: float
    candidates: np.ndarray
    chosen: np.ndarray
    scores: np.ndarray | None
    probs: np.ndarray
    class_names: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    macs: dict[str, float] = field(default_factory=dict)
    thumbnails: np.ndarray | None = None  # [T, h, w, 3] uint8 when asked for (contact sheets)

    def summary(self, top: int = 5) -> dict:
        """JSON-ready: the chosen frames (index, time in s, score), the prediction, stage times, GMACs."""
        order = np.argsort(-self.probs)[:top]
        return {
            "video": self.path, "num_frames": self.num_frames, "fps": self.fps,
            "T": len(self.candidates), "N": len(self.chosen), "candidates": self.candidates.tolist(),
            "chosen": [{"position": int(p), "frame": int(self.candidates[p]), "time": round(float(self.candidates[p] / self.fps), 3),
                        "score": None if self.scores is None else float(self.scores[p])} for p in self.chosen],
            "prediction": [{"class": self.class_names[i], "prob": float(self.probs[i])} for i in order],
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "gmacs": {k: v / 1e9 for k, v in self.macs.items()},
        }


class Pipeline:
    """``pipeline(path)`` -> ``SampledVideo`` for one sampler at T candidates and budget N."""

    def __init__(self, sampler: Sampler, *, T: int, N: int, config: PipelineConfig = PipelineConfig(),
                 head: FrameClassifier | None = None, reread: str = "memory", thumbnails: int | None = None) -> None:
        if reread not in REREADS:
            raise ValueError(f"unknown reread {reread!r}: use one of {', '.join(REREADS)}")
        check_budget_flags(T, N)
        if Reads.LABEL in sampler.reads:
            raise ValueError(f"{sampler.name} reads the video's true label: it is an oracle, an upper bound for "
                             "`framesampler evaluate` on labeled data, not a sampler for a new video; use "
                             "semi_optimal_max (the label-free pi_s) instead")
        self.sampler, self.T, self.N, self.config, self.reread, self.thumbnails = sampler, T, N, config, reread, thumbnails
        self.input = sampler.reads.candidate_input()
        backbone = PretrainedBackbone(config.backbone, resolution=config.classifier_resolution)
        self.classifier = PixelClassifier(backbone, head)
        self.sampler_backbone = PretrainedBackbone(config.backbone, resolution=config.sampler_resolution,
                                                   stages=config.sampler_stages) if Reads.FEATURES in self.input else None
        width = getattr(sampler, "options", {}).get("input_dim")
        if self.sampler_backbone is not None and width is not None and width != self.sampler_backbone.out_dim:
            raise ValueError(f"the sampler reads {width}-d features but this pipeline's sampler backbone gives "
                             f"{self.sampler_backbone.out_dim}-d: use the settings of the dataset it was trained on")
        self.frame_macs = self.classifier.macs_per_frame()
        self.cheap_macs = self.sampler_backbone.macs_per_frame() if self.sampler_backbone is not None else 0.0

    @torch.no_grad()
    def __call__(self, path: str | Path, *, rng: np.random.Generator | None = None) -> SampledVideo:
        c, seconds = self.config, {}

        @contextmanager
        def stage(name: str):
            start = time.perf_counter()
            yield
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

        full = {"size": c.classifier_resolution, "crop": c.classifier_resolution}
        reads_frames = bool(self.input) or Reads.FRAME_LOGITS in self.sampler.reads
        with VideoReader(path, backend=c.backend) as reader:
            meta = reader.metadata
            indices = candidate_indices(meta.num_frames, self.T)
            if meta.num_frames < self.T:
                print(f"framesampler: note: {path} has {meta.num_frames} frames, fewer than T={self.T}: all of them are "
                      f"candidates, and {min(self.N, meta.num_frames)} are chosen", file=sys.stderr)
            low = high = None
            with stage("decode_candidates"):
                keep = (reads_frames and self.reread == "memory") or self.thumbnails is not None
                decoded = decode_candidates(reader, indices, keep=keep).frames
                if self.input:
                    low = decoded.to_array(size=c.sampler_resolution, crop=c.sampler_resolution) if decoded \
                        else reader.frames(indices, size=c.sampler_resolution, crop=c.sampler_resolution)
                if Reads.FRAME_LOGITS in self.sampler.reads:
                    high = decoded.to_array(**full) if decoded else reader.frames(indices, **full)
            with stage("sampler"):
                candidates, context = self._sampler_input(indices, meta, low, high)
                selection = self.sampler.choose(candidates, self.N, context=context,
                                                   rng=rng or np.random.default_rng(0))
            chosen = selection.positions
            with stage("decode_chosen"):
                if high is not None:
                    frames = high[chosen]
                elif decoded is not None:
                    frames = decoded.to_array(positions=chosen, **full)
                else:
                    frames = reader.frames(indices[chosen], **full)
        with stage("classifier"):
            logits = context.frame_logits[torch.from_numpy(chosen)] if high is not None \
                else self.classifier.frame_logits(frames)
            probs = consensus_probs(logits, self.classifier.consensus).numpy()
        thumbnails = decoded.to_array(size=self.thumbnails) if self.thumbnails is not None else None
        macs = video_macs(self.sampler, num_candidates=len(indices), num_chosen=len(chosen),
                          classifier_frame=self.frame_macs, cheap_frame=self.cheap_macs)
        return SampledVideo(str(path), meta.num_frames, meta.fps, indices, chosen, selection.scores, probs,
                            self.classifier.class_names, seconds, macs, thumbnails)

    def _sampler_input(self, indices: np.ndarray, meta: VideoMetadata, low: np.ndarray | None,
                       high: np.ndarray | None) -> tuple[Candidates, Context]:
        features = self.sampler_backbone.features(low).numpy() if self.sampler_backbone is not None else None
        logits = self.classifier.frame_logits(high) if high is not None else None
        pixels = low if Reads.PIXELS in self.input else None
        return (Candidates(indices, meta.num_frames, fps=meta.fps, features=features, pixels=pixels),
                Context(frame_logits=logits, consensus=self.classifier.consensus))


def dataset_head(dataset: str | Path, cache_dir: str | Path | None = None) -> FrameClassifier:
    """The frozen head of a video dataset, trained on its training videos (or loaded from the cache)."""
    data = DataConfig(features=str(dataset), **({"cache_dir": str(cache_dir)} if cache_dir else {}))
    return prepare(data).classifier


def load_pipeline(sampler: str | Path, *, T: int, N: int, dataset: str | Path | None = None, reread: str = "memory",
                  seed: int = 0, thumbnails: int | None = None, cache_dir: str | Path | None = None) -> Pipeline:
    """A pipeline for a registered sampler name or a trained checkpoint directory.

    A checkpoint brings its frozen head and the extraction settings of its input, and is checked against
    T, N and that input's width. A sampler name uses the head saved with ``dataset`` (a video dataset
    from ``framesampler extract``, read by its recorded ``classifier``) or, without one, the pretrained
    backbone's own ImageNet head.
    """
    if str(sampler) in list_samplers(LearnedSampler):
        raise ValueError(f"{sampler} is a learned sampler and needs a checkpoint: framesampler train --sampler {sampler} "
                         "--features DATASET.npz --out DIR, then sample --sampler DIR")
    if str(sampler) not in list_samplers():
        if not Path(sampler).exists():
            raise ValueError(f"--sampler {sampler} is neither a sampler name nor a checkpoint directory: use one of "
                             f"{', '.join(list_samplers())}, or a folder made by `framesampler train`")
        checkpoint = read_checkpoint(sampler, T=T, N=N)
        if checkpoint.config.extract is None:
            raise ValueError(f"checkpoint {sampler} was trained on a feature file, not on a video dataset from "
                             "`framesampler extract`, so it cannot read video frames: train it with --features DATASET.npz")
        config = ExtractConfig(**checkpoint.config.extract).pipeline()
        pipeline = Pipeline(checkpoint.sampler, T=T, N=N, config=config, head=checkpoint.classifier, reread=reread,
                            thumbnails=thumbnails)
        if pipeline.sampler_backbone is not None and checkpoint.config.input_dim != pipeline.sampler_backbone.out_dim:
            raise ValueError(f"checkpoint {sampler} reads {checkpoint.config.input_dim}-d input, its extraction gives "
                             f"{pipeline.sampler_backbone.out_dim}-d")
        return pipeline
    head, config = None, PipelineConfig()
    if dataset is not None:
        extracted = dataset_config(dataset)
        if extracted is None:
            raise ValueError(f"{dataset} is a feature file, not a video dataset from `framesampler extract`")
        head, config = dataset_head(dataset, cache_dir), extracted.pipeline()
    return Pipeline(create_sampler(str(sampler), seed=seed), T=T, N=N, config=config, head=head, reread=reread,
                    thumbnails=thumbnails)
