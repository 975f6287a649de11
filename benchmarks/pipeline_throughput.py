"""Throughput of the two-resolution pipeline on the real long videos (issue: videos/s and per-stage seconds).

Three ways to classify each video with the same frozen classifier (EfficientNet-Lite0 at 224 px + head):

- ``dense T=64``: decode 64 uniform candidates at classifier resolution, classify all 64;
- ``uniform N=8``: decode 8 uniform frames, classify them;
- ``sampler 64->8``: decode 64 candidates once, a SOSampler (shallow pretrained backbone at
  ``--sampler-size`` + its learned heads) picks 8, classify those 8.

The sampler's weights do not change its cost, so an untrained SOSampler of the right input size stands
in unless ``--checkpoint`` gives a trained one. Targets: the sampler pipeline >= 3x the speed of dense
T=64 and >= 0.85x the speed of uniform N=8.

    python benchmarks/pipeline_throughput.py [--repeats 3] [--threads 2] [--reread memory|decode] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from framesampler.app.pipeline import Pipeline
from framesampler.data.dataset import PipelineConfig
from framesampler.learned import load_checkpoint
from framesampler.policies import create_sampler

VIDEOS = ("intel-sample-videos/one-by-one-person-detection.mp4", "opencv-doc/vtest.avi",
          "intel-sample-videos/bottle-detection.mp4", "intel-sample-videos/car-detection.mp4")
STAGES = ("decode_candidates", "sampler", "decode_chosen", "classifier")


def shared_videos() -> list[Path]:
    for base in (Path.cwd(), *Path.cwd().parents):
        root = base / "shared" / "data" / "videos"
        if root.is_dir():
            return [root / name for name in VIDEOS]
    raise SystemExit("no shared/data/videos above the current directory")


def measure(pipeline: Pipeline, videos: list[Path], repeats: int) -> dict:
    for video in videos:  # warm-up: first-call allocations, file cache
        pipeline(video)
    stages = {stage: 0.0 for stage in STAGES}
    start = time.perf_counter()
    for _ in range(repeats):
        for video in videos:
            for stage, seconds in pipeline(video).seconds.items():
                stages[stage] += seconds
    wall = time.perf_counter() - start
    runs = repeats * len(videos)
    return {"videos_per_s": runs / wall, "seconds_per_video": wall / runs,
            **{stage: seconds / runs for stage, seconds in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--T", type=int, default=64)
    parser.add_argument("--N", type=int, default=8)
    parser.add_argument("--sampler-size", type=int, default=64)
    parser.add_argument("--sampler-stages", type=int, default=5)
    parser.add_argument("--reread", choices=("memory", "decode"), default="memory")
    parser.add_argument("--checkpoint", type=Path, help="a trained sampler (default: an untrained SOSampler)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    videos = shared_videos()
    config = PipelineConfig(sampler_resolution=args.sampler_size, sampler_stages=args.sampler_stages)
    probe = Pipeline(create_sampler("uniform"), T=args.T, N=args.N, config=config)
    if args.checkpoint:
        sampler = load_checkpoint(args.checkpoint)
    else:
        from framesampler.classifiers.pretrained import PretrainedBackbone

        width = PretrainedBackbone(config.backbone, resolution=args.sampler_size, stages=args.sampler_stages).out_dim
        sampler = create_sampler("sosampler", input_dim=width, num_classes=len(probe.classifier.class_names))
    runs = {
        f"dense T={args.T}": Pipeline(create_sampler("dense"), T=args.T, N=args.T, config=config),
        f"uniform N={args.N}": probe,
        f"sampler {args.T}->{args.N}": Pipeline(sampler, T=args.T, N=args.N, config=config, reread=args.reread),
    }
    results = {name: measure(pipeline, videos, args.repeats) for name, pipeline in runs.items()}
    print(f"{len(videos)} videos x {args.repeats} repeats, {args.threads} threads, reread={args.reread}, "
          f"sampler at {args.sampler_size} px with {args.sampler_stages} stages")
    print(f"{'pipeline':<18}{'videos/s':>10}" + "".join(f"{s:>19}" for s in STAGES))
    for name, row in results.items():
        print(f"{name:<18}{row['videos_per_s']:>10.2f}" + "".join(f"{row[s]:>19.4f}" for s in STAGES))
    dense, uniform, sampled = (results[name]["videos_per_s"] for name in runs)
    print(f"sampler / dense speed: {sampled / dense:.2f}x (target >= 3); "
          f"sampler / uniform speed: {sampled / uniform:.2f}x (target >= 0.85)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "sampler_over_dense": sampled / dense,
                                         "sampler_over_uniform": sampled / uniform, "videos": [str(v) for v in videos],
                                         "settings": vars(args) | {"checkpoint": str(args.checkpoint), "json": str(args.json)}},
                                        indent=2, default=str))


if __name__ == "__main__":
    main()
