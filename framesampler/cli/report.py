"""``framesampler report``: one self-contained HTML page over sample, batch and evaluate results."""
from __future__ import annotations

import argparse
from pathlib import Path

from framesampler.constants import MAX_THUMB_PX, MIN_THUMB_PX, THUMB_PX


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("report", parents=parents,
                                   help="one self-contained HTML page over sample/batch/evaluate results")
    parser.add_argument("results", type=Path, nargs="+", help="JSON from sample or evaluate --json, or batch's JSONL")
    parser.add_argument("--html", type=Path, required=True, help="the page to write (thumbnails and plots embedded)")
    parser.add_argument("--thumb-size", type=int, default=THUMB_PX,
                        help=f"thumbnail height in pixels (shorter side), {MIN_THUMB_PX}..{MAX_THUMB_PX}")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.report.html import write_html

    print(f"wrote {write_html(args.results, args.html, thumb_px=args.thumb_size)}")
