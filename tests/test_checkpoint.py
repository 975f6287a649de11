"""Checkpoints evolve: versions recorded, unknown or missing config keys refused in one line, safetensors weights."""
import json

import numpy as np
import pytest
import torch

import framesampler
from framesampler import Candidates, create_sampler
from framesampler.classifiers.frozen import ClassifierConfig, FrameClassifier, load_head, save_classifier
from framesampler.learned import load_checkpoint, save_checkpoint
from framesampler.learned.checkpoint import read_checkpoint

D, C, T, N = 6, 3, 8, 3


@pytest.fixture
def parts():
    torch.manual_seed(0)
    classifier = FrameClassifier(ClassifierConfig(input_dim=D, class_ids=[0, 1, 2], class_names=["a", "b", "c"])).freeze()
    sampler = create_sampler("sosampler", input_dim=D, num_classes=C, width=8)
    candidates = Candidates.of_length(T, features=np.random.default_rng(0).normal(size=(T, D)).astype(np.float32))
    return sampler.eval(), classifier, candidates


def _edit_config(directory, change):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_config_records_the_versions_that_wrote_it(tmp_path, parts):
    sampler, classifier, _ = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier)
    assert json.loads((directory / "config.json").read_text())["versions"] == {
        "framesampler": framesampler.__version__, "torch": torch.__version__}


def test_a_checkpoint_written_before_versions_existed_still_loads(tmp_path, parts):
    sampler, classifier, candidates = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier)
    _edit_config(directory, lambda config: config.pop("versions"))
    loaded = read_checkpoint(directory, classifier=classifier)
    assert loaded.config.versions == {}
    assert loaded.sampler.select(candidates, N).tolist() == sampler.select(candidates, N).tolist()


@pytest.mark.parametrize(("change", "named"), [
    (lambda config: config.update(temperature=2.0), r"unknown key\(s\) temperature"),
    (lambda config: config.pop("N"), r"no N"),
    (lambda config: config["classifier_config"].update(norm="layer"), r"classifier_config has unknown key\(s\) norm"),
    (lambda config: config["classifier_config"].pop("class_ids"), r"classifier_config has no class_ids"),
])
def test_unknown_or_missing_keys_are_one_line_naming_them(tmp_path, parts, change, named):
    sampler, classifier, _ = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier)
    _edit_config(directory, change)
    with pytest.raises(ValueError, match=named) as error:
        load_checkpoint(directory)
    assert "\n" not in str(error.value) and "train it again" in str(error.value)


def test_a_newer_writer_is_named_in_the_error(tmp_path, parts):
    sampler, classifier, _ = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier)
    _edit_config(directory, lambda config: config.update(temperature=2.0, versions={"framesampler": "9.0.0"}))
    with pytest.raises(ValueError, match=r"written by framesampler 9\.0\.0 \(this is "):
        load_checkpoint(directory)


def test_a_saved_classifier_with_an_unknown_key_is_one_line(tmp_path, parts):
    _, classifier, _ = parts
    directory = save_classifier(classifier, tmp_path / "head")
    _edit_config(directory, lambda config: config.update(norm="layer"))
    with pytest.raises(ValueError, match=r"saved classifier's config has unknown key\(s\) norm: train it again"):
        load_head(directory)


def test_safetensors_weights_round_trip_and_load_by_the_file_present(tmp_path, parts):
    pytest.importorskip("safetensors", reason="pip install 'framesampler[safetensors]'")
    sampler, classifier, candidates = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier, weights_format="safetensors")
    assert sorted(p.name for p in directory.iterdir() if p.suffix != ".jsonl") == [
        "classifier.safetensors", "config.json", "weights.safetensors"]
    loaded = read_checkpoint(directory, classifier=classifier)
    assert np.array_equal(loaded.sampler.scores(candidates), sampler.scores(candidates))
    for name, value in classifier.state_dict().items():
        assert torch.equal(loaded.classifier.state_dict()[name], value)
    default = save_checkpoint(sampler, tmp_path / "pt", T=T, N=N, classifier=classifier)
    assert (default / "weights.pt").is_file() and not (default / "weights.safetensors").exists()


def test_both_weight_files_present_is_refused(tmp_path, parts):
    sampler, classifier, _ = parts
    directory = save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier)
    (directory / "weights.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="both weights.pt and weights.safetensors"):
        load_checkpoint(directory)


def test_an_unknown_weights_format_is_refused(tmp_path, parts):
    sampler, classifier, _ = parts
    with pytest.raises(ValueError, match="unknown weights format 'npz'"):
        save_checkpoint(sampler, tmp_path / "ck", T=T, N=N, classifier=classifier, weights_format="npz")
