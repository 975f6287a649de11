"""The ``framesampler`` command line: it parses arguments and calls the library, nothing more."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from framesampler.app.evaluate import EvaluationConfig, run
from framesampler.app.experiments import DEFAULT_EXPERIMENTS, EXPERIMENTS, run_experiments
from framesampler.app.prepare import DataConfig, default_cache_dir
from framesampler.app.train import TrainConfig, run_training
from framesampler.candidates import MAX_T
from framesampler.classifiers.pretrained import MAX_RESOLUTION, MIN_RESOLUTION
from framesampler.data.features import default_features_path, parse_classes, read_npz
from framesampler.data.untrimmed import MAX_LENGTH as MAX_UNTRIMMED
from framesampler.learned import TrainSettings, learned_sampler_names
from framesampler.learned.base import MAX_WIDTH
from framesampler.learned.checkpoint import CHECKPOINT_KEYS
from framesampler.learned.recipe import RECIPES
from framesampler.policies import TRAINING_FREE, list_samplers
from framesampler.report.html import MAX_THUMB_PX, MIN_THUMB_PX, THUMB_PX
from framesampler.report.tables import format_table, markdown
from framesampler.storage import check_output_directory, check_output_file, check_replaceable, write_text_atomically
from framesampler.video.decode import VideoError


def _classes(text: str) -> list[int]:
    try:
        return parse_classes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r} names no sampler: give names like uniform,mgsampler "
                                         "(`framesampler samplers` lists them)")
    unknown = [n for n in names if n not in list_samplers()]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown policy {', '.join(unknown)}; available: {', '.join(list_samplers())}")
    learned = [n for n in names if n in learned_sampler_names()]
    if learned:
        raise argparse.ArgumentTypeError(f"{learned[0]} is a learned sampler and needs a checkpoint: framesampler train "
                                         f"--sampler {learned[0]} --out DIR ..., then evaluate --checkpoint DIR")
    return names


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", type=Path, help="feature file (.npz, shared format); default: the shared UCF101 file")
    parser.add_argument("--background", type=Path, help="file of background clips (default: --features)")
    parser.add_argument("--vocab", type=_classes, help="classifier's classes, e.g. 2-7 or 2,3,5 "
                        "(default: the file's classes minus the background ones)")
    parser.add_argument("--background-classes", type=_classes, help="background classes (default: with one file, "
                        "its classes outside --vocab, or its last third; with --background, all of that file's classes)")
    parser.add_argument("--length", type=int, default=120, help=f"frames per untrimmed video (L, at most {MAX_UNTRIMMED})")
    parser.add_argument("--action-frames", type=int, help="labeled clip frames per untrimmed video (default: all)")
    parser.add_argument("--bursts", type=int, default=3, help="pieces the clip is cut into (B)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--consensus", choices=("avg_logits", "avg_probs", "max"), default="avg_logits")
    parser.add_argument("--classifier", default="frame", metavar="SPEC",
                        help="frozen classifier: frame (a per-frame head + consensus), clip (a clip transformer whose "
                        "frames interact), or the model a video dataset was extracted with (it is read from the dataset; "
                        "one given must match)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where trained classifiers are kept")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _class_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if len(names) < 2:
        raise argparse.ArgumentTypeError(f"--classes {text!r}: give two or more class names, comma-separated")
    return names


def _add_model_options(parser: argparse.ArgumentParser, *, size_default: int | None) -> None:
    """The user's classifier (``framesampler.classifiers.model``): spec, input size, class names, cost."""
    parser.add_argument("--classifier", metavar="SPEC", default="frame",
                        help="frame (the built-in backbone + head; default), or your model: a TorchScript file (.pt/.ts), "
                        "a torch.export file (.pt2), a Hugging Face model directory, or package.module:function. "
                        "Contract: float32 [n, 3, S, S] RGB in [0, 1] (shorter side resized to S, centre crop) -> logits [n, C]")
    parser.add_argument("--classifier-size", type=int, default=size_default, metavar="S",
                        help="input side S in pixels, 16..1024 (default 224; a Hugging Face model brings its own)")
    parser.add_argument("--classes", type=_class_list, help="your model's class names A,B,C (default: MODEL.classes.txt "
                        "beside the file, or a Hugging Face model's id2label)")
    parser.add_argument("--classifier-kind", choices=("frame", "clip"),
                        help="frame: an image model, clip: a video model taking [1, K, 3, S, S] (default: frame; a Hugging "
                        "Face model says which it is)")
    parser.add_argument("--classifier-gmacs", type=float, help="your model's GMACs per frame, where they cannot be counted")
    _add_device_option(parser)


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", help="where the classifier and the sampler's backbone run: auto, cpu, "
                        "cuda or cuda:K (auto: CUDA when torch sees it; decoding stays on CPU threads)")


def _user_model(args: argparse.Namespace) -> object | None:
    """The user's classifier named by --classifier, loaded and probed (None for the built-in ones)."""
    from framesampler.classifiers.model import BUILT_IN, load_classifier

    if args.classifier in BUILT_IN:
        return None
    return load_classifier(args.classifier, size=args.classifier_size, classes=args.classes, kind=args.classifier_kind,
                           gmacs=args.classifier_gmacs, device=args.device)


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", choices=RECIPES, default="paper",
                        help="training recipe: each sampler's paper's (default; optimiser, lr schedule, epochs, batch as its "
                             "paper gives them) or framesampler's short one (SGD + cosine, 20 epochs, batch 32)")
    parser.add_argument("--epochs", type=int, help="training epochs per sampler (default: the recipe's)")


def _add_budget_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--T", "--num-candidates", dest="T", type=int, default=10, help=f"candidates per video (at most {MAX_T})")
    parser.add_argument("--N", "--num-frames", dest="N", type=int, default=6, help="frames the sampler picks")


def _add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    _add_data_options(parser)
    _add_budget_options(parser)
    parser.add_argument("--oracle-search", choices=("auto", "exact", "approximate"), default="auto",
                        help="pi_o search: exact enumeration or greedy + swap local search (auto: exact when feasible)")
    parser.add_argument("--repeats", type=int, default=3, help="runs averaged (construction/random seeds seed..seed+R-1)")
    parser.add_argument("--checkpoint", action="append", default=[], type=str,
                        help="a trained sampler's directory (repeatable); listed under its sampler's name")
    _add_device_option(parser)


def _data_config(args: argparse.Namespace, regime: str) -> dict:
    return dict(features=str(args.features or default_features_path()),
                background=str(args.background) if args.background else None, vocab=args.vocab,
                background_classes=args.background_classes, regime=regime, length=args.length,
                action_frames=args.action_frames, bursts=args.bursts, seed=args.seed, consensus=args.consensus,
                classifier=args.classifier, cache_dir=str(args.cache_dir))


def _config(args: argparse.Namespace, regime: str, policies: list[str]) -> EvaluationConfig:
    return EvaluationConfig(**_data_config(args, regime), T=args.T, N=args.N, policies=policies,
                            checkpoints=args.checkpoint, oracle_search=args.oracle_search, repeats=args.repeats,
                            timed=getattr(args, "timed", False), device=args.device)


def _option(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option takes KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


SAMPLER_FLAGS = ("width", "shift_div", "importance", "temperature", "so_loss", "margin", "lam", "set_log_prob",
                 "entropy_weight")


def _train(args: argparse.Namespace) -> None:
    options = {k: getattr(args, k) for k in SAMPLER_FLAGS if getattr(args, k) is not None}
    options.update(dict(args.option))
    config = TrainConfig(**_data_config(args, args.regime), sampler=args.sampler, out=str(args.out), T=args.T, N=args.N,
                         options=options, settings=TrainSettings(recipe=args.recipe, epochs=args.epochs, batch_size=args.batch_size,
                                                                 lr=args.lr, momentum=args.momentum,
                                                                 weight_decay=args.weight_decay))
    out = run_training(config, progress=not args.no_progress)
    print(f"wrote {out} (config.json, weights.pt, train_log.jsonl)")


def _experiments(args: argparse.Namespace) -> None:
    data = DataConfig(**_data_config(args, "untrimmed"))
    if args.data is not None:
        from framesampler.app.experiments import PIXELS_T
        from framesampler.app.extract import folder_dataset

        features, failed = (args.data, []) if args.data.is_file() else \
            folder_dataset(args.data, T=PIXELS_T, cache_dir=args.cache_dir, progress=not args.no_progress)
        for _, reason in failed:
            print(f"skipped: {reason}", file=sys.stderr)
        data.features, data.regime = str(features), None
    settings = TrainSettings(recipe=args.recipe, epochs=args.epochs)
    results = run_experiments(data, args.which, seeds=args.seeds, settings=settings, out=args.out,
                              progress=not args.no_progress)
    print(markdown(results))
    plots = [name for section, name in (("large", "top1_vs_nt.png"), ("pixels", "top1_vs_seconds.png"),
                                        ("pixels", "top1_vs_gmacs.png")) if section in results]
    print(f"wrote {args.out}/experiments.json, experiments.md" + "".join(f", {name}" for name in plots))
    if args.csv:
        from framesampler.report.results_csv import experiment_rows, write_csv

        print(f"wrote {write_csv(experiment_rows(results), args.csv)}")


def _evaluate(args: argparse.Namespace) -> dict:
    report = run(_config(args, args.regime, args.policies), progress=not args.no_progress)
    print(format_table(report))
    if args.json:
        write_text_atomically(args.json, json.dumps(report, indent=2))
    if args.csv:
        from framesampler.report.results_csv import evaluation_rows, write_csv

        write_csv(evaluation_rows(report), args.csv)
    return report


def _demo(args: argparse.Namespace) -> None:
    from framesampler.app.demo import DemoConfig, run_demo

    config = DemoConfig(_config(args, "untrimmed", list(TRAINING_FREE)), settings=TrainSettings(recipe="short", epochs=args.epochs),
                        videos_per_class=args.videos_per_class)
    page = run_demo(config, args.html, json_out=args.json, progress=not args.no_progress)
    print(f"wrote {page.resolve()}: open it in a browser to see the frames uniform and SOSampler chose on each long video")


def _extract(args: argparse.Namespace) -> None:
    from framesampler.app.extract import extract_dataset
    from framesampler.data.dataset import ExtractConfig
    from framesampler.data.manifest import read_manifest, split_entries

    entries = read_manifest(args.manifest, dedupe=args.dedupe)
    splits = {"train": entries, "test": read_manifest(args.test, dedupe=args.dedupe)} if args.test \
        else split_entries(entries, args.test_fraction, seed=args.seed)
    model = _user_model(args)
    label_map = None
    if args.label_map:
        from framesampler.classifiers.model import read_label_map

        label_map = read_label_map(args.label_map)
    model_settings = {} if model is None else {"classifier": model.spec, "classifier_fingerprint": model.fingerprint}
    config = ExtractConfig(T=args.T, short_policy=args.short,
                           classifier_resolution=model.size if model is not None else args.classifier_size or 224,
                           sampler_resolution=args.sampler_size, sampler_stages=args.sampler_stages or None,
                           backend=args.backend, **model_settings)
    runner = None
    if args.ray or args.ray_address:
        from framesampler.integrations.ray import extract_runner

        runner = extract_runner(model=model.identity() if model is not None else None, address=args.ray_address,
                                num_gpus=args.ray_gpus)
    else:
        from framesampler.app.extract import local_runner
        from framesampler.device import resolve_device

        runner = local_runner(model, resolve_device(args.device))
    segments = args.manifest.parent / "segments.json"
    result = extract_dataset(splits, config, args.out, cache_dir=args.cache_dir, model=model, label_map=label_map,
                             segments=segments if segments.is_file() else None, progress=not args.no_progress,
                             runner=runner)
    for _, reason in result.failed:
        print(f"skipped: {reason}", file=sys.stderr)
    report = result.videos
    counts = {split: sum(1 for _, s, _ in report.done if s == split) for split in splits}
    for split in (s for s, n in counts.items() if n == 0):
        print(f"framesampler: warning: no {split} videos (a class with one video stays in train): add videos, or give "
              "--test a manifest of test videos", file=sys.stderr)
    if model is not None:
        print(f"classifier {model.spec}: {len(model.classes)} classes, {model.size} px, {model.kind} model, fingerprint "
              f"{model.fingerprint}; its logits on every candidate are stored as frame_logits")
    trimmed = f" and {len(result.trimmed.done)} source clips (the classifier's training data; in-burst labels " \
              f"from {segments})" if result.trimmed else ""
    sound = int(read_npz(result.out, ("has_audio",))["has_audio"].sum())
    print(f"extracted {len(report.done)} videos ({', '.join(f'{n} {s}' for s, n in counts.items())}){trimmed}, "
          f"skipped {len(result.failed)}; {sound} of the videos have an audio track; cache {report.cache}; wrote {result.out}")


def _construct(args: argparse.Namespace) -> None:
    from framesampler.app.construct import construct
    from framesampler.data.construct import ConstructConfig
    from framesampler.data.manifest import read_manifest, split_entries

    entries = read_manifest(args.manifest)
    splits = {"train": entries, "test": read_manifest(args.test)} if args.test \
        else split_entries(entries, args.test_fraction, seed=args.seed)
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


def _size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"cannot read size {text!r}: write WIDTHxHEIGHT, e.g. 320x240")
    return int(width), int(height)


def _sample(args: argparse.Namespace) -> None:
    from framesampler.app.pipeline import load_pipeline

    pipeline = load_pipeline(args.sampler, T=args.T, N=args.N, dataset=args.dataset, cache_dir=args.cache_dir,
                             reread=args.reread, seed=args.seed, thumbnails=160 if args.sheet else None,
                             candidates=args.candidates, options=dict(args.option), classifier=_user_model(args),
                             device=args.device)
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

        scores = None if result.scores is None else result.scores.tolist()
        labels = [f"#{i} {i / result.fps:.2f}s" for i in result.candidates]
        contact_sheet(result.thumbnails, args.sheet, chosen=result.chosen.tolist(), labels=labels, scores=scores,
                      title=f"{Path(result.path).name}: {args.sampler}, N={len(result.chosen)} of T={len(result.candidates)}")


def _batch(args: argparse.Namespace) -> None:
    if args.ray:
        return _batch_ray(args)
    from framesampler.app.batch import run_batch
    from framesampler.app.pipeline import load_pipeline

    pipeline = load_pipeline(args.sampler, T=args.T, N=args.N, dataset=args.dataset, cache_dir=args.cache_dir,
                             reread=args.reread, seed=args.seed, candidates=args.candidates, options=dict(args.option),
                             classifier=_user_model(args), device=args.device)
    report = run_batch(pipeline, args.source, args.out, workers=args.workers, progress=not args.no_progress)
    print(f"wrote {report.done} results and {report.failed} errors to {args.out} "
          f"({report.skipped} videos were already there)")


def _batch_ray(args: argparse.Namespace) -> None:
    from framesampler.app.batch import run_batch
    from framesampler.integrations.ray import batch_records

    if args.workers:
        raise ValueError("--workers is for a local run; with --ray the actor pool runs videos in parallel")
    model = {} if args.classifier == "frame" else {
        "classifier": args.classifier, "classifier_size": args.classifier_size, "classes": args.classes,
        "classifier_gmacs": args.classifier_gmacs}  # each actor loads the model itself: a spec travels, a model may not
    _user_model(args)  # checked here, before the cluster starts
    records = batch_records(args.sampler, T=args.T, N=args.N, address=args.ray_address, dataset=args.dataset,
                            cache_dir=args.cache_dir, reread=args.reread, seed=args.seed, candidates=args.candidates,
                            options=dict(args.option), **model)
    report = run_batch(None, args.source, args.out, progress=not args.no_progress, records=records)
    print(f"wrote {report.done} results and {report.failed} errors to {args.out} "
          f"({report.skipped} videos were already there)")


def _independence(args: argparse.Namespace) -> None:
    from framesampler.eval.independence import plot_relevance_density, relevance_by_rate

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


def _report(args: argparse.Namespace) -> None:
    from framesampler.report.html import write_html

    print(f"wrote {write_html(args.results, args.html, thumb_px=args.thumb_size)}")


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read rates {text!r}: write them like 0.5,1,2,5,10") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive frames per second, got {text!r}")
    return [int(r) if r.is_integer() else r for r in rates]


def _add_view_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidates", choices=("uniform", "keyframes"), default="uniform",
                        help="the T candidates: uniform (TSN centres) or the video's keyframes (decoded alone)")
    parser.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                        help="an option of a named sampler, e.g. motion=mv for mgsampler on the bitstream's motion vectors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="framesampler", description=__import__("framesampler").__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    evaluate = commands.add_parser("evaluate", help="compare samplers on a feature dataset (Lee et al. 2024, Tables 1-2)")
    _add_evaluation_options(evaluate)
    evaluate.add_argument("--regime", choices=("trimmed", "untrimmed"),
                          help="trimmed clips as they are, or the untrimmed construction (default: untrimmed for "
                          "a feature file, trimmed (as they are) for a video dataset from `extract`)")
    evaluate.add_argument("--policies", type=_names, default=list(TRAINING_FREE),
                          help=f"comma-separated sampler names (default: {','.join(TRAINING_FREE)})")
    evaluate.add_argument("--json", type=Path, help="write the report as JSON here")
    evaluate.add_argument("--timed", action="store_true", help="also run the real two-resolution pipeline of every "
                          "policy on every test video file (a video dataset): seconds_per_video and gmacs per policy")
    evaluate.add_argument("--csv", type=Path, help="write a row per policy as CSV here")
    evaluate.set_defaults(handler=_evaluate)

    train = commands.add_parser("train", help="train a learned sampler against the frozen classifier")
    _add_data_options(train)
    _add_budget_options(train)
    train.add_argument("--sampler", choices=learned_sampler_names(), required=True)
    train.add_argument("--out", type=Path, required=True, help="checkpoint directory to write")
    train.add_argument("--regime", choices=("trimmed", "untrimmed"),
                       help="default: untrimmed for a feature file, trimmed (as they are) for a video dataset")
    _add_recipe_options(train)
    train.add_argument("--batch-size", type=int, help="videos per step (default: the recipe's)")
    train.add_argument("--lr", type=float, help="initial SGD learning rate (default: the recipe's)")
    train.add_argument("--momentum", type=float, help="SGD momentum (default: the recipe's)")
    train.add_argument("--weight-decay", type=float, help="SGD weight decay (default: the recipe's)")
    train.add_argument("--width", type=int, help=f"encoder width W (default 256, at most {MAX_WIDTH})")
    train.add_argument("--shift-div", type=int, help="temporal shift: 1/shift-div of channels each way (0: none; default 8)")
    sos = train.add_argument_group("sosampler")
    sos.add_argument("--importance", choices=("max", "label"), help="teacher confidence (default max)")
    sos.add_argument("--temperature", type=float, help="teacher softmax temperature (default 1)")
    sos.add_argument("--so-loss", choices=("rank", "rank_weighted", "mse", "kl"), help="L_SO (default rank, Eq. 3)")
    sos.add_argument("--margin", type=float, help="ranking margin gamma (default 0.01)")
    sos.add_argument("--lambda", dest="lam", type=float, help="weight of L_SO against L_LG (default 0.99, Eq. 4)")
    ocs = train.add_argument_group("ocsampler")
    ocs.add_argument("--set-log-prob", choices=("auto", "exact", "sorted", "sampled"),
                     help="log P(set): exact over N! orders, or an approximation (default auto: exact up to N=6)")
    ocs.add_argument("--entropy-weight", type=float, help="entropy bonus (default 0.1, the authors' explore_rate)")
    train.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                       help="any other option of the sampler's constructor (value read as JSON when it parses)")
    train.set_defaults(handler=_train)

    experiments = commands.add_parser("experiments", help="the learned-sampler tables of Lee et al. 2024 (Tab. 3, 5, 6, 7, Fig. 4, cost)")
    _add_data_options(experiments)
    experiments.add_argument("--which", type=lambda text: [w.strip() for w in text.split(",") if w.strip()],
                             default=list(DEFAULT_EXPERIMENTS),
                             help=f"comma-separated, from {','.join(EXPERIMENTS)} (default: {','.join(DEFAULT_EXPERIMENTS)})")
    experiments.add_argument("--seeds", type=int, default=3, help="seeds averaged per number")
    _add_recipe_options(experiments)
    experiments.add_argument("--out", type=Path, default=Path("experiments"), help="output directory (checkpoints are reused)")
    experiments.add_argument("--data", type=Path, help="real videos for --which pixels: a folder from `framesampler "
                             "construct` (extracted at T=64 into it on first use) or a video dataset (.npz) from `extract`")
    experiments.add_argument("--csv", type=Path, help="also write a row per table, N/T and sampler as CSV here")
    experiments.set_defaults(handler=_experiments)

    demo = commands.add_parser("demo", help="the paper in a few minutes: every training-free policy on the shared features "
                               "(trimmed and untrimmed), SOSampler trained there beside uniform and pi_s, then uniform and "
                               "the shipped SOSampler on long videos built from the shared clips, into an HTML report")
    _add_evaluation_options(demo)
    demo.add_argument("--epochs", type=int, help="epochs of SOSampler's training on the features (default: the short recipe's)")
    demo.add_argument("--videos-per-class", type=int, default=2,
                      help="long videos built per class of the shipped SOSampler's vocabulary (default: %(default)s)")
    demo.add_argument("--json", type=Path, help="write every result (both reports, SOSampler's table, the videos) as JSON here")
    demo.add_argument("--html", type=Path, default=Path("framesampler-demo.html"),
                      help="the HTML report to write: the tables and each long video's chosen frames (default: %(default)s)")
    demo.set_defaults(handler=_demo)

    extract = commands.add_parser("extract", help="decode a labeled video collection once into a video dataset "
                                  "(sampler and classifier features per candidate) for train and evaluate")
    extract.add_argument("manifest", type=Path, help='"path label" lines (mmaction2 video list) or a CSV with path,label')
    extract.add_argument("--test", type=Path, help="a second manifest for the test split (default: split the first)")
    extract.add_argument("--dedupe", action="store_true",
                         help="keep a video listed twice with the same label once (default: an error)")
    extract.add_argument("--test-fraction", type=float, default=0.3, help="share of each class held out for test")
    extract.add_argument("--out", type=Path, required=True, help="the video dataset (.npz) to write")
    extract.add_argument("--T", "--num-candidates", dest="T", type=int, default=32, help=f"candidates per video (at most {MAX_T})")
    extract.add_argument("--short", choices=("error", "repeat"), default="error",
                         help="a video with fewer frames than T: report and skip it, or repeat frames")
    _add_model_options(extract, size_default=None)
    extract.add_argument("--label-map", type=Path, help="'label,class' lines: the manifest's labels as your classifier's "
                         "class names (default: the labels must be its class names)")
    extract.add_argument("--sampler-size", type=int, default=64, help="sampler resolution (px)")
    extract.add_argument("--sampler-stages", type=int, default=5,
                         help="pretrained stages in the sampler's backbone (0: the whole network)")
    extract.add_argument("--backend", choices=("pyav", "decord", "torchcodec"), default="pyav")
    extract.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    extract.add_argument("--cache-dir", type=Path, default=default_cache_dir(), help="where per-video results are kept")
    extract.add_argument("--no-progress", action="store_true")
    extract.add_argument("--ray", action="store_true", help="one Ray task per video (extra [ray]): an actor pool on this "
                         "machine's loopback, or on the cluster at --ray-address / $RAY_ADDRESS (its workers must see the "
                         "video paths and your classifier's spec); cache entries are written here, atomically")
    extract.add_argument("--ray-address", help="an existing Ray cluster: auto, HOST:6379 or ray://HOST:10001")
    extract.add_argument("--ray-gpus", type=float, default=0, help="GPUs per Ray actor (a cluster with GPUs)")
    extract.set_defaults(handler=_extract)

    construct = commands.add_parser("construct", help="build long untrimmed video files: each holds one labeled clip "
                                    "of the vocabulary, cut into bursts placed at random among background footage")
    construct.add_argument("manifest", type=Path, help="labeled clips (train split): 'path label' lines or CSV")
    construct.add_argument("--test", type=Path, help="labeled clips of the test split (default: split the first)")
    construct.add_argument("--test-fraction", type=float, default=0.3, help="share of each class held out without --test")
    construct.add_argument("--vocab", type=lambda text: [n.strip() for n in text.split(",") if n.strip()], required=True,
                           help="the classifier's classes (manifest labels without a space, comma or slash), e.g. "
                           "Archery,BasketballDunk,Surfing; clips of the other classes are background")
    construct.add_argument("--out", type=Path, required=True, help="folder for the long videos, train.txt, test.txt, segments.json")
    construct.add_argument("--background-videos", type=Path, nargs="*",
                           help="unlabeled long videos used as background too (default: the shared long videos; "
                           "give the flag alone for none)")
    from framesampler.data.construct import MAX_FPS, MAX_LENGTH, MAX_PER_CLIP, MAX_SIDE, ConstructConfig

    construct_defaults = ConstructConfig()
    construct.add_argument("--length", type=float, default=construct_defaults.length,
                           help=f"seconds per long video (at most {MAX_LENGTH:g})")
    construct.add_argument("--bursts", type=int, default=construct_defaults.bursts, help="pieces each clip is cut into")
    construct.add_argument("--gop", type=float, default=construct_defaults.gop, help="seconds between keyframes")
    construct.add_argument("--size", type=_size, default=(construct_defaults.width, construct_defaults.height),
                           help=f"frame size WIDTHxHEIGHT (letterboxed; each side even, 16..{MAX_SIDE})")
    construct.add_argument("--fps", type=float, default=construct_defaults.fps,
                           help=f"frame rate of the long videos (at most {MAX_FPS:g})")
    construct.add_argument("--seed", type=int, default=0)
    construct.add_argument("--per-clip", type=int, default=1, help=f"long videos made from each clip (at most {MAX_PER_CLIP})")
    construct.add_argument("--crf", type=int, default=construct_defaults.crf, help="x264 quality (lower is better)")
    construct.add_argument("--preset", default=construct_defaults.preset, help="x264 speed preset")
    construct.add_argument("--audio", action=argparse.BooleanOptionalAction, default=construct_defaults.audio,
                           help="mux the sources' audio (AAC, mono, 16 kHz; silence where a source has none)")
    construct.add_argument("--no-progress", action="store_true")
    construct.set_defaults(handler=_construct)

    sample = commands.add_parser("sample", help="choose N of T candidate frames of a video file and classify them")
    sample.add_argument("video", type=Path)
    sample.add_argument("--sampler", default="uniform", help="a sampler name or a trained checkpoint directory")
    _add_budget_options(sample)
    sample.set_defaults(T=32, N=8)
    sample.add_argument("--dataset", type=Path, help="video dataset whose frozen classifier to use (default: the "
                        "checkpoint's; without either, the backbone's ImageNet head)")
    sample.add_argument("--reread", choices=("memory", "decode"), default="memory",
                        help="the chosen frames at classifier resolution: kept from one decode, or decoded again")
    sample.add_argument("--json", type=Path, help="write indices, timestamps, scores, prediction, times, GMACs here")
    sample.add_argument("--sheet", type=Path, help="write a contact sheet of the candidates, the chosen marked (.png)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    _add_model_options(sample, size_default=None)
    _add_view_options(sample)
    sample.set_defaults(handler=_sample)

    batch = commands.add_parser("batch", help="sample and classify every video of a folder or manifest: one JSON "
                                "line per video, resumable")
    batch.add_argument("source", type=Path, help="a folder (walked for video files) or a manifest of videos")
    batch.add_argument("--sampler", default="uniform", help="a sampler name or a trained checkpoint directory")
    _add_budget_options(batch)
    batch.set_defaults(T=32, N=8)
    batch.add_argument("--out", type=Path, required=True, help="results file (.jsonl), appended to; videos in it are "
                       "skipped; one run at a time (it holds OUT.lock)")
    from framesampler.app.batch import MAX_FRAMES_AHEAD, MAX_WORKERS

    batch.add_argument("--workers", type=int, default=0, help=f"decode the next K videos in background threads while "
                       f"the networks run (K <= {MAX_WORKERS}; memory: K videos, fewer when their candidates pass "
                       f"{MAX_FRAMES_AHEAD} frames, i.e. at most max(1, {MAX_FRAMES_AHEAD} // T))")
    batch.add_argument("--dataset", type=Path, help="video dataset whose frozen classifier to use (as for sample)")
    batch.add_argument("--reread", choices=("memory", "decode"), default="memory")
    batch.add_argument("--seed", type=int, default=0)
    batch.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    batch.add_argument("--no-progress", action="store_true")
    _add_model_options(batch, size_default=None)
    _add_view_options(batch)
    batch.add_argument("--ray", action="store_true", help="run on Ray (extra [ray]): an actor pool on this machine's "
                       "loopback, or on the cluster at --ray-address / $RAY_ADDRESS")
    batch.add_argument("--ray-address", help="an existing Ray cluster: auto, HOST:6379 or ray://HOST:10001")
    batch.set_defaults(handler=_batch)

    independence = commands.add_parser("independence", help="how related consecutive candidate frames are at each "
                                       "sampling rate (Lee et al. 2024, Sec. 4.1, Eq. 1, Fig. 1)")
    independence.add_argument("videos", type=Path, nargs="+")
    independence.add_argument("--fps", type=_rates, default=[0.5, 1, 2, 5, 10], help="sampling rates (default 0.5,1,2,5,10)")
    independence.add_argument("--plot", type=Path, help="write the kernel density of the relevance per rate (.png)")
    independence.add_argument("--json", type=Path, help='write {"rates": {rate: {"mean", "median", "pairs"}}, ...}')
    independence.add_argument("--resolution", type=int, default=160,
                              help=f"backbone resolution ({MIN_RESOLUTION}..{MAX_RESOLUTION} px)")
    independence.add_argument("--max-frames", type=int, default=300,
                              help=f"candidates per video and rate, from the start (2..{MAX_T})")
    independence.set_defaults(handler=_independence)

    report = commands.add_parser("report", help="one self-contained HTML page over sample/batch/evaluate results")
    report.add_argument("results", type=Path, nargs="+", help="JSON from sample or evaluate --json, or batch's JSONL")
    report.add_argument("--html", type=Path, required=True, help="the page to write (thumbnails and plots embedded)")
    report.add_argument("--thumb-size", type=int, default=THUMB_PX,
                        help=f"thumbnail height in pixels (shorter side), {MIN_THUMB_PX}..{MAX_THUMB_PX}")
    report.set_defaults(handler=_report)

    samplers = commands.add_parser("samplers", help="list the registered sampler names")
    samplers.set_defaults(handler=lambda args: print("\n".join(list_samplers())))
    return parser


FILE_OUTPUTS = ("json", "sheet", "plot", "csv", "html")  # flags naming a file a command writes at the end
DIRECTORY_OUTPUTS = ("construct", "train", "experiments")  # commands whose --out is a folder (extract's is a file)
INPUTS = ("video", "videos", "manifest", "results", "source", "features", "background", "dataset", "test", "checkpoint",
          "sampler", "background_videos", "data")  # arguments naming what a command reads
CHECKPOINT_INPUTS = ("checkpoint", "sampler")  # folders whose files are read: an output may not be one of them
WRITTEN_IN_OUT = {"construct": ("train.txt", "test.txt", "segments.json", "construct.json")}  # files --out gets


def _inputs(args: argparse.Namespace) -> list[Path]:
    """Every existing path the parsed command reads (a checkpoint folder: the files in it, too)."""
    paths = []
    for name in INPUTS:
        value = getattr(args, name, None)
        for path in map(Path, (value or []) if isinstance(value, list) else [value] if value is not None else []):
            if path.exists():
                paths.append(path)
            if name in CHECKPOINT_INPUTS and path.is_dir():
                paths += [child for child in path.iterdir() if child.is_file()]
    return paths


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (same device and inode: links included), or one path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path is checked before any work starts, so a run never ends in a traceback that loses it,
    and none may be an input of the run (nor another output): writing it would destroy what is read."""
    outputs = []
    for flag in FILE_OUTPUTS:
        if getattr(args, flag, None) is not None:
            outputs.append((f"--{flag}", check_output_file(getattr(args, flag), f"--{flag}")))
    if getattr(args, "out", None) is not None:
        check = check_output_directory if args.command in DIRECTORY_OUTPUTS else check_output_file
        outputs.append(("--out", check(args.out, "--out")))
        outputs += [("--out", Path(args.out) / name) for name in WRITTEN_IN_OUT.get(args.command, ())]
    inputs = _inputs(args)
    for number, (flag, path) in enumerate(outputs):
        for source in inputs:
            if _same_file(path, source):
                raise ValueError(f"{flag} {path} is the input {source}: writing it would destroy what this run reads; "
                                 f"choose another {flag}")
            inside = Path(os.path.realpath(source)).is_relative_to(os.path.realpath(path))
            # train replaces its --out folder (check_replaceable first says when it may not be replaced at all)
            if args.command == "train" and flag == "--out" and inside and check_replaceable(path, CHECKPOINT_KEYS):
                raise ValueError(f"--out {path} is replaced by the new checkpoint, and it holds the input {source}: "
                                 "choose another --out")
        for other, earlier in outputs[:number]:
            if _same_file(path, earlier):
                raise ValueError(f"{other} and {flag} both name {path}: give each output its own file")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_outputs(args)
        args.handler(args)
    except (ValueError, FileNotFoundError, VideoError) as err:
        print(f"framesampler: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
