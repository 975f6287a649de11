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


def test_a_run_resumes_from_its_kept_rows_without_checkpoints(tmp_path, small_features, monkeypatch):
    """Each sampler's row of each seed is kept under out/rows: a rerun with the checkpoints gone trains nothing and
    gives the same table; a row whose key differs (another recipe) is computed again."""
    import shutil

    import framesampler.app.experiments as experiments

    args = ["experiments", "--features", str(small_features), "--which", "small", "--seeds", "2", "--epochs", "1",
            "--length", "32", "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main(args) == 0
    first = json.loads((tmp_path / "out" / "experiments.json").read_text())["small"]["6/10"]
    rows = sorted(p.relative_to(tmp_path / "out" / "rows").as_posix() for p in (tmp_path / "out" / "rows").rglob("*.json"))
    assert "T10-N6-s1/sosampler.json" in rows and "T10-N6-s0/semi_optimal_max.json" in rows
    assert len(rows) == 2 * len(first)
    shutil.rmtree(tmp_path / "out" / "checkpoints")

    def no_training(*args, **kwargs):
        raise AssertionError("a kept row was trained again")

    monkeypatch.setattr(experiments, "train_and_save", no_training)
    assert main(args) == 0
    assert json.loads((tmp_path / "out" / "experiments.json").read_text())["small"]["6/10"] == first
    with pytest.raises(AssertionError, match="trained again"):
        main([*args, "--recipe", "short"])
    assert main([*args, "--recipe", "short", "--exclude", "*sampler,dense"]) == 0  # nothing to train: ocsampler, sosampler left out
    short = json.loads((tmp_path / "out" / "experiments.json").read_text())["small"]["6/10"]
    assert set(short) == set(first) - {"ocsampler", "sosampler", "dense"}
    assert "left out: *sampler, dense" in (tmp_path / "out" / "experiments.md").read_text()


def test_a_random_sampler_row_does_not_depend_on_the_others(tmp_path, small_features):
    """evaluate gives each sampler its own generator: random's row alone equals its row beside MGSampler's random
    test points (which draw from a generator too)."""
    from framesampler.app.prepare import DataConfig, prepare
    from framesampler.eval.evaluate import evaluate
    from framesampler.policies import create_sampler

    setup = prepare(DataConfig(features=str(small_features), length=32, cache_dir=str(tmp_path)))
    videos = setup.videos("test", 0)
    alone = evaluate(videos, setup.classifier, {"random": create_sampler("random")}, T=10, N=4, progress=False)
    beside = evaluate(videos, setup.classifier, {"mgsampler": create_sampler("mgsampler"), "random": create_sampler("random")},
                      T=10, N=4, progress=False)
    assert alone["random"] == beside["random"]


def test_a_checkpoint_or_row_name_is_one_file_name():
    from framesampler.app.experiments import file_name

    assert file_name("smart-T30-omega_scale=1/T-s0-paper") == "smart-T30-omega_scale=1_T-s0-paper"
    assert file_name("adaframe (mu=0.7, first reading: cheap v_t, LSTM 256)") == "adaframe_mu=0.7,_first_reading_cheap_v_t,_LSTM_256"
    assert file_name("sosampler-T30-s0-paper") == "sosampler-T30-s0-paper"
