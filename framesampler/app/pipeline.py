"""From a video file to a classified video: the two-resolution pipeline.

    decode T candidates -> sampler on them at low resolution -> the N chosen at classifier resolution
    -> frozen classifier on those N only -> consensus

Stages, each timed (``SampledVideo.seconds``):

- ``decode_candidates``: the T candidates decoded by the decode planner (``framesampler.video.decode``),
  converted to the sampler's resolution by swscale. With ``reread="memory"`` (the default) the decoded
  frames are kept, and the chosen N are converted again at classifier resolution; with ``"decode"`` only
  the low-resolution arrays are kept and the chosen N are decoded again. A sampler reading motion
  (``Reads.MOTION``) gets the candidates' motion vectors here instead, no pixels, and one reading the
  compressed-domain input (``Reads.COMPRESSED``, SCSampler's visual sampler) their motion-vector maps and
  coded sizes (``framesampler.video.bitstream``): no candidate's pixels are decoded for either. One reading
  audio (``Reads.AUDIO``, SCSampler's audio sampler) gets the log-MEL patches around the candidates from the
  audio stream alone (``framesampler.video.audio``; silence for a video without one): no video frame is
  decoded but the N chosen.
- ``sampler``: what the sampler reads, made from the candidates (a shallow pretrained backbone's features
  at ``sampler_resolution``, low-resolution pixels, or per-frame class scores), and its ``select``.
- ``decode_chosen``: the N chosen frames at classifier resolution (converted from memory, or decoded again).
- ``classifier``: the frozen classifier on the N frames and its consensus (a frame model), or on them as one clip
  (a clip model): the built-in backbone + head, or the user's own model (``framesampler.classifiers.model``: a
  dataset or checkpoint made with it brings it, checked by fingerprint); a sampler that
  makes its own prediction (``Selection.prediction``, AdaFrame's f_p) is taken at its word, as ``evaluate``
  takes it, and neither this stage nor ``decode_chosen`` runs.

``pipeline(path)`` is ``pipeline.run(pipeline.decode(path))``: ``decode`` needs no network (everything up to
the chosen frames for a sampler that reads no network output), so a batch runner decodes the next videos
in background threads while ``run`` uses the networks on the current one.

Samplers that read nothing (uniform, dense) choose at once. A sampler that reads
``frame_logits`` (semi_optimal, AdaFrame's ``confidence="agreement"``) gets the frozen classifier's logits
on every candidate at classifier resolution: that is pi_s itself, at the cost of T classifier frames (the
reference SOSampler learns to imitate cheaply), and its chosen frames need no second conversion.
``SampledVideo.macs`` counts multiply-accumulates per video for the sampler and the classifier separately
(``framesampler.cost``).
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from framesampler.app.prepare import DataConfig, check_budget_flags, prepare
from framesampler.candidates import CLASSIFIER_ON_ALL, CandidateMode, Candidates, Reads, candidate_indices
from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import LOGITS_HEAD, VideoClassifier
from framesampler.classifiers.language import LANGUAGE_DIM, language_features
from framesampler.classifiers.model import BUILT_IN, Classifier, load_classifier, load_recorded
from framesampler.classifiers.pixel import PixelClassifier
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.cost import video_macs
from framesampler.data.dataset import ExtractConfig, PipelineConfig, dataset_config
from framesampler.device import DEFAULT_BATCH_SIZE, DeviceSettings, check_batch_size, check_precision, resolve_device
from framesampler.learned.base import LearnedSampler
from framesampler.learned.checkpoint import read_checkpoint
from framesampler.policies import Context, Sampler, create_sampler, list_samplers
from framesampler.policies.base import Selection
from framesampler.policies.mgsampler import image_motion
from framesampler.video.audio import audio_patches, read_audio
from framesampler.video.bitstream import compressed_vectors, motion_vectors
from framesampler.video.decode import DecodedFrames, VideoMetadata, VideoReader

REREADS = ("memory", "decode")
# what the pipeline runs the classifier's backbone on every candidate for: its class scores, its ImageNet classes, and
# its per-frame vectors (AdaFrame's v_t, computed here for all T though the agent reads only the frames it looks at)
ON_ALL_CANDIDATES = CLASSIFIER_ON_ALL | Reads.FRAME_VECTORS
CANDIDATES: tuple[CandidateMode, ...] = ("uniform", "keyframes")


def previous_frames(indices: np.ndarray) -> np.ndarray:
    """The video frame before each candidate (frame 0 for frame 0): MGSampler's Eq. 1 pairs each with it."""
    return np.maximum(np.asarray(indices) - 1, 0)


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
    """One video through the pipeline; ``chosen`` are positions into ``candidates`` (frame indices).
    ``motion_source``: where a sampler reading ``candidates.motion`` or ``.compressed`` got it (the motion
    vectors, or the image differences it fell back to and why)."""

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
    motion_source: str | None = None
    classifier_note: str | None = None  # how a clip model with a fixed input length was fed the chosen frames

    def summary(self, top: int = 5) -> dict:
        """JSON-ready: the chosen frames (index, time in s, score), every candidate's score (None for a rule),
        the prediction, stage times, GMACs."""
        order = np.argsort(-self.probs)[:top]
        return {
            "video": self.path, "num_frames": self.num_frames, "fps": self.fps,
            "T": len(self.candidates), "N": len(self.chosen), "candidates": self.candidates.tolist(),
            "chosen": [{"position": int(p), "frame": int(self.candidates[p]), "time": round(float(self.candidates[p] / self.fps), 3),
                        "score": None if self.scores is None else float(self.scores[p])} for p in self.chosen],
            "scores": None if self.scores is None else [float(s) for s in self.scores],
            "prediction": [{"class": self.class_names[i], "prob": float(self.probs[i])} for i in order],
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "gmacs": {k: v / 1e9 for k, v in self.macs.items()},
            **({} if self.motion_source is None else {"motion": self.motion_source}),
            **({} if self.classifier_note is None else {"classifier_note": self.classifier_note}),
        }


@dataclass
class DecodedVideo:
    """A video after ``Pipeline.decode``: its candidates and what the sampler reads of them without a
    network (pixels, motion); for a sampler that reads no network output, also its choice and the chosen
    frames at classifier resolution. Holds at most the T decoded candidates."""

    path: str
    metadata: VideoMetadata
    indices: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    kept: DecodedFrames | None = None
    low: np.ndarray | None = None
    next_low: np.ndarray | None = None  # the frame after each candidate at the sampler's size (MGSampler)
    previous_low: np.ndarray | None = None  # the frame before each candidate at the sampler's size (MGSampler, Eq. 1)
    high: np.ndarray | None = None
    motion: np.ndarray | None = None
    motion_source: str | None = None
    compressed: np.ndarray | None = None  # the candidates' compressed-domain vectors (SCSampler)
    audio: np.ndarray | None = None  # the candidates' log-MEL audio patches (SCSampler)
    thumbnails: np.ndarray | None = None
    selection: Selection | None = None
    keyframes: np.ndarray | None = None  # the video's keyframes, for a decode-aware choice
    logits: torch.Tensor | None = None
    frames: np.ndarray | None = None


class Pipeline:
    """``pipeline(path)`` -> ``SampledVideo`` for one sampler at T candidates and budget N.

    ``candidates``: ``"uniform"`` (TSN centres) or ``"keyframes"`` (the video's keyframes, decoded alone;
    see ``candidate_indices``). ``strategy``: the decode planner's (``framesampler.video.planner``;
    ``"seek"`` is the reader without it). A sampler reading ``candidates.motion`` (MGSampler ``motion="mv"``) gets the
    bitstream's motion vectors or, for a stream without any, the image differences of the low-resolution
    candidates; ``SampledVideo.motion_source`` says which.

    ``device``, ``batch_size``, ``precision`` (``framesampler.device``): where the backbones, the built-in classifier
    and a learned sampler run (the sampler is moved there, and scores in float32), frames per forward pass, and the
    backbones' precision; the user's ``classifier`` runs where and as it was loaded. ``decode_aware`` (a fraction of the
    score range, 0 = off): a sampler that picks its top N by score prefers, within it, the candidates that share the
    GOPs its other picks already decode (``Context.decode_aware``, ``planner.decode_aware_top_n``)."""

    def __init__(self, sampler: Sampler, *, T: int, N: int, config: PipelineConfig = PipelineConfig(),
                 head: VideoClassifier | None = None, classifier: Classifier | None = None, reread: str = "memory",
                 thumbnails: int | None = None, candidates: str = "uniform", strategy: str = "auto",
                 device: str | torch.device = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                 precision: str = "float32", decode_aware: float = 0.0) -> None:
        if reread not in REREADS:
            raise ValueError(f"unknown reread {reread!r}: use one of {', '.join(REREADS)}")
        if candidates not in CANDIDATES:
            raise ValueError(f"unknown candidates {candidates!r}: use one of {', '.join(CANDIDATES)}")
        check_budget_flags(T, N)
        if Reads.LABEL in sampler.reads:
            raise ValueError(f"{sampler.name} reads the video's true label: it is an oracle, an upper bound for "
                             "`framesampler evaluate` on labeled data, not a sampler for a new video; use "
                             "semi_optimal_max (the label-free pi_s) instead")
        self.sampler, self.T, self.N, self.config, self.reread, self.thumbnails = sampler, T, N, config, reread, thumbnails
        self.candidates, self.strategy = candidates, strategy
        self.decode_aware = Context(decode_aware=decode_aware).decode_aware  # checked: a fraction in [0, 1]
        self.input = sampler.reads.candidate_input()
        device = resolve_device(device)
        settings: DeviceSettings = {"device": device, "batch_size": check_batch_size(batch_size),
                                    "precision": check_precision(precision, device)}
        if isinstance(sampler, torch.nn.Module):
            sampler.to(device)
        self.classifier = frozen_classifier(head, classifier, config, **settings)
        # a Classifier need not name its consensus: one of its kind's (a frame model's logits are averaged)
        own = getattr(self.classifier, "consensus", "clip" if self.classifier.kind == "clip" else "avg_logits")
        self.consensus: str = head.config.consensus if head is not None else own
        if not isinstance(self.classifier, PixelClassifier):
            if Reads.LANGUAGE in sampler.reads:
                raise ValueError(f"{sampler.name} reads the ImageNet classes of the built-in backbone (SMART's language "
                                 "features), which your classifier does not give: train it with language=none")
            config = replace(config, classifier_resolution=self.classifier.size)
        self.config = config
        self.sampler_backbone = PretrainedBackbone(config.backbone, resolution=config.sampler_resolution,
                                                   stages=config.sampler_stages, **settings) \
            if Reads.FEATURES in self.input else None
        width = getattr(sampler, "options", {}).get("input_dim")
        visual = None if width is None else width - (LANGUAGE_DIM if Reads.LANGUAGE in sampler.reads else 0)
        if self.sampler_backbone is not None and visual is not None and visual != self.sampler_backbone.out_dim:
            raise ValueError(f"the sampler reads {visual}-d features but this pipeline's sampler backbone gives "
                             f"{self.sampler_backbone.out_dim}-d: use the settings of the dataset it was trained on")
        self.frame_macs = self.classifier.macs(1)
        self.cheap_macs = self.sampler_backbone.macs_per_frame() if self.sampler_backbone is not None else 0.0

    @torch.no_grad()
    def __call__(self, path: str | os.PathLike, *, rng: np.random.Generator | None = None) -> SampledVideo:
        return self.run(self.decode(path, rng=rng), rng=rng)

    @property
    def reads_networks(self) -> bool:
        """Whether the sampler's choice needs a network (the cheap backbone's features, pi_s's logits)."""
        return Reads.FEATURES in self.input or bool(self.sampler.reads & ON_ALL_CANDIDATES)

    @torch.no_grad()
    def decode(self, path: str | os.PathLike, *, rng: np.random.Generator | None = None) -> DecodedVideo:
        """The stages that need no network; raises ``VideoError`` for a video that cannot be read."""
        c = self.config
        with VideoReader(path, backend=c.backend, strategy=self.strategy) as reader:
            meta = reader.metadata
            keyframes = reader.keyframes if self.candidates == "keyframes" else None
            video = DecodedVideo(str(path), meta, candidate_indices(meta.num_frames, self.T, mode=self.candidates,
                                                                    keyframes=keyframes))
            if self.decode_aware:
                video.keyframes = reader.keyframes
            if self.T is not None and len(np.unique(video.indices)) < self.T:
                print(f"framesampler: note: {path} gives {len(np.unique(video.indices))} candidates, fewer than T={self.T} "
                      f"({meta.num_frames} frames): at most that many are chosen", file=sys.stderr)
            with _stage(video.seconds, "decode_candidates"):
                self._decode_candidates(reader, video)
            if self.thumbnails is not None:
                assert video.kept is not None, "the candidates are kept for thumbnails"
                video.thumbnails = video.kept.to_array(size=self.thumbnails)
            if not self.reads_networks:
                chosen = self._choose(video, rng).positions
                with _stage(video.seconds, "decode_chosen"):
                    video.frames = self._chosen_frames(reader, video, chosen)
        return video

    @torch.no_grad()
    def run(self, video: DecodedVideo, *, rng: np.random.Generator | None = None) -> SampledVideo:
        """The stages with networks on a decoded video: the sampler's input and choice (unless made), the
        chosen frames, the frozen classifier."""
        selection = video.selection if video.selection is not None else self._choose(video, rng)
        own, chosen = selection.prediction, selection.positions
        if video.frames is None and own is None:
            with _stage(video.seconds, "decode_chosen"):
                if video.kept is None and video.high is None:
                    with VideoReader(video.path, backend=self.config.backend, strategy=self.strategy) as reader:
                        video.frames = self._chosen_frames(reader, video, chosen)
                else:
                    video.frames = self._chosen_frames(None, video, chosen)
        with _stage(video.seconds, "classifier"):
            if own is not None:  # the sampler's own (AdaFrame's f_p), as evaluate takes it: no classifier runs
                probs = np.asarray(own, dtype=np.float64)
            else:
                assert video.frames is not None, "the chosen frames are decoded above when the sampler predicts nothing"
                if self.classifier.kind == "clip":
                    probs = torch.softmax(self.classifier.clip_logits(video.frames), -1).numpy()
                else:
                    if video.high is not None:
                        assert video.logits is not None, "_choose runs the classifier on every candidate read at its size"
                        logits = video.logits[torch.from_numpy(chosen)]
                    else:
                        logits = self.classifier.frame_logits(video.frames)
                    probs = consensus_probs(logits, self.consensus).numpy()
        macs = video_macs(self.sampler, num_candidates=len(video.indices), num_chosen=len(chosen),
                          classifier_frame=self.frame_macs, cheap_frame=self.cheap_macs,
                          classifier_chosen=self.classifier.macs(len(chosen)) if self.classifier.kind == "clip" else None)
        meta = video.metadata
        return SampledVideo(video.path, meta.num_frames, meta.fps, video.indices, chosen, selection.scores, probs,
                            self.classifier.classes, video.seconds, macs, video.thumbnails, video.motion_source,
                            getattr(self.classifier, "clip_note", None) if own is None else None)

    @torch.no_grad()
    def select(self, read: Callable[..., np.ndarray], indices: np.ndarray, num_frames: int, fps: float | None = None, *,
               rng: np.random.Generator | None = None, read_previous: Callable[..., np.ndarray] | None = None) -> Selection:
        """The sampler's choice on candidates another library decoded (the integrations' entry point).

        ``read(size=, crop=)`` returns the candidates ``indices`` as uint8 RGB ``[T, H, W, 3]`` at that
        resolution; it is called only for what the sampler reads. Motion comes from image differences.
        ``read_previous(size=, crop=)``, the same for the video frame before each candidate (``previous_frames``),
        is called for a sampler that compares each candidate with it (MGSampler's Eq. 1, ``Reads.PREVIOUS_PIXELS``);
        without it such a sampler falls back to consecutive candidates, as it says (``MGSampler.reading``).
        """
        c, reads = self.config, self.sampler.reads
        if reads & (Reads.COMPRESSED | Reads.AUDIO):
            raise ValueError(f"{self.sampler.name} reads the compressed bitstream or the audio, which decoded frames do "
                             "not carry: run the pipeline on the video file (pipeline(path))")
        low = read(size=c.sampler_resolution, crop=c.sampler_resolution) if self.input or Reads.MOTION in reads else None
        high = read(size=c.classifier_resolution, crop=c.classifier_resolution) if reads & ON_ALL_CANDIDATES else None
        # fps None (frames from another library, their rate not known) goes on to Candidates(fps=None) as it is
        meta = VideoMetadata("", num_frames, fps, num_frames / fps if fps else 0.0, 0, 0, "memory")  # type: ignore[arg-type]
        previous = read_previous(size=c.sampler_resolution, crop=c.sampler_resolution) \
            if read_previous is not None and Reads.PIXELS in self.input and Reads.PREVIOUS_PIXELS in reads else None
        motion = image_motion(low) if low is not None and Reads.MOTION in reads else None  # low is read for motion
        video = DecodedVideo("", meta, np.asarray(indices), low=low, high=high, previous_low=previous, motion=motion)
        return self._choose(video, rng)

    def _decode_candidates(self, reader: VideoReader, video: DecodedVideo) -> None:
        c, reads, indices = self.config, self.sampler.reads, video.indices
        if Reads.CODED_SIZES in reads and Reads.MOTION not in reads:  # the packet index alone: nothing decoded
            video.compressed = compressed_vectors(reader, indices, None)
            video.motion_source = "coded sizes from the packet index (no motion vectors read)"
        elif reads & (Reads.MOTION | Reads.COMPRESSED):
            view = motion_vectors(reader, indices)
            video.motion_source = view.source if view.available or Reads.MOTION not in reads else \
                f"image differences of the candidates at {c.sampler_resolution} px ({view.source})"
            video.motion = view.motion if Reads.MOTION in reads else None
            if Reads.COMPRESSED in reads:
                video.compressed = compressed_vectors(reader, indices, view)
        if Reads.AUDIO in reads:
            video.audio = audio_patches(read_audio(video.path), indices / video.metadata.fps)
        image_motion_needed = Reads.MOTION in reads and video.motion is None
        reads_frames = bool(self.input) or bool(reads & ON_ALL_CANDIDATES) or image_motion_needed
        keep = (reads_frames and self.reread == "memory") or self.thumbnails is not None
        video.kept = decode_candidates(reader, indices, keep=keep).frames
        if self.input or image_motion_needed:
            size = c.sampler_resolution
            video.low = video.kept.to_array(size=size, crop=size) if video.kept else reader.frames(indices, size=size, crop=size)
            if image_motion_needed:
                video.motion = image_motion(video.low)
        if Reads.PIXELS in self.input and Reads.NEXT_PIXELS in reads:
            video.next_low = reader.frames(np.minimum(indices + 1, video.metadata.num_frames - 1),
                                           size=c.sampler_resolution, crop=c.sampler_resolution)
        if Reads.PIXELS in self.input and Reads.PREVIOUS_PIXELS in reads:
            video.previous_low = reader.frames(previous_frames(indices), size=c.sampler_resolution,
                                               crop=c.sampler_resolution)
        if reads & ON_ALL_CANDIDATES:
            size = c.classifier_resolution
            video.high = video.kept.to_array(size=size, crop=size) if video.kept else reader.frames(indices, size=size, crop=size)

    def _choose(self, video: DecodedVideo, rng: np.random.Generator | None) -> Selection:
        """The sampler's choice on ``video``, kept in ``video.selection`` too."""
        with _stage(video.seconds, "sampler"):
            meta = video.metadata
            features = None
            if self.sampler_backbone is not None:
                assert video.low is not None, "the candidates are read at the sampler's size for its backbone"
                features = self.sampler_backbone.features(video.low).numpy()
            language = vectors = None
            if video.high is not None and Reads.LANGUAGE in self.sampler.reads:  # the backbone runs once for both
                assert isinstance(self.classifier, PixelClassifier), "__init__ refuses a language sampler without it"
                video.logits, imagenet = self.classifier.logits_and_imagenet(video.high)
                language = language_features(imagenet).numpy()
            elif video.high is not None and Reads.FRAME_VECTORS in self.sampler.reads:
                vectors = frame_vectors(self.classifier, video.high)
                if not self.sampler.predicts or Reads.FRAME_LOGITS in self.sampler.reads:  # class scores needed too
                    video.logits = self.classifier.frame_logits(video.high)
            elif video.high is not None:
                video.logits = self.classifier.frame_logits(video.high)
            pixels = video.low if Reads.PIXELS in self.input else None
            candidates = Candidates(video.indices, meta.num_frames, fps=meta.fps, features=features, pixels=pixels,
                                    next_pixels=video.next_low, previous_pixels=video.previous_low, motion=video.motion,
                                    compressed=video.compressed, audio=video.audio, language=language,
                                    frame_vectors=None if vectors is None else vectors.numpy())
            context = Context(frame_logits=video.logits, consensus=self.consensus, keyframes=video.keyframes,
                              decode_aware=self.decode_aware)
            video.selection = self.sampler.choose(candidates, self.N, context=context, rng=rng or np.random.default_rng(0))
        return video.selection

    def _chosen_frames(self, reader: VideoReader | None, video: DecodedVideo, chosen: np.ndarray) -> np.ndarray:
        """The candidates at positions ``chosen`` at the classifier's size: from those kept, else read by ``reader``."""
        size = self.config.classifier_resolution
        if video.high is not None:
            return video.high[chosen]
        if video.kept is not None:
            return video.kept.to_array(positions=chosen, size=size, crop=size)
        assert reader is not None, "run opens the video when no candidates are kept"
        return reader.frames(video.indices[chosen], size=size, crop=size)


def frame_vectors(classifier: Classifier, frames: np.ndarray) -> torch.Tensor:
    """The classifier's per-frame vectors [n, D] of uint8 frames (AdaFrame's v_t, as a video dataset stores them):
    the built-in backbone's features, which its head reads, or a user's model's logits, the only vector it gives."""
    return classifier.backbone.features(frames) if isinstance(classifier, PixelClassifier) else classifier.frame_logits(frames)


@contextmanager
def _stage(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to ``seconds[name]``."""
    start = time.perf_counter()
    yield
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def frozen_classifier(head: VideoClassifier | None, classifier: Classifier | None, config: PipelineConfig,
                      device: str | torch.device = "cpu", *, batch_size: int = DEFAULT_BATCH_SIZE,
                      precision: str = "float32") -> Classifier:
    """The classifier a pipeline runs: the user's ``classifier`` (or, for a head over a user's logits, the model the
    head records, loaded from its spec; the two must have the same fingerprint), else the built-in backbone with
    ``head`` (None: its ImageNet head). One line when a checkpoint or dataset meets another classifier. The backbone
    or the recorded model runs on ``device``, ``batch_size`` frames at a time, in ``precision``."""
    model = head.config.model if head is not None and head.config.head == LOGITS_HEAD else None
    name = getattr(classifier, "spec", type(classifier).__name__)  # a loaded model's spec names it
    if model is None:
        if classifier is not None and head is not None:
            raise ValueError(f"this checkpoint or dataset was made with the built-in classifier, not {name}: "
                             "drop --classifier, or extract and train again with it")
        if classifier is not None:
            return classifier
        return PixelClassifier(PretrainedBackbone(config.backbone, resolution=config.classifier_resolution, device=device,
                                                  batch_size=batch_size, precision=precision), head)
    if classifier is None:
        return load_recorded(model, device=device, batch_size=batch_size, precision=precision)
    if classifier.fingerprint != model["fingerprint"]:
        raise ValueError(f"classifier {name} (fingerprint {classifier.fingerprint}) is not the one this "
                         f"checkpoint or dataset was made with ({model['spec']}, {model['fingerprint']}): use that one")
    return classifier


def dataset_head(dataset: str | Path, cache_dir: str | Path | None = None) -> VideoClassifier:
    """The frozen head of a video dataset, trained on its training videos (or loaded from the cache)."""
    data = DataConfig(features=str(dataset), cache_dir=str(cache_dir)) if cache_dir else DataConfig(features=str(dataset))
    return prepare(data).classifier


def load_pipeline(sampler: str | Path, *, T: int, N: int, dataset: str | Path | None = None, reread: str = "memory",
                  seed: int = 0, thumbnails: int | None = None, cache_dir: str | Path | None = None,
                  candidates: str = "uniform", options: dict | None = None, classifier: str | Classifier | None = None,
                  classifier_size: int | None = None, classes: list[str] | None = None,
                  classifier_gmacs: float | None = None, device: str | torch.device = "cpu",
                  batch_size: int = DEFAULT_BATCH_SIZE, precision: str = "float32",
                  decode_aware: float = 0.0) -> Pipeline:
    """A pipeline for a registered sampler name (built with ``options``, e.g. ``{"motion": "mv"}`` for
    MGSampler on the bitstream's motion vectors) or a trained checkpoint directory.

    A checkpoint brings its frozen head and the extraction settings of its input, and is checked against
    T, N and that input's width. A sampler name uses the head saved with ``dataset`` (a video dataset
    from ``framesampler extract``, read by its recorded ``classifier``) or, without one, the pretrained
    backbone's own ImageNet head.

    ``classifier``: the user's model (a ``Classifier``, or a spec for ``load_classifier`` with ``classifier_size``,
    ``classes`` and ``classifier_gmacs``); ``"frame"`` or None: the checkpoint's or dataset's own. A checkpoint or
    dataset made with another classifier refuses it. ``device``, ``batch_size``, ``precision``: where the networks
    run, frames per forward pass there, and in which precision (``framesampler.device``; a ``Classifier`` given
    loaded keeps its own). ``decode_aware``: see ``Pipeline``.
    """
    settings: DeviceSettings = {"device": device, "batch_size": batch_size, "precision": precision}
    if isinstance(classifier, str) and classifier not in BUILT_IN:
        classifier = load_classifier(classifier, size=classifier_size, classes=classes, gmacs=classifier_gmacs,
                                     **settings)
    elif classifier == "clip":
        raise ValueError("--classifier clip is the built-in clip classifier: it comes with a checkpoint or dataset "
                         "trained with it, not alone")
    model = None if isinstance(classifier, str) else classifier
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
        if options:
            raise ValueError(f"options {sorted(options)} are for a sampler name; checkpoint {sampler} brings its own")
        return Pipeline(checkpoint.sampler, T=T, N=N, config=config, head=checkpoint.classifier, classifier=model,
                        reread=reread, thumbnails=thumbnails, candidates=candidates, decode_aware=decode_aware,
                        **settings)
    head, config = None, PipelineConfig()
    if dataset is not None:
        extracted = dataset_config(dataset)
        if extracted is None:
            raise ValueError(f"{dataset} is a feature file, not a video dataset from `framesampler extract`")
        head, config = dataset_head(dataset, cache_dir), extracted.pipeline()
    return Pipeline(create_sampler(str(sampler), seed=seed, **(options or {})), T=T, N=N, config=config, head=head,
                    classifier=model, reread=reread, thumbnails=thumbnails, candidates=candidates,
                    decode_aware=decode_aware, **settings)
