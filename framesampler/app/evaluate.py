"""``framesampler evaluate``: prepare the data and the frozen classifier (``framesampler.app.prepare``),
add trained checkpoints, run the evaluation loop (``framesampler.eval.evaluate``) ``repeats`` times, and
report means, spreads and the cost per video."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framesampler.app.prepare import DataConfig, check_budget_flags, prepare
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.classifiers.pretrained import backbone_macs
from framesampler.cost import video_macs
from framesampler.data.dataset import ExtractConfig
from framesampler.eval.evaluate import evaluate, summarise
from framesampler.learned.checkpoint import read_checkpoint
from framesampler.policies import TRAINING_FREE, Sampler, create_sampler
from framesampler.policies.optimal import optimal_search_kind
from framesampler.policies.registry import sampler_factory


@dataclass
class EvaluationConfig(DataConfig):
    """One evaluation; every field is recorded in the JSON output."""

    T: int = 10
    N: int = 6
    policies: list[str] = field(default_factory=lambda: list(TRAINING_FREE))
    checkpoints: list[str] = field(default_factory=list)
    oracle_search: str = "auto"
    repeats: int = 3

    def __post_init__(self) -> None:
        check_budget_flags(self.T, self.N)


def named_checkpoints(directories: list[str], classifier: FrameClassifier, taken: set[str], *,
                      T: int | None = None, N: int | None = None) -> dict[str, Sampler]:
    """Load each checkpoint (refusing ones made for another classifier) under its sampler's name, or
    its directory's name when that is taken; one made for another T or N is used, with a note on stderr."""
    samplers: dict[str, Sampler] = {}
    for directory in directories:
        checkpoint = read_checkpoint(directory, classifier=classifier)
        sampler, made = checkpoint.sampler, checkpoint.config
        if T is not None and (T, N) != (made.T, made.N):
            print(f"framesampler: note: checkpoint {directory} was trained at T={made.T} N={made.N}, evaluated here at "
                  f"T={T} N={N}; train one with --T {T} --N {N} to compare like with like", file=sys.stderr)
        name = sampler.name if sampler.name not in taken | set(samplers) else Path(directory).name
        if name in taken | set(samplers):
            raise ValueError(f"two samplers would be called {name!r}: give checkpoint {directory} another directory name")
        samplers[name] = sampler
    return samplers


def run(config: EvaluationConfig, *, progress: bool = True) -> dict:
    """Prepare, evaluate every configured policy ``repeats`` times (untrimmed construction and random
    samplers seeded ``seed + r``), and return the JSON-ready report of means and spreads."""
    if config.repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {config.repeats}")
    setup = prepare(config, T=config.T)
    classifier = setup.classifier
    learned = named_checkpoints(config.checkpoints, classifier, taken=set(config.policies), T=config.T, N=config.N)
    reference = create_sampler("oracle", search=config.oracle_search)
    runs, num_videos, length, fixed, optimal = [], 0, 0, {}, []
    for seed in range(config.seed, config.seed + config.repeats):
        videos = setup.videos("test", seed)
        num_videos, length = len(videos), videos.length
        samplers = {name: reference if sampler_factory(name) is type(reference) else create_sampler(name, seed=seed)
                    for name in config.policies}
        samplers |= learned
        if config.regime == "untrimmed":  # a new construction each repeat: nothing carries over
            optimal = []
        run = evaluate(videos, classifier, {n: s for n, s in samplers.items() if n not in fixed}, T=config.T, N=config.N,
                       seed=seed, reference=reference, optimal=optimal, progress=progress)
        if config.regime == "trimmed":  # the same clips every repeat: a deterministic sampler's row is kept
            fixed |= {name: run[name] for name, sampler in samplers.items() if name in run and not sampler.stochastic}
        runs.append({**run, **fixed})
    summary = summarise(runs)
    cost = video_cost({**samplers, **learned}, summary, setup.extract, classifier, min(config.T, length))
    return {
        "config": {**asdict(config), "videos": num_videos,
                   "oracle": optimal_search_kind(min(config.T, length), config.N, config.oracle_search)},
        "classifier": {"head": classifier.config.head, "consensus": classifier.config.consensus,
                       "classes": classifier.config.class_names, "trimmed_test_top1_all_frames": setup.trimmed_test_top1,
                       **classifier.config.report},
        "policies": summary,
        **({"cost": cost} if cost else {}),
    }


def video_cost(samplers: dict[str, Sampler], summary: dict, extract: dict | None, classifier: FrameClassifier,
               num_candidates: int) -> dict | None:
    """GMACs per video of each sampler on a video dataset (``framesampler extract``), by
    ``framesampler.cost.video_macs``: its sampler on the candidates it reads and the classifier on the
    frames it chose (None for a plain feature file, whose backbone is unknown)."""
    if extract is None:
        return None
    config = ExtractConfig(**extract)
    frame = backbone_macs(config.backbone, config.classifier_resolution, None) + classifier.macs(1)
    cheap = backbone_macs(config.backbone, config.sampler_resolution, config.sampler_stages)
    cost = {}
    for name, sampler in samplers.items():
        macs = video_macs(sampler, num_candidates=num_candidates, num_chosen=summary[name]["frames"],
                          classifier_frame=frame, cheap_frame=cheap)
        cost[name] = {"sampler_gmacs": macs["sampler"] / 1e9, "classifier_gmacs": macs["classifier"] / 1e9}
    return cost
