"""Issue 10, "should read better" and case 7: bad input on the command line gives one line naming the input
and what to do (before any work, so nothing is lost), and what the user should know is said on stderr."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from framesampler.cli import main
from framesampler.data.synthetic import write_synthetic_videos
from tests.conftest import write_feature_file

VIDEO = ["--classifier-size", "64", "--sampler-size", "32", "--T", "4"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Small good and bad inputs: feature files, checkpoint-like folders, a user's folder, tiny videos."""
    root = tmp_path_factory.mktemp("cli")
    small = write_feature_file(root / "small.npz", [1, 2, 3, 4, 5, 6])
    data = dict(np.load(small))
    features = data.pop("features").astype(np.float32) / 255 * data.pop("scale")
    features[[1, 7], 2, 0] = np.nan
    np.savez(root / "nan.npz", features=features, **data)
    (root / "trunc.npz").write_bytes(small.read_bytes()[:2000])
    np.savez(root / "obj.npz", **{**dict(np.load(small)), "features": np.load(small)["features"].astype(object)})
    (root / "text.npz").write_text("a.mp4 1\n")
    (root / "folder").mkdir()
    (root / "folder" / "thesis.tex").write_text("years of work")
    for name, config in (("notck", None), ("badjson", "{nope"), ("listjson", "[1]")):
        (root / name).mkdir()
        if config is not None:
            (root / name / "config.json").write_text(config)
            (root / name / "weights.pt").write_bytes(b"")
            (root / name / "classifier.pt").write_bytes(b"")
    write_synthetic_videos(root / "two", classes=2, videos_per_class=1, frame_count=12, size=64)
    write_synthetic_videos(root / "three", classes=1, videos_per_class=1, frame_count=3, size=64)
    (root / "two" / "twice.txt").write_text("videos/disc_000.mp4 disc\nvideos/square_000.mp4 square\n"
                                            "videos/disc_000.mp4 disc\n")
    (root / "two" / "again.txt").write_text("videos/square_000.mp4 square\n")
    return root


def run(argv: list[str], world: Path, capsys, monkeypatch) -> tuple[int, str]:
    """Run the command line in ``world`` (``{w}`` in arguments is its path); return (rc, stderr)."""
    monkeypatch.chdir(world)
    argv = [a.replace("{w}", str(world)) for a in argv] + ["--cache-dir", str(world / "cache")]
    try:
        rc = main(argv)
    except SystemExit as exit:  # argparse: usage, then the one line
        rc = exit.code
    return rc, capsys.readouterr().err


FEATURES = ["--features", "{w}/small.npz"]
A_VIDEO = "{w}/two/videos/disc_000.mp4"


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--features", "{w}/trunc.npz"], r"trunc.npz is not a readable .npz feature file: it is truncated"),
    (["evaluate", "--features", "{w}/obj.npz"], r"obj.npz is not a readable .npz feature file: it holds Python objects"),
    (["evaluate", "--features", "{w}/nan.npz"], r"nan.npz: 'features' holds NaN or inf in 2 video\(s\): row 1 \(v_1_1\)"),
    (["train", "--features", "{w}/text.npz", "--sampler", "sosampler", "--out", "{w}/ck"], r"text.npz is not a readable"),
    (["evaluate", *FEATURES, "--vocab", "1,2,5", "--background-classes", "5,6"], r"share \[5\]: .*drop them"),
    (["evaluate", *FEATURES, "--vocab", "1-6"], r"leaving none as background .*--regime trimmed"),
    (["evaluate", *FEATURES, "--vocab", "2"], r"--vocab \[2\] has one class: .*give two or more"),
    (["evaluate", *FEATURES, "--regime", "trimmed", "--T", "40"], r"--T 40 is more than the 8 frames .*--T 8 or less"),
    (["evaluate", *FEATURES, "--policies", ","], r"',' names no sampler: give names like"),
    (["evaluate", *FEATURES, "--policies", "uniform,sosampler"], r"sosampler is a learned sampler and needs a checkpoint: "
                                                                  r"framesampler train .*--checkpoint DIR"),
    (["evaluate", *FEATURES, "--N", "0"], r"--N 0 of --T 10: need 1 <= N <= T"),
    (["evaluate", *FEATURES, "--json", "{w}/folder"], r"--json .*folder is a directory: give a file name"),
    (["evaluate", *FEATURES, "--json", "{w}/small.npz/r.json"], r"small.npz is a file, not a folder"),
    (["train", *FEATURES, "--sampler", "sosampler", "--epochs", "0", "--out", "{w}/ck"], r"--epochs .* must be >= 1"),
    (["train", *FEATURES, "--sampler", "sosampler", "--option", "margin=abc", "--out", "{w}/ck"],
     r"option margin='abc' must be a number"),
    (["train", *FEATURES, "--sampler", "sosampler", "--out", "."], r"already exists and is not a framesampler output"),
    (["train", *FEATURES, "--sampler", "sosampler", "--out", "{w}/folder"], r"folder already exists .*refusing to replace"),
    (["train", *FEATURES, "--sampler", "sosampler", "--out", "{w}/small.npz"], r"small.npz is a file, not a directory"),
    (["sample", A_VIDEO, "--sampler", "{w}/notck"], r"notck is not a sampler checkpoint .*framesampler train"),
    (["sample", A_VIDEO, "--sampler", "{w}/badjson"], r"badjson/config.json is not valid JSON .*make the sampler checkpoint again with `framesampler train`"),
    (["sample", A_VIDEO, "--sampler", "{w}/listjson"], r"listjson/config.json holds a list, not a sampler checkpoint's settings"),
    (["sample", A_VIDEO, "--sampler", "nosuch"], r"--sampler nosuch is neither a sampler name nor a checkpoint"),
    (["sample", A_VIDEO, "--sampler", "sosampler"], r"sosampler is a learned sampler and needs a checkpoint"),
    (["sample", A_VIDEO, "--sampler", "oracle"], r"it is an oracle, an upper bound for `framesampler evaluate`.*semi_optimal_max"),
    (["sample", A_VIDEO, "--dataset", "{w}/text.npz"], r"text.npz is not a readable .npz video dataset"),
    (["sample", A_VIDEO, "--N", "0"], r"--N 0 of --T 32: need 1 <= N <= T"),
    (["sample", A_VIDEO, "--json", "{w}/folder"], r"--json .*folder is a directory"),
    (["sample", A_VIDEO, "--sheet", "{w}/folder"], r"--sheet .*folder is a directory"),
    (["extract", "{w}/two/twice.txt", "--out", "{w}/d.npz"], r"disc_000.mp4 is listed twice .*line 1 and .*line 3.*--dedupe"),
    (["extract", "{w}/two/train.txt", "--test", "{w}/two/again.txt", "--out", "{w}/d.npz"],
     r"square_000.mp4 is in both train \(.*train.txt, line 2\) and test \(.*again.txt, line 1\)"),
    (["extract", "{w}/two/manifest.txt", "--out", "{w}/folder", *VIDEO], r"--out .*folder is a directory"),
    (["extract", "{w}/two/manifest.txt", "--out", "{w}/d.npz", "--sampler-stages", "9", *VIDEO],
     r"--sampler-stages 9: the backbone has 7 stages; use 1..7"),
    (["extract", "{w}/two/manifest.txt", "--out", "{w}/d.npz", "--classifier-size", "8"], r"--classifier-size 8: .*32 px"),
])
def test_bad_input_gives_one_line_naming_it_and_the_fix(world, capsys, monkeypatch, argv, message):
    before = sorted(p.relative_to(world) for p in world.rglob("*"))
    rc, err = run(argv, world, capsys, monkeypatch)
    assert rc == 2
    lines = err.strip().splitlines()
    assert re.search(message, lines[-1]), err
    if argv[1:2] != ["--policies"] and not any(a.startswith("--policies") for a in argv):
        assert len(lines) == 1, err
    assert "Traceback" not in err and "short_policy" not in err
    assert sorted(p.relative_to(world) for p in world.rglob("*")) == before, "nothing was written"


def test_notes_say_what_the_numbers_would_hide(world, tmp_path, capsys, monkeypatch):
    """A checkpoint used at another T/N, a video shorter than T and a split left empty are said on stderr."""
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert main(["train", "--features", str(world / "small.npz"), "--sampler", "sosampler", "--T", "4", "--N", "2",
                 "--epochs", "1", "--out", str(tmp_path / "ck"), "--no-progress", *cache]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--features", str(world / "small.npz"), "--T", "6", "--N", "3", "--policies", "uniform",
                 "--checkpoint", str(tmp_path / "ck"), "--repeats", "1", "--no-progress", *cache]) == 0
    assert re.search(r"note: checkpoint .*ck was trained at T=4 N=2, evaluated here at T=6 N=3", capsys.readouterr().err)

    assert main(["sample", str(world / "three" / "videos" / "disc_000.mp4"), "--T", "16", "--N", "4",
                 "--json", str(tmp_path / "s.json"), *cache]) == 0
    assert re.search(r"disc_000.mp4 gives 3 candidates, fewer than T=16 \(3 frames\): at most that many are chosen",
                     capsys.readouterr().err)
    assert json.loads((tmp_path / "s.json").read_text())["N"] == 3

    assert main(["extract", str(world / "two" / "manifest.txt"), "--out", str(tmp_path / "d.npz"), *VIDEO,
                 "--no-progress", *cache]) == 0
    out, err = capsys.readouterr()
    assert "(2 train, 0 test)" in out and "warning: no test videos" in err


def test_extract_re_extracts_a_damaged_cache_entry_and_invalid_settings_leave_no_cache(world, tmp_path, capsys):
    cache = ["--cache-dir", str(tmp_path / "cache")]
    args = ["extract", str(world / "two" / "manifest.txt"), "--out", str(tmp_path / "d.npz"), *VIDEO, "--no-progress", *cache]
    assert main(args) == 0
    first = np.load(tmp_path / "d.npz")["features"]
    entries = sorted(p for p in (tmp_path / "cache" / "videos").glob("*/*.npz") if ".views" not in p.name)
    views = sorted((tmp_path / "cache" / "videos").glob("*/*.views4.npz"))
    assert len(entries) == 2 and len(views) == len(np.load(tmp_path / "d.npz")["augmented_video"])
    first_views = np.load(tmp_path / "d.npz")["augmented_features"]
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    views[0].write_bytes(views[0].read_bytes()[:100])
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"the cache entry {entries[0]} of" in err and "is unreadable; extracting it again" in err
    assert f"the augmented views {views[0]} of" in err and "are unreadable; making them again" in err
    assert np.array_equal(np.load(tmp_path / "d.npz")["features"], first)
    assert np.array_equal(np.load(tmp_path / "d.npz")["augmented_features"], first_views)  # the same draws again

    too_long = ["extract", str(world / "two" / "manifest.txt"), "--out", str(tmp_path / "e.npz"), *VIDEO, "--T", "100",
                "--no-progress", "--cache-dir", str(tmp_path / "other")]
    assert main(too_long) == 2
    err = capsys.readouterr().err
    assert "12 frames, fewer than --T 100; extract with a smaller --T, or --short repeat" in err and "short_policy" not in err
    assert not (tmp_path / "other").exists(), "settings no video can use leave no cache folder behind"
