"""``framesampler extract``: decode a labeled video collection once into a video dataset for train and evaluate."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framesampler.cli.options import cache_options, model_options, progress_options, user_model
from framesampler.constants import AUGMENT_VIEWS, BACKENDS, MAX_T


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("extract", parents=[*parents, model_options(), cache_options(), progress_options()], help="decode a labeled video collection once into a "
                                   "video dataset (sampler and classifier features per candidate) for train and evaluate")
    parser.add_argument("manifest", type=Path, help='"path label" lines (mmaction2 video list) or a CSV with path,label')
    parser.add_argument("--test", type=Path, help="a second manifest for the test split (default: split the first)")
    parser.add_argument("--dedupe", action="store_true",
                        help="keep a video listed twice with the same label once (default: an error)")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="share of each class held out for test")
    parser.add_argument("--out", type=Path, required=True, help="the video dataset (.npz) to write")
    parser.add_argument("--T", "--num-candidates", dest="T", type=int, default=32, help=f"candidates per video (at most {MAX_T})")
    parser.add_argument("--short", choices=("error", "repeat"), default="error",
                        help="a video with fewer frames than T: report and skip it, or repeat frames")
    parser.add_argument("--label-map", type=Path, help="'label,class' lines: the manifest's labels as your classifier's "
                        "class names (default: the labels must be its class names)")
    parser.add_argument("--sampler-size", type=int, default=64, help="sampler resolution (px)")
    parser.add_argument("--sampler-stages", type=int, default=5,
                        help="pretrained stages in the sampler's backbone (0: the whole network)")
    parser.add_argument("--backend", choices=BACKENDS, default="pyav")
    parser.add_argument("--augment-views", type=int, default=AUGMENT_VIEWS, metavar="K",
                        help="augmented views of each training video, what SOSampler trains on (its paper's random "
                        f"scale, crop and flip, App. A.3; default {AUGMENT_VIEWS}; 0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    parser.add_argument("--ray", action="store_true", help="one Ray task per video (extra [ray]): an actor pool on this "
                        "machine's loopback, or on the cluster at --ray-address / $RAY_ADDRESS (its workers must see the "
                        "video paths and your classifier's spec); cache entries are written here, atomically")
    parser.add_argument("--ray-address", help="an existing Ray cluster: auto, HOST:6379 or ray://HOST:10001")
    parser.add_argument("--ray-gpus", type=float, default=0, help="GPUs per Ray actor (a cluster with GPUs)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.extract import construct_segments, extract_dataset
    from framesampler.data.dataset import ExtractConfig
    from framesampler.data.manifest import read_splits

    splits = read_splits(args.manifest, test=args.test, test_fraction=args.test_fraction, seed=args.seed,
                         dedupe=args.dedupe)
    model = user_model(args)
    label_map = None
    if args.label_map:
        from framesampler.classifiers.model import read_label_map

        label_map = read_label_map(args.label_map)
    model_settings = {} if model is None else {"classifier": model.spec, "classifier_fingerprint": model.fingerprint}
    config = ExtractConfig(T=args.T, short_policy=args.short,
                           classifier_resolution=model.size if model is not None else args.classifier_size or 224,
                           sampler_resolution=args.sampler_size, sampler_stages=args.sampler_stages or None,
                           backend=args.backend, precision=args.precision, **model_settings)
    if args.augment_views < 0:
        raise ValueError(f"--augment-views {args.augment_views}: give 0 (none) or more views")
    from framesampler.device import resolve_device

    device = resolve_device(args.device)
    if args.ray or args.ray_address:
        from framesampler.integrations.ray import extract_runner

        runner = extract_runner(model=model.identity() if model is not None else None, address=args.ray_address,
                                num_gpus=args.ray_gpus, batch_size=args.batch_size)
    else:
        from framesampler.app.extract import local_runner

        runner = local_runner(model, device, args.batch_size)
    segments = construct_segments(args.manifest)
    result = extract_dataset(splits, config, args.out, cache_dir=args.cache_dir, model=model, label_map=label_map,
                             segments=segments, progress=not args.no_progress, runner=runner,
                             views=args.augment_views, device=device)
    for _, reason in result.failed:
        print(f"skipped: {reason}", file=sys.stderr)
    report = result.videos
    counts = {split: sum(1 for _, s, _ in report.done if s == split) for split in splits}
    for split in (s for s, n in counts.items() if n == 0):
        print(f"framesampler: warning: no {split} videos (a class with one video stays in train): add videos, or give "
              "--test a manifest of test videos", file=sys.stderr)
    if model is not None:
        print(f"classifier {model.spec}: {len(model.classes)} classes, {model.size} px, {model.kind} model, fingerprint "
              f"{model.fingerprint}; its logits on every candidate are stored as frame_logits")
    trimmed = f" and {len(result.trimmed.done)} source clips (the classifier's training data; in-burst labels " \
              f"from {segments})" if result.trimmed else ""
    print(f"extracted {len(report.done)} videos ({', '.join(f'{n} {s}' for s, n in counts.items())}){trimmed}, "
          f"skipped {len(result.failed)}; {result.videos_with_audio()} of the videos have an audio track; cache "
          f"{report.cache}; wrote {result.out}")
