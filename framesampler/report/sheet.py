"""Contact sheet: the T candidate frames of a video in a grid, the N a sampler chose marked."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from framesampler.storage import atomic_file

CHOSEN_COLOR = "#e6550d"
OTHER_COLOR = "#9e9e9e"
MAX_TILE_PX = 200
MAX_WIDTH_PX = 1600
GAP_PX = 12
DPI = 100


def contact_sheet(frames: np.ndarray, path: str | os.PathLike, *, chosen: Sequence[int],
                  labels: Sequence[str] | None = None, scores: Sequence[float] | None = None,
                  title: str | None = None, columns: int | None = None) -> Path:
    """Write a PNG grid of the candidates ``frames`` (uint8 [T, H, W, 3]) to ``path``.

    ``chosen`` are positions into the T frames; their tiles get a thick orange border and a star.
    Each tile is captioned with ``labels[t]`` (e.g. "#123 4.10s") and ``scores[t]`` when given.
    ``columns`` defaults to ceil(sqrt(T)); thumbnails are at most 200 px and the sheet at most about
    1700 px wide. The file is written under a temporary name and renamed: never seen half-written.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"expected uint8 RGB frames [T, H, W, 3] with T >= 1, got {frames.dtype} {frames.shape}")
    count = len(frames)
    chosen_set = {int(c) for c in chosen}
    if any(not 0 <= c < count for c in chosen_set):
        raise ValueError(f"chosen positions must be in 0..{count - 1} (positions into the {count} frames), got {sorted(chosen_set)}")
    for name, values in (("labels", labels), ("scores", scores)):
        if values is not None and len(values) != count:
            raise ValueError(f"{name} must have one entry per frame ({count}), got {len(values)}")
    columns = columns or math.ceil(math.sqrt(count))
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    columns = min(columns, count)
    rows = math.ceil(count / columns)

    height, width = frames.shape[1:3]
    tile = max(48, min(MAX_TILE_PX, MAX_WIDTH_PX // columns))
    image_w, image_h = tile * width / max(height, width), tile * height / max(height, width)
    font = 8 if tile >= 120 else 6
    lines = (labels is not None) + (scores is not None)
    caption_h = lines * font * DPI / 72 * 1.35
    title_h = 30 if title else 0
    cell_w, cell_h = image_w + GAP_PX, image_h + caption_h + GAP_PX
    fig_w, fig_h = columns * cell_w + GAP_PX, rows * cell_h + title_h + GAP_PX

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(fig_w / DPI, fig_h / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    if title:
        fig.text(0.5, 1 - (title_h / 2) / fig_h, title, ha="center", va="center", fontsize=11)
    stride = max(1, max(height, width) // (2 * tile))
    for t in range(count):
        row, col = divmod(t, columns)
        left = GAP_PX + col * cell_w
        top = title_h + GAP_PX + row * cell_h
        ax = fig.add_axes((left / fig_w, 1 - (top + image_h) / fig_h, image_w / fig_w, image_h / fig_h))
        ax.imshow(frames[t, ::stride, ::stride], aspect="auto")
        ax.set_xticks([])
        ax.set_yticks([])
        is_chosen = t in chosen_set
        for spine in ax.spines.values():
            spine.set_color(CHOSEN_COLOR if is_chosen else OTHER_COLOR)
            spine.set_linewidth(4.0 if is_chosen else 0.8)
        if is_chosen:
            ax.text(0.03, 0.97, "\u2605", transform=ax.transAxes, ha="left", va="top", color="white", fontsize=font + 2,
                    bbox={"boxstyle": "round,pad=0.2", "facecolor": CHOSEN_COLOR, "edgecolor": "none"})
        caption = [labels[t]] if labels is not None else []
        caption += [f"score {scores[t]:.3g}"] if scores is not None else []
        if caption:
            fig.text((left + image_w / 2) / fig_w, 1 - (top + image_h + 3) / fig_h, "\n".join(caption), ha="center", va="top",
                     fontsize=font, color=CHOSEN_COLOR if is_chosen else "black", fontweight="bold" if is_chosen else "normal")

    with atomic_file(path) as partial:
        fig.savefig(partial, format="png", facecolor="white")
    return Path(path)
