"""Contact sheet: size, the chosen tiles' border colour, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colors
from matplotlib import image as mpimg

from framesampler.report import contact_sheet
from framesampler.report.sheet import CHOSEN_COLOR


def grey(count: int, height: int = 90, width: int = 160) -> np.ndarray:
    return np.full((count, height, width, 3), 128, np.uint8)


def is_chosen_colour(pixels: np.ndarray) -> np.ndarray:
    return np.abs(pixels[..., :3] - np.array(colors.to_rgb(CHOSEN_COLOR))).max(axis=-1) < 0.02


def test_chosen_tile_has_the_chosen_border(tmp_path):
    path = contact_sheet(grey(2), tmp_path / "sheet.png", chosen=[0], labels=["#0 0.00s", "#5 0.50s"], scores=[0.9, 0.1],
                         title="two", columns=2)
    png = mpimg.imread(path)
    height, width = png.shape[:2]
    # a horizontal line through the tiles: the chosen colour appears in the left tile's border only
    hits = is_chosen_colour(png[height // 2])
    assert hits[: width // 2].any() and not hits[width // 2:].any()
    assert not list(tmp_path.glob(".*partial"))


def test_sizes(tmp_path):
    one = mpimg.imread(contact_sheet(grey(1), tmp_path / "one.png", chosen=[]))
    assert 100 < one.shape[1] <= 260
    many = mpimg.imread(contact_sheet(grey(64, 45, 80), tmp_path / "many.png", chosen=[3, 40],
                                      labels=[f"#{i}" for i in range(64)]))
    assert 1000 < many.shape[1] <= 1800 and many.shape[0] <= 1800  # 8 x 8 tiles of at most 200 px
    assert is_chosen_colour(many).any()


@pytest.mark.parametrize("frames, kwargs, match", [
    (grey(2), {"chosen": [2]}, "chosen positions"),
    (grey(2), {"chosen": [-1]}, "chosen positions"),
    (grey(2), {"chosen": [0], "labels": ["a"]}, "labels"),
    (grey(2), {"chosen": [0], "scores": [1.0, 2.0, 3.0]}, "scores"),
    (grey(2).astype(np.float32), {"chosen": [0]}, "uint8"),
    (grey(0), {"chosen": []}, "T >= 1"),
])
def test_bad_input(tmp_path, frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        contact_sheet(frames, tmp_path / "bad.png", **kwargs)
    assert not (tmp_path / "bad.png").exists()
