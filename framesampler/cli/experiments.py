"""``framesampler experiments``: the learned-sampler tables of Lee et al. 2024 (Tab. 3, 5, 6, 7, Fig. 4, cost)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framesampler.cli.options import data_config, data_options, device_options, names, recipe_options
from framesampler.constants import DEFAULT_EXPERIMENTS, EXPERIMENTS


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("experiments", parents=[*parents, data_options(), recipe_options(), device_options()],
                                   help="the learned-sampler tables of Lee et al. 2024 (Tab. 3, 5, 6, 7, Fig. 4, cost)")
    parser.add_argument("--which", type=names, default=list(DEFAULT_EXPERIMENTS),
                        help=f"comma-separated, from {','.join(EXPERIMENTS)} (default: {','.join(DEFAULT_EXPERIMENTS)})")
    parser.add_argument("--seeds", type=int, default=3, help="seeds averaged per number")
    parser.add_argument("--out", type=Path, default=Path("experiments"), help="output directory (checkpoints are reused)")
    parser.add_argument("--data", type=Path, help="real videos for --which pixels: a folder from `framesampler "
                        "construct` (extracted at T=64 into it on first use) or a video dataset (.npz) from `extract`")
    parser.add_argument("--exclude", type=names, default=[],
                        help="comma-separated rows to leave out, by name or glob, e.g. 'adaframe (mu=*' (the tables say so)")
    parser.add_argument("--csv", type=Path, help="also write a row per table, N/T and sampler as CSV here")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.experiments import pixels_dataset, run_experiments
    from framesampler.app.prepare import DataConfig
    from framesampler.learned import TrainSettings
    from framesampler.report.tables import markdown

    data = DataConfig(**data_config(args, "untrimmed"))
    if args.data is not None:
        features, failed = pixels_dataset(args.data, cache_dir=args.cache_dir, progress=not args.no_progress)
        for _, reason in failed:
            print(f"skipped: {reason}", file=sys.stderr)
        data.features, data.regime = str(features), None
    settings = TrainSettings(recipe=args.recipe, epochs=args.epochs)
    results = run_experiments(data, args.which, seeds=args.seeds, settings=settings, out=args.out,
                              progress=not args.no_progress, device=args.device, exclude=args.exclude)
    print(markdown(results))
    plots = [name for section, name in (("large", "top1_vs_nt.png"), ("pixels", "top1_vs_seconds.png"),
                                        ("pixels", "top1_vs_gmacs.png")) if section in results]
    print(f"wrote {args.out}/experiments.json, experiments.md" + "".join(f", {name}" for name in plots))
    if args.csv:
        from framesampler.report.results_csv import experiment_rows, write_csv

        print(f"wrote {write_csv(experiment_rows(results), args.csv)}")
