"""Training of learned samplers on cached per-frame features, against the frozen classifier.

Each epoch builds the training videos anew (the untrimmed construction with seed ``seed + epoch``,
so every epoch sees new background and burst placements), draws T random candidates per training
video (one per segment), looks up the classifier's logits on them (computed once per epoch for the
whole frame table), and steps the sampler's own ``loss``. Optimiser as in Lee et al. 2024 App. A.3:
SGD, momentum 0.9, weight decay 1e-4, cosine schedule; gradients clipped at norm 40 (authors' code).

After every epoch the training state is written atomically to ``state_path``; a run started again
with the same ``state_path`` resumes after the last finished epoch.
"""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from framesampler.candidates import segment_positions
from framesampler.classifiers.frozen import FrameClassifier
from framesampler.data.features import VideoSet
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.policies.registry import list_samplers
from framesampler.storage import save_atomically


def learned_sampler_names() -> list[str]:
    """Registered samplers that are trained (subclasses of ``LearnedSampler``)."""
    return list_samplers(LearnedSampler)


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 20
    batch_size: int = 32
    lr: float | None = None  # None: the sampler's ``default_lr``
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 40.0


def train_sampler(sampler: LearnedSampler, videos: Callable[[int], VideoSet], classifier: FrameClassifier, *,
                  T: int, settings: TrainSettings = TrainSettings(), seed: int = 0,
                  state_path: Path | None = None, progress: bool = True) -> list[dict]:
    """Train ``sampler`` in place; ``videos(epoch)`` gives that epoch's training videos. Returns the
    log: one row per epoch with the mean of each loss component and the seconds it took."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.SGD(sampler.parameters(), lr=settings.lr or sampler.default_lr, momentum=settings.momentum,
                                weight_decay=settings.weight_decay)
    first = videos(0)
    steps_per_epoch = math.ceil(len(first) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, settings.epochs * steps_per_epoch)
    log: list[dict] = []
    if state_path is not None and state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        if state["settings"] != asdict(settings) or state["options"] != sampler.options or state["T"] != T:
            raise ValueError(f"{state_path} holds a run with other settings: delete it to start afresh")
        sampler.load_state_dict(state["sampler"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        log = state["log"]
    sampler.train()
    bar = tqdm(total=settings.epochs, initial=len(log), desc=f"train {sampler.name}", file=sys.stderr,
               disable=not progress or None)
    for epoch in range(len(log), settings.epochs):
        start = time.perf_counter()
        epoch_videos = first if epoch == 0 else videos(epoch)
        with torch.no_grad():
            table_logits = classifier.frame_logits(epoch_videos.frames)
        refs = torch.from_numpy(epoch_videos.refs)
        labels = torch.from_numpy(epoch_videos.labels)
        totals: dict[str, float] = {}
        for batch in torch.randperm(len(refs), generator=generator).split(settings.batch_size):
            rows = refs[batch].gather(1, segment_positions(len(batch), refs.shape[1], T, generator))
            losses = sampler.loss(TrainingBatch(epoch_videos.sampler_input[rows], table_logits[rows], labels[batch],
                                                classifier.config.consensus))
            optimiser.zero_grad()
            losses["loss"].backward()
            torch.nn.utils.clip_grad_norm_(sampler.parameters(), settings.grad_clip)
            optimiser.step()
            schedule.step()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) * len(batch) / len(refs)
        log.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - start, 3), **totals})
        bar.update()
        bar.set_postfix(loss=f"{totals['loss']:.4f}")
        if state_path is not None:
            save_atomically({"sampler": sampler.state_dict(), "optimiser": optimiser.state_dict(),
                              "schedule": schedule.state_dict(), "generator": generator.get_state(),
                              "torch_rng": torch.get_rng_state(), "log": log, "settings": asdict(settings),
                              "options": sampler.options, "T": T}, state_path)
    bar.close()
    sampler.eval()
    return log
