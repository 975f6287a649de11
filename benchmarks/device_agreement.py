"""Does the device (or a lower precision) choose what the CPU in float32 chooses? (issue 22: "on CUDA they agree
with CPU within a stated tolerance: same chosen frames on the shared videos, probabilities within 1e-3 in float32")

Every video file under shared/data/videos goes through the two-resolution pipeline of three samplers, at T -> N
(default 16 -> 4), once per setting:

- ``semi_optimal_max`` (pi_s): the built-in classifier (EfficientNet-Lite0, ImageNet head) on every candidate, the
  N most confident chosen: the most sensitive to precision, its scores are the classifier's probabilities;
- ``sosampler``: a seeded, untrained SOSampler on the sampler backbone's features (the shallow backbone and the
  learned sampler on the device; ``--checkpoint`` for a trained one);
- ``uniform``: the classifier on the N chosen frames only (the chosen frames cannot differ; the probabilities can).

The reference is the CPU in float32. On a CUDA machine the settings compared are CUDA in float32, bfloat16 and
float16; on a CPU-only machine, the CPU in bfloat16 (said in the output and the JSON). Per setting and sampler: the
videos whose chosen frames equal the reference's, the largest absolute difference of the probabilities and of the
scores, and the videos whose top-1 class agrees. Prints a table and writes JSON (default results/device_agreement.json).

    PYTHONPATH=. python benchmarks/device_agreement.py [--T 16 --N 4] [--json results/device_agreement.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from framesampler.app.batch import VIDEO_SUFFIXES
from framesampler.app.pipeline import Pipeline
from framesampler.classifiers.pretrained import PretrainedBackbone
from framesampler.data.dataset import PipelineConfig
from framesampler.learned import load_checkpoint
from framesampler.policies import create_sampler
from framesampler.video.decode import VideoError

SAMPLERS = ("semi_optimal_max", "sosampler", "uniform")
FLOAT32_TOLERANCE = 1e-3  # the issue's: probabilities on CUDA in float32 within this of the CPU's


def shared_videos() -> Path:
    for base in (Path.cwd(), *Path.cwd().parents):
        root = base / "shared" / "data" / "videos"
        if root.is_dir():
            return root
    raise SystemExit("no shared/data/videos above the current directory")


def settings() -> list[tuple[str, str]]:
    """(device, precision) pairs compared with the CPU in float32."""
    if torch.cuda.is_available():
        return [("cuda", "float32"), ("cuda", "bfloat16"), ("cuda", "float16")]
    return [("cpu", "bfloat16")]


def sampler(name: str, checkpoint: Path | None, config: PipelineConfig):
    """A fresh sampler per pipeline (a pipeline moves a learned one to its device), the same weights each time."""
    if name != "sosampler":
        return create_sampler(name)
    if checkpoint is not None:
        return load_checkpoint(checkpoint)
    width = PretrainedBackbone(config.backbone, resolution=config.sampler_resolution, stages=config.sampler_stages).out_dim
    return create_sampler("sosampler", input_dim=width, num_classes=1000, seed=0)


def run(videos: dict[str, Path], device: str, precision: str, *, T: int, N: int, checkpoint: Path | None) -> dict:
    """{sampler: {video: (chosen frames, probs, scores) or None for a video that cannot be read}}, and the seconds."""
    config = PipelineConfig()
    out, start = {}, time.perf_counter()
    for name in SAMPLERS:
        pipeline = Pipeline(sampler(name, checkpoint, config), T=T, N=N, config=config, device=device,
                            precision=precision)
        out[name] = {}
        for key, video in videos.items():
            try:
                result = pipeline(video)
            except (VideoError, ValueError):
                out[name][key] = None
                continue
            scores = None if result.scores is None else np.asarray(result.scores, dtype=np.float64)
            out[name][key] = (result.candidates[result.chosen].tolist(), result.probs.astype(np.float64), scores)
    return {"runs": out, "seconds": time.perf_counter() - start}


def compare(reference: dict, other: dict) -> dict:
    """Per sampler: agreement of ``other`` with ``reference`` over the videos both could read."""
    rows = {}
    for name, videos in reference.items():
        same, top1, prob_diff, score_diff, differing = 0, 0, 0.0, 0.0, []
        read = [v for v, r in videos.items() if r is not None and other[name][v] is not None]
        for video in read:
            (chosen, probs, scores), (chosen_o, probs_o, scores_o) = videos[video], other[name][video]
            if chosen == chosen_o:
                same += 1
            else:
                differing.append({"video": video, "reference": chosen, "here": chosen_o})
            top1 += int(np.argmax(probs) == np.argmax(probs_o))
            prob_diff = max(prob_diff, float(np.abs(probs - probs_o).max()))
            if scores is not None:
                finite = np.isfinite(scores) & np.isfinite(scores_o)
                score_diff = max(score_diff, float(np.abs(scores[finite] - scores_o[finite]).max(initial=0.0)))
        rows[name] = {"videos": len(read), "same_chosen_frames": same, "same_top1": top1,
                      "max_abs_prob_diff": prob_diff, "max_abs_score_diff": score_diff, "differing": differing}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--T", type=int, default=16)
    parser.add_argument("--N", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, help="a trained sampler for the sosampler row (default: untrained)")
    parser.add_argument("--json", type=Path, default=Path("results/device_agreement.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = shared_videos()
    videos = {str(p.relative_to(root)): p for p in sorted(root.rglob("*"))
              if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES}
    cuda = torch.cuda.is_available()
    machine = {"torch": torch.__version__, "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
               "cuda": torch.cuda.get_device_name(0) if cuda else None}
    note = "CUDA device found: the CPU in float32 against CUDA in float32, bfloat16 and float16" if cuda else \
        "no CUDA device here: the CPU in float32 against the CPU in bfloat16 (float16 needs CUDA)"
    print(f"{note}; {len(videos)} video files under {root}, T={args.T} N={args.N}, torch {torch.__version__}")
    reference = run(videos, "cpu", "float32", T=args.T, N=args.N, checkpoint=args.checkpoint)
    results = {}
    for device, precision in settings():
        other = run(videos, device, precision, T=args.T, N=args.N, checkpoint=args.checkpoint)
        rows = compare(reference["runs"], other["runs"])
        results[f"{device} {precision}"] = {"device": device, "precision": precision, "seconds": other["seconds"],
                                            "samplers": rows}
    print(f"\n{'setting':<16}{'sampler':<20}{'videos':>7}{'same frames':>13}{'same top-1':>12}{'max |dprob|':>13}"
          f"{'max |dscore|':>14}")
    for setting, result in results.items():
        for name, row in result["samplers"].items():
            print(f"{setting:<16}{name:<20}{row['videos']:>7}{row['same_chosen_frames']:>13}{row['same_top1']:>12}"
                  f"{row['max_abs_prob_diff']:>13.2e}{row['max_abs_score_diff']:>14.2e}")
    if cuda:
        float32 = results["cuda float32"]["samplers"].values()
        ok = all(r["same_chosen_frames"] == r["videos"] and r["max_abs_prob_diff"] <= FLOAT32_TOLERANCE for r in float32)
        print(f"\nCUDA float32: same chosen frames and probabilities within {FLOAT32_TOLERANCE:g} on every video: "
              f"{'yes' if ok else 'NO'}")
    unreadable = [v for v, r in reference["runs"]["uniform"].items() if r is None]
    report = {"note": note, "machine": machine, "reference": {"device": "cpu", "precision": "float32",
                                                               "seconds": reference["seconds"]},
              "settings": {"T": args.T, "N": args.N, "threads": args.threads,
                           "checkpoint": str(args.checkpoint) if args.checkpoint else None},
              "videos": list(videos), "unreadable": unreadable,
              "float32_tolerance": FLOAT32_TOLERANCE, "results": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
