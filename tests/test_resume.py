"""Issue 10, case 2: a resume state records everything that defines the run; another run's state (or an
unreadable one) is not resumed: the run starts afresh and says so."""
import json
from dataclasses import replace

import pytest

from framesampler.app.prepare import DataConfig, prepare
from framesampler.app.train import train_and_save
from framesampler.learned import TrainSettings
from tests.conftest import write_feature_file

SETTINGS = TrainSettings(epochs=3, batch_size=8)


def losses(directory):
    return [row["loss"] for row in map(json.loads, (directory / "train_log.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def setups(tmp_path_factory):
    """Setups on one small feature file, their classifiers cached once for the module."""
    root = tmp_path_factory.mktemp("resume")
    features = write_feature_file(root / "small.npz", [1, 2, 3, 4, 5, 6])

    def setup(vocab, **kw):
        return prepare(DataConfig(features=str(features), vocab=vocab, cache_dir=str(root / "cache"), **kw))
    return setup


def train(setup, out, **kw):
    options = {"sampler_name": "sosampler", "options": {"width": 8}, "T": 4, "N": 2, "seed": 0, "settings": SETTINGS}
    return train_and_save(setup, out=out, progress=False, **{**options, **kw})


def interrupt_after_one_epoch(setup, out, **kw):
    def videos(split, seed):
        if seed == 1:
            raise KeyboardInterrupt
        return setup.videos(split, seed)
    with pytest.raises(KeyboardInterrupt):
        train(replace(setup, videos=videos), out, **kw)
    assert out.with_name(out.name + ".resume.pt").is_file()


@pytest.mark.parametrize("first, second, differs", [
    (dict(vocab=[1, 2]), dict(vocab=[3, 4]), "data.vocab"),
    (dict(vocab=[1, 2], length=24), dict(vocab=[1, 2], length=32), "data.length"),
    (dict(vocab=[1, 2], regime="trimmed"), dict(vocab=[1, 2], regime="untrimmed"), "data.regime"),
    (dict(vocab=[1, 2], seed=0), dict(vocab=[1, 2], seed=1), "classifier.weights_sha256"),
])
def test_another_runs_state_is_not_resumed(tmp_path, setups, capsys, first, second, differs):
    out = tmp_path / "ck"
    interrupt_after_one_epoch(setups(**first), out)
    clean = train(setups(**second), tmp_path / "clean")
    capsys.readouterr()
    resumed = train(setups(**second), out)
    err = capsys.readouterr().err
    assert "ck.resume.pt is from another run (differs in" in err and differs in err and "starting afresh" in err
    assert losses(out) == losses(tmp_path / "clean")
    assert [p.name for p in tmp_path.iterdir() if "resume" in p.name] == []
    for a, b in zip(clean.state_dict().values(), resumed.state_dict().values()):
        assert a.equal(b)


def test_other_budget_or_options_start_afresh_and_the_same_run_resumes(tmp_path, setups, capsys):
    setup = setups([1, 2])
    out = tmp_path / "ck"
    interrupt_after_one_epoch(setup, out, N=3)
    train(setup, out)
    assert "differs in N" in capsys.readouterr().err
    interrupt_after_one_epoch(setup, out, options={"width": 8, "margin": 0.05})
    train(setup, out)
    assert "differs in options.margin" in capsys.readouterr().err
    train(setup, tmp_path / "clean")
    interrupt_after_one_epoch(setup, out)
    train(setup, out)
    assert "resume.pt" not in capsys.readouterr().err
    assert losses(out) == losses(tmp_path / "clean")


def test_an_unreadable_state_starts_afresh(tmp_path, setups, capsys):
    setup = setups([1, 2])
    state = tmp_path / "ck.resume.pt"
    state.write_bytes(b"PK\x03\x04 torn")
    train(setup, tmp_path / "ck")
    assert "ck.resume.pt is unreadable" in capsys.readouterr().err
    train(setup, tmp_path / "clean")
    assert losses(tmp_path / "ck") == losses(tmp_path / "clean")
