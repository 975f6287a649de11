"""Small labeled videos in which the class shows only in one burst of frames.

Every frame is a textured brown-grey background, slowly panning, with moving distractors that belong to
no class (grey and brown blobs, a band of grey stripes). During one contiguous burst covering
``action_fraction`` of the video, at a random place, a large saturated object of the class's shape and
colour (a red disc, a green square, ...) drifts across the frame as well. A uniform sample of few frames
often misses the burst; a sampler that scores each frame finds it.

Written as H.264 (yuv420p) mp4 with PyAV, with ``manifest.txt`` (every video), ``train.txt`` and
``test.txt`` ("path label" lines, paths relative to ``out_dir``, labels the shape names: disc, square, ...). Video ``i``
of class ``k`` uses ``numpy.random.default_rng([seed, k, i])``; every third video (``i % 3 == 2``) is
in the test split.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from framesampler.deprecation import renamed_keyword

# (name, RGB) of each class, in class order; the shapes are drawn by _shape_mask
CLASSES = (("disc", (220, 30, 30)), ("square", (30, 190, 40)), ("triangle", (40, 70, 230)),
           ("cross", (240, 210, 20)), ("ring", (210, 40, 210)), ("diamond", (20, 200, 210)),
           ("frame", (250, 130, 10)), ("saltire", (250, 110, 180)))
DISTRACTOR_COLOURS = ((120, 120, 120), (150, 110, 70), (95, 75, 55), (170, 160, 150))


@renamed_keyword("num_frames", "frame_count")
def write_synthetic_videos(out_dir: str | os.PathLike, *, classes: int = 3, videos_per_class: int = 8,
                           frame_count: int = 48, fps: int = 8, size: int = 160, action_fraction: float = 0.2,
                           seed: int = 0) -> Path:
    """Write ``classes * videos_per_class`` videos of ``frame_count`` frames (``size`` x ``size``) under
    ``out_dir`` and return the path of ``manifest.txt`` listing them all (see the module docstring)."""
    if not 1 <= classes <= len(CLASSES):
        raise ValueError(f"classes must be between 1 and {len(CLASSES)} (one per shape), got {classes}")
    if videos_per_class < 1 or frame_count < 1 or fps < 1:
        raise ValueError("videos_per_class, frame_count and fps must all be >= 1")
    if size < 32 or size % 2:
        raise ValueError(f"size must be even (yuv420p) and >= 32, got {size}")
    if not 0 < action_fraction <= 1:
        raise ValueError(f"action_fraction must be in (0, 1], got {action_fraction}")
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"manifest": [], "train": [], "test": []}
    for label in range(classes):
        for i in range(videos_per_class):
            name = f"videos/{CLASSES[label][0]}_{i:03d}.mp4"
            rng = np.random.default_rng([seed, label, i])
            _write_mp4(out_dir / name, _video(rng, label, frame_count, size, action_fraction), fps)
            lines["manifest"].append(f"{name} {CLASSES[label][0]}")
            lines["test" if i % 3 == 2 else "train"].append(f"{name} {CLASSES[label][0]}")
    for split, entries in lines.items():
        (out_dir / f"{split}.txt").write_text("".join(line + "\n" for line in entries))
    return out_dir / "manifest.txt"


def _video(rng: np.random.Generator, label: int, frame_count: int, size: int, action_fraction: float) -> np.ndarray:
    """uint8 [frame_count, size, size, 3]: distractor frames with the class object in one burst."""
    pan = size // 4
    texture = _texture(rng, size + pan)
    burst = max(1, round(action_fraction * frame_count))
    start = int(rng.integers(0, frame_count - burst + 1))
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    blobs = [(rng.uniform(0, size, 2), rng.uniform(-2, 2, 2), rng.uniform(0.08, 0.18) * size,
              DISTRACTOR_COLOURS[int(rng.integers(len(DISTRACTOR_COLOURS)))]) for _ in range(3)]
    period, speed, angle = rng.uniform(8, 16), rng.uniform(0.5, 2), rng.uniform(0, np.pi)
    band = np.abs(x * np.cos(angle) + y * np.sin(angle) - size / 2) < size / 6
    along = (x * np.sin(angle) - y * np.cos(angle)) / period
    radius = 0.3 * size
    centre, velocity = rng.uniform(radius, size - radius, 2), rng.uniform(-1.5, 1.5, 2)
    frames = np.empty((frame_count, size, size, 3), np.uint8)
    for t in range(frame_count):
        offset = int(round(pan / 2 + pan / 2 * np.sin(2 * np.pi * t / max(frame_count, 2))))
        frame = texture[offset:offset + size, offset:offset + size].copy()
        frame[band & ((along + speed * t / period) % 1 < 0.5)] = (90, 90, 90)
        for blob_centre, blob_velocity, blob_radius, colour in blobs:
            cy, cx = (blob_centre + blob_velocity * t) % size
            frame[((x - cx) / 1.5) ** 2 + (y - cy) ** 2 < blob_radius ** 2] = colour
        if start <= t < start + burst:
            cy, cx = np.clip(centre + velocity * (t - start), radius, size - radius)
            frame[_shape_mask(CLASSES[label][0], x - cx, y - cy, radius)] = CLASSES[label][1]
        frames[t] = frame
    return frames


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A brown-grey texture [size, size, 3]: coarse random noise smoothly upsampled, plus fine grain."""
    coarse = torch.from_numpy(rng.uniform(0, 1, (1, 1, 9, 9)))
    smooth = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True)[0, 0].numpy()
    shade = 0.6 * smooth + 0.4 * rng.uniform(0, 1, (size, size))
    base = np.array([110.0, 95.0, 80.0])
    return (base + 70 * (shade[..., None] - 0.5)).clip(0, 255).astype(np.uint8)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Pixels of ``shape`` of radius ``r`` centred where ``dx = dy = 0``."""
    ax, ay, dist = np.abs(dx), np.abs(dy), np.hypot(dx, dy)
    if shape == "disc":
        return dist < r
    if shape == "square":
        return (ax < 0.8 * r) & (ay < 0.8 * r)
    if shape == "triangle":
        return (dy < 0.7 * r) & (ax < 0.6 * (dy + r))
    if shape == "cross":
        return ((ax < r / 3) & (ay < r)) | ((ay < r / 3) & (ax < r))
    if shape == "ring":
        return (dist < r) & (dist > 0.6 * r)
    if shape == "diamond":
        return ax + ay < r
    if shape == "frame":
        return (np.maximum(ax, ay) < 0.85 * r) & (np.maximum(ax, ay) > 0.55 * r)
    return ((np.abs(dx - dy) < 0.45 * r) | (np.abs(dx + dy) < 0.45 * r)) & (np.maximum(ax, ay) < 0.8 * r)


def _write_mp4(path: Path, frames: np.ndarray, fps: int) -> None:
    """Encode uint8 RGB frames as H.264 yuv420p mp4, a keyframe every two seconds. x264's macroblock-tree
    rate control is off: with it the bytes differ from run to run."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps,
                                      options={"crf": "18", "preset": "veryfast", "x264-params": "mbtree=0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.gop_size = 2 * fps
        for t, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
