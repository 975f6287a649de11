"""``framesampler demo``: the paper's story in a few minutes, ending in an HTML page.

1. On the shared UCF101 features, every training-free policy on trimmed clips and on the untrimmed construction
   (Lee et al. Tab. 1: uniform falls behind pi_s, and pi_o above it, once the action is a burst in a long video);
2. SOSampler trained there with framesampler's short recipe (cached under ``cache_dir/demo``, so a rerun does not
   train again) beside uniform and pi_s (``semi_optimal_max``, Sec. 4.1);
3. a few long videos ``construct`` builds from the shared UCF101 test clips (the action as bursts in background
   footage; built into ``cache_dir/demo`` once), each sampled by uniform and by the SOSampler checkpoint shipped in
   the package (``framesampler/assets/demo/sosampler``, made by ``results/demo/run.sh`` on the clips' train
   split) at its T and N; both classify with the frozen head that checkpoint was trained against, over its
   vocabulary. The page shows per video the frames each chose, side by side, the action bursts marked, the
   predictions, and each sampler's accuracy and seconds per video.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from framesampler.app.evaluate import EvaluationConfig, run
from framesampler.app.prepare import DataConfig, prepare
from framesampler.data.construct import ConstructConfig
from framesampler.data.features import find_shared
from framesampler.learned import TrainSettings
from framesampler.policies import TRAINING_FREE
from framesampler.report.html import render_html
from framesampler.report.tables import format_table, markdown
from framesampler.storage import atomic_file, write_text_atomically
from framesampler.video.decode import VideoError

DEMO_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "demo" / "sosampler"
SHARED_CLIPS = Path("shared/data/ucf101-clips")
BESIDE = ("uniform", "semi_optimal_max")  # what SOSampler is shown beside: pi_u and pi_s (Sec. 4.1)


@dataclass
class DemoConfig:
    """One demo run. ``evaluation``: the feature tables' settings (its regime is set per table); ``settings``: how
    SOSampler is trained on the features; ``videos_per_class``: long videos built per class of the shipped
    checkpoint's vocabulary; ``construct``: how they are built (the checkpoint's training videos used the default)."""

    evaluation: EvaluationConfig
    settings: TrainSettings = field(default_factory=lambda: TrainSettings(recipe="short"))
    videos_per_class: int = 2
    construct: ConstructConfig = field(default_factory=ConstructConfig)
    checkpoint: Path = DEMO_CHECKPOINT

    def __post_init__(self) -> None:
        from framesampler.classifiers.model import BUILT_IN

        if self.evaluation.classifier not in BUILT_IN:
            raise ValueError(f"--classifier {self.evaluation.classifier}: the demo runs the built-in classifiers (the "
                             "feature tables) and the head its SOSampler was trained against (the videos); sample your "
                             "model with `framesampler sample VIDEO --classifier SPEC`")
        if self.videos_per_class < 1:
            raise ValueError(f"--videos-per-class {self.videos_per_class}: give 1 or more")


def run_demo(config: DemoConfig, html: str | os.PathLike, *, json_out: str | os.PathLike | None = None,
             progress: bool = True, say: Callable[[str], None] = print) -> Path:
    """Run the three parts (see the module docstring), telling each result to ``say`` as it comes, and write the page
    to ``html`` (and every result as JSON to ``json_out``), atomically."""
    reports = {}
    for regime in ("trimmed", "untrimmed"):
        reports[regime] = run(replace(config.evaluation, regime=regime, policies=list(TRAINING_FREE)), progress=progress)
        say(format_table(reports[regime]) + "\n")
    say(f"training SOSampler on the untrimmed construction ({config.settings.recipe} recipe; cached) ...")
    learned = sosampler_on_features(config, progress=progress)
    say(markdown({"config": {**learned["config"], "seeds": 1},
                  "SOSampler beside uniform and pi_s": {f"{learned['config']['N']}/{learned['config']['T']}": learned["policies"]}}))
    videos = demo_videos(config, progress=progress)
    say(f"sampling {len(videos)} long videos built from the shared UCF101 test clips with uniform and SOSampler ...")
    comparisons, summary = compare_on_videos(videos, config.checkpoint)
    say(format_table(summary) + "\n")
    results = {**reports, "sosampler": learned, "videos": summary}  # regime -> evaluation report: `report` reads it
    if json_out is not None:
        write_text_atomically(json_out, json.dumps({**results, "videos": {**summary, "comparisons": comparisons}}, indent=2))
    page = render_html([results, *comparisons], title="framesampler demo: choosing the frames that matter")
    with atomic_file(html) as partial:
        partial.write_text(page)
    return Path(html)


def sosampler_on_features(config: DemoConfig, *, progress: bool = True) -> dict:
    """SOSampler trained on the untrimmed construction of the features (reused from ``cache_dir/demo`` when trained
    with these data and settings) and evaluated beside uniform and pi_s on one construction, as an evaluation report
    (``config``, ``policies``)."""
    from framesampler.app.experiments import Comparison, Learned, Runner

    evaluation = replace(config.evaluation, regime="untrimmed")
    data = DataConfig(**{f.name: getattr(evaluation, f.name) for f in fields(DataConfig)})
    out = Path(data.cache_dir) / "demo" / f"features-{_key({**asdict(data), 'cache_dir': None})}"
    runner = Runner(prepare(data, T=evaluation.T), data, seeds=1, settings=config.settings, out=out, progress=progress)
    comparison = Comparison(evaluation.T, evaluation.N, BESIDE, {"sosampler": Learned("sosampler")})
    return {"config": {**asdict(data), "T": evaluation.T, "N": evaluation.N, "repeats": 1,
                       "training": asdict(config.settings)},
            "policies": runner.compare(comparison)}


def demo_videos(config: DemoConfig, *, progress: bool = True) -> list[dict]:
    """``videos_per_class`` long videos per class of the checkpoint's vocabulary, built by ``construct`` from the
    shared UCF101 test clips (official split; the other classes' test clips and the shared long videos as background)
    into ``cache_dir/demo`` (reused): per video ``{"video", "label", "bursts": [[first, last] frame], ...}``."""
    from framesampler.app.construct import construct
    from framesampler.data.manifest import read_manifest
    from framesampler.learned.checkpoint import read_checkpoint

    clips = find_shared(SHARED_CLIPS)
    if clips is None:
        raise FileNotFoundError(f"no shared clips: the demo builds its long videos from {SHARED_CLIPS} beside the project")
    vocab = read_checkpoint(config.checkpoint).config.classifier["class_names"]
    entries = read_manifest(clips / "test.txt")
    picked = []
    for label in vocab:
        of_class = [entry for entry in entries if entry.label == label]
        picked += of_class[::max(1, len(of_class) // config.videos_per_class)][:config.videos_per_class]
    background = [entry for entry in entries if entry.label not in vocab]
    out = Path(config.evaluation.cache_dir) / "demo" / \
        f"videos-{_key([str(e.path.resolve()) for e in picked], asdict(config.construct))}"
    report = construct({"test": picked + background}, list(vocab), out, config=config.construct, progress=progress)
    if report.failed:
        raise ValueError(f"the demo's long videos could not all be built: {report.failed[0]}")
    segments = json.loads((out / "segments.json").read_text())["videos"]
    return [{"video": str(out / name), "label": label,
             "bursts": [[burst["first_frame"], burst["last_frame"]] for burst in segments[name]["bursts"]]}
            for name, label in report.videos["test"]]


def compare_on_videos(videos: list[dict], checkpoint: str | os.PathLike) -> tuple[list[dict], dict]:
    """Each video through uniform's and the checkpoint's pipelines (T and N its own, the frozen head it was trained
    against for both): the page's comparison records, and an evaluation-style summary (top-1 against each video's
    ``label``, mean wall seconds per video after one untimed warm-up call, the share of chosen frames inside the
    action bursts)."""
    from framesampler.app.pipeline import Pipeline, load_pipeline
    from framesampler.data.dataset import ExtractConfig
    from framesampler.learned.checkpoint import read_checkpoint
    from framesampler.policies import create_sampler

    made = read_checkpoint(checkpoint)
    T, N, extracted = made.config.T, made.config.N, made.config.extract
    if extracted is None:
        raise ValueError(f"{checkpoint} was trained on a feature file: the demo needs one trained on a video dataset")
    pipelines = {"uniform": Pipeline(create_sampler("uniform"), T=T, N=N, head=made.classifier,
                                     config=ExtractConfig(**extracted).pipeline()),
                 "sosampler": load_pipeline(Path(checkpoint), T=T, N=N)}
    for pipeline in pipelines.values():
        pipeline(videos[0]["video"])  # warm-up, not counted
    comparisons: list[dict] = []
    seconds: dict[str, list[float]] = {name: [] for name in pipelines}
    correct: dict[str, list[bool]] = {name: [] for name in pipelines}
    gmacs: dict[str, list[float]] = {name: [] for name in pipelines}
    inside: dict[str, list[float]] = {name: [] for name in pipelines}
    for video in videos:
        samplers = []
        for name, pipeline in pipelines.items():
            start = time.perf_counter()
            summary = pipeline(video["video"]).summary(top=3)
            seconds[name].append(time.perf_counter() - start)
            correct[name].append(summary["prediction"][0]["class"] == video["label"])
            gmacs[name].append(summary["gmacs"]["total"])
            inside[name].append(float(np.mean([any(a <= row["frame"] <= b for a, b in video["bursts"]) for row in summary["chosen"]])))
            samplers.append({"sampler": name, **summary})
        comparisons.append({**video, "samplers": samplers})
    policies = {name: {"top1": sum(correct[name]) / len(videos), "top1_std": 0.0, "mAP": None, "fidelity": None,
                       "in_burst": float(np.mean(inside[name])), "in_burst_std": float(np.std(inside[name])), "frames": float(N), "seconds_per_video": sum(seconds[name]) / len(videos),
                       "gmacs": sum(gmacs[name]) / len(videos)} for name in pipelines}
    return comparisons, {"config": {"regime": "long videos from the UCF101 test clips", "T": T, "N": N,
                                    "videos": len(videos), "repeats": 1, "oracle": "-"},
                         "classifier": {"head": made.config.classifier_config.get("head", "frame"),
                                        "consensus": made.config.classifier["consensus"]},
                         "policies": policies, "timed": {"note": "seconds_per_video: wall time of the pipeline per video"}}


def sample_videos(paths: Sequence[str | os.PathLike], samplers: Sequence[str] = ("uniform", "mgsampler"), *, T: int = 16,
                  N: int = 4, classifier: str | None = None) -> list[dict]:
    """Per video and sampler, ``{"sampler": name, **SampledVideo.summary()}`` (or ``{"video", "error"}``),
    grouped by video so the samplers' choices on one video sit together; ``classifier``: the user's model (a spec for
    ``load_classifier``) in place of the backbone's ImageNet head."""
    from framesampler.app.pipeline import load_pipeline

    pipelines = {name: load_pipeline(name, T=T, N=N, classifier=classifier) for name in samplers}
    records = []
    for path in paths:
        for name, pipeline in pipelines.items():
            try:
                records.append({"sampler": name, **pipeline(path).summary()})
            except VideoError as error:
                records.append({"video": str(path), "error": str(error)})
                break
    return records


def _key(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]
