"""``framesampler evaluate``: prepare the data and the frozen classifier (``framesampler.app.prepare``),
add trained checkpoints, run the evaluation loop (``framesampler.eval.evaluate``) ``repeats`` times, and
report means, spreads and the cost per video."""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framesampler.app.prepare import DataConfig, check_budget_flags, prepare
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.eval.evaluate import evaluate, summarise
from framesampler.learned import load_checkpoint
from framesampler.policies import TRAINING_FREE, Sampler, create_sampler
from framesampler.policies.optimal import optimal_search_kind


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
        sampler = load_checkpoint(directory, classifier)
        made = {"T": sampler.checkpoint["T"], "N": sampler.checkpoint["N"]}
        if (T, N) != (made["T"], made["N"]) and T is not None:
            print(f"framesampler: note: checkpoint {directory} was trained at T={made['T']} N={made['N']}, "
                  f"evaluated here at T={T} N={N}; train one with --T {T} --N {N} to compare like with like", file=sys.stderr)
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
    from framesampler.classifiers.pixel import PixelClassifier
    from framesampler.classifiers.pretrained import PretrainedBackbone
    from framesampler.cost import sampler_macs_per_candidate
    from framesampler.data.dataset import dataset_config

    extracted = dataset_config(config.features)
    if extracted is None:
        return None
    frame = PixelClassifier(PretrainedBackbone(extracted.backbone, resolution=extracted.classifier_resolution),
                            classifier).macs_per_frame()
    cheap = PretrainedBackbone(extracted.backbone, resolution=extracted.sampler_resolution,
                               stages=extracted.sampler_stages).macs_per_frame()
    return {name: {"sampler_gmacs": num_candidates * sampler_macs_per_candidate(sampler, features_macs=cheap, scorer_macs=frame) / 1e9,
                   "classifier_gmacs": summary[name]["frames"] * frame / 1e9} for name, sampler in samplers.items()}
