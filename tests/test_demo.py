"""``framesampler demo`` end to end (reduced: a small feature file, one training epoch, one long video per class), its
page opened in headless Chromium: uniform's and the shipped SOSampler's chosen frames are both on it."""
from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from framesampler.app.demo import DEMO_CHECKPOINT
from framesampler.cli import main
from framesampler.learned.checkpoint import read_checkpoint


class Sides(HTMLParser):
    """The page's ``data-sampler`` blocks in order: (sampler, image sources, timeline ticks, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[tuple[str, list[str], list[int], list[str]]] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self.depth and "data-sampler" in attrs:
            self.blocks.append((attrs["data-sampler"], [], [0], []))
        if not self.depth and "data-sampler" not in attrs:
            return
        self.depth += tag not in ("img", "br")
        _, images, ticks, _ = self.blocks[-1]
        if tag == "img":
            images.append(attrs["src"])
        if tag == "span" and attrs.get("class") == "pick":
            ticks[0] += 1

    def handle_endtag(self, tag):
        if self.depth and tag not in ("img", "br"):
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.blocks[-1][3].append(data)


@pytest.fixture(scope="module")
def demo(small_features_module, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    page, results = out / "demo.html", out / "demo.json"
    assert main(["demo", "--features", str(small_features_module), "--length", "30", "--T", "8", "--N", "3",
                 "--repeats", "1", "--epochs", "1", "--videos-per-class", "1", "--cache-dir", str(out / "cache"),
                 "--no-progress", "--html", str(page), "--json", str(results)]) == 0
    return page, json.loads(results.read_text())


@pytest.fixture(scope="module")
def small_features_module(tmp_path_factory) -> Path:
    from tests.conftest import write_feature_file

    return write_feature_file(tmp_path_factory.mktemp("features") / "small.npz", [1, 2, 3, 4, 5, 6])


def test_the_shipped_checkpoint_is_a_trained_pixel_sampler():
    checkpoint = read_checkpoint(DEMO_CHECKPOINT)  # weights_only loading, every config key checked
    assert checkpoint.config.sampler == "sosampler" and checkpoint.config.extract is not None
    assert checkpoint.config.classifier["class_names"] == ["Archery", "BasketballDunk", "Surfing"]
    assert sum(f.stat().st_size for f in DEMO_CHECKPOINT.iterdir()) < 8e6


def test_the_demo_tells_the_story(demo, tmp_path):
    page, results = demo
    assert set(results) == {"trimmed", "untrimmed", "sosampler", "videos"}
    learned = results["sosampler"]["policies"]
    assert list(learned) == ["uniform", "semi_optimal_max", "sosampler"] and learned["sosampler"]["recipe"] == "short"
    assert results["sosampler"]["config"]["training"]["recipe"] == "short"
    videos = results["videos"]["comparisons"]
    assert sorted(v["label"] for v in videos) == ["Archery", "BasketballDunk", "Surfing"]
    made = read_checkpoint(DEMO_CHECKPOINT).config
    for video in videos:
        assert [s["sampler"] for s in video["samplers"]] == ["uniform", "sosampler"]
        assert all(s["T"] == made.T and s["N"] == made.N for s in video["samplers"])
        assert video["bursts"] and all(0 <= a <= b < video["samplers"][0]["num_frames"] for a, b in video["bursts"])
    summary = results["videos"]["policies"]
    for name in ("uniform", "sosampler"):
        right = [s["prediction"][0]["class"] == v["label"] for v in videos for s in v["samplers"] if s["sampler"] == name]
        assert summary[name]["top1"] == pytest.approx(np.mean(right)) and summary[name]["seconds_per_video"] > 0
    assert main(["report", str(page.with_suffix(".json")), "--html", str(tmp_path / "tables.html")]) == 0  # its tables


def test_chromium_shows_both_samplers_chosen_frames(demo, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    page, results = demo
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    from PIL import Image

    sides = Sides()
    sides.feed(dom)
    videos = results["videos"]["comparisons"]
    expected = [side for video in videos for side in video["samplers"]]
    assert [name for name, *_ in sides.blocks] == [side["sampler"] for side in expected]
    assert {name for name, *_ in sides.blocks} == {"uniform", "sosampler"}
    n = read_checkpoint(DEMO_CHECKPOINT).config.N
    bursts = [video["bursts"] for video in videos for _ in video["samplers"]]
    for (_, images, ticks, text), side, spans in zip(sides.blocks, expected, bursts):
        assert len(images) == ticks[0] == n  # every chosen frame, as a thumbnail and a tick on the timeline
        for source in images:
            assert source.startswith("data:image/jpeg;base64,")
            frame = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))
            assert frame.ndim == 3 and frame.std() > 1  # a decoded video frame, not a blank
        inside = sum(any(a <= row["frame"] <= b for a, b in spans) for row in side["chosen"])  # counted by hand
        assert f"{inside} of {n} chosen frames inside the action" in "".join(text)
        assert "prediction:" in "".join(text)


def test_the_demo_refuses_a_users_classifier_before_any_work(tmp_path, capsys):
    assert main(["demo", "--classifier", str(tmp_path / "model.pt"), "--html", str(tmp_path / "d.html")]) == 2
    assert "framesampler sample VIDEO --classifier" in capsys.readouterr().err
    assert not (tmp_path / "d.html").exists()
