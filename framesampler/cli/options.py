"""The flags several commands share, each declared once, as argparse parent parsers; and the option types.

Every ``*_options()`` returns a new parent parser (``add_help=False``): argparse shares a parent's actions with
the commands built from it, so a command's defaults never leak into another's. Nothing here imports torch; the
helpers that turn parsed flags into the application layer's settings import it lazily.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from framesampler.constants import (
    BUILT_IN_CLASSIFIERS,
    CLASSIFIER_KINDS,
    CONSENSUS,
    DEFAULT_BATCH_SIZE,
    MAX_T,
    MAX_UNTRIMMED_LENGTH,
    PRECISIONS,
    RECIPES,
    default_cache_dir,
)


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


# Option types: each turns one flag's text into its value, or says in one line what is wrong and what to do ---------

def classes(text: str) -> list[int]:
    """Class ids like ``2-7`` or ``2,3,5`` (``--vocab``, ``--background-classes``)."""
    from framesampler.data.features import parse_classes

    try:
        return parse_classes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def policy_names(text: str) -> list[str]:
    """Comma-separated names of registered samplers that need no training (``--policies``)."""
    from framesampler.learned import learned_sampler_names
    from framesampler.policies import list_samplers

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


def learned_name(text: str) -> str:
    """The name of a registered learned sampler, built in or an installed plugin's (``train --sampler``)."""
    from framesampler.learned import learned_sampler_names

    if text not in learned_sampler_names():
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(learned_sampler_names())})")
    return text


def class_list(text: str) -> list[str]:
    """Two or more comma-separated class names (``--classes``)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if len(names) < 2:
        raise argparse.ArgumentTypeError(f"--classes {text!r}: give two or more class names, comma-separated")
    return names


def names(text: str) -> list[str]:
    """Comma-separated names, blanks dropped (``construct --vocab``, ``experiments --which``)."""
    return [n.strip() for n in text.split(",") if n.strip()]


def option(text: str) -> tuple[str, object]:
    """``KEY=VALUE``, the value read as JSON when it parses (``--option``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option takes KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` in pixels (``construct --size``)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"cannot read size {text!r}: write WIDTHxHEIGHT, e.g. 320x240")
    return int(width), int(height)


def rates(text: str) -> list[float]:
    """Comma-separated positive frame rates (``independence --fps``)."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read rates {text!r}: write them like 0.5,1,2,5,10") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive frames per second, got {text!r}")
    return [int(r) if r.is_integer() else r for r in values]


# Parent parsers -------------------------------------------------------------------------------------------------------

def progress_options() -> argparse.ArgumentParser:
    parser = _parent()
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def cache_options() -> argparse.ArgumentParser:
    parser = _parent()
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="where trained classifiers and per-video results are kept (default: $FRAMESAMPLER_CACHE "
                        "or ~/.cache/framesampler)")
    return parser


def data_options() -> argparse.ArgumentParser:
    """A feature file (or video dataset), its vocabulary, the untrimmed construction and the built-in classifier."""
    parser = _parent()
    parser.add_argument("--features", type=Path, help="feature file (.npz, shared format); default: the shared UCF101 file")
    parser.add_argument("--background", type=Path, help="file of background clips (default: --features)")
    parser.add_argument("--vocab", type=classes, help="classifier's classes, e.g. 2-7 or 2,3,5 "
                        "(default: the file's classes minus the background ones)")
    parser.add_argument("--background-classes", type=classes, help="background classes (default: with one file, "
                        "its classes outside --vocab, or its last third; with --background, all of that file's classes)")
    parser.add_argument("--length", type=int, default=120,
                        help=f"frames per untrimmed video (L, at most {MAX_UNTRIMMED_LENGTH})")
    parser.add_argument("--action-frames", type=int, help="labeled clip frames per untrimmed video (default: all)")
    parser.add_argument("--bursts", type=int, default=3, help="pieces the clip is cut into (B)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--consensus", choices=CONSENSUS, default="avg_logits")
    parser.add_argument("--classifier", default="frame", metavar="SPEC",
                        help="frozen classifier: frame (a per-frame head + consensus), clip (a clip transformer whose "
                        "frames interact), or the model a video dataset was extracted with (it is read from the dataset; "
                        "one given must match)")
    return argparse.ArgumentParser(add_help=False, parents=[parser, cache_options(), progress_options()])


def budget_options(*, T: int = 10, N: int = 6) -> argparse.ArgumentParser:
    """T candidates per video, N frames picked."""
    parser = _parent()
    parser.add_argument("--T", "--num-candidates", dest="T", type=int, default=T, help=f"candidates per video (at most {MAX_T})")
    parser.add_argument("--N", "--num-frames", dest="N", type=int, default=N, help="frames the sampler picks")
    return parser


def device_options() -> argparse.ArgumentParser:
    parser = _parent()
    parser.add_argument("--device", default="cpu", help="where the classifier and the sampler's backbone run: auto, cpu, "
                        "cuda or cuda:K (auto: CUDA when torch sees it; decoding stays on CPU threads)")
    return parser


def inference_options() -> argparse.ArgumentParser:
    """--device, and how the networks run there: --precision and --batch-size (frames per forward pass)."""
    parser = _parent()
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="run the networks under torch.autocast in this precision (float16 needs CUDA; default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="FRAMES",
                        help="frames per forward pass on the device (default %(default)s)")
    return argparse.ArgumentParser(add_help=False, parents=[device_options(), parser])


def decode_aware_options() -> argparse.ArgumentParser:
    """--decode-aware: the pipeline's choice plans for the decoder (``Pipeline.decode_aware``)."""
    parser = _parent()
    parser.add_argument("--decode-aware", type=float, default=0.0, metavar="TOL",
                        help="a sampler that picks its top N by score prefers, among candidates within TOL of the score "
                        "range, those whose GOPs are already being decoded (0: off, the default; e.g. 0.05)")
    return parser


def model_options() -> argparse.ArgumentParser:
    """The user's classifier (``framesampler.classifiers.model``): spec, input size, class names, cost; and --device."""
    parser = _parent()
    parser.add_argument("--classifier", metavar="SPEC", default="frame",
                        help="frame (the built-in backbone + head; default), or your model: a TorchScript file (.pt/.ts), "
                        "a torch.export file (.pt2), a Hugging Face model directory, or package.module:function. "
                        "Contract: float32 [n, 3, S, S] RGB in [0, 1] (shorter side resized to S, centre crop) -> logits [n, C]")
    parser.add_argument("--classifier-size", type=int, metavar="S",
                        help="input side S in pixels, 16..1024 (default 224; a Hugging Face model brings its own)")
    parser.add_argument("--classes", type=class_list, help="your model's class names A,B,C (default: MODEL.classes.txt "
                        "beside the file, or a Hugging Face model's id2label)")
    parser.add_argument("--classifier-kind", choices=CLASSIFIER_KINDS,
                        help="frame: an image model, clip: a video model taking [1, K, 3, S, S] (default: frame; a Hugging "
                        "Face model says which it is)")
    parser.add_argument("--classifier-gmacs", type=float, help="your model's GMACs per frame, where they cannot be counted")
    return argparse.ArgumentParser(add_help=False, parents=[parser, inference_options()])


def recipe_options() -> argparse.ArgumentParser:
    parser = _parent()
    parser.add_argument("--recipe", choices=RECIPES, default="paper",
                        help="training recipe: each sampler's paper's (default; optimiser, lr schedule, epochs, batch as its "
                             "paper gives them) or framesampler's short one (SGD + cosine, 20 epochs, batch 32)")
    parser.add_argument("--epochs", type=int, help="training epochs per sampler (default: the recipe's)")
    return parser


def evaluation_options() -> argparse.ArgumentParser:
    """Data, budget, the oracle's search, repeats, checkpoints and --device: what ``evaluate`` and ``demo`` share."""
    parser = _parent()
    parser.add_argument("--oracle-search", choices=("auto", "exact", "approximate"), default="auto",
                        help="pi_o search: exact enumeration or greedy + swap local search (auto: exact when feasible)")
    parser.add_argument("--repeats", type=int, default=3, help="runs averaged (construction/random seeds seed..seed+R-1)")
    parser.add_argument("--checkpoint", action="append", default=[], type=str,
                        help="a trained sampler's directory (repeatable); listed under its sampler's name")
    return argparse.ArgumentParser(add_help=False, parents=[data_options(), budget_options(), parser, inference_options(),
                                                            decode_aware_options()])


def pipeline_options() -> argparse.ArgumentParser:
    """The two-resolution pipeline of ``sample`` and ``batch``: sampler, budget (T=32, N=8), its classifier."""
    parser = _parent()
    parser.add_argument("--sampler", default="uniform", help="a sampler name or a trained checkpoint directory "
                        "(`framesampler samplers` lists the names)")
    budget = budget_options(T=32, N=8)
    after = _parent()
    after.add_argument("--dataset", type=Path, help="video dataset whose frozen classifier to use (default: the "
                       "checkpoint's; without either, the backbone's ImageNet head)")
    after.add_argument("--reread", choices=("memory", "decode"), default="memory",
                       help="the chosen frames at classifier resolution: kept from one decode, or decoded again")
    after.add_argument("--seed", type=int, default=0)
    return argparse.ArgumentParser(add_help=False, parents=[parser, budget, after, cache_options(),
                                                            decode_aware_options()])


def view_options() -> argparse.ArgumentParser:
    """Which candidates a named sampler sees, and its options."""
    parser = _parent()
    parser.add_argument("--candidates", choices=("uniform", "keyframes"), default="uniform",
                        help="the T candidates: uniform (TSN centres) or the video's keyframes (decoded alone)")
    parser.add_argument("--option", type=option, action="append", default=[], metavar="KEY=VALUE",
                        help="an option of a named sampler, e.g. motion=mv for mgsampler on the bitstream's motion vectors")
    return parser


# Parsed flags -> the application layer's settings ------------------------------------------------------------------

def data_config(args: argparse.Namespace, regime: str | None) -> dict[str, Any]:
    """The ``DataConfig`` fields that the data options give."""
    from framesampler.data.features import default_features_path

    return dict(features=str(args.features or default_features_path()),
                background=str(args.background) if args.background else None, vocab=args.vocab,
                background_classes=args.background_classes, regime=regime, length=args.length,
                action_frames=args.action_frames, bursts=args.bursts, seed=args.seed, consensus=args.consensus,
                classifier=args.classifier, cache_dir=str(args.cache_dir))


def evaluation_config(args: argparse.Namespace, regime: str | None, policies: list[str]) -> Any:
    """The ``EvaluationConfig`` of ``evaluate`` and ``demo``."""
    from framesampler.app.evaluate import EvaluationConfig

    return EvaluationConfig(**data_config(args, regime), T=args.T, N=args.N, policies=policies,
                            checkpoints=args.checkpoint, oracle_search=args.oracle_search, repeats=args.repeats,
                            timed=getattr(args, "timed", False), device=args.device, precision=args.precision,
                            batch_size=args.batch_size, decode_aware=args.decode_aware)


def user_model(args: argparse.Namespace) -> Any:
    """The user's classifier named by --classifier, loaded and probed (None for the built-in ones)."""
    if args.classifier in BUILT_IN_CLASSIFIERS:
        return None
    from framesampler.classifiers.model import load_classifier

    return load_classifier(args.classifier, size=args.classifier_size, classes=args.classes, kind=args.classifier_kind,
                           gmacs=args.classifier_gmacs, device=args.device, precision=args.precision,
                           batch_size=args.batch_size)
