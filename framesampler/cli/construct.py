"""``framesampler construct``: long untrimmed video files, each a labeled clip cut into bursts among background."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from framesampler.cli.options import names, progress_options, size
from framesampler.data.construct_config import MAX_FPS, MAX_LENGTH, MAX_PER_CLIP, MAX_SIDE, ConstructConfig


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("construct", parents=[*parents, progress_options()],
                                   help="build long untrimmed video files: each holds one labeled clip of the "
                                   "vocabulary, cut into bursts placed at random among background footage")
    parser.add_argument("manifest", type=Path, help="labeled clips (train split): 'path label' lines or CSV")
    parser.add_argument("--test", type=Path, help="labeled clips of the test split (default: split the first)")
    parser.add_argument("--test-fraction", type=float, default=0.3, help="share of each class held out without --test")
    parser.add_argument("--vocab", type=names, required=True,
                        help="the classifier's classes (manifest labels without a space, comma or slash), e.g. "
                        "Archery,BasketballDunk,Surfing; clips of the other classes are background")
    parser.add_argument("--out", type=Path, required=True, help="folder for the long videos, train.txt, test.txt, segments.json")
    parser.add_argument("--background-videos", type=Path, nargs="*",
                        help="unlabeled long videos used as background too (default: the shared long videos; "
                        "give the flag alone for none)")
    defaults = ConstructConfig()
    parser.add_argument("--length", type=float, default=defaults.length, help=f"seconds per long video (at most {MAX_LENGTH:g})")
    parser.add_argument("--bursts", type=int, default=defaults.bursts, help="pieces each clip is cut into")
    parser.add_argument("--gop", type=float, default=defaults.gop, help="seconds between keyframes")
    parser.add_argument("--size", type=size, default=(defaults.width, defaults.height),
                        help=f"frame size WIDTHxHEIGHT (letterboxed; each side even, 16..{MAX_SIDE})")
    parser.add_argument("--fps", type=float, default=defaults.fps, help=f"frame rate of the long videos (at most {MAX_FPS:g})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-clip", type=int, default=1, help=f"long videos made from each clip (at most {MAX_PER_CLIP})")
    parser.add_argument("--crf", type=int, default=defaults.crf, help="x264 quality (lower is better)")
    parser.add_argument("--preset", default=defaults.preset, help="x264 speed preset")
    parser.add_argument("--audio", action=argparse.BooleanOptionalAction, default=defaults.audio,
                        help="mux the sources' audio (AAC, mono, 16 kHz; silence where a source has none)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.construct import construct
    from framesampler.data.manifest import read_splits

    splits = read_splits(args.manifest, test=args.test, test_fraction=args.test_fraction, seed=args.seed)
    config = ConstructConfig(length=args.length, bursts=args.bursts, gop=args.gop, width=args.size[0],
                             height=args.size[1], fps=args.fps, seed=args.seed, per_clip=args.per_clip,
                             crf=args.crf, preset=args.preset, audio=args.audio)
    report = construct(splits, args.vocab, args.out, config=config, background_videos=args.background_videos,
                       progress=not args.no_progress)
    for reason in report.failed:
        print(f"skipped: {reason}", file=sys.stderr)
    counts = ", ".join(f"{len(videos)} {split}" for split, videos in report.videos.items())
    print(f"constructed {sum(map(len, report.videos.values()))} long videos ({counts}, "
          f"{'with' if config.audio else 'without'} audio): {report.written} written, "
          f"{report.reused} already there, {len(report.failed)} skipped, in {report.seconds:.1f} s; wrote "
          f"{args.out}/train.txt, test.txt, segments.json")
