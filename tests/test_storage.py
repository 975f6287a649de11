"""Issue 10, case 1: writing an output replaces only framesampler's own previous output, never a user's
folder, and what is written has the user's umask permissions."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from framesampler.classifiers.frozen import ClassifierConfig, FrameClassifier, load_head, save_classifier
from framesampler.storage import atomic_directory, atomic_file

ROOT = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_an_ordinary_folder_is_refused_and_left_as_it_was(tmp_path):
    folder = tmp_path / "myresults"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "config.json").write_text(json.dumps({"something": "else"}))
    with pytest.raises(ValueError, match="myresults already exists and is not a framesampler output.*choose another"):
        with atomic_directory(folder, keys=("sampler", "T")) as staging:
            (staging / "config.json").write_text("{}")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["myresults"], "no staging folder left behind"


def test_a_previous_output_of_the_same_kind_or_an_empty_folder_is_replaced(tmp_path):
    folder = tmp_path / "ck"
    for contents in ({"sampler": "a", "T": 1}, {"sampler": "b", "T": 2}):
        with atomic_directory(folder, keys=("sampler", "T")) as staging:
            (staging / "config.json").write_text(json.dumps(contents))
        assert json.loads((folder / "config.json").read_text()) == contents
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_directory(empty, keys=("sampler",)) as staging:
        (staging / "config.json").write_text("{}")
    assert (empty / "config.json").is_file()
    with pytest.raises(ValueError, match="is a file, not a directory"):
        with atomic_directory(folder / "config.json", keys=("sampler",)):
            pass


def test_outputs_get_the_umask_permissions_not_0700(tmp_path, umask_022):
    with atomic_directory(tmp_path / "out", keys=("k",)) as staging:
        (staging / "config.json").write_text("{}")
    assert mode(tmp_path / "out") == 0o755
    with atomic_file(tmp_path / "f.json") as partial:
        partial.write_text("{}")
    assert mode(tmp_path / "f.json") == 0o644
    with pytest.raises(ValueError, match="is a directory"):
        with atomic_file(tmp_path / "out"):
            pass


def test_a_classifier_is_saved_over_a_previous_one_but_never_over_a_user_folder(tmp_path, umask_022):
    model = FrameClassifier(ClassifierConfig(input_dim=4, class_ids=[1, 2], class_names=["a", "b"])).freeze()
    save_classifier(model, tmp_path / "clf")
    save_classifier(model, tmp_path / "clf")
    assert load_head(tmp_path / "clf").config == model.config and mode(tmp_path / "clf") == 0o755
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="refusing to replace it"):
        save_classifier(model, tmp_path / "photos")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"x"
    with torch.no_grad():
        model.head[-1].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite \(NaN/inf\) weights"):
        save_classifier(model, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


def test_train_into_an_ordinary_folder_fails_before_any_work_and_keeps_its_files(tmp_path, small_features):
    folder = tmp_path / "myresults"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    result = subprocess.run(
        [sys.executable, "-m", "framesampler.cli", "train", "--features", str(small_features), "--sampler", "sosampler",
         "--T", "4", "--N", "2", "--epochs", "1", "--out", str(folder), "--cache-dir", str(tmp_path / "cache"),
         "--no-progress"], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "refusing to replace it" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"] and mode(folder) != 0o700
    assert not (tmp_path / "cache").exists(), "refused before preparing anything"
