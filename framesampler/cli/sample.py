"""``framesampler sample``: choose N of T candidate frames of a video file and classify them."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from framesampler.cli.options import model_options, pipeline_options, user_model, view_options


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("sample", parents=[*parents, pipeline_options(), model_options(), view_options()],
                                   help="choose N of T candidate frames of a video file and classify them")
    parser.add_argument("video", type=Path)
    parser.add_argument("--json", type=Path, help="write indices, timestamps, scores, prediction, times, GMACs here")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of the candidates, the chosen marked (.png)")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.pipeline import load_pipeline
    from framesampler.storage import write_text_atomically

    pipeline = load_pipeline(args.sampler, T=args.T, N=args.N, dataset=args.dataset, cache_dir=args.cache_dir,
                             reread=args.reread, seed=args.seed, thumbnails=160 if args.sheet else None,
                             candidates=args.candidates, options=dict(args.option), classifier=user_model(args),
                             device=args.device, precision=args.precision, batch_size=args.batch_size,
                             decode_aware=args.decode_aware)
    result = pipeline(args.video)
    summary = {"sampler": args.sampler, **result.summary()}
    print(f"{result.path}: {result.num_frames} frames at {result.fps:.2f} fps; {args.sampler} chose {len(result.chosen)} "
          f"of {len(result.candidates)} candidates" + (f"; motion from {result.motion_source}" if result.motion_source else ""))
    for row in summary["chosen"]:
        score = "" if row["score"] is None else f"  score {row['score']:.4f}"
        print(f"  frame {row['frame']:>7}  {row['time']:>9.3f} s{score}")
    if result.classifier_note:
        print(f"classifier: {result.classifier_note}")
    best = summary["prediction"][0]
    print(f"prediction: {best['class']} ({best['prob']:.3f}); GMACs sampler {summary['gmacs']['sampler']:.3f}, "
          f"classifier {summary['gmacs']['classifier']:.3f}")
    if args.json:
        write_text_atomically(args.json, json.dumps(summary, indent=2))
    if args.sheet:
        from framesampler.report.sheet import contact_sheet

        assert result.thumbnails is not None, "thumbnails=160 was asked for with --sheet"
        scores = None if result.scores is None else result.scores.tolist()
        labels = [f"#{i} {i / result.fps:.2f}s" for i in result.candidates]
        contact_sheet(result.thumbnails, args.sheet, chosen=result.chosen.tolist(), labels=labels, scores=scores,
                      title=f"{Path(result.path).name}: {args.sampler}, N={len(result.chosen)} of T={len(result.candidates)}")
