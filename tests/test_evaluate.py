"""The evaluate command end to end: the JSON contract, bad input, and the paper's Table 1 on real data."""
import json

import numpy as np
import pytest

from framesampler.cli import main
from framesampler.data.features import write_feature_subset
from framesampler.policies import TRAINING_FREE
from tests.conftest import CI


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def evaluate(tmp_path, cache_dir, *args):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--no-progress", "--cache-dir", str(cache_dir), "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def test_json_contract_on_a_small_file(tmp_path, small_features, cache_dir, capsys):
    report = evaluate(tmp_path, cache_dir, "--features", str(small_features), "--length", "30", "--T", "8",
                      "--N", "3", "--repeats", "2")
    assert list(report["policies"]) == list(TRAINING_FREE)
    for name, row in report["policies"].items():
        assert {"top1", "mAP", "fidelity", "frames"} <= set(row)
        assert row["frames"] == (8 if name == "dense" else 3)
        assert (row["fidelity"] is None) == (name == "dense")
    assert report["policies"]["oracle"]["fidelity"] == 1.0
    assert report["config"]["vocab"] == [1, 2, 3, 4] and report["config"]["background_classes"] == [5, 6]
    assert report["config"]["oracle"] == "exact" and report["config"]["T"] == 8
    assert "semi_optimal_label" in capsys.readouterr().out


def test_policies_vocab_and_trimmed_regime(tmp_path, small_features, cache_dir):
    report = evaluate(tmp_path, cache_dir, "--features", str(small_features), "--regime", "trimmed", "--vocab", "2,3,5",
                      "--T", "6", "--N", "2", "--policies", "uniform,oracle", "--repeats", "1")
    assert list(report["policies"]) == ["uniform", "oracle"]
    assert report["config"]["background_classes"] == [1, 4, 6]
    assert report["classifier"]["classes"] == ["class2", "class3", "class5"]


@pytest.mark.parametrize("args, message", [
    (["--features", "/nonexistent.npz"], "does not exist"),
    (["--vocab", "40-41"], "not in"),
    (["--T", "8", "--N", "3", "--regime", "untrimmed", "--length", "2"], "length"),
])
def test_bad_input_is_one_clear_line(tmp_path, small_features, cache_dir, capsys, args, message):
    if "--features" not in args:
        args = ["--features", str(small_features), *args]
    assert main(["evaluate", "--no-progress", "--cache-dir", str(cache_dir), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("framesampler: error:") and message in err


def test_unknown_policy_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--policies", "uniform,bogus"])
    assert "unknown policy bogus" in capsys.readouterr().err


@pytest.mark.slow
def test_table1_order_on_real_untrimmed_ucf101(tmp_path, real_features, cache_dir):
    """Lee et al. 2024, Table 1: pi_o >= pi_s(label) >= All > uniform on long untrimmed videos."""
    report = evaluate(tmp_path, cache_dir, "--features", str(real_features), "--regime", "untrimmed",
                      "--T", "10", "--N", "6")
    top1 = {name: row["top1"] for name, row in report["policies"].items()}
    fidelity = {name: row["fidelity"] for name, row in report["policies"].items()}
    assert top1["oracle"] >= top1["semi_optimal_label"] >= top1["dense"] > top1["uniform"]
    assert top1["semi_optimal_label"] >= top1["uniform"] + 0.15
    assert fidelity["semi_optimal_label"] >= 1.3 * fidelity["random"]
    assert report["classifier"]["trimmed_test_top1_all_frames"] > 0.9


@pytest.mark.slow
def test_short_trimmed_clips_leave_little_to_choose(tmp_path, real_features, cache_dir):
    """The paper's short-video finding: on trimmed UCF101 clips every policy is within a few points."""
    report = evaluate(tmp_path, cache_dir, "--features", str(real_features), "--regime", "trimmed",
                      "--T", "10", "--N", "6", "--repeats", "1")
    top1 = [row["top1"] for row in report["policies"].values()]
    assert max(top1) - min(top1) < 0.05


@pytest.mark.slow
def test_another_file_with_its_own_vocabulary_and_background_file(tmp_path, real_features, cache_dir):
    """The same command on other files of the format: classes 2-6 as features, 7-10 as background."""
    labels, split = np.load(real_features)["label"], np.load(real_features)["split"]
    # under CI a smaller file keeps it quick: every test clip and every other training clip
    keep = (split == "test") | (np.arange(len(labels)) % 2 == 0) if CI else None
    vocab_file = write_feature_subset(real_features, [2, 3, 4, 5, 6], tmp_path / "actions.npz", keep)
    background_file = write_feature_subset(real_features, [7, 8, 9, 10], tmp_path / "background.npz", keep)
    report = evaluate(tmp_path, cache_dir, "--features", str(vocab_file), "--vocab", "2,4,5,6",
                      "--background", str(background_file), "--T", "10", "--N", "6")
    top1 = {name: row["top1"] for name, row in report["policies"].items()}
    assert report["config"]["background_classes"] == [7, 8, 9, 10]
    assert report["classifier"]["classes"] == ["ApplyLipstick", "BabyCrawling", "BalanceBeam", "BandMarching"]
    assert top1["oracle"] >= top1["semi_optimal_label"] >= top1["uniform"] + 0.15
