"""The experiment of Lee et al. 2024, Tables 1-2: every sampler against the same frozen classifier.

``prepare`` builds the test videos (trimmed clips or the untrimmed construction) and the frozen
classifier (trained on the vocabulary's trimmed training clips, cached on disk); ``evaluate``
runs each sampler on the T uniform candidates of every test video, classifies the N chosen frames
with the classifier's consensus, and reports top-1, mAP, fidelity to pi_o and frames used.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from framesampler.candidates import Candidates, candidate_indices
from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import FrameClassifier, cached_classifier, dense_scores, train_classifier
from framesampler.data.features import FeatureFile, VideoSet, load_feature_file, trimmed_videos
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos
from framesampler.eval.metrics import mean_average_precision, sampling_fidelity, top1
from framesampler.policies import TRAINING_FREE, Context, Sampler, create_sampler
from framesampler.policies.optimal import OptimalPolicy, optimal_search_kind


def default_cache_dir() -> Path:
    return Path(os.environ.get("FRAMESAMPLER_CACHE", Path.home() / ".cache" / "framesampler"))


@dataclass
class EvaluationConfig:
    """One evaluation; every field is recorded in the JSON output."""

    features: str
    background: str | None = None
    vocab: list[int] | None = None
    background_classes: list[int] | None = None
    regime: str = "untrimmed"
    length: int = 120
    action_frames: int | None = None
    bursts: int = 3
    T: int = 10
    N: int = 6
    policies: list[str] = field(default_factory=lambda: list(TRAINING_FREE))
    seed: int = 0
    consensus: str = "avg_logits"
    oracle_search: str = "auto"
    repeats: int = 3
    cache_dir: str = field(default_factory=lambda: str(default_cache_dir()))


def resolve_classes(source: FeatureFile, background: FeatureFile, vocab: list[int] | None,
                    background_classes: list[int] | None) -> tuple[list[int], list[int]]:
    """Vocabulary and background classes, with the defaults of ``framesampler evaluate --help``.

    Same file: background = the file's classes outside ``vocab``; with neither given, the last third
    of the file's classes is background. A different background file: all its classes.
    """
    classes = source.class_ids
    if vocab is not None:
        unknown = sorted(set(vocab) - set(classes))
        if unknown:
            raise ValueError(f"vocabulary classes {unknown} are not in {source.path} (it has {classes})")
    if background is not source:
        return vocab or classes, background_classes or background.class_ids
    if vocab is None and background_classes is None:
        background_classes = classes[len(classes) - math.ceil(len(classes) / 3):]
    if vocab is None:
        vocab = [c for c in classes if c not in background_classes]
    if background_classes is None:
        background_classes = [c for c in classes if c not in vocab]
    if not vocab:
        raise ValueError("the vocabulary is empty: pass --vocab")
    return vocab, background_classes


def prepare(config: EvaluationConfig) -> tuple[Callable[[int], VideoSet], FrameClassifier, float]:
    """A builder of test videos (by construction seed) for the configured regime, the frozen
    classifier for the vocabulary, and that classifier's top-1 on the trimmed test clips (all frames)."""
    source = load_feature_file(config.features)
    background = source if config.background in (None, config.features) else load_feature_file(config.background)
    vocab, background_classes = resolve_classes(source, background, config.vocab, config.background_classes)
    config.vocab, config.background_classes = vocab, background_classes
    if config.regime not in ("trimmed", "untrimmed"):
        raise ValueError(f"unknown regime {config.regime!r}: use 'trimmed' or 'untrimmed'")
    train = trimmed_videos(source, vocab, "train")
    trimmed_test = trimmed_videos(source, vocab, "test")
    stat = Path(config.features).stat()
    key = {"features": str(Path(config.features).resolve()), "size": stat.st_size, "mtime": stat.st_mtime_ns,
           "vocab": vocab, "consensus": config.consensus, "seed": config.seed, "version": 1}
    classifier = cached_classifier(
        config.cache_dir, key,
        lambda: train_classifier(train, consensus=config.consensus, seed=config.seed, trained_on=config.features),
    )

    def test_videos(seed: int) -> VideoSet:
        if config.regime == "trimmed":
            return trimmed_test
        shape = UntrimmedConfig(config.length, config.action_frames, config.bursts, seed)
        return untrimmed_videos(source, vocab, "test", background=background,
                                background_classes=background_classes, config=shape)

    return test_videos, classifier, dense_scores(classifier, trimmed_test)[0]


@torch.no_grad()
def evaluate(videos: VideoSet, classifier: FrameClassifier, samplers: dict[str, Sampler], *, T: int, N: int,
             seed: int = 0, oracle_search: str = "auto", progress: bool = True) -> dict[str, dict]:
    """Per sampler: {"top1", "mAP", "fidelity" (null when it does not pick N), "frames"}."""
    consensus = classifier.config.consensus
    table_logits = classifier.frame_logits(videos.frames)
    oracle = OptimalPolicy(search=oracle_search)
    rng = np.random.default_rng(seed)
    probs = {name: [] for name in samplers}
    chosen: dict[str, list[np.ndarray]] = {name: [] for name in samplers}
    optimal = []
    for v in tqdm(range(len(videos)), desc="videos", disable=not progress or None, file=sys.stderr):
        positions = candidate_indices(videos.length, T)
        rows = torch.from_numpy(videos.refs[v, positions])
        candidates = Candidates(positions, videos.length, features=videos.frames[rows].numpy())
        context = Context(frame_logits=table_logits[rows], label=int(videos.labels[v]), consensus=consensus)
        optimal.append(oracle.select(candidates, N, context=context))
        for name, sampler in samplers.items():
            picked = optimal[-1] if isinstance(sampler, OptimalPolicy) and sampler.search == oracle_search \
                else sampler.select(candidates, N, context=context, rng=rng)
            chosen[name].append(picked)
            probs[name].append(consensus_probs(context.frame_logits[torch.from_numpy(picked)], consensus).numpy())
    results = {}
    for name in samplers:
        scores = np.stack(probs[name])
        picks_n = all(len(s) == len(o) for s, o in zip(chosen[name], optimal))
        results[name] = {
            "top1": top1(scores, videos.labels),
            "mAP": mean_average_precision(scores, videos.labels),
            "fidelity": sampling_fidelity(chosen[name], optimal) if picks_n else None,
            "frames": float(np.mean([len(s) for s in chosen[name]])),
        }
    return results


def summarise(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Mean over repeated runs of each metric, with its standard deviation as ``<metric>_std``."""
    summary = {}
    for name in runs[0]:
        row: dict = {}
        for metric in ("top1", "mAP", "fidelity", "frames"):
            values = [run[name][metric] for run in runs]
            row[metric] = None if values[0] is None else float(np.mean(values))
            if metric != "frames":
                row[f"{metric}_std"] = None if values[0] is None else float(np.std(values))
        summary[name] = row
    return summary


def run(config: EvaluationConfig, *, progress: bool = True) -> dict:
    """Prepare, evaluate every configured policy ``repeats`` times (untrimmed construction and random
    samplers seeded ``seed + r``), and return the JSON-ready report of means and spreads."""
    if config.repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {config.repeats}")
    test_videos, classifier, trimmed_top1 = prepare(config)
    oracle_options = {"search": config.oracle_search}
    runs, num_videos, length = [], 0, 0
    for seed in range(config.seed, config.seed + config.repeats):
        videos = test_videos(seed)
        num_videos, length = len(videos), videos.length
        samplers = {name: create_sampler(name, seed=seed, **(oracle_options if name in ("oracle", "optimal") else {}))
                    for name in config.policies}
        runs.append(evaluate(videos, classifier, samplers, T=config.T, N=config.N, seed=seed,
                             oracle_search=config.oracle_search, progress=progress))
    return {
        "config": {**asdict(config), "videos": num_videos,
                   "oracle": optimal_search_kind(min(config.T, length), config.N, config.oracle_search)},
        "classifier": {"head": classifier.config.head, "consensus": classifier.config.consensus,
                       "classes": classifier.config.class_names, "trimmed_test_top1_all_frames": trimmed_top1,
                       **classifier.config.report},
        "policies": summarise(runs),
    }


def format_table(report: dict) -> str:
    """A readable table of a report from ``run``."""
    config = report["config"]
    lines = [f"{config['regime']} regime, T={config['T']}, N={config['N']}, {config['videos']} test videos, "
             f"classifier: {report['classifier']['head']} head, {report['classifier']['consensus']} consensus, "
             f"oracle: {config['oracle']}; mean ± std over {config['repeats']} run(s)",
             f"{'policy':<20}{'top-1':>15}{'mAP':>15}{'fidelity':>15}{'frames':>8}"]

    def cell(row: dict, metric: str) -> str:
        return "-" if row[metric] is None else f"{row[metric]:.3f} ± {row[metric + '_std']:.3f}"

    for name, row in report["policies"].items():
        lines.append(f"{name:<20}{cell(row, 'top1'):>15}{cell(row, 'mAP'):>15}{cell(row, 'fidelity'):>15}"
                     f"{row['frames']:>8.1f}")
    return "\n".join(lines)
