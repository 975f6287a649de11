"""Views of the candidates read from the bitstream, without decoding the frames the sampler looks at.

- **Keyframes** (``candidate_indices(mode="keyframes", keyframes=reader.keyframes)``): frames that decode
  alone; the reader decodes just their packets with ``skip_frame="NONKEY"``.
- **Motion vectors** (``motion_vectors``): the encoder's block motion, exported by FFmpeg's decoder
  (``flags2=+export_mvs``, frame side data ``MOTION_VECTORS``), the compressed-domain motion that
  SCSampler (Korbar et al., ICCV 2019, Sec. 3.2) and CoViAR read instead of pixels. Each candidate's motion
  is read from its *motion frame*: the first predicted frame at or after it (or the last one before it) in
  the stream's order of display, where a predicted frame is an inter-coded anchor (P), decoded in display
  order, whose vectors depend on its own packet only. Only the packets of the motion frames are decoded,
  each alone, none between them, so the pixels decoded are wrong and never used; the
  vectors are those of a full decode (tests compare them). B-frames are never motion frames: their direct
  mode borrows vectors from frames that were not decoded. A motion frame that comes out of its lone packet
  without vectors (about 1 in 20 on the pixel benchmark's x264 streams) is decoded again right after the anchor
  before it, the pair alone; one that still does not decode as a P-frame (low-delay B-frames, MPEG-4 packed
  B-frames in AVI) is decoded with its GOP. The pair read takes the motion read of the pixel benchmark from
  0.080 to 0.059 s a video (12 test videos, 2 CPU cores), the vectors unchanged.

Per candidate: ``motion`` is the mean displacement in pixels over the frame, ``sum |mv| * block area /
frame area`` (``|mv| = hypot(motion_x, motion_y) / motion_scale``; intra-coded blocks count 0), and
``maps`` the same on a ``grid`` x ``grid`` partition of the frame (blocks by their centre). A stream
without motion vectors (intra-only such as MJPEG, or a decoder that exports none, such as cinepak) gives
``motion=None`` and ``source`` says why; the pipeline then falls back to image differences and says so.

**Compressed-domain input** (``compressed_vectors``), what SCSampler's visual sampler reads (Sec. 3.3.1: the
motion displacements, MD, and RGB residuals, RGB-R, of the P-frames): per candidate, a vector of
``COMPRESSED_DIM`` = ``grid * grid + 1`` values read from its motion frame without decoding any pixel it
looks at: the ``grid`` x ``grid`` map of mean displacement in pixels (MD, from ``motion_vectors``), then
the frame's coded size in bytes divided by the mean coded size of the video's predicted frames. FFmpeg
exports no residuals, so that size stands in for RGB-R: the bits a P-frame spends beyond its header and
vectors code the residual left after motion compensation, so a frame the prediction explains poorly is a
large one; the per-video mean removes the encoder's rate (CRF, resolution) from it. A stream without
motion vectors gives zero maps (``MotionView.source`` says why) and the sizes still.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from av.video.frame import PictureType

from framesampler.video.decode import VideoReader

GRID = 8
COMPRESSED_DIM = GRID * GRID + 1  # MD map cells, then the residual proxy (``compressed_vectors``)
MV_FLAGS = "+export_mvs"
# the decoder work that reconstructs pixels, which the motion read never looks at: skipping it leaves the exported
# vectors unchanged (tests compare them) and reads them 28-36% faster on the shared videos (2 CPU cores)
NO_RECONSTRUCTION = {"skip_loop_filter": "all", "skip_idct": "all"}


@dataclass(frozen=True)
class MotionView:
    """Motion of T candidates from the bitstream. ``frames``: the frame each candidate's motion was read from;
    ``motion`` [T] and ``maps`` [T, grid, grid] (None when the stream has no motion vectors); ``source``:
    where they came from, or why there are none."""

    frames: np.ndarray
    motion: np.ndarray | None
    maps: np.ndarray | None
    source: str

    @property
    def available(self) -> bool:
        return self.motion is not None


def motion_frames(indices: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The predicted frame each candidate's motion is read from: the first at or after it, else the last."""
    after = np.searchsorted(predicted, indices)
    return predicted[np.minimum(after, len(predicted) - 1)]


def block_motion(vectors: np.ndarray, width: int, height: int, grid: int = GRID) -> tuple[float, np.ndarray]:
    """Mean displacement in pixels over the frame and its ``grid`` x ``grid`` map, from FFmpeg's motion
    vectors (a structured array with ``w, h, dst_x, dst_y, motion_x, motion_y, motion_scale``)."""
    scale = np.maximum(vectors["motion_scale"].astype(np.float64), 1.0)
    length = np.hypot(vectors["motion_x"] / scale, vectors["motion_y"] / scale)
    weighted = length * vectors["w"].astype(np.float64) * vectors["h"]
    column = np.clip(vectors["dst_x"].astype(np.int64) * grid // width, 0, grid - 1)
    row = np.clip(vectors["dst_y"].astype(np.int64) * grid // height, 0, grid - 1)
    cells = np.bincount(row * grid + column, weights=weighted, minlength=grid * grid).reshape(grid, grid)
    return float(weighted.sum() / (width * height)), cells / (width * height / grid ** 2)


def motion_vectors(reader: VideoReader, indices: Sequence[int] | np.ndarray, *, grid: int = GRID) -> MotionView:
    """Motion at each of the candidate frames ``indices`` from the motion vectors in the bitstream.

    Each motion frame's packet is decoded alone (FFmpeg ``flags2=+showall``, no error concealment, which
    would overwrite the vectors; no deblocking or inverse transform, ``NO_RECONSTRUCTION``); one that does not
    come out as a P-frame with vectors that way is decoded after the anchor before it (``packets="with_reference"``),
    and what still fails (a low-delay B-frame, MPEG-4 packed B-frames in AVI) with its GOP (exact, at the cost of
    pixels)."""
    indices = np.asarray(indices, dtype=np.int64)
    meta, index, codec = reader.metadata, reader.index, reader.codec
    if index.predicted.size == 0:
        return MotionView(np.full(len(indices), -1), None, None,
                          f"none: the {codec} stream has no predicted frames (intra-only), so no motion vectors")
    frames = motion_frames(indices, index.predicted)
    wanted = np.unique(frames)
    found: dict[int, tuple[float, np.ndarray]] = {}
    exported = False

    def read(frames_read: np.ndarray, exact: bool, **how: str) -> None:
        nonlocal exported
        for position, frame in reader.decode_packets(frames_read, **({"flags2": MV_FLAGS} | how)):
            data = frame.side_data.get("MOTION_VECTORS")
            exported |= data is not None
            vectors = data is not None and len(data) > 0
            if position in wanted and position not in found and (exact or (vectors and frame.pict_type == PictureType.P)):
                found[position] = block_motion(data.to_ndarray(), meta.width, meta.height, grid) if data is not None and vectors \
                    else (0.0, np.zeros((grid, grid)))  # every block intra-coded (or no vectors exported)

    for packets in ("alone", "with_reference"):
        missing = np.setdiff1d(wanted, list(found))
        if missing.size:
            read(missing, False, packets=packets, flags2=MV_FLAGS + "+showall", ec="0", **NO_RECONSTRUCTION)
    missing = np.setdiff1d(wanted, list(found))
    if missing.size:
        read(missing, True, packets="all", **NO_RECONSTRUCTION)
    if not exported:
        return MotionView(frames, None, None, f"none: FFmpeg's {codec} decoder exports no motion vectors")
    motion, maps = zip(*(found[int(f)] for f in frames))
    source = f"motion vectors ({codec}; {missing.size} of {wanted.size} motion frames decoded with their GOP)"
    return MotionView(frames, np.asarray(motion), np.stack(maps), source)


def compressed_vectors(reader: VideoReader, indices: Sequence[int] | np.ndarray, view: MotionView | None) -> np.ndarray:
    """The compressed-domain input of the candidates ``indices`` (module docstring) -> float32
    [T, grid * grid + 1]: each motion frame's MD map (``view = motion_vectors(reader, indices)``), then its
    coded size over the mean coded size of the video's predicted frames (all frames for an intra-only stream,
    whose candidates are their own motion frames). ``view=None``: the coded sizes alone, from the packet index (no
    packet decoded), the maps left zero."""
    indices = np.asarray(indices, dtype=np.int64)
    index = reader.index
    if view is None:
        frames = motion_frames(indices, index.predicted) if index.predicted.size else indices
    else:
        frames = np.where(view.frames >= 0, view.frames, indices)
    reference = index.sizes[index.predicted] if index.predicted.size else index.sizes
    residual = index.sizes[frames] / max(float(reference.mean()), 1.0)
    maps = view.maps.reshape(len(indices), -1) if view is not None and view.maps is not None \
        else np.zeros((len(indices), GRID * GRID))
    return np.concatenate([maps, residual[:, None]], axis=1).astype(np.float32)
