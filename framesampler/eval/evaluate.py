"""The experiment of Lee et al. 2024, Tables 1-2: every sampler against the same frozen classifier.

``run`` takes the test videos and the frozen classifier from ``framesampler.experiment.prepare``
(trimmed clips or the untrimmed construction; the classifier trained on the vocabulary's trimmed
training clips, cached on disk), adds any trained checkpoints, and ``evaluate`` runs each sampler on the T uniform candidates of every test video, classifies the N chosen frames
with the classifier's consensus, and reports top-1, mAP, fidelity to pi_o and frames used.
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from framesampler.candidates import Candidates, candidate_indices
from framesampler.classifiers.clip import ClipClassifier
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.data.features import VideoSet
from framesampler.eval.metrics import mean_average_precision, sampling_fidelity, top1
from framesampler.experiment import DataConfig, prepare
from framesampler.learned import load_checkpoint
from framesampler.policies import TRAINING_FREE, Context, Sampler, create_sampler
from framesampler.policies.optimal import OptimalPolicy, optimal_search_kind


@dataclass
class EvaluationConfig(DataConfig):
    """One evaluation; every field is recorded in the JSON output."""

    T: int = 10
    N: int = 6
    policies: list[str] = field(default_factory=lambda: list(TRAINING_FREE))
    checkpoints: list[str] = field(default_factory=list)
    oracle_search: str = "auto"
    repeats: int = 3


@torch.no_grad()
def evaluate(videos: VideoSet, classifier: FrameClassifier | ClipClassifier, samplers: dict[str, Sampler], *, T: int, N: int,
             seed: int = 0, oracle_search: str = "auto", progress: bool = True) -> dict[str, dict]:
    """Per sampler: {"top1", "mAP", "fidelity" (null when it does not pick N), "frames"}. The prediction is
    the classifier's on the chosen frames, or the sampler's own where it makes one (``Sampler.predict``)."""
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
        candidates = Candidates(positions, videos.length, features=videos.sampler_input[rows].numpy())
        score = classifier.subset_log_probs(videos.frames[rows], table_logits[rows])
        context = Context(frame_logits=table_logits[rows], label=int(videos.labels[v]), consensus=consensus,
                          video_log_probs=score)
        optimal.append(oracle.select(candidates, N, context=context))
        for name, sampler in samplers.items():
            own = None
            if isinstance(sampler, OptimalPolicy) and sampler.search == oracle_search:
                picked = optimal[-1]
            else:
                picked, own = sampler.predict(candidates, N, context=context, rng=rng)
            chosen[name].append(picked)
            probs[name].append(own if own is not None else score(torch.from_numpy(picked)[None])[0].exp().numpy())
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


def named_checkpoints(directories: list[str], classifier: FrameClassifier, taken: set[str]) -> dict[str, Sampler]:
    """Load each checkpoint (refusing ones made for another classifier) under its sampler's name, or
    its directory's name when that is taken."""
    samplers: dict[str, Sampler] = {}
    for directory in directories:
        sampler = load_checkpoint(directory, classifier)
        name = sampler.name if sampler.name not in taken | set(samplers) else Path(directory).name
        if name in taken | set(samplers):
            raise ValueError(f"two samplers would be called {name!r}: give checkpoint {directory} another directory name")
        samplers[name] = sampler
    return samplers


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
    setup = prepare(config)
    classifier = setup.classifier
    learned = named_checkpoints(config.checkpoints, classifier, taken=set(config.policies))
    oracle_options = {"search": config.oracle_search}
    runs, num_videos, length = [], 0, 0
    for seed in range(config.seed, config.seed + config.repeats):
        videos = setup.videos("test", seed)
        num_videos, length = len(videos), videos.length
        samplers = {name: create_sampler(name, seed=seed, **(oracle_options if name in ("oracle", "optimal") else {}))
                    for name in config.policies}
        runs.append(evaluate(videos, classifier, {**samplers, **learned}, T=config.T, N=config.N, seed=seed,
                             oracle_search=config.oracle_search, progress=progress))
    summary = summarise(runs)
    cost = video_cost({**samplers, **learned}, summary, config, classifier, min(config.T, length))
    return {
        "config": {**asdict(config), "videos": num_videos,
                   "oracle": optimal_search_kind(min(config.T, length), config.N, config.oracle_search)},
        "classifier": {"head": classifier.config.head, "consensus": classifier.config.consensus,
                       "classes": classifier.config.class_names, "trimmed_test_top1_all_frames": setup.trimmed_test_top1,
                       **classifier.config.report},
        "policies": summary,
        **({"cost": cost} if cost else {}),
    }


def video_cost(samplers: dict[str, Sampler], summary: dict, config: EvaluationConfig, classifier: FrameClassifier,
               num_candidates: int) -> dict | None:
    """GMACs per video of each sampler on a video dataset (``framesampler extract``): its sampler on the T
    candidates and the classifier on the frames it chose (None for a plain feature file, whose backbone
    is unknown). A sampler that reads class scores is charged the classifier on every candidate."""
    from framesampler.classifiers.pretrained import PretrainedBackbone
    from framesampler.eval.cost import sampler_macs_per_video
    from framesampler.video.extract import dataset_config
    from framesampler.video.pipeline import PixelClassifier

    extracted = dataset_config(config.features)
    if extracted is None:
        return None
    frame = PixelClassifier(PretrainedBackbone(extracted.backbone, resolution=extracted.classifier_resolution),
                            classifier).macs_per_frame()
    cheap = PretrainedBackbone(extracted.backbone, resolution=extracted.sampler_resolution,
                               stages=extracted.sampler_stages).macs_per_frame()
    return {name: {"sampler_gmacs": sampler_macs_per_video(sampler, num_candidates, features_macs=cheap, scorer_macs=frame) / 1e9,
                   "classifier_gmacs": summary[name]["frames"] * frame / 1e9} for name, sampler in samplers.items()}


def format_table(report: dict) -> str:
    """A readable table of a report from ``run``."""
    config = report["config"]
    lines = [f"{config['regime']} regime, T={config['T']}, N={config['N']}, {config['videos']} test videos, "
             f"classifier: {report['classifier']['head']} head, {report['classifier']['consensus']} consensus, "
             f"oracle: {config['oracle']}; mean ± std over {config['repeats']} run(s)",
             f"{'policy':<20}{'top-1':>15}{'mAP':>15}{'fidelity':>15}{'frames':>8}"
             + (f"{'GMACs sampler':>15}{'classifier':>12}" if "cost" in report else "")]

    def cell(row: dict, metric: str) -> str:
        return "-" if row[metric] is None else f"{row[metric]:.3f} ± {row[metric + '_std']:.3f}"

    for name, row in report["policies"].items():
        cost = report.get("cost", {}).get(name)
        lines.append(f"{name:<20}{cell(row, 'top1'):>15}{cell(row, 'mAP'):>15}{cell(row, 'fidelity'):>15}"
                     f"{row['frames']:>8.1f}" + (f"{cost['sampler_gmacs']:>15.3f}{cost['classifier_gmacs']:>12.3f}" if cost else ""))
    return "\n".join(lines)
