"""``framesampler independence``: how related consecutive candidates are at each sampling rate (Lee et al. 2024,
Sec. 4.1, Eq. 1, Fig. 1)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from framesampler.cli.options import rates
from framesampler.constants import MAX_RESOLUTION, MAX_T, MIN_RESOLUTION


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("independence", parents=parents, help="how related consecutive candidate frames are "
                                   "at each sampling rate (Lee et al. 2024, Sec. 4.1, Eq. 1, Fig. 1)")
    parser.add_argument("videos", type=Path, nargs="+")
    parser.add_argument("--fps", type=rates, default=[0.5, 1, 2, 5, 10], help="sampling rates (default 0.5,1,2,5,10)")
    parser.add_argument("--plot", type=Path, help="write the kernel density of the relevance per rate (.png)")
    parser.add_argument("--json", type=Path, help='write {"rates": {rate: {"mean", "median", "pairs"}}, ...}')
    parser.add_argument("--resolution", type=int, default=160,
                        help=f"backbone resolution ({MIN_RESOLUTION}..{MAX_RESOLUTION} px)")
    parser.add_argument("--max-frames", type=int, default=300,
                        help=f"candidates per video and rate, from the start (2..{MAX_T})")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.eval.independence import plot_relevance_density, relevance_by_rate
    from framesampler.storage import write_text_atomically

    result = relevance_by_rate(args.videos, args.fps, resolution=args.resolution, max_frames_per_video=args.max_frames)
    summary = result.summary()
    for row in summary["failed"]:
        print(f"skipped: {row['reason']}", file=sys.stderr)
    if not result.videos:
        raise ValueError("no video could be read (see the reasons above)")
    print(f"relevance of consecutive candidates (Lee et al. Eq. 1), bandwidth {summary['bandwidth']:.3f}, "
          f"{len(result.videos)} video(s)")
    print(f"{'fps':>6}{'mean':>9}{'median':>9}{'pairs':>8}")
    for rate, row in summary["rates"].items():
        cells = "".join("        -" if row[k] is None else f"{row[k]:>9.3f}" for k in ("mean", "median"))
        print(f"{rate:>6}{cells}{row['pairs']:>8}")
    if args.json:
        write_text_atomically(args.json, json.dumps(summary, indent=2))
    if args.plot:
        plot_relevance_density(result, args.plot)
