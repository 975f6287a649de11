"""The experiments command end to end on a small file: tables, markdown, reuse of checkpoints."""
import json

import pytest

from framesampler.app.experiments import pixels_dataset
from framesampler.cli import main


def test_experiments_write_tables_and_reuse_checkpoints(tmp_path, small_features, capsys):
    args = ["experiments", "--features", str(small_features), "--which", "small,cost", "--seeds", "1",
            "--epochs", "1", "--length", "32", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--no-progress"]
    assert main(args) == 0
    results = json.loads((tmp_path / "out" / "experiments.json").read_text())
    small = results["small"]["6/10"]
    assert {"uniform", "oracle", "sosampler", "ocsampler"} <= set(small)
    assert small["oracle"]["fidelity"] == 1.0 and small["sosampler"]["frames"] == 6.0
    cost = results["cost"]["per_video"]["8/30"]
    assert cost["sampler_over_classifier"] < 1e-3 and cost["dense_gmacs"] > cost["classifier_gmacs"]
    assert "### small: N/T = 6/10" in (tmp_path / "out" / "experiments.md").read_text()
    checkpoints = sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir())
    assert checkpoints == ["ocsampler-T10-N6-s0-paper", "sosampler-T10-s0-paper", "sosampler-T30-s0-paper"]
    assert small["sosampler"]["recipe"] == "paper" and "recipe" not in small["uniform"]  # each learned row says its recipe
    assert "training: paper recipe (epochs 1)" in (tmp_path / "out" / "experiments.md").read_text()
    stamps = {p: (tmp_path / "out" / "checkpoints" / p / "weights.pt").stat().st_mtime_ns for p in checkpoints}
    assert main(args) == 0
    assert stamps == {p: (tmp_path / "out" / "checkpoints" / p / "weights.pt").stat().st_mtime_ns for p in checkpoints}
    assert main([*args[:4], "cost", *args[5:]]) == 0  # a later run of one section keeps the others
    assert set(json.loads((tmp_path / "out" / "experiments.json").read_text())) == {"config", "small", "cost"}
    assert main(["experiments", "--which", "bogus", "--features", str(small_features),
                 "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_pixels_data_is_a_video_dataset_file_or_a_construct_folder(tmp_path, small_features):
    assert pixels_dataset(small_features, cache_dir=tmp_path) == (small_features, [])
    with pytest.raises(ValueError, match="is not a folder from `framesampler construct`"):
        pixels_dataset(tmp_path, cache_dir=tmp_path / "cache")
    assert main(["experiments", "--which", "pixels", "--data", str(tmp_path), "--features", str(small_features),
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]) == 2
