"""The sampler registry: the torch-free name lists agree with it, and installed packages add samplers through the
``framesampler.samplers`` entry points, loaded lazily, a broken one reported on one line (issue 23)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import framesampler.learned  # noqa: F401  (registers the learned samplers)
from framesampler import constants
from framesampler.candidates import Candidates
from framesampler.cli import main
from framesampler.data.synthetic import write_synthetic_videos
from framesampler.learned import learned_sampler_names
from framesampler.policies import TRAINING_FREE, create_sampler, list_samplers, registry

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = '''
import numpy as np

from framesampler.policies import Sampler, register_sampler


class LastSampler(Sampler):
    """The last N candidates: scores that grow with time."""

    def scores(self, candidates, context=None):
        return np.arange(len(candidates), dtype=float)


def register():
    register_sampler("toy_last", LastSampler)
'''
ENTRY_POINTS = """[framesampler.samplers]
toy = toy_sampler_plugin:register
broken = toy_sampler_plugin:no_such_function
"""


def built_in(names: list[str]) -> set[str]:
    return {name for name in names if registry.sampler_factory(name).__module__.startswith("framesampler.")}


def test_the_torch_free_constants_agree_with_the_registry():
    assert set(constants.SAMPLERS) == built_in(list_samplers()), "update framesampler/constants.py SAMPLERS"
    assert constants.TRAINING_FREE == TRAINING_FREE, "update framesampler/constants.py TRAINING_FREE"
    assert set(constants.LEARNED_SAMPLERS) == built_in(learned_sampler_names()), "update constants.LEARNED_SAMPLERS"


@pytest.fixture
def plugin(tmp_path, monkeypatch) -> Path:
    """A package installed outside framesampler: a module and its dist-info with two entry points, one broken;
    the registry as if nothing had been loaded yet, restored afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "toy_sampler_plugin.py").write_text(PLUGIN)
    info = site / "toy_sampler_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-sampler-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_UNLISTED", set(registry._UNLISTED))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    return site


def test_plugins_load_only_when_a_name_is_missing_or_listed(plugin, capsys):
    create_sampler("uniform")
    assert not registry._plugins_loaded
    sampler = create_sampler("toy_last")
    assert registry._plugins_loaded
    picked = sampler.select(Candidates(np.arange(0, 20, 2), num_frames=20, fps=10.0), 3)
    assert picked.tolist() == [7, 8, 9]
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "sampler plugin broken = toy_sampler_plugin:no_such_function is skipped (AttributeError" in line
    assert "toy_last" in list_samplers() and "toy_last" not in constants.SAMPLERS


def test_a_plugin_sampler_runs_through_the_command_line(plugin, tmp_path, small_features, capsys):
    assert main(["samplers"]) == 0
    captured = capsys.readouterr()
    assert "toy_last" in captured.out.split() and "uniform" in captured.out.split()
    assert len(captured.err.strip().splitlines()) == 1  # the broken plugin, once
    out = tmp_path / "r.json"
    assert main(["evaluate", "--features", str(small_features), "--regime", "trimmed", "--T", "6", "--N", "2",
                 "--policies", "uniform,toy_last", "--repeats", "1", "--no-progress", "--cache-dir",
                 str(tmp_path / "cache"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["policies"]) == ["uniform", "toy_last"] and report["policies"]["toy_last"]["frames"] == 2
    write_synthetic_videos(tmp_path / "videos", classes=1, videos_per_class=1, num_frames=12, size=64)
    [video] = sorted((tmp_path / "videos").rglob("*.mp4"))
    assert main(["sample", str(video), "--sampler", "toy_last", "--T", "8", "--N", "2", "--cache-dir",
                 str(tmp_path / "cache"), "--json", str(tmp_path / "s.json")]) == 0
    chosen = json.loads((tmp_path / "s.json").read_text())["chosen"]
    assert [row["frame"] for row in chosen] == [9, 11]  # candidates floor((i + 0.5) * 12 / 8): 0 2 3 5 6 8 9 11


def test_an_installed_plugin_is_found_by_a_fresh_process(plugin):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(ROOT)])}
    done = subprocess.run([sys.executable, "-m", "framesampler", "samplers"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "toy_last" in done.stdout.split()
    assert done.stderr.count("\n") == 1 and "sampler plugin broken" in done.stderr
