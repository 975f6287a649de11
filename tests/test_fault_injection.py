"""Issue 10: kill -9 ``extract``, ``train`` and ``experiments`` at random points; the rerun finishes with the
results of an uninterrupted run, and no file outside the output and cache folders changed.

Each command runs as a subprocess on tiny data; it is killed (SIGKILL) after a random share of the time a
whole run takes, then run again to the end. Under CI=true one kill per command, else three.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from framesampler.data.synthetic import write_synthetic_videos
from tests.conftest import CI, write_feature_file

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0,) if CI else (0, 1, 2)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inputs")
    write_feature_file(root / "small.npz", [1, 2, 3, 4, 5, 6])
    write_synthetic_videos(root / "videos", classes=2, videos_per_class=3, frame_count=12, size=64)
    return root


def command(name: str, inputs: Path, run: Path) -> list[str]:
    out, cache = run / "out", ["--cache-dir", str(run / "cache"), "--no-progress"]
    features = ["--features", str(inputs / "small.npz"), "--length", "24"]
    return {
        "extract": ["extract", str(inputs / "videos" / "manifest.txt"), "--out", str(out / "data.npz"), "--T", "4",
                    "--classifier-size", "64", "--sampler-size", "32", *cache],
        "train": ["train", *features, "--sampler", "sosampler", "--T", "4", "--N", "2", "--epochs", "8",
                  "--batch-size", "4", "--out", str(out / "ck"), *cache],
        "experiments": ["experiments", *features, "--which", "small", "--seeds", "1", "--epochs", "3",
                        "--out", str(out / "exp"), *cache],
    }[name]


def results(name: str, run: Path) -> object:
    """What the command produced, without what may differ between two runs (seconds, the cache's path)."""
    out = run / "out"
    if name == "extract":
        with np.load(out / "data.npz") as data:
            return {key: data[key].tolist() for key in data.files}
    if name == "train":
        config = json.loads((out / "ck" / "config.json").read_text())
        config["training"].pop("seconds")
        config["data"].pop("cache_dir")
        log = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
               for line in (out / "ck" / "train_log.jsonl").read_text().splitlines()]
        weights = {k: v.tolist() for k, v in torch.load(out / "ck" / "weights.pt", weights_only=True).items()}
        return config, log, weights
    report = json.loads((out / "exp" / "experiments.json").read_text())
    report["config"].pop("cache_dir")
    return report


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` -> sha1 of its content."""
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


def start(name: str, inputs: Path, run: Path, outside: Path) -> subprocess.Popen:
    """The command in a subprocess whose working directory and home are ``outside`` (nothing may be written there)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(outside / "home"), "FRAMESAMPLER_CACHE": str(run / "cache"),
           "MPLCONFIGDIR": str(run / "cache" / "matplotlib")}
    return subprocess.Popen([sys.executable, "-m", "framesampler.cli", *command(name, inputs, run)], cwd=outside / "cwd",
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["extract", "train", "experiments"])
def test_a_run_killed_at_a_random_point_resumes_to_the_same_results(inputs, tmp_path, name):
    outside = tmp_path / "outside"
    for folder in ("home", "cwd"):
        (outside / folder).mkdir(parents=True)
    before = snapshot(inputs, outside)
    began = time.perf_counter()
    finish(start(name, inputs, tmp_path / "whole", outside))
    whole, expected = time.perf_counter() - began, results(name, tmp_path / "whole")
    for seed in SEEDS:
        run = tmp_path / f"killed{seed}"
        process = start(name, inputs, run, outside)
        time.sleep(np.random.default_rng(seed).uniform(0.3, 0.95) * whole)
        process.kill()
        process.communicate()
        finish(start(name, inputs, run, outside))
        assert results(name, run) == expected, f"{name} killed (seed {seed}) and run again gives other results"
    assert snapshot(inputs, outside) == before, "a file outside the output and cache folders changed"
