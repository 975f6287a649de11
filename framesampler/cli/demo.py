"""``framesampler demo``: every training-free policy on the shared data, then a few shared videos sampled into an
HTML report (``framesampler.app.demo``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from framesampler.cli.options import evaluation_config, evaluation_options
from framesampler.constants import BUILT_IN_CLASSIFIERS, TRAINING_FREE


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("demo", parents=[*parents, evaluation_options()],
                                   help="evaluate every training-free policy on the shared data, trimmed and "
                                   "untrimmed, then sample a few shared videos into an HTML report")
    parser.add_argument("--json", type=Path, help="write both reports as JSON here")
    parser.add_argument("--html", type=Path, default=Path("framesampler-demo.html"),
                        help="the HTML report to write: the tables and a few shared videos sampled (default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.demo import DEMO_SAMPLERS, DEMO_VIDEOS, write_demo_report
    from framesampler.app.evaluate import run as run_evaluation
    from framesampler.classifiers.model import load_classifier
    from framesampler.report.tables import format_table
    from framesampler.storage import write_text_atomically

    model = None if args.classifier in BUILT_IN_CLASSIFIERS else args.classifier
    if model is not None:  # the tables are of the feature file's built-in head; the shared videos go to the user's model
        load_classifier(model)  # checked before the tables run
        args.classifier = "frame"
    reports = {}
    for regime in ("trimmed", "untrimmed"):
        reports[regime] = run_evaluation(evaluation_config(args, regime, list(TRAINING_FREE)), progress=not args.no_progress)
        print(format_table(reports[regime]), end="\n\n")
    if args.json:
        write_text_atomically(args.json, json.dumps(reports, indent=2))
    print(f"sampling {len(DEMO_VIDEOS)} shared videos with {' and '.join(DEMO_SAMPLERS)} (T=16, N=4) ...")
    print(f"wrote {write_demo_report(reports, args.html, classifier=model)}: open it in a browser to see the frames each "
          "sampler chose")
