"""From a video file to a classified video: the two-resolution pipeline.

    decode T candidates -> sampler on them at low resolution -> the N chosen at classifier resolution
    -> frozen classifier on those N only -> consensus

Stages, each timed (``SampledVideo.seconds``):

- ``decode_candidates``: the T candidates decoded by the decode planner (``framesampler.video.decode``),
  converted to the sampler's resolution by swscale. With ``reread="memory"`` (the default) the decoded
  frames are kept, and the chosen N are converted again at classifier resolution; with ``"decode"`` only
  the low-resolution arrays are kept and the chosen N are decoded again. A sampler reading motion gets the
  motion vectors of the candidates here instead (``framesampler.video.bitstream``), no pixels.
- ``sampler``: what the sampler reads, made from the candidates (a shallow pretrained backbone's features
  at ``sampler_resolution``, low-resolution pixels, or per-frame class scores), and its ``select``.
- ``decode_chosen``: the N chosen frames at classifier resolution (converted from memory, or decoded again).
- ``classifier``: the frozen classifier (backbone + head) on the N frames and its consensus.

Samplers that read nothing (uniform, dense) skip the sampler stage. A sampler that reads
``frame_logits`` (semi_optimal, AdaFrame's ``confidence="agreement"``) gets the frozen classifier's logits
on every candidate at classifier resolution: that is pi_s itself, at the cost of T classifier frames (the
reference SOSampler learns to imitate cheaply), and its chosen frames need no second conversion.
``SampledVideo.macs`` counts multiply-accumulates per video for the sampler and the classifier separately
(``framesampler.eval.cost``).
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

import numpy as np
import torch

from framesampler.candidates import Candidates, candidate_indices
from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone, imagenet_classes
from framesampler.eval.cost import count_macs, sampler_macs_per_candidate
from framesampler.learned.base import LearnedSampler
from framesampler.policies.base import Context, Sampler
from framesampler.policies.mgsampler import image_motion
from framesampler.video.bitstream import motion_vectors
from framesampler.video.decode import DecodedFrames, VideoMetadata, VideoReader

REREADS = ("memory", "decode")
CANDIDATES = ("uniform", "keyframes")


@dataclass(frozen=True)
class PipelineConfig:
    """Resolutions and backbones of the two paths (a video dataset records the ones it was made with).

    The sampler's default input, the first 5 of EfficientNet-Lite0's 7 stages at 64 px (112-d, 19.9 M
    MACs, 0.5 ms a frame on 2 CPU cores), is the cheapest that keeps the sampler stage well below the
    classifier's: 4 stages at 128 px cost 5.5 ms a frame, more than the N classified frames for T = 64.
    """

    classifier_resolution: int = 224
    sampler_resolution: int = 64
    sampler_stages: int | None = 5
    backbone: str = "efficientnet_lite0"
    backend: str = "pyav"


class PixelClassifier:
    """The frozen classifier on pixels: pretrained backbone -> trained head (or ImageNet's) -> consensus."""

    def __init__(self, backbone: PretrainedBackbone, head: FrameClassifier | None = None) -> None:
        self.backbone, self.head = backbone, head
        self.class_names = list(head.config.class_names) if head is not None else imagenet_classes()
        self.consensus = head.config.consensus if head is not None else "avg_logits"

    @torch.no_grad()
    def frame_logits(self, frames: np.ndarray) -> torch.Tensor:
        """Class logits [n, C] of uint8 frames [n, H, W, 3]."""
        if self.head is None:
            return self.backbone.logits(frames)
        return self.head.frame_logits(self.backbone.features(frames))

    def macs_per_frame(self) -> int:
        """Backbone and head on one frame."""
        head = self.head.head if self.head is not None else self.backbone.classifier
        return self.backbone.macs_per_frame() + count_macs(head, torch.zeros(1, self.backbone.out_dim))


@dataclass
class SampledVideo:
    """One video through the pipeline; ``chosen`` are positions into ``candidates`` (frame indices).
    ``motion_source``: where a sampler reading ``candidates.motion`` got it (motion vectors, or the image
    differences it fell back to and why)."""

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
    motion_source: str | None = None

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
            **({} if self.motion_source is None else {"motion": self.motion_source}),
        }


@dataclass
class DecodedVideo:
    """A video after ``Pipeline.decode``: its candidates and what the sampler reads from them without a
    network (pixels, motion); for a sampler that needs no network, also its choice and the chosen frames
    at classifier resolution. Holds at most T decoded frames."""

    path: str
    metadata: VideoMetadata
    indices: np.ndarray
    seconds: dict[str, float]
    kept: DecodedFrames | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    motion: np.ndarray | None = None
    motion_source: str | None = None
    chosen: np.ndarray | None = None
    scores: np.ndarray | None = None
    frames: np.ndarray | None = None


class Pipeline:
    """``pipeline(path)`` -> ``SampledVideo`` for one sampler at T candidates and budget N; the same as
    ``pipeline.run(pipeline.decode(path))``, whose decode stage needs no network (a batch runner decodes
    the next videos in background threads while ``run`` uses the networks).

    ``candidates``: ``"uniform"`` (TSN centres) or ``"keyframes"`` (the video's keyframes, decoded alone,
    see ``candidate_indices``). A sampler reading ``candidates.motion`` (MGSampler ``motion="mv"``) gets
    the bitstream's motion vectors (``framesampler.video.bitstream``), or, where a stream has none, the
    image differences of the low-resolution candidates, and ``SampledVideo.motion_source`` says which."""

    def __init__(self, sampler: Sampler, *, T: int, N: int, config: PipelineConfig = PipelineConfig(),
                 head: FrameClassifier | None = None, reread: str = "memory", candidates: str = "uniform") -> None:
        if reread not in REREADS:
            raise ValueError(f"unknown reread {reread!r}: use one of {', '.join(REREADS)}")
        if candidates not in CANDIDATES:
            raise ValueError(f"unknown candidates {candidates!r}: use one of {', '.join(CANDIDATES)}")
        self.sampler, self.T, self.N, self.config, self.reread = sampler, T, N, config, reread
        self.candidates = candidates
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
        return self.run(self.decode(path, rng=rng), rng=rng)

    def decode(self, path: str | Path, *, rng: np.random.Generator | None = None) -> DecodedVideo:
        """The decode stage (no network): candidates, the sampler's pixels or motion; for a sampler that
        reads no network output, its choice and the chosen frames too. Raises ``VideoError``."""
        c, needs = self.config, set(self.sampler.needs)
        with VideoReader(path, backend=c.backend) as reader:
            meta = reader.metadata
            keyframes = reader.keyframes if self.candidates == "keyframes" else None
            video = DecodedVideo(str(path), meta, candidate_indices(meta.num_frames, self.T, mode=self.candidates,
                                                                    keyframes=keyframes), {})
            with _stage(video.seconds, "decode_candidates"):
                self._decode_candidates(reader, video, needs)
            if not needs & {"features", "frame_logits"}:
                self._select(video, rng)
                with _stage(video.seconds, "decode_chosen"):
                    video.frames = self._chosen_frames(reader, video)
        return video

    @torch.no_grad()
    def run(self, video: DecodedVideo, *, rng: np.random.Generator | None = None) -> SampledVideo:
        """The network stages on a decoded video: the sampler's input and choice (if not made yet), the
        chosen frames, the frozen classifier."""
        if video.frames is None:
            self._select(video, rng)
            with _stage(video.seconds, "decode_chosen"):
                if video.kept is None and video.high is None:
                    with VideoReader(video.path, backend=self.config.backend) as reader:
                        video.frames = self._chosen_frames(reader, video)
                else:
                    video.frames = self._chosen_frames(None, video)
        with _stage(video.seconds, "classifier"):
            logits = self.classifier.frame_logits(video.frames)
            probs = consensus_probs(logits, self.classifier.consensus).numpy()
        macs = {"sampler": float(len(video.indices) * self.candidate_macs),
                "classifier": float(len(video.chosen) * self.frame_macs)}
        macs["total"] = macs["sampler"] + macs["classifier"]
        meta = video.metadata
        return SampledVideo(video.path, meta.num_frames, meta.fps, video.indices, video.chosen, video.scores, probs,
                            self.classifier.class_names, video.seconds, macs, video.motion_source)

    def _decode_candidates(self, reader: VideoReader, video: DecodedVideo, needs: set[str]) -> None:
        c, indices = self.config, video.indices
        if "motion" in needs:
            view = motion_vectors(reader, indices)
            if view.available:
                video.motion, video.motion_source = view.motion, view.source
                return
            video.motion_source = f"image differences of the candidates at {c.sampler_resolution} px ({view.source})"
        if needs and self.reread == "memory":
            video.kept = reader.decode(indices)
        read = video.kept.to_array if video.kept is not None else partial(reader.frames, indices)
        if needs & {"features", "pixels", "motion"}:
            video.low = read(size=c.sampler_resolution, crop=c.sampler_resolution)
        if "frame_logits" in needs:
            video.high = read(size=c.classifier_resolution, crop=c.classifier_resolution)
        if "motion" in needs:
            video.motion = image_motion(video.low)

    def _select(self, video: DecodedVideo, rng: np.random.Generator | None) -> None:
        with _stage(video.seconds, "sampler"):
            needs, meta = set(self.sampler.needs), video.metadata
            features = self.sampler_backbone.features(video.low).numpy() if "features" in needs else None
            logits = self.classifier.frame_logits(video.high) if "frame_logits" in needs else None
            candidates = Candidates(video.indices, meta.num_frames, fps=meta.fps, features=features,
                                    pixels=video.low if "pixels" in needs else None, motion=video.motion)
            context = Context(frame_logits=logits, consensus=self.classifier.consensus)
            video.chosen = self.sampler.select(candidates, self.N, context=context, rng=rng or np.random.default_rng(0))
        video.scores = self._scores(candidates, context)

    def _chosen_frames(self, reader: VideoReader | None, video: DecodedVideo) -> np.ndarray:
        full = {"size": self.config.classifier_resolution, "crop": self.config.classifier_resolution}
        if video.high is not None:
            return video.high[video.chosen]
        if video.kept is not None:
            return video.kept.to_array(positions=video.chosen, **full)
        return reader.frames(video.indices[video.chosen], **full)

    def _scores(self, candidates: Candidates, context: Context) -> np.ndarray | None:
        """The sampler's per-candidate scores, when it has them (a fixed rule or a sequential agent has none)."""
        try:
            return np.asarray(self.sampler.scores(candidates, context), dtype=np.float64)
        except TypeError:
            return None


@contextmanager
def _stage(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[name]``."""
    start = time.perf_counter()
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def load_pipeline(sampler: str, *, T: int, N: int, dataset: str | Path | None = None, cache_dir: str | Path | None = None,
                  reread: str = "memory", seed: int = 0, candidates: str = "uniform",
                  options: dict | None = None) -> Pipeline:
    """A pipeline for a registered sampler name (built with ``options``) or a trained checkpoint directory.

    The classifier head and the resolutions come from the video dataset (``framesampler extract``) that
    the checkpoint was trained on, or from ``dataset``; with neither, the classifier is the pretrained
    backbone's own ImageNet head. ``mgsampler`` reads image differences of the low-resolution candidates
    unless ``options={"motion": "mv"}`` (the bitstream's motion vectors).
    """
    from framesampler.experiment import DataConfig, default_cache_dir, prepare
    from framesampler.learned import load_checkpoint
    from framesampler.policies import create_sampler
    from framesampler.video.extract import dataset_config

    checkpoint = Path(sampler)
    data = None
    if (checkpoint / "config.json").is_file():
        data = json.loads((checkpoint / "config.json").read_text()).get("data")
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
    if (checkpoint / "config.json").is_file():
        chosen = load_checkpoint(checkpoint, head)
    else:
        defaults = {"motion": "image"} if sampler == "mgsampler" else {}
        chosen = create_sampler(sampler, seed=seed, **(defaults | (options or {})))
    return Pipeline(chosen, T=T, N=N, config=config, head=head, reread=reread, candidates=candidates)
