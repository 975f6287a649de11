"""The HTML report over sample/batch/evaluate results (self-contained, rendered by headless Chromium) and the CSV files."""
from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from framesampler.app.demo import sample_videos
from framesampler.cli import main
from framesampler.report.html import load_results, render_html
from framesampler.report.results_csv import experiment_rows, write_csv

T, N = 12, 3
CHOSEN_RGB = (0xE6, 0x55, 0x0D)


@pytest.fixture(scope="module")
def batch_file(shared_videos, tmp_path_factory) -> Path:
    """A batch-style JSONL: two real videos sampled by uniform and mgsampler, and a broken file's error line."""
    records = sample_videos([shared_videos / "mmaction2/demo_demo.mp4", shared_videos / "opencv-doc/tree.avi",
                             shared_videos / "opencv-doc/copyright"], T=T, N=N)
    path = tmp_path_factory.mktemp("batch") / "r.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def evaluation(tmp_path: Path, small_features: Path) -> tuple[dict, Path]:
    out, table = tmp_path / "e.json", tmp_path / "e.csv"
    assert main(["evaluate", "--features", str(small_features), "--length", "30", "--T", "8", "--N", "3", "--repeats", "2",
                 "--no-progress", "--cache-dir", str(tmp_path / "cache"), "--json", str(out), "--csv", str(table)]) == 0
    return json.loads(out.read_text()), table


def test_batch_results_become_one_self_contained_page(batch_file, tmp_path):
    records = load_results(batch_file)
    assert [("error" in r, r.get("sampler")) for r in records] == [(False, "uniform"), (False, "mgsampler"),
                                                                   (False, "uniform"), (False, "mgsampler"), (True, None)]
    out = tmp_path / "report.html"
    assert main(["report", str(batch_file), "--html", str(out)]) == 0
    page = out.read_text()
    assert not re.search(r"<script|<link|@import|url\(|https?://", page, re.I)
    sources = re.findall(r"src='([^']*)'", page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert len(re.findall(r"<figure class='tile", page)) == 4 * T
    assert len(re.findall(r"<figure class='tile chosen'", page)) == 4 * N
    assert len(sources) == 4 * T  # every candidate's thumbnail decoded from the video named in the record
    for record in records[:4]:
        for row in record["chosen"]:
            assert f"#{row['frame']}<br>{row['time']:.2f} s" in page
        assert record["prediction"][0]["class"] in page
    assert html.escape(records[-1]["error"]) in page  # the broken file's one-line reason
    assert "classifier" in page and "GMACs" in page


def test_report_shows_scores_labels_and_missing_videos(tmp_path):
    record = {"video": str(tmp_path / "gone.mp4"), "num_frames": 40, "fps": 10.0, "T": 4, "N": 2, "candidates": [5, 15, 25, 35],
              "chosen": [{"position": 1, "frame": 15, "time": 1.5, "score": 0.9}, {"position": 3, "frame": 35, "time": 3.5, "score": 0.7}],
              "scores": [0.1, 0.9, 0.2, 0.7], "prediction": [{"class": "Surfing", "prob": 0.8}], "label": "Archery",
              "seconds": {"classifier": 0.5}, "gmacs": {"total": 1.5}}
    page = render_html([record])
    assert "thumbnails unavailable" in page and "no such file" in page
    assert page.count("<figure class='tile chosen'") == 2 and "score 0.2" in page and "score 0.9" in page
    assert "true label Archery" in page and "wrong" in page


def test_evaluation_table_plot_and_csv(tmp_path, small_features):
    report, table = evaluation(tmp_path, small_features)
    rows = list(csv.DictReader(table.open()))
    assert [row["policy"] for row in rows] == list(report["policies"])
    for row in rows:
        expected = report["policies"][row["policy"]]
        assert float(row["top1"]) == pytest.approx(expected["top1"]) and float(row["frames"]) == expected["frames"]
        if expected["fidelity"] is None:
            assert row["fidelity"] == ""
        else:
            assert float(row["fidelity"]) == pytest.approx(expected["fidelity"])
        assert (row["T"], row["N"]) == ("8", "3")

    page = render_html([report])
    for policy, row in report["policies"].items():
        assert f"<td>{policy}</td><td>{row['top1']:.3f} &plusmn;" in page
    assert "top-1 against time" not in page  # no timings, no plot
    timed = {**report, "policies": {p: {**row, "seconds_per_video": 0.01 * (i + 1)}
                                    for i, (p, row) in enumerate(report["policies"].items())}}
    page = render_html([{"trimmed": timed}])
    assert "evaluation: trimmed" in page and "seconds / video" in page
    assert re.search(r"top-1 against time</h3><img alt='[^']*' src='data:image/png;base64,", page)


def test_experiment_rows_one_per_table_nt_and_sampler(tmp_path):
    metrics = {"top1": 0.5, "top1_std": 0.1, "mAP": 0.6, "mAP_std": 0.0, "fidelity": None, "fidelity_std": None, "frames": 6.0}
    results = {"config": {"seeds": 1}, "small": {"6/10": {"uniform": metrics, "oracle": {**metrics, "fidelity": 1.0}}},
               "T at N=6": {"6/16": {"sosampler": metrics}}, "cost": {"per_video": {}}}
    rows = experiment_rows(results)
    assert [(r["table"], r["policy"], r["N"], r["T"]) for r in rows] == [("small", "uniform", 6, 10), ("small", "oracle", 6, 10),
                                                                         ("T at N=6", "sosampler", 6, 16)]
    path = write_csv(rows, tmp_path / "x.csv")
    read = list(csv.DictReader(path.open()))
    assert read[0]["fidelity"] == "" and read[1]["fidelity"] == "1.0" and read[2]["T"] == "16"


def test_bad_results_files_are_refused_with_one_line(tmp_path, capsys):
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"video": "a.mp4", "error": "x"}\n{"video": "b.mp4", "err')
    assert main(["report", str(torn), "--html", str(tmp_path / "out.html")]) == 2
    assert "line 2: not JSON" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert main(["report", str(other), "--html", str(tmp_path / "out.html")]) == 2
    assert "cannot report a record with keys hello" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "none.json"), "--html", str(tmp_path / "out.html")]) == 2
    assert not (tmp_path / "out.html").exists()


def test_headless_chromium_shows_the_tiles(batch_file, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    out = tmp_path / "report.html"
    assert main(["report", str(batch_file), "--html", str(out)]) == 0
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", f"--screenshot={shot}",
                    out.as_uri()], check=True, capture_output=True, timeout=120)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (900, 1200)
    not_background = (np.abs(pixels - pixels[5, 5]).sum(axis=2) > 30).mean()
    highlighted = (np.abs(pixels - CHOSEN_RGB).sum(axis=2) < 40).sum()
    assert not_background > 0.15  # thumbnails fill the page, it is not blank
    assert highlighted > 4 * 300  # the chosen tiles' borders (4 px wide) are on screen
