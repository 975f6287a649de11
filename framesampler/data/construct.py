"""Long untrimmed video files built from real labeled clips: the pixel-level untrimmed construction.

The feature-level construction (``framesampler.data.untrimmed``) embeds a clip's feature vectors among
background vectors; this one writes real video files, so the whole pipeline (decoding included) can be
measured on them. A long video of ``length`` seconds at ``fps`` frames per second holds one labeled clip
of the vocabulary:

- the clip is resampled in time to ``fps`` (output frame j shows the clip's frame on screen at time j / fps),
  and all its frames are cut into ``bursts`` contiguous pieces, kept in order;
- the rest is background footage: a stream of random segments of at most ``segment`` seconds, each from
  a source drawn with probability proportional to its duration. Sources are clips of classes outside the
  vocabulary (same split as the labeled clip) and unlabeled long videos; those are split in time so no
  frame is in both splits (train: the first ``1 - background_test_fraction`` of each, test: the rest);
- the pieces go at random places in the background stream (``slots`` as in the feature construction);
- every frame is letterboxed to ``width`` x ``height`` (``framesampler.video.transforms.letterbox``) and
  the video is encoded as H.264 (libx264 through PyAV, yuv420p, ``crf``, ``preset``) with a keyframe every
  ``gop`` seconds exactly and no scene-cut keyframes: keyframes at the cuts would tell a bitstream reader
  where the bursts are;
- with ``audio`` (the default) an AAC audio track (mono, ``AUDIO_RATE`` = 16 kHz) is muxed beside it: each run's
  samples are its source's audio at the same source times (``read_audio``; the run starts at source frame
  ``frames[0]``, i.e. at ``frames[0] / fps_source`` s, and plays at its own speed, as the resampled frames do),
  silence where a source has no audio track or its audio ends early.

A ``Plan`` is pure data (per output frame: which source, which source frame, action or not), made by
``plan_video`` from ``default_rng`` seeded by the caller; ``write_video`` decodes and encodes it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from framesampler.data.construct_config import ConstructConfig
from framesampler.storage import atomic_file
from framesampler.video.audio import AUDIO_RATE, read_audio
from framesampler.video.decode import VideoReader
from framesampler.video.transforms import fit_size, letterbox

WRITE_CHUNK = 128  # frames decoded at once while writing: memory does not grow with --fps or a run's length


@dataclass(frozen=True)
class Source:
    """Usable frames ``first .. stop - 1`` of a video file at ``fps`` (its mean rate); ``label`` None when unlabeled."""

    path: str
    fps: float
    first: int
    stop: int
    label: str | None = None

    @property
    def seconds(self) -> float:
        return (self.stop - self.first) / self.fps

    def frames_at(self, fps: float) -> np.ndarray:
        """Source frame indices of the usable part resampled to ``fps``: output frame j shows the frame on
        screen at time j / fps (the last one starting at or before it; at least one frame)."""
        count = max(1, round((self.stop - self.first) * fps / self.fps))
        offsets = np.floor(np.arange(count) * self.fps / fps + 1e-9).astype(np.int64)
        return np.minimum(self.first + offsets, self.stop - 1)


@dataclass(frozen=True)
class Run:
    """Output frames ``start .. stop - 1`` come from ``source`` frames ``frames`` (one per output frame)."""

    source: str
    frames: np.ndarray
    start: int
    action: bool

    @property
    def stop(self) -> int:
        return self.start + len(self.frames)

    def summary(self, fps: float) -> dict:
        return {"first_frame": self.start, "last_frame": self.stop - 1, "start_s": round(self.start / fps, 4),
                "end_s": round(self.stop / fps, 4), "source": self.source,
                "source_first_frame": int(self.frames[0]), "source_last_frame": int(self.frames[-1])}


@dataclass(frozen=True)
class Plan:
    """One long video: its runs in time order (action runs are the bursts), its clip and label."""

    clip: Source
    runs: tuple[Run, ...]
    fps: float

    @property
    def num_frames(self) -> int:
        return self.runs[-1].stop

    def action_mask(self) -> np.ndarray:
        """[num_frames] bool: frames of the labeled clip."""
        mask = np.zeros(self.num_frames, bool)
        for run in self.runs:
            mask[run.start:run.stop] = run.action
        return mask

    def summary(self) -> dict:
        """JSON-ready: the clip, each burst (first/last frame, seconds, clip frames) and each background run."""
        return {"label": self.clip.label, "clip": self.clip.path, "num_frames": self.num_frames, "fps": self.fps,
                "bursts": [run.summary(self.fps) for run in self.runs if run.action],
                "background": [run.summary(self.fps) for run in self.runs if not run.action]}


def plan_video(clip: Source, background: list[Source], config: ConstructConfig, rng: np.random.Generator) -> Plan:
    """The plan of one long video holding ``clip`` among ``background`` (see the module docstring)."""
    action = clip.frames_at(config.fps)
    length = config.num_frames
    needed = length - len(action)
    if needed < 0:
        raise ValueError(f"{clip.path}: the clip lasts {clip.seconds:.1f} s, longer than the long video "
                         f"({config.length:g} s); use a larger --length")
    if len(action) < config.bursts:
        raise ValueError(f"{clip.path}: {len(action)} frames at {config.fps:g} fps cannot make {config.bursts} bursts")
    if needed and not background:
        raise ValueError("no background footage: add clips of classes outside the vocabulary or --background-videos")
    seconds = np.array([source.seconds for source in background])
    stream: list[tuple[str, np.ndarray]] = []  # background segments, in order
    have = 0
    while have < needed:
        source = background[rng.choice(len(background), p=seconds / seconds.sum())]
        frames = source.frames_at(config.fps)
        take = min(len(frames), max(1, round(config.segment * config.fps)), needed - have)
        start = int(rng.integers(len(frames) - take + 1))
        stream.append((source.path, frames[start:start + take]))
        have += take
    # per output frame: its segment (background segments 0..S-1, then the clip's pieces) and source frame
    pieces = np.array_split(action, config.bursts)
    background_ids = np.repeat(np.arange(len(stream)), [len(frames) for _, frames in stream])
    background_frames = np.concatenate([frames for _, frames in stream]) if stream else np.empty(0, np.int64)
    slots = np.sort(rng.choice(needed + 1, size=config.bursts, replace=needed + 1 < config.bursts))
    id_parts: list[np.ndarray] = []
    frame_parts: list[np.ndarray] = []
    previous = 0
    for b, (slot, piece) in enumerate(zip(slots, pieces)):
        id_parts += [background_ids[previous:slot], np.full(len(piece), len(stream) + b)]
        frame_parts += [background_frames[previous:slot], piece]
        previous = slot
    ids = np.concatenate([*id_parts, background_ids[previous:]])
    frames = np.concatenate([*frame_parts, background_frames[previous:]])
    paths = [path for path, _ in stream] + [clip.path] * config.bursts
    starts = np.flatnonzero(np.r_[True, np.diff(ids) != 0])
    runs = [Run(paths[ids[a]], frames[a:b], int(a), bool(ids[a] >= len(stream)))
            for a, b in zip(starts, np.r_[starts[1:], len(ids)])]
    return Plan(clip, tuple(runs), config.fps)


def plan_audio(plan: Plan, fps: dict[str, float], audio: dict[str, np.ndarray | None]) -> np.ndarray:
    """The plan's audio track, float32 mono at ``AUDIO_RATE``: each run's samples from its source's ``audio``
    (``read_audio``; None: no track) from the time of its first source frame (at the source's ``fps``),
    silence where there is none (module docstring)."""
    track = np.zeros(round(plan.num_frames / plan.fps * AUDIO_RATE), np.float32)
    for run in plan.runs:
        samples = audio[run.source]
        if samples is None:
            continue
        begin, end = (round(frame / plan.fps * AUDIO_RATE) for frame in (run.start, run.stop))
        first = round(int(run.frames[0]) / fps[run.source] * AUDIO_RATE)
        piece = samples[first:first + end - begin]
        track[begin:begin + len(piece)] = piece
    return track


def write_video(plan: Plan, path: str | os.PathLike, config: ConstructConfig) -> None:
    """Decode the plan's frames, letterbox them to the config's size and encode them to ``path`` (mp4,
    atomically), with the plan's audio (``plan_audio``, AAC; PyAV cuts it into the encoder's frames) when
    ``config.audio``, muxed after each run's frames. Raises ``VideoError`` when a source cannot be read."""
    rate = Fraction(config.fps).limit_denominator(1001)
    with atomic_file(path) as partial, av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate, options={
            "crf": str(config.crf), "preset": config.preset,
            "x264-params": f"keyint={config.gop_frames}:min-keyint={config.gop_frames}:scenecut=0:mbtree=0"})
        stream.width, stream.height, stream.pix_fmt = config.width, config.height, "yuv420p"
        stream.gop_size = config.gop_frames
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="mono") if config.audio else None
        readers: dict[str, VideoReader] = {}
        try:
            for source in dict.fromkeys(run.source for run in plan.runs):
                readers[source] = VideoReader(source)
            track = None if sound is None else plan_audio(plan, {p: r.metadata.fps for p, r in readers.items()},
                                                          {p: read_audio(p) for p in readers})
            muxed = 0  # audio samples encoded so far
            for run in plan.runs:
                reader = readers[run.source]
                meta = reader.metadata
                short = min(fit_size(meta.width, meta.height, config.width, config.height))
                for first in range(0, len(run.frames), WRITE_CHUNK):
                    chunk = reader.frames(run.frames[first:first + WRITE_CHUNK], size=short)
                    for offset, image in enumerate(letterbox(chunk, config.width, config.height), first):
                        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                        frame.pts, frame.time_base = run.start + offset, 1 / rate
                        container.mux(stream.encode(frame))
                end = min(len(track), round(run.stop / plan.fps * AUDIO_RATE)) if track is not None else 0
                if end > muxed and track is not None and sound is not None:  # track is None exactly when sound is
                    samples = av.AudioFrame.from_ndarray(track[None, muxed:end], format="fltp", layout="mono")
                    samples.sample_rate, samples.pts, muxed = AUDIO_RATE, muxed, end
                    container.mux(sound.encode(samples))
            container.mux(stream.encode(None))
            if sound is not None:
                container.mux(sound.encode(None))
        finally:
            for reader in readers.values():
                reader.close()


def burst_mask(bursts: list[dict], frame_indices: np.ndarray) -> np.ndarray:
    """[len(frame_indices)] bool: which frames lie inside one of ``bursts`` (``Plan.summary()["bursts"]``)."""
    frames = np.asarray(frame_indices)
    inside = np.zeros(frames.shape, bool)
    for burst in bursts:
        inside |= (frames >= burst["first_frame"]) & (frames <= burst["last_frame"])
    return inside
