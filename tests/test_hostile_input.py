"""Hostile and careless input (issue 24): one test per item, named after it (test_b1_..., test_w13_...).

Each reproduces what went wrong: code run from a file, a script in the report, an input overwritten or cut,
a path outside the output folder, memory without bound, a traceback where one line should say what to do.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from framesampler.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "framesampler"
SCRIPT = "\"'><script>document.title='PWNED'</script><img src=x onerror=\"document.title='PWNED'\">"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """manifest.txt of 4 tiny synthetic videos (2 classes, 12 frames of 64 px) in videos/."""
    from framesampler.data.synthetic import write_synthetic_videos

    return write_synthetic_videos(tmp_path_factory.mktemp("hostile"), classes=2, videos_per_class=2, frame_count=12, size=64)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


class _Opens:
    """A pickle that calls ``open(path, "w")`` when it is loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


# B1 ---------------------------------------------------------------------------------------------------------

def test_b1_a_resume_file_never_runs_code(tmp_path, capsys):
    from framesampler.learned.train import load_resume_state

    target, state = tmp_path / "x", tmp_path / "ck.resume.pt"
    torch.save({"identity": {}, "log": [], "payload": _Opens(str(target))}, state)
    assert load_resume_state(state, {}) is None
    assert not target.exists(), "loading the resume file ran code from it"
    assert "starting afresh" in one_line_error(capsys)


UNPICKLERS = ("pickle", "_pickle", "cPickle", "dill", "joblib", "cloudpickle")
LOADS = ("load", "loads", "Unpickler")


def _unsafe_loads(source: str, name: str) -> list[str]:
    """``name:line`` of each load in ``source`` that may run code from a file: torch.load without
    weights_only=True, np.load with allow_pickle other than False, a pickle module's load, loads or Unpickler.
    (torch.jit.load and torch.export.load of a model the user names as theirs are not unpickling.)"""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (*UNPICKLERS, "torch"):
            found += [f"{name}:{node.lineno} from {node.module} import {a.name}" for a in node.names if a.name in LOADS]
        elif isinstance(node, ast.Call):
            call = ast.unparse(node.func)
            given = {k.arg: k.value for k in node.keywords}
            value = {k: v.value if isinstance(v, ast.Constant) else v for k, v in given.items()}
            if (call in ("torch.load", "torch.serialization.load") and value.get("weights_only") is not True) or \
                    (re.fullmatch(r"(np|numpy)\.load", call) and "allow_pickle" in given and value["allow_pickle"] is not False) or \
                    (call.split(".")[0] in UNPICKLERS and call.split(".")[-1] in LOADS):
                found.append(f"{name}:{node.lineno} {call}")
    return found


def test_b1_no_load_in_the_code_can_run_code_from_a_file():
    unsafe = [hit for path in sorted(PACKAGE.rglob("*.py"))
              for hit in _unsafe_loads(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))]
    assert not unsafe, "loads that may run code from a file (use weights_only=True / allow_pickle=False):\n" + "\n".join(unsafe)
    probe = ("pickle.loads(b)\nfrom dill import loads\ntorch.load(p)\ntorch.load(p, weights_only=False)\n"
             "torch.load(p, weights_only=flag)\nnp.load(p, allow_pickle=True)\npickle.Unpickler(f)\n"
             "torch.load(p, weights_only=True)\nnp.load(p, allow_pickle=False)\nnp.load(p)\nimport pickle\n"
             "pickle.UnpicklingError\ntorch.jit.load(p)\nfrom torch import load\n")
    assert sorted(int(hit.split()[0][6:]) for hit in _unsafe_loads(probe, "probe")) == [*range(1, 8), 14]


# B2, W6, W7, W8 ----------------------------------------------------------------------------------------------

def video_record(video: str, **changes) -> dict:
    record = {"video": video, "num_frames": 12, "fps": 8.0, "T": 4, "N": 2, "candidates": [1, 4, 7, 10],
              "chosen": [{"position": 1, "frame": 4, "time": 0.5, "score": 0.9}, {"position": 3, "frame": 10, "time": 1.25, "score": 0.7}],
              "scores": [0.1, 0.9, 0.2, 0.7], "prediction": [{"class": "disc", "prob": 0.8}], "label": "disc",
              "sampler": "uniform", "seconds": {"classifier": 0.5}, "gmacs": {"total": 1.5}}
    return {**record, **changes}


def test_b2_num_frames_is_written_escaped(videos, tmp_path):
    results, page = tmp_path / "r.jsonl", tmp_path / "r.html"
    results.write_text(json.dumps(video_record(str(videos.parent / "videos" / "disc_000.mp4"), num_frames=SCRIPT)) + "\n")
    assert main(["report", str(results), "--html", str(page)]) == 0
    text = page.read_text()
    assert "<script" not in text.lower() and "<img src=x" not in text and "&lt;script&gt;" in text


def every_string_a_script() -> list[dict]:
    """A video record, an error line and an evaluation whose every string (and every key a page shows) is a script."""
    video = {"video": SCRIPT, "num_frames": SCRIPT, "fps": SCRIPT, "T": SCRIPT, "N": SCRIPT, "candidates": [0, 5],
             "chosen": [{"position": 1, "frame": 5, "time": SCRIPT, "score": SCRIPT}], "scores": [SCRIPT, SCRIPT],
             "prediction": [{"class": SCRIPT, "prob": SCRIPT}], "label": SCRIPT, "sampler": SCRIPT,
             "seconds": {SCRIPT: SCRIPT}, "gmacs": {SCRIPT: SCRIPT}, "motion": SCRIPT}
    evaluation = {"config": {"regime": SCRIPT, "T": SCRIPT, "N": SCRIPT, "videos": SCRIPT, "repeats": SCRIPT},
                  "policies": {SCRIPT: {"top1": SCRIPT, "top1_std": SCRIPT, "mAP": SCRIPT, "frames": SCRIPT,
                                        "seconds_per_video": SCRIPT},
                               "$\\foo$": {"top1": 0.5, "frames": 2.0, "seconds_per_video": 0.1}},
                  "cost": {SCRIPT: {"sampler_gmacs": SCRIPT, "classifier_gmacs": SCRIPT}}}
    return [video, {"video": SCRIPT, "error": SCRIPT}, evaluation, {SCRIPT: evaluation}]


def test_b2_a_record_whose_every_string_is_a_script_renders_as_text_in_chromium(tmp_path):
    results, page = tmp_path / "r.jsonl", tmp_path / "r.html"
    results.write_text("".join(json.dumps(record) + "\n" for record in every_string_a_script()))
    assert main(["report", str(results), "--html", str(page)]) == 0
    text = page.read_text()
    assert not re.search(r"<script|<img src=x|onerror=\"", text, re.I)
    assert text.count("&lt;script&gt;document.title=&#x27;PWNED&#x27;&lt;/script&gt;") >= 20
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                          "--disable-background-networking", "--disable-component-update", f"--user-data-dir={tmp_path / 'p'}",
                          "--virtual-time-budget=2000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<section>" in dom and "PWNED" in dom, "the page was rendered, the scripts shown as text"
    assert not re.search(r"<script|<img src=\"x\"|<title>PWNED", dom, re.I), "a script from the record ran"


@pytest.mark.parametrize("change, message", [
    ({"video": 12345}, r"'video' must be the video's path, got int"),
    ({"video": None}, r"'video' must be the video's path, got NoneType"),
    ({"scores": [0.1, 0.2]}, r"'scores' must hold one score per candidate \(4\)"),
    ({"chosen": [{"position": 9, "frame": 4}]}, r"'chosen' must list positions into the 4 candidates"),
    ({"candidates": "1,4"}, r"'candidates' must be a list of at most 4096 frame numbers"),
    ({"candidates": list(range(5000))}, r"'candidates' must be a list of at most 4096 frame numbers"),
    ({"prediction": ["disc"]}, r"'prediction' must be a list of \{class, prob\}"),
    ({"policies": [], "config": {}}, r"'config', 'cost' and 'policies' must be objects"),
])
def test_w6_a_malformed_record_is_refused_in_one_line(tmp_path, capsys, change, message):
    results, page = tmp_path / "r.jsonl", tmp_path / "r.html"
    record = change if "policies" in change else {**video_record(str(tmp_path / "gone.mp4")), **change}
    results.write_text(json.dumps({"video": "a.mp4", "error": "x"}) + "\n" + json.dumps(record) + "\n")
    assert main(["report", str(results), "--html", str(page)]) == 2
    assert re.search(r"framesampler: error: results record 2: " + message, one_line_error(capsys))
    assert not page.exists()


def test_w6_a_policy_named_like_mathtext_is_plotted_as_text(tmp_path):
    from framesampler.report.html import render_html

    report = {"config": {"T": 4}, "policies": {"$\\foo$": {"top1": 0.5, "frames": 2.0, "seconds_per_video": 0.1},
                                               "$x^$": {"top1": 0.6, "frames": 2.0, "seconds_per_video": 0.2}}}
    assert "top-1 against time" in render_html([report])


@pytest.mark.parametrize("size", ["0", "-5", "20000"])
def test_w7_thumb_size_is_bounded(tmp_path, capsys, size):
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"video": "a.mp4", "error": "x"}) + "\n")
    assert main(["report", str(results), "--html", str(tmp_path / "r.html"), "--thumb-size", size]) == 2
    assert f"--thumb-size {size}: give 16..512 pixels" in one_line_error(capsys)


def test_w8_a_replaced_video_is_not_shown_as_the_one_sampled(videos, tmp_path):
    from framesampler.report.html import render_html

    video = tmp_path / "v.mp4"
    shutil.copy(videos.parent / "videos" / "disc_000.mp4", video)
    assert "thumbnails unavailable" not in render_html([video_record(str(video))])
    page = render_html([video_record(str(video), num_frames=48)])  # the record of a longer video under this name
    assert "thumbnails unavailable" in page and "has 12 frames but the record says 48: the video was replaced" in page
    assert "<img" not in page


# B4, B5: an output is never an input --------------------------------------------------------------------------

def test_b4_report_never_overwrites_its_results(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"video": "a.mp4", "error": "x"}) + "\n")
    before = results.read_bytes()
    assert main(["report", str(results), "--html", str(results)]) == 2
    assert "--html" in one_line_error(capsys) and results.read_bytes() == before
    (tmp_path / "link.html").hardlink_to(results)  # the same inode under another name
    assert main(["report", str(results), "--html", str(tmp_path / "link.html")]) == 2
    assert "is the input" in one_line_error(capsys) and results.read_bytes() == before


@pytest.mark.parametrize("flag", ["--json", "--sheet"])
def test_b5_sample_never_overwrites_its_video(videos, tmp_path, capsys, flag):
    video = tmp_path / "v.mkv"
    shutil.copy(videos.parent / "videos" / "disc_000.mp4", video)
    before = video.read_bytes()
    assert main(["sample", str(video), flag, str(video), "--T", "4", "--N", "2"]) == 2
    assert re.search(rf"{flag} .*v.mkv is the input .*v.mkv: writing it would destroy", one_line_error(capsys))
    assert video.read_bytes() == before


@pytest.mark.parametrize("argv, flag", [
    (["batch", "{m}", "--out", "{m}"], "--out"),
    (["extract", "{m}", "--out", "{m}"], "--out"),
    (["extract", "{m}", "--test", "{t}", "--out", "{t}"], "--out"),
    (["independence", "{v}", "--json", "{v}"], "--json"),
    (["evaluate", "--features", "{f}", "--json", "{f}"], "--json"),
    (["evaluate", "--features", "{f}", "--csv", "{f}"], "--csv"),
    (["sample", "{v}", "--json", "{o}", "--sheet", "{o}"], "--sheet"),
    (["construct", "{c}/train.txt", "--vocab", "disc", "--out", "{c}"], "--out"),
    (["train", "--features", "{c}/f.npz", "--sampler", "sosampler", "--out", "{c}"], "--out"),
])
def test_b4_b5_every_command_checks_its_outputs_against_its_inputs(videos, tmp_path, capsys, argv, flag):
    from tests.conftest import write_feature_file

    folder = tmp_path / "c"
    folder.mkdir()
    shutil.copy(videos, folder / "train.txt")
    features = write_feature_file(tmp_path / "f.npz", [1, 2, 3])
    shutil.copy(features, folder / "f.npz")
    (tmp_path / "t.txt").write_text(videos.read_text())
    names = {"{m}": str(videos), "{t}": str(tmp_path / "t.txt"), "{v}": str(videos.parent / "videos" / "disc_000.mp4"),
             "{f}": str(features), "{o}": str(tmp_path / "o.json"), "{c}": str(folder)}
    before = {p: p.read_bytes() for p in [videos, features, *folder.iterdir()]}
    (folder / "config.json").write_text('{"sampler": "sosampler", "options": {}, "classifier": {}}')  # a checkpoint
    argv = [re.sub(r"\{.\}", lambda match: names[match.group()], a) for a in argv]
    assert main(argv) == 2
    err = one_line_error(capsys)
    assert flag in err and ("is the input" in err or "holds the input" in err or "both name" in err), err
    assert {p: p.read_bytes() for p in before} == before


# B3, B6, W1-W4, W9: batch ---------------------------------------------------------------------------------------

class StubPipeline:
    """What ``run_batch`` uses of a pipeline, without networks: ``decode`` probes the file (the real one-line
    errors), ``run`` gives a summary; it counts the videos decoded and not yet run."""

    def __init__(self, T: int = 4) -> None:
        import threading

        self.T, self.lock, self.waiting, self.most = T, threading.Lock(), 0, 0

    def decode(self, path):
        from framesampler.video.decode import probe

        with self.lock:
            self.waiting += 1
            self.most = max(self.most, self.waiting)
        try:
            return path, probe(path).num_frames
        except Exception:
            with self.lock:
                self.waiting -= 1
            raise

    def run(self, decoded):
        with self.lock:
            self.waiting -= 1
        path, frames = decoded
        return type("Result", (), {"summary": lambda self: {"video": str(path), "num_frames": frames}})()


def batch_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def folder(videos, tmp_path) -> Path:
    """tmp_path/vids: two of the tiny videos (links)."""
    vids = tmp_path / "vids"
    vids.mkdir()
    for name in ("disc_000.mp4", "square_000.mp4"):
        (vids / name).symlink_to(videos.parent / "videos" / name)
    return vids


@pytest.mark.parametrize("content", [b"my notes\nsecond line\nthe last line, no newline",
                                     b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4, b"one line\n"])
def test_b3_a_file_that_is_not_results_is_refused_untouched(folder, tmp_path, content):
    from framesampler.app.batch import run_batch

    out = tmp_path / "precious.txt"
    out.write_bytes(content)
    with pytest.raises(ValueError, match=r"precious.txt.* is not a result of framesampler batch: the file was left as it is"):
        run_batch(StubPipeline(), folder, out, progress=False)
    assert out.read_bytes() == content


def test_b6_resume_matches_videos_wherever_the_run_starts(folder, tmp_path, monkeypatch):
    from framesampler.app.batch import run_batch

    monkeypatch.chdir(tmp_path)
    first = run_batch(StubPipeline(), "vids", "r.jsonl", progress=False)
    assert (first.done, first.skipped) == (2, 0)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert run_batch(StubPipeline(), tmp_path / "vids", tmp_path / "r.jsonl", progress=False).skipped == 2
    assert run_batch(StubPipeline(), "../vids", "../r.jsonl", progress=False).skipped == 2
    manifest = tmp_path / "list.txt"
    manifest.write_text("vids/disc_000.mp4 disc\n")
    assert run_batch(StubPipeline(), "../list.txt", "../r.jsonl", progress=False).skipped == 1
    assert len(batch_lines(tmp_path / "r.jsonl")) == 2, "no video written twice"


def test_w9_results_name_videos_by_absolute_path(folder, tmp_path, monkeypatch):
    from framesampler.app.batch import run_batch

    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.txt").write_text("vids/disc_000.mp4 disc\n")
    run_batch(StubPipeline(), "vids", "r.jsonl", progress=False)
    run_batch(StubPipeline(), "list.txt", "s.jsonl", progress=False)
    rows = batch_lines(tmp_path / "r.jsonl") + batch_lines(tmp_path / "s.jsonl")
    monkeypatch.chdir(PACKAGE)  # a report made elsewhere finds every video
    assert len(rows) == 3 and all(Path(row["video"]).is_absolute() and Path(row["video"]).is_file() for row in rows)


def test_w1_a_second_run_on_the_same_results_refuses_to_start(folder, tmp_path):
    from framesampler.app.batch import results_lock, run_batch

    out = tmp_path / "r.jsonl"
    with results_lock(out):
        with pytest.raises(ValueError, match=r"another framesampler batch is writing .*r.jsonl \(it holds .*r.jsonl.lock\)"):
            run_batch(StubPipeline(), folder, out, progress=False)
    assert not out.exists()
    assert run_batch(StubPipeline(), folder, out, progress=False).done == 2
    assert not (tmp_path / "r.jsonl.lock").exists(), "the lock is removed after the run"
    script = ("import sys, time\nfrom pathlib import Path\nfrom framesampler.app.batch import results_lock\n"
              "with results_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(out)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ValueError, match="another framesampler batch is writing"):
            run_batch(StubPipeline(), folder, out, progress=False)
    finally:
        holder.kill()
        holder.wait()


def test_w2_workers_and_decoded_videos_in_memory_are_bounded(videos, tmp_path):
    from framesampler.app.batch import MAX_FRAMES_AHEAD, MAX_WORKERS, run_batch

    for i in range(12):  # 12 distinct names for the same tiny videos
        (tmp_path / f"v{i}.mp4").symlink_to(videos.parent / "videos" / "disc_000.mp4")
    with pytest.raises(ValueError, match=rf"--workers 1000: use 0..{MAX_WORKERS}"):
        run_batch(StubPipeline(), tmp_path, tmp_path / "r.jsonl", workers=1000, progress=False)
    small, large = StubPipeline(T=4), StubPipeline(T=MAX_FRAMES_AHEAD * 4)
    run_batch(small, tmp_path, tmp_path / "small.jsonl", workers=8, progress=False)
    run_batch(large, tmp_path, tmp_path / "large.jsonl", workers=8, progress=False)
    assert small.most > 2, "small videos are decoded ahead by all the workers"
    assert large.most <= 2, f"{large.most} videos of {large.T} candidates each were held at once"


def test_w3_a_video_listed_twice_is_done_once_and_no_missing_flag_is_suggested(videos, tmp_path):
    from framesampler.app.batch import run_batch

    video = videos.parent / "videos" / "disc_000.mp4"
    manifest = tmp_path / "twice.txt"
    manifest.write_text(f"{video} disc\n{video} disc\n")
    assert run_batch(StubPipeline(), manifest, tmp_path / "r.jsonl", progress=False).done == 1
    manifest.write_text(f"{video} disc\n{video} square\n")
    with pytest.raises(ValueError, match="has two labels") as error:
        run_batch(StubPipeline(), manifest, tmp_path / "s.jsonl", progress=False)
    assert "--dedupe" not in str(error.value)


def test_w4_links_and_fifos_named_like_videos_get_an_error_line(folder, tmp_path):
    from framesampler.app.batch import run_batch

    (folder / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (folder / "loop.mp4").symlink_to(folder / "loop.mp4")
    os.mkfifo(folder / "pipe.mp4")
    report = run_batch(StubPipeline(), folder, tmp_path / "r.jsonl", progress=False)
    assert (report.done, report.failed) == (2, 3)
    errors = {Path(row["video"]).name: row["error"] for row in batch_lines(tmp_path / "r.jsonl") if "error" in row}
    assert "broken symlink" in errors["gone.mp4"] and "broken symlink" in errors["loop.mp4"]
    assert "not a regular file" in errors["pipe.mp4"]


# B7, B8, B9, W14, W15: construct --------------------------------------------------------------------------------

def construct_args(manifest: Path, out: Path, vocab: str, *extra: str) -> list[str]:
    return ["construct", str(manifest), "--vocab", vocab, "--out", str(out), "--length", "3", "--fps", "8", "--size", "32x32",
            "--gop", "1", "--no-audio", "--no-progress", "--background-videos", *extra]


def relabeled(videos: Path, tmp_path: Path, label: str) -> Path:
    """A CSV manifest of the tiny videos with the disc class renamed ``label``."""
    rows = [line.split() for line in videos.read_text().splitlines()]
    manifest = tmp_path / "clips.csv"
    manifest.write_text("path,label\n" + "".join(f'{videos.parent / path},"{label if name == "disc" else name}"\n'
                                                 for path, name in rows))
    return manifest


def test_b7_a_label_never_writes_outside_the_output_folder(videos, tmp_path, capsys):
    out = tmp_path / "deep" / "er" / "out"
    manifest = relabeled(videos, tmp_path, "../../../escaped")
    assert main(construct_args(manifest, out, "../../../escaped")) == 2
    assert "class '../../../escaped' cannot name a folder" in one_line_error(capsys)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents and p != manifest]
    assert not outside, f"written outside --out: {outside}"


def test_b8_a_label_with_a_space_is_refused_before_a_manifest_extract_cannot_read(videos, tmp_path, capsys):
    manifest = relabeled(videos, tmp_path, "Basket ball")
    assert main(construct_args(manifest, tmp_path / "out", "Basket ball")) == 2
    assert "class 'Basket ball' cannot name a folder of long videos and a field of train.txt" in one_line_error(capsys)


def test_w15_a_label_with_a_comma_is_not_offered_as_a_choice(videos, tmp_path, capsys):
    manifest = relabeled(videos, tmp_path, "Basket,ball")
    assert main(construct_args(manifest, tmp_path / "out", "Basket,ball")) == 2
    err = one_line_error(capsys)
    assert re.search(r"choose from square; 'Basket,ball' cannot be named \(a space, comma or slash\): rename", err), err


@pytest.mark.parametrize("setting", [{"fps": 100000.0}, {"width": 40000}, {"height": 40000}, {"length": 1e7},
                                     {"per_clip": 100000}])
def test_b9_construct_sizes_are_bounded(setting):
    from framesampler.data.construct import ConstructConfig

    name, value = next(iter(setting.items()))
    with pytest.raises(ValueError, match=rf"{name}={value!r}: .*length in \(0, 3600\] s, fps in \(0, 120\].*in 16..1920"):
        ConstructConfig(**setting)


def test_b9_construct_refuses_too_high_a_frame_rate_before_any_work(videos, tmp_path, capsys):
    assert main([*construct_args(videos, tmp_path / "out", "disc")[:-1], "--fps", "121", "--background-videos"]) == 2
    assert "fps=121.0" in one_line_error(capsys) and not (tmp_path / "out").exists()


def test_b9_writing_decodes_a_bounded_number_of_frames_at_once(videos, tmp_path, monkeypatch):
    from framesampler.data import construct as module
    from framesampler.video.decode import VideoReader

    asked = []
    frames = VideoReader.frames
    monkeypatch.setattr(VideoReader, "frames", lambda self, indices, **kw: asked.append(len(indices)) or frames(self, indices, **kw))
    monkeypatch.setattr(module, "WRITE_CHUNK", 16)
    config = module.ConstructConfig(length=2.0, fps=40.0, width=32, height=32, audio=False, gop=1.0)
    clip = module.Source(str(videos.parent / "videos" / "disc_000.mp4"), 8.0, 0, 12, "disc")
    background = [module.Source(str(videos.parent / "videos" / "square_000.mp4"), 8.0, 0, 12)]
    plan = module.plan_video(clip, background, config, __import__("numpy").random.default_rng(0))
    module.write_video(plan, tmp_path / "v.mp4", config)
    assert sum(asked) == plan.num_frames == 80 and max(asked) == 16


def test_w14_a_rerun_removes_what_a_killed_run_left_half_written(videos, tmp_path):
    out = tmp_path / "out"
    folder = out / "train" / "disc"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    stale, live = folder / f".0000_disc_000_0.mp4.{dead}.partial", folder / f".0001_x_0.mp4.{os.getpid()}.partial"
    stale.write_bytes(b"half a video")
    live.write_bytes(b"being written by a running process")
    assert main(construct_args(videos, out, "disc")) == 0
    assert not stale.exists() and live.exists()
    assert (out / "train.txt").read_text().count("disc") >= 1


# W10-W13: checkpoints from anyone --------------------------------------------------------------------------------

def write_checkpoint(directory: Path, *, sampler: str = "sosampler", input_dim: int = 16, extract: dict | None = None) -> Path:
    """An untrained checkpoint of ``sampler`` over ``input_dim``-d features against a fresh two-class head."""
    import framesampler.learned  # noqa: F401 (registers the learned samplers)
    from framesampler.classifiers.frozen import ClassifierConfig, FrameClassifier
    from framesampler.learned.checkpoint import save_checkpoint
    from framesampler.policies.registry import create_sampler

    classifier = FrameClassifier(ClassifierConfig(input_dim=16, class_ids=[1, 2], class_names=["a", "b"]))
    return save_checkpoint(create_sampler(sampler, input_dim=input_dim, num_classes=2), directory, T=4, N=2,
                           classifier=classifier, extract=extract)


def edited(directory: Path, change) -> Path:
    config = json.loads((directory / "config.json").read_text())
    change(config)
    (directory / "config.json").write_text(json.dumps(config))
    return directory


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(extra=1), r"unknown key\(s\) extra"),
    (lambda c: c.pop("input_dim"), r"no input_dim"),
    (lambda c: c.update(options=[1, 2]), r"options \[1, 2\] is not dict"),
    (lambda c: c.update(input_dim=10**9), r"input_dim 1000000000: need 1..16384"),
    (lambda c: c["options"].update(width=10**9), r"config.json and weights do not fit together \(width must be an integer in 1..4096"),
    (lambda c: c["options"].update(width=128), r"config.json and weights do not fit together \(.*size mismatch"),
    (lambda c: c.update(classifier_config={**c["classifier_config"], "hidden": 7, "head": "mlp"}),
     r"config.json and weights do not fit together \(.*Missing key"),
    (lambda c: c["classifier_config"].update(unknown=1), r"classifier_config has unknown key\(s\) unknown"),
])
def test_w10_an_edited_checkpoint_config_is_refused_before_anything_is_built(tmp_path, capsys, change, message):
    from framesampler.learned.checkpoint import read_checkpoint

    directory = edited(write_checkpoint(tmp_path / "ck"), change)
    with pytest.raises(ValueError, match=message) as error:
        read_checkpoint(directory)
    assert "\n" not in str(error.value) and str(error.value).endswith("train it again with `framesampler train`")


def test_w10_another_models_weights_are_refused_in_one_line(tmp_path):
    from framesampler.learned.checkpoint import read_checkpoint

    ours, other = write_checkpoint(tmp_path / "ck"), write_checkpoint(tmp_path / "other", sampler="ocsampler", input_dim=8)
    shutil.copy(other / "weights.pt", ours / "weights.pt")
    with pytest.raises(ValueError, match=r"do not fit together \(Error\(s\) in loading state_dict for SOSampler: Missing key") as error:
        read_checkpoint(ours)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("T, N, message", [(-1, 2, "T -1 and N 2"), (True, 1, "T True is not int"), (10**9, 2, "T 1000000000 and N 2"),
                                           ("10", 2, "T '10' is not int"), (4, 0, "T 4 and N 0"), (4, 5, "T 4 and N 5")])
def test_w11_checkpoint_T_and_N_are_checked_numbers(tmp_path, capsys, T, N, message):
    from framesampler.learned.checkpoint import read_checkpoint

    directory = edited(write_checkpoint(tmp_path / "ck"), lambda c: c.update(T=T, N=N))
    with pytest.raises(ValueError, match=re.escape(message)):
        read_checkpoint(directory)
    assert main(["sample", "any.mp4", "--sampler", str(directory), "--T", "4", "--N", "2"]) == 2
    assert message in one_line_error(capsys)


def test_w12_a_checkpoint_or_dataset_resolution_is_bounded(tmp_path):
    import dataclasses

    from framesampler.app.pipeline import Pipeline
    from framesampler.data.dataset import ExtractConfig, PipelineConfig
    from framesampler.learned.checkpoint import read_checkpoint
    from framesampler.policies import create_sampler

    big = {**dataclasses.asdict(ExtractConfig()), "classifier_resolution": 10**6}
    directory = edited(write_checkpoint(tmp_path / "ck", extract=ExtractConfig().__dict__), lambda c: c.update(extract=big))
    with pytest.raises(ValueError, match=r"config.json is not a checkpoint's config \(extract resolutions \[1000000, 64\]: "
                                         r"need 32..1024 px\)"):
        read_checkpoint(directory)
    with pytest.raises(ValueError, match=r"resolution must be 32..1024 px .*got 1000000"):  # a dataset's extract_config
        Pipeline(create_sampler("uniform"), T=4, N=2, config=PipelineConfig(classifier_resolution=10**6))


def test_w13_a_weights_file_with_code_is_refused_in_one_plain_line(videos, tmp_path, capsys):
    directory = write_checkpoint(tmp_path / "ck")
    target = tmp_path / "x"
    torch.save({"weight": _Opens(str(target))}, directory / "weights.pt")
    assert main(["sample", str(videos.parent / "videos" / "disc_000.mp4"), "--sampler", str(directory), "--T", "4", "--N", "2"]) == 2
    err = one_line_error(capsys)
    assert "Python objects beyond tensors, refused because loading it could run code" in err
    assert "weights_only" not in err and "\x1b" not in err and not target.exists()


# W16: the Python API ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("indices, found", [([5, 2, 9], "got 5 then 2 at position 1"), ([2, 2, 5], "got 2 then 2 at position 1")])
def test_w16_candidates_must_be_increasing_frames(indices, found):
    import numpy as np

    from framesampler import Candidates, create_sampler

    with pytest.raises(ValueError, match=re.escape(f"frame_indices must be increasing, each frame once (samplers return "
                                                   f"positions in time order), {found}: pass np.unique(indices)")):
        Candidates(np.array(indices), 10)
    assert create_sampler("uniform").select(Candidates(np.array([2, 5, 9]), 10), 2).tolist() == [0, 2]


@pytest.mark.parametrize("sampler, T, N, message", [("nosuch", 8, 2, "sampler='nosuch' is neither a sampler name"),
                                                    ("uniform", 4, 9, "N=9 frames cannot be chosen from T=4 candidates"),
                                                    ("uniform", 4, 0, "N must be an integer >= 1, got 0"),
                                                    ("uniform", True, 1, "T must be an integer >= 1, got True")])
def test_w16_hf_errors_speak_python(videos, sampler, T, N, message):
    from framesampler.integrations.hf import indices_fn

    with pytest.raises((ValueError, TypeError), match=re.escape(message)) as error:
        indices_fn(videos.parent / "videos" / "disc_000.mp4", sampler, T=T, N=N)
    assert "--" not in str(error.value)


# Bounds: every number that sizes memory or work is bounded, and the bound is in the flag's help ------------------

@pytest.mark.parametrize("command, flag, bound", [
    ("evaluate", "--T", "at most 4096"), ("evaluate", "--length", "at most 10000"), ("train", "--width", "at most 4096"),
    ("sample", "--T", "at most 4096"), ("batch", "--workers", "K <= 32"), ("batch", "--workers", "1024 // T"),
    ("extract", "--T", "at most 4096"),
    ("construct", "--fps", "at most 120"), ("construct", "--size", "16..1920"), ("construct", "--length", "at most 3600"),
    ("construct", "--per-clip", "at most 100"), ("report", "--thumb-size", "16..512"),
    ("independence", "--resolution", "32..1024 px"), ("independence", "--max-frames", "2..4096"),
])
def test_bounds_are_documented_in_the_help(command, flag, bound):
    from framesampler.cli import build_parser

    parser = build_parser()
    [sub] = [action for action in parser._actions if action.dest == "command"]
    [option] = [action for action in sub.choices[command]._actions if flag in action.option_strings]
    assert bound in option.help % {"default": option.default}, option.help


@pytest.mark.parametrize("build, message", [
    ("framesampler.classifiers.pretrained:PretrainedBackbone(resolution=10**6)", "resolution must be 32..1024 px"),
    ("framesampler.eval.independence:relevance_by_rate([], max_frames_per_video=10**6)", "must be 2..4096"),
    ("framesampler.data.untrimmed:UntrimmedConfig(length=10**6).for_clips(8)", "and at most 10000"),
    ("framesampler.app.prepare:check_budget_flags(10**6, 2)", "need 1 <= N <= T <= 4096"),
    ("framesampler.candidates:candidate_indices(10**7, 10**6)", "num_candidates (T) must be an integer in 1..4096"),
    ("framesampler.data.dataset:ExtractConfig(T=5000)", "--T 5000: give at most 4096 candidates per video"),
])
def test_library_bounds_refuse_before_allocating(build, message):
    import importlib

    module, call = build.split(":")
    name = call.split("(")[0].split(".")[0]
    with pytest.raises(ValueError, match=re.escape(message)):
        eval(call, {name: getattr(importlib.import_module(module), name)})
