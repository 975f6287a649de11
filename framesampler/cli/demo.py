"""``framesampler demo``: the paper in a few minutes (``framesampler.app.demo``): every training-free policy on the
shared features, SOSampler trained there beside uniform and pi_s, then uniform and the shipped SOSampler side by side
on long videos built from the shared clips, in an HTML report."""
from __future__ import annotations

import argparse
from pathlib import Path

from framesampler.cli.options import evaluation_config, evaluation_options
from framesampler.constants import TRAINING_FREE


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", parents=[*parents, evaluation_options()],
                                   help="the paper in a few minutes: every training-free policy on the shared features "
                                   "(trimmed and untrimmed), SOSampler trained there beside uniform and pi_s, then uniform "
                                   "and the shipped SOSampler on long videos built from the shared clips, into an HTML report")
    parser.add_argument("--epochs", type=int, help="epochs of SOSampler's training on the features (default: the short "
                        "recipe's)")
    parser.add_argument("--videos-per-class", type=int, default=2,
                        help="long videos built per class of the shipped SOSampler's vocabulary (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="write every result (both reports, SOSampler's table, the videos) as "
                        "JSON here")
    parser.add_argument("--html", type=Path, default=Path("framesampler-demo.html"),
                        help="the HTML report to write: the tables and each long video's chosen frames (default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.demo import DemoConfig, run_demo
    from framesampler.learned import TrainSettings

    config = DemoConfig(evaluation_config(args, "untrimmed", list(TRAINING_FREE)),
                        settings=TrainSettings(recipe="short", epochs=args.epochs), videos_per_class=args.videos_per_class)
    page = run_demo(config, args.html, json_out=args.json, progress=not args.no_progress)
    print(f"wrote {page.resolve()}: open it in a browser to see the frames uniform and SOSampler chose on each long video")
