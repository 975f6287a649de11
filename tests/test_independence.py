"""Frame independence (Lee et al. Eq. 1): the kernel, the median bandwidth, the rate trend, the summary."""
from __future__ import annotations

import math

import av
import numpy as np
import pytest
import torch

from framesampler.eval.independence import (
    RelevanceResult,
    candidates_by_rate,
    gaussian_kde,
    gaussian_relevance,
    median_bandwidth,
    plot_relevance_density,
    relevance_by_rate,
    relevance_from_sequences,
)

RATES = (0.5, 1, 2, 5, 10)


class MeanColour:
    """A stand-in backbone: each frame's mean RGB."""

    def features(self, frames: np.ndarray, *, batch_size: int = 32) -> torch.Tensor:
        return torch.from_numpy(frames.reshape(len(frames), -1, 3).mean(axis=1))


def test_eq1_hand_cases():
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[1.0, 2.0], [math.sqrt(2) * 0.5, 0.0], [0.3, 0.4]])
    out = gaussian_relevance(a, b, bandwidth=0.5)
    assert out.tolist() == pytest.approx([1.0, math.exp(-1), math.exp(-0.25 / 0.5)])
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_relevance(a, b, bandwidth=0.0)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_relevance(a, b[:2], bandwidth=1.0)


def test_median_bandwidth_hand_case():
    # points 0, 1 (video 1) and 3 (video 2): distances 1, 3, 2 -> median 2
    assert median_bandwidth([torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0]])]) == pytest.approx(2.0)
    # subsampling keeps it deterministic
    many = [torch.randn(3000, 4, generator=torch.Generator().manual_seed(0))]
    assert median_bandwidth(many, max_points=500) == median_bandwidth(many, max_points=500)
    with pytest.raises(ValueError, match="identical"):
        median_bandwidth([torch.zeros(5, 3)])


def test_relevance_rises_with_rate_on_a_slow_drift():
    # 60 s at 30 fps; the embedding drifts slowly (a random walk) with a little per-frame noise
    generator = torch.Generator().manual_seed(0)
    drift = torch.cumsum(torch.randn(1800, 16, generator=generator) * 0.1, dim=0)
    dense = torch.nn.functional.normalize(drift + torch.randn(1800, 16, generator=generator) * 0.01, dim=1)
    by_rate = candidates_by_rate(1800, 30.0, RATES, max_candidates=300)
    relevances = relevance_from_sequences({r: [dense[i]] for r, i in by_rate.items()}, median_bandwidth([dense]))
    means = [relevances[r].mean() for r in RATES]
    assert means == sorted(means) and means[0] < means[-1] - 0.05
    assert [len(relevances[r]) for r in RATES] == [29, 59, 119, 299, 299]


def test_rates_above_the_video_fps_are_skipped():
    assert sorted(candidates_by_rate(100, 8.0, RATES, max_candidates=300)) == [0.5, 1, 2, 5]
    assert list(candidates_by_rate(100, 9.9999, (10,), max_candidates=300)) == [10]  # rounding in the measured fps


def test_summary_format_and_density_plot(tmp_path):
    result = RelevanceResult({0.5: np.array([0.2, 0.4]), 1: np.array([0.5]), 10.0: np.zeros(0)}, 0.7, ["a.mp4"],
                             [{"path": "b.mp4", "reason": "b.mp4: no such file; check the path"}])
    summary = result.summary()
    assert summary == {"rates": {"0.5": {"mean": pytest.approx(0.3), "median": pytest.approx(0.3), "pairs": 2},
                                 "1": {"mean": 0.5, "median": 0.5, "pairs": 1},
                                 "10": {"mean": None, "median": None, "pairs": 0}},
                       "bandwidth": 0.7, "videos": ["a.mp4"], "failed": [{"path": "b.mp4", "reason": "b.mp4: no such file; check the path"}]}
    png = plot_relevance_density(result, tmp_path / "fig1.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    grid = np.linspace(-3, 4, 2001)
    assert gaussian_kde(np.array([0.2, 0.5, 0.9]), grid).sum() * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)


def write_video(path, frames: int = 50, fps: int = 10) -> None:
    """A small mp4 whose colour fades slowly from red to blue."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for t in range(frames):
            s = t / (frames - 1)
            image = np.zeros((48, 64, 3), np.uint8)
            image[..., 0], image[..., 2] = round(255 * (1 - s)), round(255 * s)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def test_failed_videos_are_reported_not_raised(tmp_path):
    good = tmp_path / "fade.mp4"
    write_video(good)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    missing = tmp_path / "missing.mp4"
    result = relevance_by_rate([missing, good, text], RATES, backbone=MeanColour(), resolution=32)
    summary = result.summary()
    assert summary["videos"] == [str(good)]
    assert [f["path"] for f in summary["failed"]] == [str(missing), str(text)]
    assert all(f["reason"] and "\n" not in f["reason"] for f in summary["failed"])
    # 5 s at 10 fps: 50 frames, so 3, 5, 10, 25 and 50 (every frame) candidates
    assert [summary["rates"][k]["pairs"] for k in ("0.5", "1", "2", "5", "10")] == [2, 4, 9, 24, 49]
    assert summary["rates"]["0.5"]["mean"] < summary["rates"]["10"]["mean"]


def test_all_videos_failing_gives_an_empty_result(tmp_path):
    summary = relevance_by_rate([tmp_path / "missing.mp4"], (1, 2), backbone=MeanColour()).summary()
    assert summary["bandwidth"] is None and summary["videos"] == [] and len(summary["failed"]) == 1
    assert summary["rates"] == {"1": {"mean": None, "median": None, "pairs": 0}, "2": {"mean": None, "median": None, "pairs": 0}}
