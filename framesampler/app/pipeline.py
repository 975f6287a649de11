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
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

import numpy as np
import torch

from framesampler.app.prepare import check_budget_flags
from framesampler.candidates import Candidates, candidate_indices
from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.pixel import PixelClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.cost import sampler_macs_per_candidate
from framesampler.data.dataset import PipelineConfig, dataset_config
from framesampler.learned.base import LearnedSampler
from framesampler.policies.base import Context, Sampler
from framesampler.video.decode import VideoReader

REREADS = ("memory", "decode")


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
                 head: FrameClassifier | None = None, reread: str = "memory") -> None:
        if reread not in REREADS:
            raise ValueError(f"unknown reread {reread!r}: use one of {', '.join(REREADS)}")
        check_budget_flags(T, N)
        if "label" in sampler.needs:
            raise ValueError(f"{sampler.name} reads the video's true label: it is an oracle, an upper bound for "
                             "`framesampler evaluate` on labeled data, not a sampler for a new video; use "
                             "semi_optimal_max (the label-free pi_s) instead")
        self.sampler, self.T, self.N, self.config, self.reread = sampler, T, N, config, reread
        c = config
        self.classifier = PixelClassifier(PretrainedBackbone(c.backbone, resolution=c.classifier_resolution), head)
        needs = set(sampler.needs)
        self.sampler_backbone = PretrainedBackbone(c.backbone, resolution=c.sampler_resolution, stages=c.sampler_stages) \
            if "features" in needs else None
        if isinstance(sampler, LearnedSampler) and self.sampler_backbone is not None \
                and sampler.options["input_dim"] != self.sampler_backbone.out_dim:
            raise ValueError(f"the sampler reads {sampler.options['input_dim']}-d features but this pipeline's sampler "
                             f"backbone gives {self.sampler_backbone.out_dim}-d: use the settings of the dataset it was "
                             "trained on")
        self.frame_macs = self.classifier.macs_per_frame()  # counted once: count_macs runs a forward pass
        self.candidate_macs = sampler_macs_per_candidate(
            sampler, features_macs=self.sampler_backbone.macs_per_frame() if self.sampler_backbone else 0.0,
            scorer_macs=self.frame_macs)


    @torch.no_grad()
    def __call__(self, path: str | Path, *, rng: np.random.Generator | None = None) -> SampledVideo:
        c, seconds = self.config, {}

        @contextmanager
        def stage(name: str):
            start = time.perf_counter()
            yield
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

        needs, full = set(self.sampler.needs), {"size": c.classifier_resolution, "crop": c.classifier_resolution}
        with VideoReader(path, backend=c.backend) as reader:
            meta = reader.metadata
            indices = candidate_indices(meta.num_frames, self.T)
            if meta.num_frames < self.T:
                print(f"framesampler: note: {path} has {meta.num_frames} frames, fewer than T={self.T}: all of them are "
                      f"candidates, and {min(self.N, meta.num_frames)} are chosen", file=sys.stderr)
            decoded = low = high = None
            with stage("decode_candidates"):
                if needs and self.reread == "memory":
                    decoded = reader.decode(indices)
                read = decoded.to_array if decoded is not None else partial(reader.frames, indices)
                if needs & {"features", "pixels"}:
                    low = read(size=c.sampler_resolution, crop=c.sampler_resolution)
                if "frame_logits" in needs:
                    high = read(**full)
            with stage("sampler"):
                candidates, context = self._sampler_input(indices, meta.num_frames, meta.fps, low, high)
                chosen = self.sampler.select(candidates, self.N, context=context, rng=rng or np.random.default_rng(0))
            scores = self._scores(candidates, context)
            with stage("decode_chosen"):
                if high is not None:
                    frames = high[chosen]
                elif decoded is not None:
                    frames = decoded.to_array(positions=chosen, **full)
                else:
                    frames = reader.frames(indices[chosen], **full)
        with stage("classifier"):
            logits = self.classifier.frame_logits(frames)
            probs = consensus_probs(logits, self.classifier.consensus).numpy()
        macs = {"sampler": float(len(indices) * self.candidate_macs), "classifier": float(len(chosen) * self.frame_macs)}
        macs["total"] = macs["sampler"] + macs["classifier"]
        return SampledVideo(str(path), meta.num_frames, meta.fps, indices, chosen, scores, probs,
                            self.classifier.class_names, seconds, macs)

    def _sampler_input(self, indices: np.ndarray, num_frames: int, fps: float, low: np.ndarray | None,
                       high: np.ndarray | None) -> tuple[Candidates, Context]:
        needs = set(self.sampler.needs)
        features = self.sampler_backbone.features(low).numpy() if "features" in needs else None
        logits = self.classifier.frame_logits(high) if "frame_logits" in needs else None
        return (Candidates(indices, num_frames, fps=fps, features=features, pixels=low if "pixels" in needs else None),
                Context(frame_logits=logits, consensus=self.classifier.consensus))

    def _scores(self, candidates: Candidates, context: Context) -> np.ndarray | None:
        """The sampler's per-candidate scores, when it has them (a fixed rule or a sequential agent has none)."""
        try:
            return np.asarray(self.sampler.scores(candidates, context), dtype=np.float64)
        except TypeError:
            return None


def load_pipeline(sampler: str, *, T: int, N: int, dataset: str | Path | None = None, cache_dir: str | Path | None = None,
                  reread: str = "memory", seed: int = 0) -> Pipeline:
    """A pipeline for a registered sampler name or a trained checkpoint directory.

    The classifier head and the resolutions come from the video dataset (``framesampler extract``) that
    the checkpoint was trained on, or from ``dataset``; with neither, the classifier is the pretrained
    backbone's own ImageNet head. ``mgsampler`` reads image differences of the low-resolution candidates.
    """
    from framesampler.app.prepare import DataConfig, default_cache_dir, prepare
    from framesampler.learned.checkpoint import load_checkpoint, read_checkpoint_config
    from framesampler.policies import create_sampler, list_samplers

    checkpoint = Path(sampler)
    is_checkpoint = sampler not in list_samplers()
    if is_checkpoint and not checkpoint.exists():
        raise ValueError(f"--sampler {sampler} is neither a sampler name nor a checkpoint directory: use one of "
                         f"{', '.join(list_samplers())}, or a folder made by `framesampler train`")
    data = None
    if is_checkpoint:
        data = read_checkpoint_config(checkpoint).get("data")
        if data is None or dataset_config(data["features"]) is None:
            raise ValueError(f"checkpoint {checkpoint} was not trained on a video dataset from `framesampler extract`, "
                             "so it cannot read video frames: train it with --features DATASET.npz")
    elif dataset is not None:
        data = {"features": str(dataset)}
    head, config = None, PipelineConfig()
    if data is not None:
        data = {**data, "cache_dir": str(cache_dir or data.get("cache_dir") or default_cache_dir())}
        config = dataset_config(data["features"])
        if config is None:
            raise ValueError(f"{data['features']} is a feature file, not a video dataset from `framesampler extract`")
        head = prepare(DataConfig(**{f.name: data[f.name] for f in fields(DataConfig) if f.name in data})).classifier
        config = config.pipeline()
    if is_checkpoint:
        chosen = load_checkpoint(checkpoint, head)
    elif sampler in list_samplers(LearnedSampler):
        raise ValueError(f"{sampler} is a learned sampler and needs a checkpoint: framesampler train --sampler {sampler} "
                         "--features DATASET.npz --out DIR, then sample --sampler DIR")
    else:
        chosen = create_sampler(sampler, seed=seed, **({"motion": "image"} if sampler == "mgsampler" else {}))
    return Pipeline(chosen, T=T, N=N, config=config, head=head, reread=reread)
