"""The command line's shape (issue 23): one module per command, each with --help; parsing loads no torch;
``python -m framesampler``; ``--config FILE`` (TOML or YAML) as any command's defaults, the command line winning."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from framesampler.cli import COMMANDS, build_parser, main, parse_args
from framesampler.constants import DEFAULT_EXPERIMENTS, EXPERIMENTS, TRAINING_FREE

ROOT = Path(__file__).resolve().parents[1]
NAMES = [command.__name__.rpartition(".")[2] for command in COMMANDS]


def test_every_command_is_a_module_of_the_package_with_add_parser_and_run():
    assert NAMES == ["evaluate", "train", "experiments", "demo", "extract", "construct", "sample", "batch",
                     "independence", "report", "samplers"]
    for command in COMMANDS:
        assert Path(command.__file__).parent == ROOT / "framesampler" / "cli"
        assert callable(command.add_parser) and callable(command.run)


@pytest.mark.parametrize("name", NAMES)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit:
        main([name, "--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: framesampler {name}") and "--config FILE" in out


def test_parsing_and_every_help_load_no_heavy_module():
    code = ("import sys\nfrom framesampler.cli import _build\nparser, commands = _build()\nparser.format_help()\n"
            "[sub.format_help() for sub in commands.values()]\n"
            "print([m for m in ('torch', 'numpy', 'av', 'matplotlib', 'framesampler.app') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]", f"--help imports {out.strip()}: import it inside the command's run"


@pytest.mark.parametrize("module", ["framesampler", "framesampler.cli"])
def test_python_dash_m(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.startswith("usage: framesampler")
    assert all(name in done.stdout for name in NAMES)


def test_experiment_names_agree_with_the_application_layer():
    from framesampler.app import experiments

    assert EXPERIMENTS == experiments.EXPERIMENTS
    assert set(DEFAULT_EXPERIMENTS) <= set(EXPERIMENTS)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_toml_supplies_defaults_and_the_command_line_wins(tmp_path):
    config = write(tmp_path / "run.toml", 'features = "x.npz"\nT = 16\nnum-frames = 4\npolicies = ["uniform", "frameexit"]\n'
                   'background-classes = "5,6"\nvocab = [1, 2]\nno_progress = true\ncheckpoint = ["a", "b"]\n')
    args = parse_args(["evaluate", "--config", str(config)])
    assert (args.features, args.T, args.N, args.policies) == (Path("x.npz"), 16, 4, ["uniform", "frameexit"])
    assert (args.background_classes, args.vocab, args.no_progress, args.checkpoint) == ([5, 6], [1, 2], True, ["a", "b"])
    assert args.repeats == 3 and args.consensus == "avg_logits"  # what the file leaves out keeps its default
    for argv in (["--T", "12", "--config", str(config)], ["--config", str(config), "--T", "12"]):
        args = parse_args(["evaluate", *argv, "--checkpoint", "c"])
        assert args.T == 12 and args.N == 4 and args.checkpoint == ["c"]


def test_a_config_supplies_required_flags_and_switches(tmp_path):
    config = write(tmp_path / "train.toml", 'sampler = "sosampler"\nout = "ck"\nlambda = 0.5\n')
    args = parse_args(["train", "--config", str(config)])
    assert (args.sampler, args.out, args.lam) == ("sosampler", Path("ck"), 0.5)
    config = write(tmp_path / "construct.toml", 'vocab = ["A", "B"]\nout = "long"\naudio = false\nsize = "64x48"\n')
    args = parse_args(["construct", "clips.txt", "--config", str(config)])
    assert (args.vocab, args.audio, args.size, args.fps) == (["A", "B"], False, (64, 48), 25.0)
    assert parse_args(["construct", "clips.txt", "--config", str(config), "--audio"]).audio is True


def test_yaml_is_read_when_pyyaml_is_installed(tmp_path, monkeypatch, capsys):
    pytest.importorskip("yaml")
    config = write(tmp_path / "run.yaml", "T: 20\npolicies: [uniform, random]\n")
    args = parse_args(["evaluate", "--config", str(config)])
    assert (args.T, args.policies) == (20, ["uniform", "random"])
    monkeypatch.setitem(sys.modules, "yaml", None)  # as if PyYAML were not installed
    assert main(["evaluate", "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"framesampler: error: --config {config}: reading YAML needs PyYAML: pip install pyyaml (or write the file as TOML)"]


@pytest.mark.parametrize("text, message", [
    ("T = 8\nbogus = 1\nnope-either = 2\n", "unknown key(s) bogus, nope-either for `framesampler evaluate`: use its flags' names"),
    ("features = 3\nmanifest = \"m.txt\"\n", "unknown key(s) manifest"),  # a positional argument is not a flag
    ("T = \"many\"\n", "T: invalid literal for int()"),
    ("consensus = \"median\"\n", "consensus: 'median' is not one of avg_logits, avg_probs, max"),
    ("no_progress = \"yes\"\n", "no_progress: give true or false"),
    ("T = [\n", "is not valid TOML"),
    ("policies = \"uniform,sosampler\"\n", "sosampler is a learned sampler and needs a checkpoint"),
])
def test_bad_config_is_one_line_naming_it(tmp_path, capsys, text, message):
    config = write(tmp_path / "bad.toml", text)
    assert main(["evaluate", "--config", str(config)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"framesampler: error: --config {config}") and message in line, line


@pytest.mark.parametrize("name, message", [("run.json", "give a .toml, .yaml or .yml file"), ("missing.toml", "no such file")])
def test_config_file_that_cannot_be_read(tmp_path, capsys, name, message):
    assert main(["evaluate", "--config", str(tmp_path / name)]) == 2
    assert message in capsys.readouterr().err


def test_a_config_file_is_an_input_no_output_may_overwrite(tmp_path, capsys):
    config = write(tmp_path / "run.toml", "T = 8\n")
    assert main(["evaluate", "--config", str(config), "--json", str(config)]) == 2
    assert "is the input" in capsys.readouterr().err


def test_config_runs_evaluate_end_to_end(tmp_path, small_features):
    out = tmp_path / "r.json"
    config = write(tmp_path / "run.toml", f'features = "{small_features}"\nregime = "trimmed"\nT = 6\nN = 2\n'
                   f'repeats = 1\npolicies = ["uniform", "oracle"]\ncache_dir = "{tmp_path / "cache"}"\nno_progress = true\n')
    assert main(["evaluate", "--config", str(config), "--N", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["policies"]) == ["uniform", "oracle"] and report["config"]["T"] == 6
    assert {row["frames"] for row in report["policies"].values()} == {3}


def test_defaults_come_from_the_torch_free_constants():
    parser = build_parser()
    assert parser.parse_args(["evaluate"]).policies == list(TRAINING_FREE)
    assert parser.parse_args(["experiments"]).which == list(DEFAULT_EXPERIMENTS)
    assert (parser.parse_args(["sample", "v.mp4"]).T, parser.parse_args(["batch", "d", "--out", "o"]).N) == (32, 8)


@pytest.mark.parametrize("command", ["extract", "sample", "batch", "evaluate", "demo"])
def test_inference_commands_take_device_precision_and_frame_batch(command):
    args = {"extract": ["extract", "m.txt", "--out", "d.npz"], "sample": ["sample", "v.mp4"],
            "batch": ["batch", "dir", "--out", "o.jsonl"], "evaluate": ["evaluate"], "demo": ["demo"]}[command]
    parsed = parse_args([*args, "--device", "cpu", "--precision", "bfloat16", "--batch-size", "8"])
    assert (parsed.device, parsed.precision, parsed.batch_size) == ("cpu", "bfloat16", 8)
    assert parse_args(args).precision == "float32"


def test_train_and_experiments_take_device_and_train_keeps_its_video_batch():
    parsed = parse_args(["train", "--sampler", "sosampler", "--out", "ck", "--device", "auto", "--batch-size", "16"])
    assert (parsed.device, parsed.batch_size) == ("auto", 16) and not hasattr(parsed, "precision")
    assert parse_args(["experiments", "--device", "cpu"]).device == "cpu"


def test_float16_on_the_cpu_is_one_line(capsys):
    video = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "mmaction2" / "demo_demo.mp4"
    assert main(["sample", str(video), "--precision", "float16", "--device", "cpu"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "float16" in err[0] and "CUDA" in err[0]


def test_decode_aware_reaches_sample_batch_and_evaluate_not_extract():
    assert parse_args(["sample", "v.mp4", "--decode-aware", "0.05"]).decode_aware == 0.05
    assert parse_args(["batch", "dir", "--out", "o.jsonl", "--decode-aware", "0.1"]).decode_aware == 0.1
    assert parse_args(["evaluate", "--timed", "--decode-aware", "0.1"]).decode_aware == 0.1
    assert not hasattr(parse_args(["extract", "m.txt", "--out", "d.npz"]), "decode_aware")
