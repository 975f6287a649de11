"""Read only the frames asked for, counted exactly.

Frame ``i`` of a video is the frame with the ``i``-th smallest presentation timestamp (pts) among the
packets of its video stream. Opening a video demuxes every packet once, without decoding (milliseconds),
to list those timestamps and the keyframes: container headers are not trusted for counts (tree.avi's
header says 444 frames and it holds 68; Matroska headers give none; PyAV's ``stream.frames`` is then 0).

Reading sorts the unique indices asked and decodes forward, seeking back to the keyframe at or before an
index only when that saves work (the index lies behind, or past the next keyframe). Decoded frames are
recognised by their pts, so a frame is never mistaken for its neighbour; a frame that cannot be produced
raises :class:`VideoError` naming it. Frames are resized by FFmpeg (swscale) while converting to RGB.

PyAV (>= 13) forwards no FFmpeg log lines unless the application sets ``av.logging.set_level``; this
module keeps that default, so damaged files decode quietly and errors arrive as :class:`VideoError`.

The optional backends decord and torchcodec decode the same indices behind the same interface; the frame
count always comes from the PyAV index, so indices are checked before either library sees them.
"""
from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from framesampler.video.transforms import center_crop, output_size, resize_short_side

BACKENDS = ("pyav", "decord", "torchcodec")
REORDER_WINDOW = 32  # decoders may emit frames this far out of pts order (B-frames, AVI packed B-frames)


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


def list_backends() -> list[str]:
    """The decoding backends importable here; ``"pyav"`` always."""
    return [name for name in BACKENDS if name == "pyav" or importlib.util.find_spec(name) is not None]


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

    def __init__(self, path: str | os.PathLike, *, backend: str = "pyav"):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: use one of {list(BACKENDS)}")
        if backend not in list_backends():
            raise ValueError(f"backend {backend!r} is not installed: pip install framesampler[{backend}] "
                             f"(installed here: {list_backends()})")
        self.path = str(path)
        self.backend = backend
        self._source: _PyAVSource | None = _PyAVSource(self.path)
        self.metadata = self._source.metadata(backend)
        self._external: dict[tuple[int, int], object] = {}  # decord readers by output (width, height)

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
            decoded = self._source.read(wanted, lambda frame: _to_rgb(self._source.reformatter, frame, width, height))
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
        decoded = self._source.read(np.unique(indices), lambda frame: frame)
        return DecodedFrames([decoded[i] for i in indices.tolist()], self.metadata)

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


class _PyAVSource:
    """An open container, its video stream and the exact frame index (sorted pts, keyframe positions)."""

    def __init__(self, path: str):
        self.path = path
        self.container = _open(path)
        try:
            self.stream = self.container.streams.video[0]
            self.stream.thread_type = "AUTO"
            self.pts, self.keyframes, self.key_dts = self._index()
            if not self.stream.width or not self.stream.height:
                raise VideoError(path, "the video stream has no frame size", "re-encode it (ffmpeg -i IN OUT.mp4)")
        except BaseException:
            self.container.close()
            raise
        self.position = {pts: i for i, pts in enumerate(self.pts.tolist())}
        self.reformatter = VideoReformatter()

    def metadata(self, backend: str) -> VideoMetadata:
        count, stream = len(self.pts), self.stream
        if count > 1:
            fps = (count - 1) / float((self.pts[-1] - self.pts[0]) * stream.time_base)
        else:
            fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoMetadata(path=self.path, num_frames=count, fps=fps, duration=count / fps if fps else 0.0,
                             width=stream.width, height=stream.height, backend=backend)

    def read(self, wanted: np.ndarray, convert: Callable[[av.VideoFrame], object]) -> dict[int, object]:
        """Decode the sorted unique frame indices ``wanted`` -> {index: convert(frame)}."""
        wanted_set, out = set(wanted.tolist()), {}
        decoded: Iterator[tuple[int, av.VideoFrame]] | None = None
        position = -1
        for target in wanted.tolist():
            if target in out:
                continue
            key = int(np.searchsorted(self.keyframes, target, side="right") - 1)
            if decoded is None or target <= position or self.keyframes[key] > position:
                decoded = self._decode_from(key)
            try:
                for position, frame in decoded:
                    if position in wanted_set and position not in out:
                        out[position] = convert(frame)
                    if target in out or position > target + REORDER_WINDOW:
                        break
                else:
                    decoded = None
            except av.FFmpegError as error:
                raise VideoError(self.path, f"reading stopped before frame {target}: {error}",
                                 "the file is damaged there; pick other frames or re-encode it") from None
            if target not in out:
                raise VideoError(self.path, f"frame {target} could not be decoded (damaged data near it)",
                                 "pick other frames or re-encode the video")
        return out

    def close(self) -> None:
        self.container.close()

    def _decode_from(self, key: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """(frame index, frame) in decoder output order, from the ``key``-th keyframe on. A packet that fails
        to decode is skipped (its frame is then missing); frames without a known pts follow the previous one."""
        previous = int(self.keyframes[key]) - 1
        for packet in self._packets_from(key):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue
            for frame in frames:
                previous = self.position.get(frame.pts, previous + 1)
                yield previous, frame

    def _packets_from(self, key: int) -> Iterator[av.Packet]:
        """The video packets from the ``key``-th keyframe on. Seeks by its pts (what MP4 and Matroska index);
        if that lands past it (AVI indexes by dts, which can be smaller), seeks again by its dts."""
        key_pts = int(self.pts[self.keyframes[key]])
        for timestamp in (key_pts, int(self.key_dts[key])):
            self.container.seek(timestamp, stream=self.stream, backward=True, any_frame=False)
            packets = self.container.demux(self.stream)
            first = next(packets, None)
            if first is None or first.pts is None or first.pts <= key_pts:
                break
        return itertools.chain([] if first is None else [first], packets)

    def _index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted unique pts of the video packets (frame i has pts[i]), the sorted frame indices of the
        keyframes, and each keyframe's dts (its pts where there is none; the stream's start for frame 0
        when it is not flagged as a keyframe)."""
        timestamps, keys, earliest = [], {}, None
        try:
            for packet in self.container.demux(self.stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                if packet.is_corrupt:
                    raise VideoError(self.path, f"the data of video packet {len(timestamps)} is incomplete "
                                     "(the file is truncated or damaged)", "re-download or re-encode it")
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:
                    raise VideoError(self.path, "the video packets carry no timestamps",
                                     "remux it into mp4 or mkv (ffmpeg -i IN -c copy OUT.mkv)")
                decode_ts = packet.dts if packet.dts is not None else pts
                timestamps.append(pts)
                earliest = decode_ts if earliest is None else min(earliest, decode_ts)
                if packet.is_keyframe:
                    keys[pts] = decode_ts
        except av.FFmpegError as error:
            raise VideoError(self.path, f"the file is damaged after {len(timestamps)} video packets ({error})",
                             "re-download or re-encode it") from None
        if not timestamps:
            raise VideoError(self.path, "the video stream has no frames", "check that the file plays")
        pts = np.unique(np.asarray(timestamps, dtype=np.int64))
        keys.setdefault(int(pts[0]), earliest)  # frame 0 is always reachable: from the start of the stream
        key_pts = np.asarray(sorted(keys), dtype=np.int64)
        return pts, np.searchsorted(pts, key_pts), np.asarray([keys[k] for k in key_pts.tolist()], dtype=np.int64)


def _open(path: str) -> av.container.InputContainer:
    """Open ``path`` with PyAV, turning every way it can fail into a one-line :class:`VideoError`."""
    file = Path(path)
    if not file.exists():
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
        kinds = sorted({stream.type for stream in container.streams}) or ["none"]
        container.close()
        raise VideoError(path, f"no video stream (streams: {', '.join(kinds)})", "pass a file with video in it")
    return container
