"""The experiments command end to end on a small file: tables, markdown, reuse of checkpoints."""
import json

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
