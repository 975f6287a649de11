"""MGSampler's readings (issue 20, point 3), each change measured on the shared data; writes JSON.

    nice .venv/bin/python benchmarks/mgsampler_paper.py [--clips 4] [--seeds 3] [--out results/mgsampler_paper.json]

Videos: a small construction from ``shared/data/ucf101-clips`` (``--clips`` test clips of each of two classes, one
long video each, 30 s, 2 action bursts among the shared background footage), written to a temporary folder. Every
long video goes through the real pipeline's network-free stage (``Pipeline.decode``; MGSampler reads no network) at
T = 64 -> N = 8 under each reading: what each candidate is compared with (``pairs``: ``previous_frame``, Eq. 1 and
the default; ``next_frame``; ``candidates``, the first reading) and the point of each bin (``test_point``:
``random``, Sec. 3.3 and the default, ``--seeds`` draws; ``centre``, the official code's test mode). Reported per
reading: the fraction of chosen frames inside the action bursts (the construction's ground truth) and the
candidates' decode and sampler seconds per video.

Features: the UCF101 VGG16 feature file (``shared/data/ucf101-vgg16``), untrimmed construction (the ``peers``
setting, T = 30 -> N = 8, one test construction): a feature file holds no frame between the candidates, so MGSampler
reads feature differences of consecutive candidates whatever its ``pairs`` (its ``reading``); only the test point
can change. Reported: top-1 and in-burst for ``random`` (``--seeds`` draws) and ``centre``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from framesampler.app.construct import construct  # noqa: E402
from framesampler.app.pipeline import load_pipeline  # noqa: E402
from framesampler.app.prepare import DataConfig, prepare  # noqa: E402
from framesampler.candidates import Candidates  # noqa: E402
from framesampler.data.construct import ConstructConfig, burst_mask  # noqa: E402
from framesampler.data.features import find_shared  # noqa: E402
from framesampler.data.manifest import read_manifest  # noqa: E402
from framesampler.eval.evaluate import evaluate  # noqa: E402
from framesampler.policies import create_sampler  # noqa: E402
from framesampler.storage import write_text_atomically  # noqa: E402

T, N = 64, 8
CLASSES = ("Archery", "BasketballDunk")
READINGS = {f"{pairs}, {point}": {"pairs": pairs, "test_point": point}
            for pairs in ("previous_frame", "next_frame", "candidates") for point in ("random", "centre")}


def constructed(folder: Path, clips: int) -> Path:
    """A small construction of ``clips`` test clips per class of ``CLASSES`` among background footage."""
    root = find_shared(Path("shared/data/ucf101-clips"))
    entries = read_manifest(root / "test.txt")
    chosen = [e for label in CLASSES for e in [e for e in entries if e.label == label][:clips]]
    others = [e for e in entries if e.label not in CLASSES][:2 * clips]  # other classes' clips: background
    report = construct({"test": chosen + others}, list(CLASSES), folder,
                       config=ConstructConfig(length=30.0, bursts=2, audio=False), progress=False)
    if report.failed:
        print("construct skipped:", *report.failed, sep="\n  ", file=sys.stderr)
    return folder


def on_videos(folder: Path, seeds: int) -> dict:
    segments = json.loads((folder / "segments.json").read_text())["videos"]
    rows = {}
    for name, options in READINGS.items():
        pipeline = load_pipeline("mgsampler", T=T, N=N, options=options)
        draws = range(seeds) if options["test_point"] == "random" else range(1)
        inside, decode, sampler, readings = [], [], [], set()
        for video, info in segments.items():
            for seed in draws:
                decoded = pipeline.decode(folder / video, rng=np.random.default_rng(seed))
                chosen = decoded.indices[decoded.selection.positions]
                inside.append(float(burst_mask(info["bursts"], chosen).mean()))
                decode.append(decoded.seconds["decode_candidates"])
                sampler.append(decoded.seconds["sampler"])
            readings.add(pipeline.sampler.reading(candidates_of(pipeline, decoded)))
        rows[name] = {"in_burst": float(np.mean(inside)), "in_burst_std_over_videos": float(np.std(inside)),
                      "decode_seconds_per_video": float(np.mean(decode)), "sampler_seconds_per_video": float(np.mean(sampler)),
                      "draws_per_video": len(draws), "reading": sorted(readings)}
        print(f"videos  {name:<28} in-burst {rows[name]['in_burst']:.3f}  decode {rows[name]['decode_seconds_per_video']:.3f} s"
              f"  {rows[name]['reading']}", flush=True)
    return {"videos": len(segments), "T": T, "N": N, "classes": list(CLASSES), "rows": rows}


def candidates_of(pipeline, decoded) -> Candidates:
    """The candidates the sampler saw (as ``Pipeline._choose`` builds them), for its ``reading``."""
    return Candidates(decoded.indices, decoded.metadata.num_frames, pixels=decoded.low, previous_pixels=decoded.previous_low,
                      next_pixels=decoded.next_low)


def on_features(cache: Path, seeds: int) -> dict:
    features = find_shared(Path("shared/data/ucf101-vgg16/ucf101_vgg16_c02-10.npz"))
    data = DataConfig(features=str(features), cache_dir=str(cache))
    setup = prepare(data)
    videos = setup.videos("test", 0)
    rows = {}
    for point in ("random", "centre"):
        runs = [evaluate(videos, setup.classifier, {"mgsampler": create_sampler("mgsampler", test_point=point)}, T=30, N=N,
                         seed=seed, progress=False)["mgsampler"] for seed in (range(seeds) if point == "random" else range(1))]
        rows[point] = {"top1": float(np.mean([r["top1"] for r in runs])), "top1_std_over_draws": float(np.std([r["top1"] for r in runs])),
                       "in_burst": float(np.mean([r["in_burst"] for r in runs])), "draws": len(runs), "reading": runs[0]["reading"]}
        print(f"features test_point={point:<7} top-1 {rows[point]['top1']:.3f}  in-burst {rows[point]['in_burst']:.3f}  "
              f"[{rows[point]['reading']}]", flush=True)
    uniform = evaluate(videos, setup.classifier, {"uniform": create_sampler("uniform")}, T=30, N=N, progress=False)["uniform"]
    rows["uniform (reference)"] = {"top1": uniform["top1"], "in_burst": uniform["in_burst"]}
    return {"data": str(features.name), "regime": "untrimmed", "length": data.length, "T": 30, "N": N,
            "test_videos": len(videos), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=4, help="test clips per class in the small construction")
    parser.add_argument("--seeds", type=int, default=3, help="draws of the random test point")
    parser.add_argument("--out", type=Path, default=Path("results/mgsampler_paper.json"))
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        videos = on_videos(constructed(Path(tmp) / "construct", args.clips), args.seeds)
        features = on_features(Path(tmp) / "cache", args.seeds)
    result = {"benchmark": "mgsampler_paper", "machine": platform.processor() or platform.machine(),
              "seconds": round(time.perf_counter() - start, 1), "videos": videos, "features": features}
    write_text_atomically(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} in {result['seconds']} s")


if __name__ == "__main__":
    main()
