"""``framesampler evaluate``: compare samplers on a feature dataset (Lee et al. 2024, Tables 1-2)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from framesampler.cli.options import evaluation_config, evaluation_options, policy_names
from framesampler.constants import REGIMES, TRAINING_FREE


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", parents=[*parents, evaluation_options()],
                                   help="compare samplers on a feature dataset (Lee et al. 2024, Tables 1-2)")
    parser.add_argument("--regime", choices=REGIMES,
                        help="trimmed clips as they are, or the untrimmed construction (default: untrimmed for "
                        "a feature file, trimmed (as they are) for a video dataset from `extract`)")
    parser.add_argument("--policies", type=policy_names, default=list(TRAINING_FREE),
                        help=f"comma-separated sampler names (default: {','.join(TRAINING_FREE)})")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--timed", action="store_true", help="also run the real two-resolution pipeline of every "
                        "policy on every test video file (a video dataset): seconds_per_video and gmacs per policy")
    parser.add_argument("--csv", type=Path, help="write a row per policy as CSV here")
    return parser


def run(args: argparse.Namespace) -> dict:
    from framesampler.app.evaluate import run as run_evaluation
    from framesampler.report.tables import format_table
    from framesampler.storage import write_text_atomically

    report = run_evaluation(evaluation_config(args, args.regime, args.policies), progress=not args.no_progress)
    print(format_table(report))
    if args.json:
        write_text_atomically(args.json, json.dumps(report, indent=2))
    if args.csv:
        from framesampler.report.results_csv import evaluation_rows, write_csv

        write_csv(evaluation_rows(report), args.csv)
    return report
