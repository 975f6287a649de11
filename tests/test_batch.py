import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framesampler.app.batch import batch_items, finished_videos, run_batch
from framesampler.app.pipeline import load_pipeline
from framesampler.cli import main

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = VIDEOS / "intel-sample-videos" / "asl_gestures"  # 20 short Matroska clips


@pytest.fixture(scope="module")
def pipeline():
    return load_pipeline("uniform", T=8, N=2)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """Three real clips, a truncated copy of one and a text file named like a video."""
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    for name in ("eat.mkv", "want.mkv"):
        (folder / name).symlink_to(CLIPS / name)
    (folder / "sub" / "help.mkv").symlink_to(CLIPS / "help.mkv")
    data = (CLIPS / "again.mkv").read_bytes()
    (folder / "cut.mkv").write_bytes(data[:len(data) // 3])
    (folder / "notes.mp4").write_text("not a video\n" * 10)
    (folder / "readme.txt").write_text("not listed: no video suffix")
    return folder


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_video_errors_for_broken_files_and_a_rerun_adds_nothing(pipeline, collection, tmp_path):
    out = tmp_path / "results.jsonl"
    report = run_batch(pipeline, collection, out, workers=2, progress=False)
    assert (report.done, report.failed, report.skipped) == (3, 2, 0)
    rows = {Path(row["video"]).name: row for row in lines(out)}
    assert sorted(rows) == ["cut.mkv", "eat.mkv", "help.mkv", "notes.mp4", "want.mkv"]  # sorted walk, sub/ included
    assert [Path(row["video"]).name for row in lines(out)] == ["cut.mkv", "eat.mkv", "notes.mp4", "help.mkv", "want.mkv"]
    assert "truncated" in rows["cut.mkv"]["error"] and "not a readable video" in rows["notes.mp4"]["error"]
    assert set(rows["cut.mkv"]) == {"video", "error"} and "\n" not in rows["cut.mkv"]["error"]
    good = rows["eat.mkv"]
    assert len(good["chosen"]) == 2 and {"frame", "time", "score"} <= set(good["chosen"][0])
    assert good["prediction"][0]["class"] and set(good["seconds"]) >= {"decode_chosen", "classifier"}
    assert good["gmacs"]["classifier"] > 0
    again = run_batch(pipeline, collection, out, workers=0, progress=False)
    assert (again.done, again.failed, again.skipped) == (0, 0, 5) and len(lines(out)) == 5
    sequential = tmp_path / "sequential.jsonl"
    run_batch(pipeline, collection, sequential, workers=0, progress=False)
    assert [r.get("chosen") for r in lines(sequential)] == [r.get("chosen") for r in lines(out)]


def test_a_torn_last_line_is_dropped_and_its_video_done_again(pipeline, collection, tmp_path):
    out = tmp_path / "results.jsonl"
    run_batch(pipeline, collection / "sub", out, progress=False)
    whole = out.read_bytes()
    out.write_bytes(whole + b'{"video": "' + str(collection / "eat.mkv").encode() + b'", "num_fr')  # killed mid-write
    assert finished_videos(out) == {str(collection / "sub" / "help.mkv")} and out.read_bytes() == whole
    out.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1 is not a result of framesampler batch"):
        run_batch(pipeline, collection, out, progress=False)


def test_a_manifest_gives_labels_and_bad_sources_say_what_to_do(pipeline, collection, tmp_path):
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"{collection / 'eat.mkv'} eat\n{tmp_path / 'gone.mp4'} none\n")
    assert [(i.video, i.label) for i in batch_items(manifest)][0] == (str(collection / "eat.mkv"), "eat")
    out = tmp_path / "r.jsonl"
    run_batch(pipeline, manifest, out, progress=False)
    first, missing = lines(out)
    assert first["label"] == "eat" and "no such file" in missing["error"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no video files"):
        batch_items(empty)
    assert main(["batch", str(collection), "--out", str(tmp_path), "--no-progress"]) == 2


def test_killed_midway_and_rerun_each_video_exactly_once(tmp_path):
    """SIGKILL a real `framesampler batch` process after its second line, rerun it: every clip once."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for path in sorted(CLIPS.glob("*.mkv"))[:8]:
        (clips / path.name).symlink_to(path)
    out = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "framesampler.cli", "batch", str(clips), "--T", "8", "--N", "2", "--workers", "1",
               "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\n") >= 2):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(out.read_bytes().splitlines()) if out.exists() else 0
    assert 2 <= killed_at < 8, killed_at
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    videos = [row["video"] for row in lines(out)]
    assert sorted(videos) == sorted(str(p) for p in clips.glob("*.mkv")) and len(videos) == 8
