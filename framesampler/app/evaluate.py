"""``framesampler evaluate``: prepare the data and the frozen classifier (``framesampler.app.prepare``),
add trained checkpoints, run the evaluation loop (``framesampler.eval.evaluate``) ``repeats`` times, and
report means, spreads and the cost per video.

``timed`` (a video dataset only) also runs the real two-resolution pipeline (``framesampler.app.pipeline``) of
every policy on every test video file and adds per policy ``seconds_per_video`` (wall time of the whole call,
opening and decoding included, mean over the test videos, after one untimed warm-up call), ``gmacs`` (sampler +
classifier per video), the mean seconds of each stage (``stage_seconds``) and ``pipeline_top1``, the top-1 of
the pipeline's own predictions (what the cached features stand for). The oracles (pi_o, pi_s with the label)
read the true label, so they have no pipeline and no timing."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from framesampler.app.prepare import DataConfig, check_budget_flags, prepare
from framesampler.candidates import Reads
from framesampler.classifiers.frozen import LOGITS_HEAD, VideoClassifier
from framesampler.classifiers.model import Classifier
from framesampler.classifiers.pretrained import backbone_macs
from framesampler.cost import video_macs
from framesampler.data.dataset import ExtractConfig
from framesampler.data.features import read_npz, vocabulary_labels
from framesampler.device import DEFAULT_BATCH_SIZE
from framesampler.eval.evaluate import evaluate, summarise
from framesampler.eval.metrics import top1
from framesampler.learned.checkpoint import read_checkpoint
from framesampler.policies import TRAINING_FREE, Sampler, create_sampler
from framesampler.policies.optimal import Search, optimal_search_kind
from framesampler.policies.registry import sampler_factory


@dataclass
class EvaluationConfig(DataConfig):
    """One evaluation; every field is recorded in the JSON output."""

    T: int = 10
    N: int = 6
    policies: list[str] = field(default_factory=lambda: list(TRAINING_FREE))
    checkpoints: list[str] = field(default_factory=list)
    oracle_search: Search = "auto"
    repeats: int = 3
    timed: bool = False
    device: str = "cpu"  # where the timed pipelines' networks and the user's classifier run (``framesampler.device``)
    precision: str = "float32"  # their precision there
    batch_size: int = DEFAULT_BATCH_SIZE  # frames per forward pass there
    decode_aware: float = 0.0  # the timed pipelines' decode-aware tolerance (``Pipeline``; 0: off)

    def __post_init__(self) -> None:
        check_budget_flags(self.T, self.N)


def named_checkpoints(directories: list[str], classifier: VideoClassifier, taken: set[str], *,
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
    runs: list[dict[str, dict]] = []
    fixed: dict[str, dict] = {}  # a deterministic sampler's row, kept across repeats on the same clips
    optimal: list[np.ndarray] = []
    num_videos = length = 0
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
    model = None
    if classifier.config.head == LOGITS_HEAD:  # the user's model: loaded (and checked) for its cost and the pipeline
        from framesampler.app.pipeline import frozen_classifier

        assert setup.extract is not None  # the user's model's logits come from a video dataset, which records it
        model = frozen_classifier(classifier, None, ExtractConfig(**setup.extract).pipeline(), config.device,
                                  batch_size=config.batch_size, precision=config.precision)
    if config.timed:
        assert config.vocab is not None  # prepare resolved it
        for name, row in timed_pipeline(samplers, classifier, features=config.features, vocab=config.vocab,
                                        T=config.T, N=config.N, seed=config.seed, progress=progress, model=model,
                                        device=config.device, batch_size=config.batch_size,
                                        precision=config.precision, decode_aware=config.decode_aware).items():
            summary[name].update(row)
    cost = video_cost({**samplers, **learned}, summary, setup.extract, classifier, min(config.T, length), model=model)
    return {
        "config": {**asdict(config), "videos": num_videos,
                   "oracle": optimal_search_kind(min(config.T, length), config.N, config.oracle_search)},
        "classifier": {"head": classifier.config.head, "consensus": classifier.config.consensus,
                       "classes": classifier.config.class_names, "trimmed_test_top1_all_frames": setup.trimmed_test_top1,
                       **classifier.config.report, **({"model": classifier.config.model} if model else {})},
        "policies": summary,
        **({"cost": cost} if cost else {}),
        **({"timed": {"note": "seconds_per_video: wall time of the pipeline per test video file, decoding included"}}
           if config.timed else {}),
    }


def timed_pipeline(samplers: dict[str, Sampler], classifier: VideoClassifier, *, features: str, vocab: list[int],
                   T: int, N: int, seed: int = 0, progress: bool = True, model: Classifier | None = None,
                   device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                   precision: str = "float32", decode_aware: float = 0.0) -> dict[str, dict]:
    """Per sampler: the real pipeline on every test video file of the video dataset ``features`` (see the
    module docstring), with the user's ``model`` where the dataset holds its logits, its networks on ``device``
    (``batch_size`` frames at a time, in ``precision``; ``decode_aware``: see ``Pipeline``). The oracles, which read the true label, have no pipeline and
    are left out."""
    from framesampler.app.pipeline import Pipeline
    from framesampler.data.dataset import dataset_config

    extracted = dataset_config(features)
    if extracted is None:
        raise ValueError(f"--timed runs the pipeline on video files, but {features} is a feature file: "
                         "use a video dataset from `framesampler extract`")
    data = read_npz(features, ("split", "label", "path"), what="video dataset")
    test = (data["split"].astype(str) == "test") & np.isin(data["label"], vocab)
    paths, labels = data["path"].astype(str)[test], vocabulary_labels(data["label"][test], vocab)
    pipelines = {name: Pipeline(sampler, T=T, N=N, config=extracted.pipeline(), head=classifier, classifier=model,
                                device=device, batch_size=batch_size, precision=precision, decode_aware=decode_aware)
                 for name, sampler in samplers.items() if Reads.LABEL not in sampler.reads}
    rngs = {name: np.random.default_rng(seed) for name in pipelines}
    for pipeline in pipelines.values():
        pipeline(paths[0], rng=np.random.default_rng(seed))  # warm-up, not counted
    seconds: dict[str, list[float]] = {name: [] for name in pipelines}
    macs: dict[str, list[float]] = {name: [] for name in pipelines}
    probs: dict[str, list[np.ndarray]] = {name: [] for name in pipelines}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in pipelines}
    for path in tqdm(paths, desc="timed", disable=not progress or None, file=sys.stderr):
        Path(path).read_bytes()  # the file in the page cache before the first policy's turn, as for the others
        for name, pipeline in pipelines.items():  # policies take turns on each video: the same load for all
            start = time.perf_counter()
            result = pipeline(path, rng=rngs[name])
            seconds[name].append(time.perf_counter() - start)
            macs[name].append(result.macs["total"])
            probs[name].append(result.probs)
            for stage, value in result.seconds.items():
                stages[name].setdefault(stage, []).append(value)
    return {name: {"seconds_per_video": float(np.mean(seconds[name])), "gmacs": float(np.mean(macs[name])) / 1e9,
                   "stage_seconds": {stage: float(np.mean(values)) for stage, values in stages[name].items()},
                   "pipeline_top1": top1(np.stack(probs[name]), labels)} for name in pipelines}


def video_cost(samplers: dict[str, Sampler], summary: dict, extract: dict | None, classifier: VideoClassifier,
               num_candidates: int, *, model: Classifier | None = None) -> dict | None:
    """GMACs per video of each sampler on a video dataset (``framesampler extract``), by
    ``framesampler.cost.video_macs``: its sampler on the candidates it reads and the classifier on the
    frames it chose (None for a plain feature file, whose backbone is unknown)."""
    if extract is None:
        return None
    config = ExtractConfig(**extract)
    frame = model.macs(1) if model is not None else \
        backbone_macs(config.backbone, config.classifier_resolution, None) + classifier.macs(1)
    cheap = backbone_macs(config.backbone, config.sampler_resolution, config.sampler_stages)
    cost = {}
    for name, sampler in samplers.items():
        chosen = summary[name]["frames"]
        macs = video_macs(sampler, num_candidates=num_candidates, num_chosen=chosen, classifier_frame=frame,
                          cheap_frame=cheap, classifier_chosen=None if model is None else model.macs(round(chosen)))
        cost[name] = {"sampler_gmacs": macs["sampler"] / 1e9, "classifier_gmacs": macs["classifier"] / 1e9}
    return cost
