"""The learned-sampler experiments of Lee et al. 2024: Tables 3, 5, 6, 7, Figure 4 and the cost table.

Every number is the mean over ``seeds`` runs (each seed trains the learned samplers anew and builds
its own untrimmed test construction) with the standard deviation as ``<metric>_std``. Trained
checkpoints are kept under ``out/checkpoints`` and reused, so an interrupted run picks up where it
stopped; each sampler's row of each seed is kept too (``out/rows``, small enough to commit), so a run resumes from
its finished rows even without the checkpoints (a training of the paper recipes can outlast a session). Results go to ``out/experiments.json``, ``out/experiments.md`` and ``out/top1_vs_nt.png``; a run with the
same data, seeds and training settings (wherever its classifier cache lives) keeps the sections of earlier runs it does not recompute.

- ``small`` (Tab. 3): N/T = 6/10, training-free policies, pi_s, pi_o, OCSampler, SOSampler;
- ``large`` (Tab. 5, Fig. 4): N/T in 8/30, 16/60, 32/100: uniform, pi_s, pi_o, OCSampler, SOSampler;
- ``loss`` (Tab. 6): SOSampler with each L_SO, label vs max teacher, with and without L_LG, at 6/10;
- ``nt`` (Tab. 7): N in 2, 4, 6, 8 at T = 10 and T in 6, 10, 16, 24 at N = 6 (SOSampler);
- ``cost``: sampler and classifier MACs per video at each N/T of ``large``;
- ``peers`` (not run by default): at 8/30, SCSampler with each objective (SCSampler Tab. 4), SMART with
  each selector (SMART Tab. 1) and AdaFrame at its adaptive budget for mu in 0.2, 0.5, 0.7 and all K
  (AdaFrame Fig. 3), next to uniform, random, pi_s and SOSampler; each beside this project's first
  reading of it (``SMART_FIRST``, ``ADAFRAME_FIRST``, SCSampler with the temporal shift), and AdaFrame beside the
  paper's but for v_t (the cheap vector) and the LSTM (256 units) (``ADAFRAME_CHEAP``; on a feature file the cheap
  vector is the classifier's, so only the LSTM differs);
- ``large_peers`` (not run by default): ``large``'s N/T with SCSampler, SMART and AdaFrame (default
  options; AdaFrame at its adaptive budget, mu = 0.7) beside SOSampler and OCSampler;
- ``peers_core`` (not run by default): ``peers`` with only the default of each peer beside its first
  reading (six trainings per seed instead of eleven), written as the ``peers`` table;
- ``table1`` (Lee et al. Tab. 1, not run by default): pi_u, All, pi_s (label, max) and pi_o at 6/10, as the
  paper; pi_o exact, and its greedy + swap search beside it ("oracle (search)", what larger T gets):
  its fidelity is its overlap with the exact pi_o, the gap measured;
- ``table2`` (Tab. 2, not run by default): sampling fidelity of random, FrameExit, pi_s (max, label) for
  N = 1..6 at T = 10;
- ``pixels`` (not run by default; a video dataset from ``framesampler construct`` + ``extract``, issue 11):
  uniform at N in 2, 4, 8, 16, 32 of T = 64, and every sampler (training-free and learned) at T = 64 -> N
  in 4, 8, each also through the real pipeline on every test video file (``seconds_per_video``, ``gmacs``
  measured; the samplers of seed 0; the oracles, which read the label, have no pipeline), plotted as top-1
  against seconds per video and against GMACs.
- ``sc_pixels`` (not run by default; a video dataset extracted with the compressed-domain input): SCSampler at
  T = 64 -> N in 8, 4 on the decoded features, on the compressed input (Sec. 3.3.1) and the two combined by
  AV-union-list (Sec. 3.3.3, compressed first), beside uniform, timed through the pipeline as ``pixels``.
- ``pixel_peers`` (not run by default; a video dataset extracted with the compressed-domain input): ``peers`` on
  the real-clip benchmark at T = 64 -> N = 8, SCSampler's objectives on the decoded features (its visual
  sampler) and its compressed-domain and combined samplers (``sc_pixels``) beside them, and MGSampler (Eq. 1 against
  each candidate's previous video frame, stored by ``extract``; a random point of each bin) beside its first reading
  (consecutive candidates, bin centres: ``MG_FIRST``); not timed.
- ``pixel_large_peers`` (not run by default; a video dataset): ``large_peers`` on the real-clip benchmark, every
  learned sampler with its defaults at T = 64 -> N in 16, 32 (``pixels`` has 4 and 8), beside uniform and pi_s.
- ``smart_pixels`` (not run by default; a video dataset, with ``framesampler[language]`` installed): SMART's
  selectors (its Tab. 1) at T = 64 -> N = 8, each on the visual features alone ("VF") and with the language
  features ("VF + GloVe", the paper's setting); not timed.
- ``mg_pixels`` (not run by default; a video dataset extracted with the compressed-domain input): MGSampler at
  T = 64 -> N in 8, 4 on the image differences of the decoded candidates (``motion="auto"``, what ``pixels``
  runs: Eq. 1 against each candidate's previous video frame, decoded too) and on the bitstream's motion vectors
  (``motion="mv"``, no candidate decoded), beside uniform and MGSampler's first reading (``MG_FIRST``), timed.
- ``sc_audio`` (not run by default; a video dataset extracted from videos with audio, e.g. ``construct``'s):
  the same at T = 64 -> N in 8, 4 with SCSampler's audio sampler (Sec. 3.3.2) added, and the paper's
  combination, AV-union-list of the compressed visual sampler (first) and the audio one (Sec. 3.3.3).

Every row carries GMACs per video (``gmacs``, and ``sampler_gmacs`` its sampler's part; see
``row_gmacs``). With ``DataConfig.classifier = "clip"`` the frozen classifier is the clip transformer of
``classifiers/clip.py``, whose frames interact.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from framesampler.app.evaluate import timed_pipeline, video_cost
from framesampler.app.extract import folder_dataset
from framesampler.app.prepare import DataConfig, Setup, prepare
from framesampler.app.train import train_and_save, training_options
from framesampler.candidates import Reads
from framesampler.classifiers.frozen import VideoClassifier
from framesampler.classifiers.vgg16 import vgg16_relu6_macs
from framesampler.constants import DEFAULT_EXPERIMENTS
from framesampler.cost import video_macs
from framesampler.data.features import VideoSet
from framesampler.eval.evaluate import evaluate, summarise
from framesampler.learned import LearnedSampler, TrainSettings, load_checkpoint
from framesampler.learned.base import create_learned_sampler
from framesampler.policies import Sampler, create_sampler
from framesampler.policies.registry import sampler_factory
from framesampler.report.plots import plot_top1_vs_cost, plot_top1_vs_nt
from framesampler.report.tables import markdown
from framesampler.storage import write_text_atomically

LARGE_NT = ((8, 30), (16, 60), (32, 100))


@dataclass(frozen=True)
class Learned:
    """A learned sampler in a comparison: its registered ``kind``, training ``options`` (a checkpoint per
    distinct set), and ``inference`` options set on the trained sampler (its ``inference_options``). A
    ``kind`` that is not trained itself but built from learned samplers (``sc_combined``) takes them as
    ``Learned`` option values, each trained (or reused) as its own row would be."""

    kind: str
    options: dict = field(default_factory=dict)
    inference: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """One table: training-free ``policies`` (registered names, or label -> (name, options) in
    ``variants``) and ``learned`` samplers at T candidates and budget N; ``timed`` also runs the real
    pipeline on the test video files (a video dataset)."""

    T: int
    N: int
    policies: tuple[str, ...] = ()
    learned: dict[str, Learned] = field(default_factory=dict)
    variants: dict[str, tuple[str, dict]] = field(default_factory=dict)
    timed: bool = False


BOTH = {"ocsampler": Learned("ocsampler"), "sosampler": Learned("sosampler")}
LOSS_VARIANTS: dict[str, dict] = {  # Tab. 6's rows, then this project's extra ones
    "mse, label, no L_LG": {"so_loss": "mse", "importance": "label", "lam": 1.0},
    "mse, label": {"so_loss": "mse", "importance": "label"},
    "rank, label, no L_LG": {"so_loss": "rank", "importance": "label", "lam": 1.0},
    "rank, label": {"so_loss": "rank", "importance": "label"},
    "rank, max": {"so_loss": "rank", "importance": "max"},
    "(extra) rank_weighted, max": {"so_loss": "rank_weighted", "importance": "max"},
    "(extra) mse, max": {"so_loss": "mse", "importance": "max"},
    "(extra) rank, max, no L_LG": {"so_loss": "rank", "importance": "max", "lam": 1.0},
}
SMART_FIRST = {"global_form": "simplified", "pairing": "midpoint", "shift_div": 8}
ADAFRAME_FIRST = {"selection": "pointer", "reward": "classifier", "memory_frames": 30, "first_location": 0.5,
                  "stop": "confidence", "prediction": "classifier", "frame_vector": "cheap", "lstm_width": 0,
                  "patience_rule": "floor"}
ADAFRAME_CHEAP = {"frame_vector": "cheap", "lstm_width": 256}  # the paper's AdaFrame but for Eq. 1's v_t and Sec. 4.1's LSTM
MG_FIRST = {"mgsampler (first reading: candidates, centre)": ("mgsampler", {"pairs": "candidates", "test_point": "centre"})}
ALL_STEPS = 1e9  # an AdaFrame mu no utility drop exceeds: all K steps
PEERS = {
    "scsampler (AC)": Learned("scsampler", {"objective": "ac"}),
    "scsampler (SAL-CL)": Learned("scsampler", {"objective": "sal_cl"}),
    "scsampler (SAL-RANK)": Learned("scsampler", {"objective": "sal_rank"}),
    "scsampler (SAL-RANK, first reading: shift)": Learned("scsampler", {"objective": "sal_rank", "shift_div": 8}),
    "smart (single)": Learned("smart", {"selector": "single"}),
    "smart (global)": Learned("smart", {"selector": "global"}),
    "smart (both)": Learned("smart", {"selector": "both"}),
    "smart (both, first reading)": Learned("smart", {"selector": "both", **SMART_FIRST}),
    "smart (both, omega / T)": Learned("smart", {"selector": "both", "omega_scale": "1/T"}),
    **{f"adaframe (mu={mu})": Learned("adaframe", inference={"threshold": mu}) for mu in (0.2, 0.5, 0.7)},
    "adaframe (all K)": Learned("adaframe", inference={"threshold": ALL_STEPS}),
    "adaframe (mu=0.7, first reading: cheap v_t, LSTM 256)": Learned("adaframe", ADAFRAME_CHEAP, {"threshold": 0.7}),
    **{f"adaframe (first reading, mu={mu})": Learned("adaframe", ADAFRAME_FIRST, {"threshold": mu})
       for mu in (0.2, 0.5, 0.7, 1.01)},
}
CORE_PEERS = ("sosampler", "scsampler (AC)", "scsampler (SAL-RANK)", "smart (both)", "adaframe (mu=0.2)", "adaframe (mu=0.5)",
              "adaframe (mu=0.7)", "adaframe (all K)", "adaframe (first reading, mu=0.2)", "adaframe (first reading, mu=0.5)",
              "adaframe (first reading, mu=0.7)", "adaframe (first reading, mu=1.01)",
              "adaframe (mu=0.7, first reading: cheap v_t, LSTM 256)", "smart (both, first reading)",
              "smart (both, omega / T)")
TABLE1 = ("uniform", "dense", "semi_optimal_label", "semi_optimal_max", "oracle")
ORACLE_SEARCH = {"oracle (search)": ("oracle", {"search": "approximate"})}
TABLE2 = ("random", "frameexit", "semi_optimal_max", "semi_optimal_label")
SOSAMPLER_ONLY = ("uniform", "semi_optimal_max")
PEER_DEFAULTS = {"scsampler": Learned("scsampler"), "smart": Learned("smart"), "adaframe": Learned("adaframe")}
PIXELS_T = 64
SC_PIXELS = {  # SCSampler's inputs at T = 64 (sc_pixels): Sec. 3.3.1's compressed visual sampler, the decoded features,
    "scsampler (features)": Learned("scsampler", {"input": "features"}),  # and Sec. 3.3.3's union of the two lists
    "scsampler (compressed)": Learned("scsampler", {"input": "compressed"}),
    "scsampler (combined)": Learned("sc_combined", {"first": Learned("scsampler", {"input": "compressed"}),
                                                    "second": Learned("scsampler", {"input": "features"})}),
}
SC_AUDIO = {  # sc_audio: SC_PIXELS's single samplers, Sec. 3.3.2's audio sampler, and Sec. 3.3.3's AV-union-list
    **{name: spec for name, spec in SC_PIXELS.items() if spec.kind == "scsampler"},
    "scsampler (audio)": Learned("scsampler", {"input": "audio"}),
    "scsampler (AV-union-list)": Learned("sc_combined", {"first": Learned("scsampler", {"input": "compressed"}),
                                                         "second": Learned("scsampler", {"input": "audio"})}),
}
PIXEL_PEERS = {  # pixel_peers: PEERS on the decoded features (SCSampler's visual sampler), then its compressed-domain ones
    **{name: Learned(spec.kind, {**spec.options, "input": "features"}, spec.inference) if spec.kind == "scsampler" else spec
       for name, spec in PEERS.items()},
    **{name: spec for name, spec in SC_PIXELS.items() if name != "scsampler (features)"},
    "sosampler (first reading: no augmentation)": Learned("sosampler", {"augment": "none"}),
}
PIXEL_POLICIES = ("uniform", "random", "dense", "frameexit", "mgsampler", "semi_optimal_label", "semi_optimal_max", "oracle")

# experiment -> {table name -> {"N/T" -> comparison}}; ``cost`` is computed apart (``cost_table``).
SECTIONS: dict[str, dict[str, dict[str, Comparison]]] = {
    "small": {"small": {"6/10": Comparison(10, 6, ("uniform", "random", "dense", "semi_optimal_label",
                                                   "semi_optimal_max", "oracle"), BOTH)}},
    "large": {"large": {f"{n}/{t}": Comparison(t, n, ("uniform", "semi_optimal_max", "semi_optimal_label", "oracle"), BOTH)
                        for n, t in LARGE_NT}},
    "loss": {"loss": {"6/10": Comparison(10, 6, (), {label: Learned("sosampler", options)
                                                     for label, options in LOSS_VARIANTS.items()})}},
    "nt": {"N at T=10": {f"{n}/10": Comparison(10, n, SOSAMPLER_ONLY, {"sosampler": BOTH["sosampler"]}) for n in (2, 4, 6, 8)},
           "T at N=6": {f"6/{t}": Comparison(t, 6, SOSAMPLER_ONLY, {"sosampler": BOTH["sosampler"]}) for t in (6, 10, 16, 24)}},
    "peers": {"peers": {"8/30": Comparison(30, 8, ("uniform", "random", "semi_optimal_max"),
                                           {"sosampler": BOTH["sosampler"], **PEERS})}},
    "large_peers": {"large_peers": {f"{n}/{t}": Comparison(t, n, SOSAMPLER_ONLY, {**BOTH, **PEER_DEFAULTS})
                                    for n, t in LARGE_NT}},
    "peers_core": {"peers": {"8/30": Comparison(30, 8, ("uniform", "random", "semi_optimal_max"), {
        name: {"sosampler": BOTH["sosampler"], **PEERS}[name] for name in CORE_PEERS})}},
    "table1": {"table1": {"6/10": Comparison(10, 6, TABLE1, variants=ORACLE_SEARCH)}},
    "table2": {"table2": {f"{n}/10": Comparison(10, n, TABLE2) for n in range(1, 7)}},
    "pixels": {"pixels": {f"{n}/{PIXELS_T}": Comparison(PIXELS_T, n, PIXEL_POLICIES, {**BOTH, **PEER_DEFAULTS}, timed=True)
                          if n in (4, 8) else Comparison(PIXELS_T, n, ("uniform",), timed=True) for n in (2, 4, 8, 16, 32)}},
    "sc_pixels": {"sc_pixels": {f"{n}/{PIXELS_T}": Comparison(PIXELS_T, n, ("uniform",), SC_PIXELS, timed=True)
                                for n in (8, 4)}},
    "pixel_peers": {"pixel_peers": {f"8/{PIXELS_T}": Comparison(PIXELS_T, 8, ("uniform", "random", "semi_optimal_max",
                                                                          "mgsampler"),
                                                                {"sosampler": BOTH["sosampler"], **PIXEL_PEERS},
                                                                variants=MG_FIRST)}},
    "pixel_large_peers": {"pixel_large_peers": {f"{n}/{PIXELS_T}": Comparison(PIXELS_T, n, SOSAMPLER_ONLY,
                                                                              {**BOTH, **PEER_DEFAULTS}) for n in (16, 32)}},
    "smart_pixels": {"smart_pixels": {f"8/{PIXELS_T}": Comparison(PIXELS_T, 8, ("uniform",), {
        f"smart ({selector}{language})": Learned("smart", {"selector": selector, "language": value})
        for selector in ("single", "global", "both") for language, value in ((", VF + GloVe", "glove"), (", VF", "none"))})}},
    "mg_pixels": {"mg_pixels": {f"{n}/{PIXELS_T}": Comparison(PIXELS_T, n, ("uniform", "mgsampler"), variants={
        "mgsampler (mv)": ("mgsampler", {"motion": "mv"}), **MG_FIRST}, timed=True) for n in (8, 4)}},
    "sc_audio": {"sc_audio": {f"{n}/{PIXELS_T}": Comparison(PIXELS_T, n, ("uniform",), SC_AUDIO, timed=True)
                              for n in (8, 4)}},
}
EXPERIMENTS = (*SECTIONS, "cost")


class Runner:
    """Trains (or reuses) learned samplers and evaluates them with training-free policies over seeds; ``device``
    (``framesampler.device``): where the samplers train and the timed pipelines run."""

    def __init__(self, setup: Setup, data: DataConfig, *, seeds: int, settings: TrainSettings, out: Path,
                 progress: bool, device: str = "cpu") -> None:
        self.setup, self.data, self.seeds, self.settings, self.out, self.progress = setup, data, seeds, settings, out, progress
        self.device = device

    def learned(self, spec: Learned, *, T: int, N: int, seed: int, train: bool = True) -> Sampler:
        """The trained sampler for these settings, from its checkpoint when one exists with the same options and
        training recipe (else it is trained again, into the same directory). Its directory is named by the
        options (as the data resolves them, ``data_options``) that differ from the sampler's defaults, the seed
        and the recipe. A sampler built from learned ones gets each of them so. ``train=False``: the sampler
        untrained, for its cost alone (its row is kept, ``row_path``)."""
        factory = sampler_factory(spec.kind)
        if not (isinstance(factory, type) and issubclass(factory, LearnedSampler)):
            parts = {k: self.learned(v, T=T, N=N, seed=seed, train=train) if isinstance(v, Learned) else v
                     for k, v in spec.options.items()}
            return create_sampler(spec.kind, seed=seed, **parts)
        defaults = create_learned_sampler(spec.kind, input_dim=self.setup.sampler_input_dim,
                                          num_classes=self.setup.classifier.config.num_classes).options
        options = factory.data_options(dict(spec.options), self.setup.inputs)
        tag = "-".join(f"{k}={v}" for k, v in sorted(options.items())
                       if k != "input_dim" and (k not in defaults or defaults[k] != v))
        name = f"{spec.kind}-T{T}" + (f"-N{N}" if factory.budget_option else "") + (f"-{tag}" if tag else "") + \
            f"-s{seed}-{self.settings.recipe}"
        directory = self.out / "checkpoints" / file_name(name.replace(" ", ""))
        wanted = create_learned_sampler(spec.kind, **training_options(self.setup, spec.kind, dict(spec.options), N=N, seed=seed))
        if not train:  # its row is kept: no checkpoint is read (it may be gone, or of a classifier since retrained)
            return wanted.with_inference_options(**spec.inference)
        sampler = load_checkpoint(directory, self.setup.classifier) if (directory / "weights.pt").is_file() else None
        trained_as = None if sampler is None else json.loads((directory / "config.json").read_text())["training"]
        if sampler is None or trained_as is None or sampler.options != wanted.options or \
                {k: v for k, v in trained_as.items() if k != "seconds"} != json.loads(json.dumps(self.settings.record(wanted))):
            sampler = train_and_save(self.setup, spec.kind, dict(spec.options), T=T, N=N, seed=seed,
                                     settings=self.settings, out=directory, progress=self.progress, device=self.device)
        return sampler.with_inference_options(**spec.inference)

    def augmented_views(self, spec: Learned) -> int:
        """The augmented views of each training video ``spec`` trains on (``SOSampler``'s ``augment``, resolved by the
        data), 0 for none: a dataset gains views in place, so they are part of a kept row's key."""
        factory = sampler_factory(spec.kind)
        if not (isinstance(factory, type) and issubclass(factory, LearnedSampler)):
            return max((self.augmented_views(part) for part in spec.options.values() if isinstance(part, Learned)), default=0)
        resolved = factory.data_options(dict(spec.options), self.setup.inputs)
        return self.setup.inputs[Reads.AUGMENTED_VIEWS] if resolved.get("augment") == "views" else 0

    def row_key(self, comparison: Comparison, name: str) -> dict:
        """What a kept row was computed from: the data, the training settings, T, N and the sampler's spec (with the
        augmented views it trains on, if any)."""
        what = comparison.learned.get(name) or comparison.variants.get(name) or name
        views = self.augmented_views(what) if isinstance(what, Learned) else 0
        return json.loads(json.dumps({"data": comparable_config(asdict(self.data)), "training": asdict(self.settings),
                                      "T": comparison.T, "N": comparison.N,
                                      "sampler": asdict(what) if isinstance(what, Learned) else what,
                                      **({"augmented_views": views} if views else {})}))

    def row_path(self, comparison: Comparison, name: str, seed: int) -> Path:
        """``out/rows/T<T>-N<N>-s<seed>/<name>.json``: one sampler's row of one seed, kept (small, committable) so
        that a run resumes from its finished rows without their checkpoints; read back only when its key matches."""
        return self.out / "rows" / f"T{comparison.T}-N{comparison.N}-s{seed}" / f"{file_name(name)}.json"

    def kept_rows(self, comparison: Comparison, seed: int) -> dict[str, dict]:
        """The rows of this seed an earlier run of the same comparison wrote (``row_path``), by sampler name."""
        kept = {}
        for name in (*comparison.policies, *comparison.variants, *comparison.learned):
            path = self.row_path(comparison, name, seed)
            try:
                stored = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(stored, dict) and stored.get("key") == self.row_key(comparison, name):
                kept[name] = stored["row"]
        return kept

    def evaluate_rows(self, comparison: Comparison, seed: int, videos: VideoSet, samplers: dict[str, Sampler], *,
                      reference: Sampler | None, optimal: list[np.ndarray]) -> dict[str, dict]:
        """``evaluate`` these samplers of ``comparison`` on one seed's test videos, each row kept (``row_path``) as
        soon as it is known; ``optimal``: pi_o's picks of these videos, found on the first call."""
        rows = evaluate(videos, self.setup.classifier, samplers, T=comparison.T, N=comparison.N, seed=seed,
                        reference=reference, optimal=optimal, progress=False)
        for name, row in rows.items():
            write_text_atomically(self.row_path(comparison, name, seed),
                                  json.dumps({"key": self.row_key(comparison, name), "row": row}, indent=1))
        return rows

    def compare(self, comparison: Comparison) -> dict:
        """Mean and spread over the seeds of every sampler of ``comparison``, with its GMACs per video; timed:
        seed 0's samplers through the real pipeline too (``framesampler.app.evaluate.timed_pipeline``)."""
        T, N = comparison.T, comparison.N
        runs: list[dict[str, dict]] = []
        first: dict[str, Sampler] = {}  # seed 0's samplers, timed through the pipeline
        for seed in range(self.seeds):
            kept = {} if comparison.timed else self.kept_rows(comparison, seed)
            videos = self.setup.videos("test", seed)
            optimal: list[np.ndarray] = []  # pi_o's picks, found once per seed
            samplers = {name: create_sampler(name, seed=seed) for name in comparison.policies}
            samplers |= {label: create_sampler(name, seed=seed, **options)
                         for label, (name, options) in comparison.variants.items()}
            reference, run = samplers.get("oracle"), dict(kept)
            if any(name not in kept for name in samplers):
                run |= self.evaluate_rows(comparison, seed, videos, {n: s for n, s in samplers.items() if n not in kept},
                                          reference=reference, optimal=optimal)
            for name, spec in comparison.learned.items():  # each trained, then evaluated at once
                samplers[name] = self.learned(spec, T=T, N=N, seed=seed, train=name not in kept)
                if name not in kept:
                    run |= self.evaluate_rows(comparison, seed, videos, {name: samplers[name]}, reference=reference,
                                              optimal=optimal)
            runs.append({name: run[name] for name in samplers})
            first = first or samplers
        summary = summarise(runs)
        for name in comparison.learned:
            summary[name]["recipe"] = self.settings.recipe
        video = video_cost(samplers, summary, self.setup.extract, self.setup.classifier, T)
        for name, row in summary.items():
            row.update(row_gmacs(samplers[name], self.setup.classifier, T, row["frames"]) if video is None else
                       {"sampler_gmacs": video[name]["sampler_gmacs"],
                        "gmacs": video[name]["sampler_gmacs"] + video[name]["classifier_gmacs"]})
        if comparison.timed:
            assert self.data.vocab is not None  # prepare resolved it
            for name, row in timed_pipeline(first, self.setup.classifier, features=self.data.features,
                                            vocab=self.data.vocab, T=T, N=N, progress=self.progress,
                                            device=self.device).items():
                summary[name].update(row)
        return summary


def classifier_frame_macs(classifier: VideoClassifier, frames: float) -> float:
    """MACs of the frozen classifier on ``frames`` frames of the shared features: the VGG16 relu6 backbone
    on 5 crops (how the features were made) per frame, plus the head (or the clip transformer)."""
    k = max(1, round(frames))
    return frames * vgg16_relu6_macs(crops=5) + classifier.macs(k) * frames / k


def row_gmacs(sampler, classifier: VideoClassifier, num_candidates: int, frames: float) -> dict:
    """GMACs per video (``framesampler.cost.video_macs``): the sampler (its network on the candidates it
    reads, and the classifier on every candidate for one that reads class scores, pi_s and pi_o) plus the
    classifier on the frames chosen. On feature data the sampler's cheap input is not counted: f_s reads
    the given vector."""
    macs = video_macs(sampler, num_candidates=num_candidates, num_chosen=frames,
                      classifier_frame=classifier_frame_macs(classifier, 1))
    # zero for a sampler that classified every candidate already (pi_s, pi_o); one that predicts (AdaFrame)
    # reads the given vector of each frame it looked at, here the classifier's backbone output: charged as such
    if macs["classifier"] or sampler.predicts:
        macs["classifier"] = classifier_frame_macs(classifier, frames)
    return {"sampler_gmacs": macs["sampler"] / 1e9, "gmacs": (macs["sampler"] + macs["classifier"]) / 1e9}


def cost_table(setup: Setup, runner: Runner) -> dict:
    """MACs per video: sampler (f_s + head on T candidates) and classifier (N frames), and dense T."""
    sampler = runner.learned(BOTH["sosampler"], T=LARGE_NT[0][1], N=LARGE_NT[0][0], seed=0)
    per_frame = classifier_frame_macs(setup.classifier, 1)
    rows = {}
    for n, t in LARGE_NT:
        rows[f"{n}/{t}"] = {"sampler_gmacs": t * sampler.macs_per_frame() / 1e9, "classifier_gmacs": n * per_frame / 1e9,
                            "dense_gmacs": t * per_frame / 1e9, "sampler_over_classifier": t * sampler.macs_per_frame() / (n * per_frame)}
    return {"classifier_gmacs_per_frame": per_frame / 1e9, "sampler_mmacs_per_frame": sampler.macs_per_frame() / 1e6,
            "note": "classifier frame = VGG16 relu6 on 5 crops of 224 px (how the features were made) + head; "
                    "on these features f_s reads that same vector, so in deployment it needs its own cheap input",
            "per_video": rows}


def pixels_dataset(data: str | os.PathLike, *, cache_dir: str | os.PathLike,
                   progress: bool = True) -> tuple[Path, list[tuple[str, str]]]:
    """The video dataset the pixel sections read: ``data`` itself when it is a file (a video dataset from
    ``extract``), else a ``construct`` folder's, extracted at ``PIXELS_T`` on first use (``folder_dataset``); and the
    videos skipped doing so."""
    if Path(data).is_file():
        return Path(data), []
    return folder_dataset(data, T=PIXELS_T, cache_dir=cache_dir, progress=progress)


def run_experiments(data: DataConfig, which: list[str] | tuple[str, ...] = DEFAULT_EXPERIMENTS, *, seeds: int = 3,
                    settings: TrainSettings = TrainSettings(), out: Path = Path("experiments"), progress: bool = True,
                    device: str = "cpu", exclude: list[str] | tuple[str, ...] = ()) -> dict:
    """Run the experiments ``which`` (names of ``SECTIONS`` and ``"cost"``) and write their results to ``out``; the
    samplers train and the timed pipelines run on ``device`` (not part of the results' config). ``exclude``: row names
    or globs (``fnmatch``) left out of every table (a quick look without the slowest trainings, say); recorded in the
    config, so the tables say so."""
    unknown = sorted(set(which) - set(EXPERIMENTS))
    if unknown:
        raise ValueError(f"unknown experiment(s) {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}")
    setup = prepare(data)
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(setup, data, seeds=seeds, settings=settings, out=out, progress=progress, device=device)
    config = {**asdict(data), "seeds": seeds, "training": asdict(settings), **({"exclude": list(exclude)} if exclude else {})}
    results = previous_results(out / "experiments.json", config)
    for experiment in which:
        if experiment == "cost":
            results["cost"] = cost_table(setup, runner)
            continue
        for table, comparisons in SECTIONS[experiment].items():
            results[table] = {label: runner.compare(without(comparison, exclude)) for label, comparison in comparisons.items()}
    write_text_atomically(out / "experiments.json", json.dumps(results, indent=2))
    write_text_atomically(out / "experiments.md", markdown(results))
    if "large" in results:
        plot_top1_vs_nt(results["large"], out / "top1_vs_nt.png")
    if "pixels" in results:
        plot_top1_vs_cost(results["pixels"], "seconds_per_video", out / "top1_vs_seconds.png")
        plot_top1_vs_cost(results["pixels"], "gmacs", out / "top1_vs_gmacs.png")
    return results


def without(comparison: Comparison, exclude: list[str] | tuple[str, ...]) -> Comparison:
    """``comparison`` less the rows whose names match a pattern of ``exclude`` (``fnmatch``); fidelity is still
    measured against pi_o."""
    def kept(name: str) -> bool:
        return not any(fnmatchcase(name, pattern) for pattern in exclude)

    return replace(comparison, policies=tuple(filter(kept, comparison.policies)),
                   learned={n: s for n, s in comparison.learned.items() if kept(n)},
                   variants={n: v for n, v in comparison.variants.items() if kept(n)})


def file_name(text: str) -> str:
    """``text`` as one file name: every run of characters outside letters, digits and ``=.,_-`` (a ``/``, say, as in
    ``omega_scale=1/T``) becomes one ``_``."""
    return re.sub(r"[^A-Za-z0-9=.,_-]+", "_", text).strip("_")


def comparable_config(config: dict) -> dict:
    """A results config as compared between runs: where the cache lives does not count."""
    return {"classifier": "frame", **{k: v for k, v in config.items() if k != "cache_dir"}}


def previous_results(path: Path, config: dict) -> dict:
    """The sections of an earlier run into the same folder with the same config (a new run replaces
    only the sections it computes), else just the config."""
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except (UnicodeDecodeError, ValueError):
            print(f"framesampler: {path} is not readable JSON; its earlier sections are not kept", file=sys.stderr)
            return {"config": config}
        if isinstance(previous, dict) and comparable_config(previous.get("config", {})) == \
                comparable_config(json.loads(json.dumps(config))):
            return previous
    return {"config": config}
