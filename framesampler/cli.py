"""The ``framesampler`` command line: it parses arguments and calls the library, nothing more."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from framesampler.data.features import default_features_path, parse_classes
from framesampler.eval.evaluate import EvaluationConfig, default_cache_dir, format_table, run
from framesampler.policies import TRAINING_FREE, list_samplers


def _classes(text: str) -> list[int]:
    try:
        return parse_classes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in list_samplers()]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown policy {', '.join(unknown)}; available: {', '.join(list_samplers())}")
    return names


def _add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", type=Path, help="feature file (.npz, shared format); default: the shared UCF101 file")
    parser.add_argument("--background", type=Path, help="file of background clips (default: --features)")
    parser.add_argument("--vocab", type=_classes, help="classifier's classes, e.g. 2-7 or 2,3,5 "
                        "(default: the file's classes minus the background ones)")
    parser.add_argument("--background-classes", type=_classes, help="background classes (default: with one file, "
                        "its classes outside --vocab, or its last third; with --background, all of that file's classes)")
    parser.add_argument("--length", type=int, default=120, help="frames per untrimmed video (L)")
    parser.add_argument("--action-frames", type=int, help="labeled clip frames per untrimmed video (default: all)")
    parser.add_argument("--bursts", type=int, default=3, help="pieces the clip is cut into (B)")
    parser.add_argument("--T", "--num-candidates", dest="T", type=int, default=10, help="candidates per video")
    parser.add_argument("--N", "--num-frames", dest="N", type=int, default=6, help="frames the sampler picks")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--consensus", choices=("avg_logits", "avg_probs", "max"), default="avg_logits")
    parser.add_argument("--oracle-search", choices=("auto", "exact", "approximate"), default="auto",
                        help="pi_o search: exact enumeration or greedy + swap local search (auto: exact when feasible)")
    parser.add_argument("--repeats", type=int, default=3, help="runs averaged (construction/random seeds seed..seed+R-1)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where trained classifiers are kept")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace, regime: str, policies: list[str]) -> EvaluationConfig:
    features = args.features or default_features_path()
    return EvaluationConfig(
        features=str(features), background=str(args.background) if args.background else None, vocab=args.vocab,
        background_classes=args.background_classes, regime=regime, length=args.length,
        action_frames=args.action_frames, bursts=args.bursts, T=args.T, N=args.N, policies=policies,
        seed=args.seed, consensus=args.consensus, oracle_search=args.oracle_search, repeats=args.repeats,
        cache_dir=str(args.cache_dir),
    )


def _evaluate(args: argparse.Namespace) -> dict:
    report = run(_config(args, args.regime, args.policies), progress=not args.no_progress)
    print(format_table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return report


def _demo(args: argparse.Namespace) -> None:
    reports = {}
    for regime in ("trimmed", "untrimmed"):
        reports[regime] = run(_config(args, regime, list(TRAINING_FREE)), progress=not args.no_progress)
        print(format_table(reports[regime]), end="\n\n")
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framesampler", description=__import__("framesampler").__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("evaluate", help="compare samplers on a feature dataset (Lee et al. 2024, Tables 1-2)")
    _add_evaluation_options(evaluate)
    evaluate.add_argument("--regime", choices=("trimmed", "untrimmed"), default="untrimmed")
    evaluate.add_argument("--policies", type=_names, default=list(TRAINING_FREE),
                          help=f"comma-separated sampler names (default: {','.join(TRAINING_FREE)})")
    evaluate.add_argument("--json", type=Path, help="write the report as JSON here")
    evaluate.set_defaults(handler=_evaluate)

    demo = commands.add_parser("demo", help="evaluate every training-free policy on the shared data, trimmed and untrimmed")
    _add_evaluation_options(demo)
    demo.add_argument("--json", type=Path, help="write both reports as JSON here")
    demo.set_defaults(handler=_demo)

    samplers = commands.add_parser("samplers", help="list the registered sampler names")
    samplers.set_defaults(handler=lambda args: print("\n".join(list_samplers())))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"framesampler: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
