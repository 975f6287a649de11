"""``framesampler batch``: sample and classify every video of a folder or manifest, one JSON line per video."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from framesampler.cli.options import model_options, pipeline_options, progress_options, user_model, view_options
from framesampler.constants import MAX_FRAMES_AHEAD, MAX_WORKERS

if TYPE_CHECKING:
    from framesampler.app.batch import Records


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("batch", parents=[*parents, pipeline_options(), progress_options(), model_options(),
                                                     view_options()],
                                   help="sample and classify every video of a folder or manifest: one JSON line per "
                                   "video, resumable")
    parser.add_argument("source", type=Path, help="a folder (walked for video files) or a manifest of videos")
    parser.add_argument("--out", type=Path, required=True, help="results file (.jsonl), appended to; videos in it are "
                        "skipped; one run at a time (it holds OUT.lock)")
    parser.add_argument("--workers", type=int, default=0, help=f"decode the next K videos in background threads while "
                        f"the networks run (K <= {MAX_WORKERS}; memory: K videos, fewer when their candidates pass "
                        f"{MAX_FRAMES_AHEAD} frames, i.e. at most max(1, {MAX_FRAMES_AHEAD} // T))")
    parser.add_argument("--ray", action="store_true", help="run on Ray (extra [ray]): an actor pool on this machine's "
                        "loopback, or on the cluster at --ray-address / $RAY_ADDRESS")
    parser.add_argument("--ray-address", help="an existing Ray cluster: auto, HOST:6379 or ray://HOST:10001")
    return parser


def run(args: argparse.Namespace) -> None:
    from framesampler.app.batch import run_batch

    if args.ray:
        report = run_batch(None, args.source, args.out, progress=not args.no_progress, records=_ray_records(args))
    else:
        from framesampler.app.pipeline import load_pipeline

        pipeline = load_pipeline(args.sampler, T=args.T, N=args.N, dataset=args.dataset, cache_dir=args.cache_dir,
                                 reread=args.reread, seed=args.seed, candidates=args.candidates, options=dict(args.option),
                                 classifier=user_model(args), device=args.device, precision=args.precision,
                                 batch_size=args.batch_size, decode_aware=args.decode_aware)
        report = run_batch(pipeline, args.source, args.out, workers=args.workers, progress=not args.no_progress)
    print(f"wrote {report.done} results and {report.failed} errors to {args.out} "
          f"({report.skipped} videos were already there)")


def _ray_records(args: argparse.Namespace) -> Records:
    """The Ray actor pool's records (each actor loads the model itself: a spec travels, a model may not)."""
    from framesampler.integrations.ray import batch_records

    if args.workers:
        raise ValueError("--workers is for a local run; with --ray the actor pool runs videos in parallel")
    model = {} if args.classifier == "frame" else {
        "classifier": args.classifier, "classifier_size": args.classifier_size, "classes": args.classes,
        "classifier_gmacs": args.classifier_gmacs}
    user_model(args)  # checked here, before the cluster starts
    return batch_records(args.sampler, T=args.T, N=args.N, address=args.ray_address, dataset=args.dataset,
                         cache_dir=args.cache_dir, reread=args.reread, seed=args.seed, candidates=args.candidates,
                         options=dict(args.option), device=args.device, precision=args.precision,
                         batch_size=args.batch_size, decode_aware=args.decode_aware, **model)
