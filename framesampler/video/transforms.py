"""Resizing and cropping of frames already in memory, with the same output size rule as the decoder.

Frames are uint8 arrays ``[n, H, W, 3]`` (numpy or torch); each function returns the same kind it got.
The decoder resizes with FFmpeg's swscale, these with torch's antialiased bilinear filter, so the sizes
agree exactly and the pixels closely (not bit for bit).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

Frames = np.ndarray | torch.Tensor


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
    tensor = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    resized = F.interpolate(tensor, size=(new_height, new_width), mode="bilinear", antialias=True, align_corners=False)
    resized = resized.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    return resized.numpy() if isinstance(frames, np.ndarray) else resized


def center_crop(frames: Frames, crop: int) -> Frames:
    """The central ``crop`` x ``crop`` square of frames ``[n, H, W, C]``."""
    _check_frames(frames)
    height, width = frames.shape[1:3]
    if not 1 <= crop <= min(height, width):
        raise ValueError(f"crop must be between 1 and the shorter side {min(height, width)}, got {crop}; "
                         "resize first or pick a smaller crop")
    top, left = (height - crop) // 2, (width - crop) // 2
    return frames[:, top:top + crop, left:left + crop]


def _check_frames(frames: Frames) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"expected uint8 frames [n, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
