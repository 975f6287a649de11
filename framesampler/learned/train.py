"""Training of learned samplers on cached per-frame features, against the frozen classifier.

Each epoch builds the training videos anew (the untrimmed construction with seed ``seed + epoch``,
so every epoch sees new background and burst placements), draws T random candidates per training
video (one per segment), looks up the classifier's logits on them (computed for the whole frame table once,
and again only when an epoch's table differs), and steps the sampler's own ``loss``. The optimiser, its schedule, the epochs
and the batch are the recipe's (``framesampler.learned.recipe``; by default the sampler's paper's).

After every epoch the training state is written atomically to ``state_path``, with everything that
defines the run (``run_identity``); a run started again with the same ``state_path`` resumes after the
last finished epoch only if its identity is the same; otherwise (or if the file is unreadable) it says
so and starts afresh.
"""
from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from framesampler.candidates import Reads, segment_positions
from framesampler.classifiers.clip import ClipClassifier
from framesampler.classifiers.frozen import VideoClassifier
from framesampler.constants import RECIPES
from framesampler.data.features import VideoSet
from framesampler.device import resolve_device
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.checkpoint import classifier_fingerprint
from framesampler.learned.recipe import Recipe, short_recipe
from framesampler.policies.registry import list_samplers
from framesampler.storage import save_atomically


def learned_sampler_names() -> list[str]:
    """Registered samplers that are trained (subclasses of ``LearnedSampler``)."""
    return list_samplers(LearnedSampler)



def clip_scorer(classifier: VideoClassifier, frames: torch.Tensor):
    """For a clip classifier, ``positions [B, K] -> log probs [B, C]`` on a batch's candidate frames [B, T, D] (the
    classifier runs where the frames are; the log probs go where the positions are)."""
    if not isinstance(classifier, ClipClassifier):
        return None

    @torch.no_grad()
    def score(positions: torch.Tensor) -> torch.Tensor:
        index = positions.to(frames.device)[..., None].expand(-1, -1, frames.shape[-1])
        return classifier.video_log_probs(frames.gather(1, index)).to(positions.device)
    return score


@dataclass(frozen=True)
class TrainSettings:
    """Which recipe trains a sampler (``"paper"``: its paper's, ``LearnedSampler.paper_recipe``; ``"short"``:
    framesampler's quick one, ``short_recipe``) and any of its values overridden (None: the recipe's)."""

    recipe: str = "paper"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}: use one of {', '.join(RECIPES)}")
        if any(value is not None and value < 1 for value in (self.epochs, self.batch_size)):
            raise ValueError(f"--epochs and --batch-size must be >= 1, got {self.epochs} and {self.batch_size}: "
                             "zero epochs would save an untrained sampler")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")

    def resolve(self, sampler: LearnedSampler) -> Recipe:
        """The recipe that trains ``sampler``: the chosen one with the overrides applied."""
        recipe = sampler.paper_recipe() if self.recipe == "paper" else short_recipe(sampler.short_lr)
        overrides = {k: v for k, v in asdict(self).items() if k != "recipe" and v is not None}
        return replace(recipe, **overrides)

    def record(self, sampler: LearnedSampler) -> dict:
        """What a checkpoint's ``training`` and a resume state record: the recipe's name and its values."""
        return {"recipe": self.recipe, **asdict(self.resolve(sampler))}


def run_identity(sampler: LearnedSampler, classifier: VideoClassifier, *, T: int, settings: TrainSettings, seed: int,
                 run: dict | None = None) -> dict:
    """What a resume state must match (JSON values): the sampler's options, T, seed, training settings, the
    frozen classifier's fingerprint and ``run`` (the caller's data identity: data file fingerprint,
    vocabulary, regime and construction, N)."""
    identity = {"options": sampler.options, "T": T, "seed": seed, "settings": settings.record(sampler),
                "classifier": classifier_fingerprint(classifier), **(run or {})}
    return json.loads(json.dumps(identity, default=str))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Keys (dotted into nested dicts) whose values differ between ``old`` and ``new``."""
    keys = sorted(set(old) | set(new))
    out = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out


def load_resume_state(state_path: Path, identity: dict) -> dict | None:
    """The training state saved at ``state_path`` if it belongs to the run ``identity``; else None, after
    one line on stderr saying why the run starts afresh (another run's state, or an unreadable file)."""
    if not state_path.is_file():
        return None
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)  # never unpickle code: from anyone
    except Exception as err:  # a torn, foreign or malicious file: whatever (safe) unpickling raises
        print(f"framesampler: {state_path} is unreadable or holds more than training state ({type(err).__name__}); "
              "starting afresh", file=sys.stderr)
        return None
    found = state.get("identity") if isinstance(state, dict) else None
    if found != identity:
        why = "an older version or another program" if found is None else \
            f"another run (differs in {', '.join(_differences(found, identity))})"
        print(f"framesampler: {state_path} is from {why}; starting afresh", file=sys.stderr)
        return None
    return state


def training_tables(videos: VideoSet, sampler: LearnedSampler, classifier: VideoClassifier, table_logits: torch.Tensor, *,
                    augment: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The tables a training batch's rows index: the frames (what the classifier reads), the sampler's input and the
    classifier's logits, and None; with ``augment``, those of the augmented views (``VideoSet.view_frames``) and the
    views of each frame (``VideoSet.views``, [M, K]: a batch's frame rows -> its view rows). ``ValueError`` when the
    sampler augments but a training video has no views."""
    if not augment:
        return videos.frames, videos.input_for(sampler.reads), table_logits, None
    if videos.views is None or videos.view_frames is None or videos.view_sampler_frames is None \
            or (videos.views[videos.refs] < 0).any():
        raise ValueError(f"{sampler.name} trains on augmented views of every training video (augment='views') but "
                         f"{videos.source} has none for some: extract it with --augment-views K, or train with "
                         "--option augment=none")
    with torch.no_grad():
        logits = classifier.frame_logits(videos.view_frames)
    return videos.view_frames, videos.view_sampler_frames, logits, torch.from_numpy(videos.views)


def train_sampler(sampler: LearnedSampler, videos: Callable[[int], VideoSet], classifier: VideoClassifier, *,
                  T: int, settings: TrainSettings = TrainSettings(), seed: int = 0,
                  state_path: Path | None = None, run: dict | None = None, progress: bool = True,
                  device: str | torch.device = "cpu") -> list[dict]:
    """Train ``sampler`` in place; ``videos(epoch)`` gives that epoch's training videos. Returns the
    log: one row per epoch with the mean of each loss component and the seconds it took. ``run`` adds to
    what a resume state must match (see ``run_identity``). ``device`` (``framesampler.device``): where the sampler
    trains, in float32, each batch moved there (the batches are drawn on the CPU, the frozen classifier's logits
    computed there once); the sampler comes back on the CPU. On the CPU this is exactly the CPU training."""
    device = resolve_device(device)
    sampler.to(device)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    recipe = settings.resolve(sampler)
    optimiser = torch.optim.SGD(sampler.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    first = videos(0)
    steps_per_epoch = math.ceil(len(first) / recipe.batch_size)
    schedule: torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau = \
        torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.1, patience=recipe.patience) \
        if recipe.schedule == "plateau" else \
        torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: recipe.lr_factor(step, steps_per_epoch))
    log: list[dict] = []
    views_given = {} if first.views is None else {Reads.AUGMENTED_VIEWS: first.views.shape[1]}
    augment = type(sampler).data_options(sampler.options, views_given).get("augment") == "views"  # "auto" resolved
    identity = run_identity(sampler, classifier, T=T, settings=settings, seed=seed, run=run)
    state = None if state_path is None else load_resume_state(state_path, identity)
    if state is not None:
        sampler.load_state_dict(state["sampler"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        log = state["log"]
    sampler.train()
    table: torch.Tensor | None = None
    bar = tqdm(total=recipe.epochs, initial=len(log), desc=f"train {sampler.name}", file=sys.stderr,
               disable=not progress or None)
    for epoch in range(len(log), recipe.epochs):
        start = time.perf_counter()
        epoch_videos = first if epoch == 0 else videos(epoch)
        if table is None or not (epoch_videos.frames is table or torch.equal(epoch_videos.frames, table)):
            table = epoch_videos.frames  # the frame table rarely changes between epochs: its logits are kept
            with torch.no_grad():
                table_logits = classifier.frame_logits(table)
            frames, inputs, logits, views = training_tables(epoch_videos, sampler, classifier, table_logits, augment=augment)
        refs = torch.from_numpy(epoch_videos.refs)
        labels = torch.from_numpy(epoch_videos.labels)
        totals: dict[str, float] = {}
        for batch in torch.randperm(len(refs), generator=generator).split(recipe.batch_size):
            rows = refs[batch].gather(1, segment_positions(len(batch), refs.shape[1], T, generator))
            if views is not None:  # one view of each video, for all its frames (App. A.3: the clip's crop and flip)
                rows = views[rows, torch.randint(views.shape[1], (len(batch), 1), generator=generator).expand_as(rows)]
            vectors = frames[rows].to(device) if Reads.FRAME_VECTORS in sampler.reads else None
            losses = sampler.loss(TrainingBatch(inputs[rows].to(device), logits[rows].to(device),
                                                labels[batch].to(device), classifier.config.consensus,
                                                clip_scorer(classifier, frames[rows]), vectors))
            optimiser.zero_grad()
            losses["loss"].backward()
            if recipe.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(sampler.parameters(), recipe.grad_clip)
            optimiser.step()
            if not isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
                schedule.step()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(batch) / len(refs)
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step(totals["loss"])
        log.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 3),
                    "lr": optimiser.param_groups[0]["lr"], **totals})
        bar.update()
        bar.set_postfix(loss=f"{totals['loss']:.4f}")
        if state_path is not None:
            save_atomically({"sampler": sampler.state_dict(), "optimiser": optimiser.state_dict(),
                              "schedule": schedule.state_dict(), "generator": generator.get_state(),
                              "torch_rng": torch.get_rng_state(), "log": log, "identity": identity}, state_path)
    bar.close()
    sampler.eval().to("cpu")
    return log
