"""Resizing and cropping of frames already in memory, with the same output size rule as the decoder.

Frames are uint8 arrays ``[n, H, W, 3]`` (numpy or torch); each function returns the same kind it got.
The decoder resizes with FFmpeg's swscale, these with torch's antialiased bilinear filter, so the sizes
agree exactly and the pixels closely (not bit for bit).
"""
from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

Frames = TypeVar("Frames", np.ndarray, torch.Tensor)  # the kind of array given is the kind returned


def output_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after resizing so the shorter side is ``size``, keeping the aspect ratio."""
    if size < 1:
        raise ValueError(f"size must be >= 1 (the shorter side in pixels), got {size}")
    if width <= height:
        return size, max(1, round(height * size / width))
    return max(1, round(width * size / height)), size


def resize_short_side(frames: Frames, size: int) -> Frames:
    """Resize uint8 frames ``[n, H, W, 3]`` so the shorter side is ``size`` (antialiased bilinear)."""
    _check_frames(frames)
    height, width = frames.shape[1:3]
    new_width, new_height = output_size(width, height, size)
    if (new_width, new_height) == (width, height):
        return frames
    resized = _resize(torch.as_tensor(frames), new_width, new_height).contiguous()
    return resized.numpy() if isinstance(frames, np.ndarray) else resized


def fit_size(width: int, height: int, box_width: int, box_height: int) -> tuple[int, int]:
    """(width, height) of the largest resize that keeps the aspect ratio and fits in the box."""
    if min(width, height, box_width, box_height) < 1:
        raise ValueError(f"sizes must be >= 1, got {width}x{height} into {box_width}x{box_height}")
    scale = min(box_width / width, box_height / height)
    return min(box_width, max(1, round(width * scale))), min(box_height, max(1, round(height * scale)))


def letterbox(frames: Frames, width: int, height: int) -> Frames:
    """Frames ``[n, H, W, 3]`` resized to fit in ``width`` x ``height`` keeping the aspect ratio
    (antialiased bilinear) and centred on black bars: every output is exactly ``[n, height, width, 3]``."""
    _check_frames(frames)
    new_width, new_height = fit_size(frames.shape[2], frames.shape[1], width, height)
    tensor = torch.as_tensor(frames)
    if (new_width, new_height) != (frames.shape[2], frames.shape[1]):
        tensor = _resize(tensor, new_width, new_height)
    if (new_width, new_height) != (width, height):
        top, left = (height - new_height) // 2, (width - new_width) // 2
        padded = torch.zeros((len(tensor), height, width, 3), dtype=torch.uint8)
        padded[:, top:top + new_height, left:left + new_width] = tensor
        tensor = padded
    tensor = tensor.contiguous()
    return tensor.numpy() if isinstance(frames, np.ndarray) else tensor


def center_crop(frames: Frames, crop: int) -> Frames:
    """The central ``crop`` x ``crop`` square of frames ``[n, H, W, C]``."""
    _check_frames(frames)
    height, width = frames.shape[1:3]
    if not 1 <= crop <= min(height, width):
        raise ValueError(f"crop must be between 1 and the shorter side {min(height, width)}, got {crop}; "
                         "resize first or pick a smaller crop")
    top, left = (height - crop) // 2, (width - crop) // 2
    return frames[:, top:top + crop, left:left + crop]


CROP_AREA = (0.08, 1.0)  # RandomResizedCrop's defaults (mmaction2, torchvision): fraction of the frame's area
CROP_RATIO = (3 / 4, 4 / 3)  # and width / height
CROP_TRIES = 10


def random_crop_box(width: int, height: int, rng: np.random.Generator, *, area: tuple[float, float] = CROP_AREA,
                    ratio: tuple[float, float] = CROP_RATIO) -> tuple[int, int, int, int]:
    """(left, top, crop width, crop height) of a random-resized crop of a ``width`` x ``height`` frame, as mmaction2's
    ``RandomResizedCrop`` draws it (the augmentation of Lee et al. 2024 App. A.3): an area fraction uniform in
    ``area`` and a log-uniform aspect ratio in ``ratio``, up to 10 tries for a box that fits, else the central square."""
    for _ in range(CROP_TRIES):
        target = rng.uniform(*area) * width * height
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        crop_width, crop_height = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 1 <= crop_width <= width and 1 <= crop_height <= height:
            return int(rng.integers(0, width - crop_width + 1)), int(rng.integers(0, height - crop_height + 1)), \
                crop_width, crop_height
    side = min(width, height)
    return (width - side) // 2, (height - side) // 2, side, side


def crop_resize(frames: Frames, box: tuple[int, int, int, int], size: int, *, flip: bool = False) -> Frames:
    """The ``box`` (left, top, width, height) of frames ``[n, H, W, 3]`` resized to ``size`` x ``size`` (aspect ratio
    not kept, as after ``RandomResizedCrop``), mirrored left-right if ``flip``."""
    _check_frames(frames)
    left, top, width, height = box
    if not (0 <= left and 0 <= top and width >= 1 and height >= 1 and left + width <= frames.shape[2]
            and top + height <= frames.shape[1]):
        raise ValueError(f"crop box {box} does not fit frames of {frames.shape[2]}x{frames.shape[1]}")
    tensor = _resize(torch.as_tensor(frames)[:, top:top + height, left:left + width], size, size)
    if flip:
        tensor = tensor.flip(2)
    tensor = tensor.contiguous()
    return tensor.numpy() if isinstance(frames, np.ndarray) else tensor


def _resize(frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """uint8 ``[n, H, W, 3]`` -> ``[n, height, width, 3]``, antialiased bilinear."""
    resized = F.interpolate(frames.permute(0, 3, 1, 2).float(), size=(height, width), mode="bilinear",
                            antialias=True, align_corners=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def _check_frames(frames: np.ndarray | torch.Tensor) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"expected uint8 frames [n, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
