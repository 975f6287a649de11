"""Read only the frames asked for, counted exactly.

Frame ``i`` of a video is the frame with the ``i``-th smallest presentation timestamp (pts) among the
packets of its video stream. Opening a video demuxes every packet once, without decoding (milliseconds),
to list those timestamps and the keyframes: container headers are not trusted for counts (tree.avi's
header says 444 frames and it holds 68; Matroska headers give none; PyAV's ``stream.frames`` is then 0).

Reading sorts the unique indices asked and decodes them by the runs of the decode planner
(``framesampler.video.planner``): from the keyframe of each GOP holding a wanted frame, entering the next
run by demuxing forward without decoding (or a seek when that is cheaper), decoding through short gaps;
a request of keyframes only decodes just their packets (``skip_frame="NONKEY"``). Decoded frames are
recognised by their pts, so a frame is never mistaken for its neighbour; a frame that cannot be produced
raises :class:`VideoError` naming it. Frames are resized by FFmpeg (swscale) while converting to RGB.

A file whose packets end well before the end its header states (a Matroska stream cut short, which has no
sample table to betray it) is reported as truncated when opened, as a truncated MP4 or AVI is.

PyAV (>= 13) forwards no FFmpeg log lines unless the application sets ``av.logging.set_level``; this
module keeps that default, so damaged files decode quietly and errors arrive as :class:`VideoError`.

The optional backends decord and torchcodec decode the same indices behind the same interface; the frame
count always comes from the PyAV index, so indices are checked before either library sees them.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter

from framesampler.constants import BACKENDS
from framesampler.video.planner import (
    STRATEGIES,
    DecodeFloor,
    DecodePlan,
    Strategy,
    check_strategy,
    floor_frames,
    plan_decode,
    plan_sparse,
)
from framesampler.video.transforms import center_crop, output_size, resize_short_side

REORDER_WINDOW = 32  # decoders may emit frames this far out of pts order (B-frames, AVI packed B-frames)
# FFmpeg's decoder threading (PyAV thread_type). Slice threads only: frame threads ("AUTO") speed up one long pass
# over every frame of some videos (car-detection.mp4 1.4x) but slow the candidate reads of the pipeline, a run per
# GOP that each fills and drains the frame threads: 64 candidates of the four long shared videos decode in
# 0.27/0.20/0.23/0.32 s with "SLICE" against 0.39/0.26/0.23/0.41 s with "AUTO" (PyAV 18, 2 cores, idle machine).
THREAD_TYPE = "SLICE"
Converted = TypeVar("Converted")  # what a read turns each decoded frame into


class VideoError(RuntimeError):
    """A video that cannot be read as asked; ``str(e)`` is one line: ``"<path>: <reason>; <what to do>"``."""

    def __init__(self, path: str | os.PathLike, reason: str, fix: str):
        super().__init__(str(path), reason, fix)
        self.path, self.reason, self.fix = str(path), reason, fix

    def __str__(self) -> str:
        return " ".join(f"{self.path}: {self.reason}; {self.fix}".split())


@dataclass(frozen=True)
class VideoMetadata:
    """What a video holds. ``num_frames`` is counted from the packets; ``fps`` is the mean rate of those
    frames (``num_frames / duration``), which differs from the header's rate when frames were dropped."""

    path: str
    num_frames: int
    fps: float
    duration: float
    width: int
    height: int
    backend: str


# Each optional backend's check: open the video in argv[1] and decode its first frame.
PROBES = {
    "decord": "import sys, decord; assert decord.VideoReader(sys.argv[1])[0].shape[-1] == 3",
    "torchcodec": "import sys; from torchcodec.decoders import VideoDecoder; assert VideoDecoder(sys.argv[1])[0].ndim == 3",
}


def list_backends() -> list[str]:
    """The decoding backends usable here: ``"pyav"`` always, an optional one only if it imports *and*
    decodes a frame (checked once per process in a child process, since a wheel built for another torch
    can crash the interpreter on import, as torchcodec's PyPI wheel does with the CPU torch here)."""
    return ["pyav"] + [name for name in BACKENDS if name != "pyav" and _decodes(name)]


@functools.cache
def _decodes(name: str) -> bool:
    if importlib.util.find_spec(name) is None:
        return False
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "probe.mp4"
        with av.open(str(video), "w") as container:
            stream = container.add_stream("mpeg4", rate=10)
            stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
            for _ in range(3):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
            container.mux(stream.encode(None))
        try:
            return subprocess.run([sys.executable, "-c", PROBES[name], str(video)], capture_output=True,
                                  timeout=300).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def probe(path: str | os.PathLike, *, backend: str = "pyav") -> VideoMetadata:
    """Metadata of the video at ``path``, with the exact frame count; raises :class:`VideoError`."""
    with VideoReader(path, backend=backend) as reader:
        return reader.metadata


def read_frames(path: str | os.PathLike, indices: Sequence[int] | np.ndarray, *, size: int | None = None,
                crop: int | None = None, backend: str = "pyav") -> np.ndarray:
    """Frames ``indices`` of the video at ``path`` as uint8 RGB ``[len(indices), H, W, 3]``, in the order
    asked (repeats allowed). ``size``: resize so the shorter side is ``size``; ``crop``: then keep the
    central ``crop`` x ``crop`` square."""
    with VideoReader(path, backend=backend) as reader:
        return reader.frames(indices, size=size, crop=crop)


class VideoReader:
    """One open video: index it once, then read frames many times (``with VideoReader(path) as r:``)."""

    def __init__(self, path: str | os.PathLike, *, backend: str = "pyav", strategy: str = "auto",
                 thread_type: str = THREAD_TYPE):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: use one of {list(BACKENDS)}")
        if backend != "pyav" and backend not in list_backends():
            raise ValueError(f"backend {backend!r} is not installed or does not decode here: pip install "
                             f"framesampler[{backend}] (usable here: {list_backends()})")
        self.path = str(path)
        self.backend, self.strategy = backend, check_strategy(strategy)
        self._source: _PyAVSource | None = _PyAVSource(self.path, thread_type=thread_type)
        self.metadata = self._source.metadata(backend)
        self._external: dict[tuple[int, int], Any] = {}  # decord readers (untyped) by output (width, height)

    def frames(self, indices: Sequence[int] | np.ndarray, *, size: int | None = None,
               crop: int | None = None) -> np.ndarray:
        """Frames ``indices`` as uint8 RGB ``[len(indices), H, W, 3]``; see :func:`read_frames`."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        indices = self._check_indices(indices)
        meta = self.metadata
        width, height = (meta.width, meta.height) if size is None else output_size(meta.width, meta.height, size)
        if crop is not None and not 1 <= crop <= min(width, height):
            raise ValueError(f"crop must be between 1 and the resized shorter side {min(width, height)}, got {crop}")
        if indices.size == 0:
            return np.zeros((0, crop or height, crop or width, 3), np.uint8)
        wanted = np.unique(indices)
        if self.backend == "pyav":
            reformatter = self._source.reformatter
            decoded = self._source.read(wanted, lambda frame: _to_rgb(reformatter, frame, width, height), self.strategy)
        elif self.backend == "decord":
            decoded = self._decord(wanted, width, height)
        else:
            decoded = self._torchcodec(wanted, size)
        batch = np.stack([decoded[i] for i in indices.tolist()])
        return batch if crop is None else np.ascontiguousarray(center_crop(batch, crop))

    def decode(self, indices: Sequence[int] | np.ndarray) -> DecodedFrames:
        """Frames ``indices`` decoded once and kept in the decoder's format (PyAV only): convert them, or any
        of them, at any size later with ``DecodedFrames.to_array`` without decoding again."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        if self.backend != "pyav":
            raise ValueError(f"decode() keeps PyAV frames; backend {self.backend!r} has only frames()")
        indices = self._check_indices(indices)
        decoded = self._source.read(np.unique(indices), lambda frame: frame, self.strategy)
        return DecodedFrames([decoded[i] for i in indices.tolist()], self.metadata)

    def decode_packets(self, frames: Sequence[int] | np.ndarray, *, packets: str = "only",
                       **decoder_options: str) -> Iterator[tuple[int, av.VideoFrame]]:
        """Frames decoded on a second decoder of this video opened with FFmpeg ``decoder_options`` (e.g.
        ``flags2="+export_mvs"``) -> (frame index, frame) as they come out. ``packets``: ``"only"`` decodes
        the packets of ``frames`` and none between them, ``"alone"`` each of them as if it were the first
        of the stream, ``"with_reference"`` each of them right after the anchor (keyframe or predicted frame)
        before it, as if that pair began the stream, ``"all"`` every packet they need (the planner's runs; exact
        frames). A frame whose references were not decoded has wrong pixels but its own bitstream data (motion
        vectors of a predicted frame, a keyframe's picture) intact."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        if packets not in ("only", "alone", "with_reference", "all"):
            raise ValueError(f"packets must be 'only', 'alone', 'with_reference' or 'all', got {packets!r}")
        wanted = np.unique(self._check_indices(frames))
        source = self._source.twin(**decoder_options)
        try:
            if packets == "all":
                yield from source.read(wanted, lambda frame: frame).items()
            elif packets == "only":
                yield from source.feed(wanted, source.stream.codec_context)
            else:
                fed = wanted
                if packets == "with_reference":
                    anchors = np.union1d(self.index.keyframes, self.index.predicted)
                    before = anchors[np.maximum(np.searchsorted(anchors, wanted) - 1, 0)]
                    fed = np.union1d(wanted, before[before < wanted])
                yield from source.feed(fed, source.stream.codec_context, flush_after=wanted)
        finally:
            source.close()

    @property
    def index(self) -> PacketIndex:
        """The exact packet index (timestamps, keyframes, predicted frames) that every read plans with."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        return self._source.index

    @property
    def codec(self) -> str:
        """FFmpeg's name of the video stream's codec (``h264``, ``mpeg4``, ...)."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        return self._source.stream.codec_context.name

    @property
    def keyframes(self) -> np.ndarray:
        """Sorted frame indices of the keyframes (0 first): frames that decode on their own."""
        return self.index.keyframes

    def plan(self, indices: Sequence[int] | np.ndarray) -> DecodePlan:
        """The runs this reader's strategy decodes for ``indices``."""
        return plan_decode(np.unique(self._check_indices(indices)), self.keyframes, strategy=self.strategy)

    def floor(self, indices: Sequence[int] | np.ndarray, *, repeats: int = 1) -> DecodeFloor:
        """The floor of a request: the frames that must be decoded for ``indices`` and the time of the
        fastest strategy, each strategy timed (best of ``repeats``) decoding them without conversion, with
        FFmpeg's frame and slice threads (``"AUTO"``) and with slice threads only (``"SLICE"``), each on
        its own decoder (``"auto/SLICE"``, ...)."""
        if self._source is None:
            raise ValueError(f"the VideoReader of {self.path} is closed: open a new one")
        wanted = np.unique(self._check_indices(indices))
        seconds: dict[str, float] = {}
        for thread_type in ("AUTO", "SLICE"):
            source = _PyAVSource(self.path, thread_type=thread_type, index=self._source.index)
            try:
                for strategy in STRATEGIES:
                    times = []
                    for _ in range(repeats):
                        start = time.perf_counter()
                        source.read(wanted, lambda frame: None, strategy)
                        times.append(time.perf_counter() - start)
                    seconds[f"{strategy}/{thread_type}"] = min(times)
            finally:
                source.close()
        fastest = min(seconds, key=seconds.__getitem__)
        return DecodeFloor(floor_frames(wanted, self.keyframes), seconds[fastest], fastest, seconds)

    def close(self) -> None:
        """Release the file; further reads raise."""
        if self._source is not None:
            self._source.close()
        self._source = None
        self._external.clear()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _check_indices(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"indices must be a 1-d sequence of integers, got {array.dtype} of shape {array.shape}")
        array = array.astype(np.int64)
        count = self.metadata.num_frames
        outside = array[(array < 0) | (array >= count)]
        if outside.size:
            raise VideoError(self.path, f"frame index {outside[0]} is out of range: the video has {count} frames "
                             f"(0..{count - 1})", "ask for indices below probe(path).num_frames")
        return array

    def _decord(self, wanted: np.ndarray, width: int, height: int) -> dict[int, np.ndarray]:
        decord = importlib.import_module("decord")
        if (width, height) not in self._external:
            self._external[width, height] = decord.VideoReader(self.path, width=width, height=height)
        reader = self._external[width, height]
        if wanted[-1] >= len(reader):
            raise VideoError(self.path, f"decord sees only {len(reader)} of the {self.metadata.num_frames} frames",
                             "read this file with backend='pyav'")
        return dict(zip(wanted.tolist(), reader.get_batch(wanted.tolist()).asnumpy()))

    def _torchcodec(self, wanted: np.ndarray, size: int | None) -> dict[int, np.ndarray]:
        decoders = importlib.import_module("torchcodec.decoders")
        decoder = decoders.VideoDecoder(self.path, dimension_order="NHWC")
        if wanted[-1] >= len(decoder):
            raise VideoError(self.path, f"torchcodec sees only {len(decoder)} of the {self.metadata.num_frames} "
                             "frames", "read this file with backend='pyav'")
        frames = decoder.get_frames_at(wanted.tolist()).data.numpy()
        return dict(zip(wanted.tolist(), frames if size is None else resize_short_side(frames, size)))


class DecodedFrames:
    """Decoded frames of one video in the order asked, converted to RGB arrays on demand."""

    def __init__(self, frames: list[av.VideoFrame], metadata: VideoMetadata) -> None:
        self.frames, self.metadata = frames, metadata

    def __len__(self) -> int:
        return len(self.frames)

    def to_array(self, *, size: int | None = None, crop: int | None = None,
                 positions: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """uint8 RGB ``[n, H, W, 3]`` of the frames at ``positions`` (default: all), resized (shorter side
        ``size``) by swscale and centre-cropped like ``VideoReader.frames``."""
        meta = self.metadata
        width, height = (meta.width, meta.height) if size is None else output_size(meta.width, meta.height, size)
        chosen = range(len(self.frames)) if positions is None else np.asarray(positions, dtype=np.int64).tolist()
        if not chosen:
            return np.zeros((0, crop or height, crop or width, 3), np.uint8)
        reformatter = VideoReformatter()
        batch = np.stack([_to_rgb(reformatter, self.frames[p], width, height) for p in chosen])
        return batch if crop is None else np.ascontiguousarray(center_crop(batch, crop))


def _to_rgb(reformatter: VideoReformatter, frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """RGB at ``width`` x ``height`` with swscale's area filter. One reformatter is reused for a run of
    conversions: it keeps its scaler set up, where ``VideoFrame.to_ndarray`` builds a new one per call
    (0.2 ms against 4-9 ms a frame here)."""
    return reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()


@dataclass(frozen=True)
class PacketIndex:
    """The exact index of a video stream, built by demuxing every packet once without decoding.

    ``pts``: sorted unique presentation timestamps (frame ``i`` has ``pts[i]``); ``keyframes``: sorted frame
    indices of the keyframes (always starting at 0); ``key_dts``: each keyframe's decoding timestamp;
    ``predicted``: sorted frame indices of the inter-coded frames that are decoded in display order (the
    I/P anchors that are not keyframes: no B-frame follows them out of order), whose motion vectors
    depend on their own packet only; ``sizes``: each frame's coded size in bytes (its packet's ``size``)."""

    pts: np.ndarray
    keyframes: np.ndarray
    key_dts: np.ndarray
    predicted: np.ndarray
    sizes: np.ndarray


class _PyAVSource:
    """An open container, its video stream and the exact frame index; decodes by the planner's runs."""

    def __init__(self, path: str, *, thread_type: str = THREAD_TYPE, index: PacketIndex | None = None):
        self.path = path
        self.container = _open(path)
        try:
            self.stream = self.container.streams.video[0]
            self.stream.thread_type = thread_type
            self.index = index or self._index()
            if not self.stream.width or not self.stream.height:
                raise VideoError(path, "the video stream has no frame size", "re-encode it (ffmpeg -i IN OUT.mp4)")
        except BaseException:
            self.container.close()
            raise
        self.pts, self.keyframes = self.index.pts, self.index.keyframes
        self.position = {pts: i for i, pts in enumerate(self.pts.tolist())}
        self.reformatter = VideoReformatter()

    def twin(self, **options: str) -> _PyAVSource:
        """The same video opened again (own demuxer and decoder, single-threaded, FFmpeg decoder
        ``options``), sharing this index."""
        twin = _PyAVSource(self.path, thread_type="SLICE", index=self.index)
        twin.stream.codec_context.options = options
        return twin

    def metadata(self, backend: str) -> VideoMetadata:
        count, stream = len(self.pts), self.stream
        if count > 1:
            fps = (count - 1) / float((self.pts[-1] - self.pts[0]) * stream.time_base)
        else:
            fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoMetadata(path=self.path, num_frames=count, fps=fps, duration=count / fps if fps else 0.0,
                             width=stream.width, height=stream.height, backend=backend)

    def read(self, wanted: np.ndarray, convert: Callable[[av.VideoFrame], Converted],
             strategy: Strategy = "auto") -> dict[int, Converted]:
        """Decode the sorted unique frame indices ``wanted`` -> {index: convert(frame)}, by the runs of
        ``plan_decode``. With ``"auto"``, a request of keyframes only decodes just their packets, with the
        decoder set to skip every other frame (``skip_frame="NONKEY"``)."""
        if strategy == "auto" and np.isin(wanted, self.keyframes).all():
            return self._read_keyframes(wanted, convert)
        plan = plan_decode(wanted, self.keyframes, strategy=strategy)
        out: dict[int, Converted] = {}
        pending = set(wanted.tolist())
        packets: Iterator[av.Packet] | None = None
        fed = previous = -1  # the last keyframe fed to the decoder; the frame index last produced
        try:
            for run in plan.runs:
                todo = {i for i in pending if run.start <= i <= run.stop}
                if not todo:
                    continue
                if packets is None or run.entry != "skip":
                    packets, previous = self._packets_from(run.start), run.start - 1
                elif fed < run.start:
                    packets, previous = self._skip_to(packets, run.start), run.start - 1
                ended = True
                for packet in packets:
                    position = self.position.get(packet.pts) if packet.size else None
                    if packet.is_keyframe and position is not None:
                        fed = max(fed, position)
                    for frame in _decode(self.stream.codec_context, packet):
                        previous = self.position.get(frame.pts, previous + 1)
                        if previous in pending:
                            out[previous] = convert(frame)
                            pending.discard(previous)
                            todo.discard(previous)
                    if not todo or (position is not None and position > run.stop + REORDER_WINDOW):
                        ended = False
                        break
                if todo:
                    raise self._missing(min(todo), ended)
        except av.FFmpegError as error:
            raise VideoError(self.path, f"reading stopped before frame {min(pending)}: {error}",
                             "the file is damaged there; pick other frames or re-encode it") from None
        return out

    def feed(self, frames: np.ndarray, codec_context: VideoCodecContext, *,
             flush_after: np.ndarray | None = None) -> Iterator[tuple[int, av.VideoFrame]]:
        """Decode with ``codec_context`` the packets of the sorted unique ``frames`` only, none between them
        (runs of ``plan_sparse``), then drain and flush the decoder -> (frame index, frame) as they come
        out (a frame that cannot be decoded is missing). ``flush_after``: frames after whose packet the decoder
        is drained and flushed, so that the next packet is decoded as if it were the first of the stream."""
        packets: Iterator[av.Packet] | None = None
        selected, previous = set(frames.tolist()), -1
        flushed = set(() if flush_after is None else np.asarray(flush_after).tolist())

        def emit(packet: av.Packet | None) -> Iterator[tuple[int, av.VideoFrame]]:
            nonlocal previous
            for frame in _decode(codec_context, packet):
                previous = self.position.get(frame.pts, previous + 1)
                yield previous, frame

        try:
            for run in plan_sparse(frames, self.keyframes).runs:
                packets = self._packets_from(run.start) if packets is None or run.entry != "skip" \
                    else self._skip_to(packets, run.start)
                for packet in packets:
                    position = self.position.get(packet.pts) if packet.size else None
                    if position in selected:
                        yield from emit(packet)
                        if position in flushed:
                            yield from emit(None)
                            codec_context.flush_buffers()
                    if position is not None and position >= run.stop:
                        break
            yield from emit(None)
        except av.FFmpegError as error:
            raise VideoError(self.path, f"reading stopped: {error}", "the file is damaged; re-encode it") from None
        finally:
            codec_context.flush_buffers()

    def _read_keyframes(self, wanted: np.ndarray, convert: Callable[[av.VideoFrame], Converted]) -> dict[int, Converted]:
        context = self.stream.codec_context
        context.skip_frame = "NONKEY"
        try:
            out = {i: convert(frame) for i, frame in self.feed(wanted, context) if i in wanted}
        finally:
            context.skip_frame = "DEFAULT"
        missing = np.setdiff1d(wanted, list(out))
        return out | (self.read(missing, convert, "seek") if missing.size else {})

    def _missing(self, frame: int, ended: bool) -> VideoError:
        if ended:
            return VideoError(self.path, f"frame {frame} could not be decoded: the stream ends before it (the file "
                              "is truncated or damaged at its end)", "re-download or re-encode it, or pick earlier frames")
        return VideoError(self.path, f"frame {frame} could not be decoded (damaged data near it)",
                          "pick other frames or re-encode the video")

    def close(self) -> None:
        self.container.close()

    def _skip_to(self, packets: Iterator[av.Packet], start: int) -> Iterator[av.Packet]:
        """``packets`` demuxed forward, not decoded, up to the keyframe ``start`` (a seek if they run out)."""
        key_pts = int(self.pts[start])
        for packet in packets:
            if packet.pts == key_pts:
                return itertools.chain([packet], packets)
        return self._packets_from(start)

    def _packets_from(self, start: int) -> Iterator[av.Packet]:
        """The video packets from the keyframe at frame ``start`` on (the decoder is flushed). Seeks by its
        pts (what MP4 and Matroska index); if that lands past it (AVI indexes by dts, which can be
        smaller), seeks again by its dts."""
        key = int(np.searchsorted(self.keyframes, start))
        key_pts = int(self.pts[start])
        for timestamp in (key_pts, int(self.index.key_dts[key])):
            self.container.seek(timestamp, stream=self.stream, backward=True, any_frame=False)
            packets = self.container.demux(self.stream)
            first = next(packets, None)
            if first is None or first.pts is None or first.pts <= key_pts:
                break
        return itertools.chain([] if first is None else [first], packets)

    def _index(self) -> PacketIndex:
        """Demux every packet once (all streams, to see where the file ends) into a ``PacketIndex``.
        A file whose packets end well before the end its header states is truncated (Matroska and
        similar streams have no sample table to notice it otherwise)."""
        timestamps: list[int] = []
        sizes: dict[int, int] = {}  # bytes by pts
        keys: dict[int, int] = {}  # the decode timestamp of each keyframe, by pts
        earliest: int | None = None
        last: dict[int, int] = {}  # the latest end (pts + duration) of each stream's packets, in its time base
        bases: dict[int, Fraction] = {}
        try:
            for packet in self.container.demux():
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.pts is not None and packet.time_base is not None:
                    packet_end = packet.pts + (packet.duration or 0)
                    stream = packet.stream_index
                    if packet_end > last.get(stream, packet_end - 1):
                        last[stream], bases[stream] = packet_end, packet.time_base
                if packet.stream_index != self.stream.index:
                    continue
                if packet.is_corrupt:
                    raise VideoError(self.path, f"the data of video packet {len(timestamps)} is incomplete "
                                     "(the file is truncated or damaged)", "re-download or re-encode it")
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    raise VideoError(self.path, "the video packets carry no timestamps",
                                     "remux it into mp4 or mkv (ffmpeg -i IN -c copy OUT.mkv)")
                decode_ts = packet.dts if packet.dts is not None else stamp
                timestamps.append(stamp)
                sizes[stamp] = sizes.get(stamp, 0) + packet.size
                earliest = decode_ts if earliest is None else min(earliest, decode_ts)
                if packet.is_keyframe:
                    keys[stamp] = decode_ts
        except av.FFmpegError as error:
            raise VideoError(self.path, f"the file is damaged after {len(timestamps)} video packets ({error})",
                             "re-download or re-encode it") from None
        end = max((float(stamp * bases[stream]) for stream, stamp in last.items()), default=None)
        if not timestamps or earliest is None:
            raise VideoError(self.path, "the video stream has no frames", "check that the file plays")
        pts = np.unique(np.asarray(timestamps, dtype=np.int64))
        keys.setdefault(int(pts[0]), earliest)  # frame 0 is always reachable: from the start of the stream
        key_pts = np.asarray(sorted(keys), dtype=np.int64)
        decode_order = np.asarray(timestamps, dtype=np.int64)
        latest_before = np.maximum.accumulate(np.concatenate([[decode_order[0] - 1], decode_order[:-1]]))
        anchors = np.searchsorted(pts, decode_order[decode_order > latest_before])
        keyframes = np.searchsorted(pts, key_pts)
        self._check_complete(pts, anchors, end)
        return PacketIndex(pts, keyframes, np.asarray([keys[k] for k in key_pts.tolist()], dtype=np.int64),
                           np.setdiff1d(anchors, keyframes), np.asarray([sizes[p] for p in pts.tolist()], dtype=np.int64))

    def _check_complete(self, pts: np.ndarray, anchors: np.ndarray, end: float | None) -> None:
        """Raise "truncated" when the packets end more than 1.5 frame intervals before the end the
        container's header states (intact files on the shared data end within one interval of it), or
        when frames are missing between the last two anchors of an otherwise gapless stream (the B-frames
        a cut removed: they come after the last anchor in decoding order)."""
        steps = np.diff(pts)
        rate = self.stream.average_rate or self.stream.guessed_rate
        frame = float(np.median(steps) * self.stream.time_base) if steps.size else 1 / float(rate) if rate else 0.0
        container = self.container
        if end is not None and container.duration:
            header_end = ((container.start_time or 0) + container.duration) / av.time_base
            if header_end - end > 1.5 * frame:
                raise VideoError(self.path, f"the packets end at {end:.2f} s but the header says the video lasts "
                                 f"until {header_end:.2f} s (the file is truncated)", "re-download or re-encode it")
        holes = np.flatnonzero(steps > 1.5 * np.median(steps)) if steps.size else steps
        if len(anchors) > 1 and holes.size and holes[0] >= anchors[-2]:
            raise VideoError(self.path, f"frames are missing before the last frame (its timestamps skip {holes.size} "
                             "interval(s) there: the file is truncated)", "re-download or re-encode it")


def _decode(codec_context: VideoCodecContext, packet: av.Packet | None) -> list[av.VideoFrame]:
    """The frames ``packet`` completes (``None``: drain the decoder); none when the packet fails to decode
    (its frame is then missing and reported by the caller)."""
    try:
        return codec_context.decode(packet)
    except av.FFmpegError:
        return []


def _open(path: str) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning every way it can fail into a one-line :class:`VideoError`."""
    file = Path(path)
    if not file.exists():
        if file.is_symlink():
            raise VideoError(path, "a broken symlink (its target is missing, or the links loop)", "fix or remove the link")
        raise VideoError(path, "no such file", "check the path")
    if not file.is_file():
        raise VideoError(path, "not a regular file", "pass the path of a video file")
    if file.stat().st_size == 0:
        raise VideoError(path, "the file is empty (0 bytes)", "re-download or re-encode it")
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.FFmpegError as error:
        raise VideoError(path, f"not a readable video ({error.strerror})",
                         "check that it is a complete video file that ffmpeg can play") from None
    if not container.streams.video:
        kinds: list[str] = sorted({stream.type for stream in container.streams}) or ["none"]
        container.close()
        raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})", "pass a file with video in it")
    return container
