"""Training recipes: how a learned sampler is trained (every paper here uses SGD with momentum).

Each learned sampler declares its paper's recipe (``LearnedSampler.paper_recipe``, cited by section in its
file); ``short_recipe`` is framesampler's quick one for every sampler (CI, first looks). Where a paper leaves a
value out, the recipe says what stands in and why (``unstated``); a paper that states no weight decay or
gradient clipping gets none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("cosine", "step", "plateau")
SHORT_EPOCHS, SHORT_BATCH = 20, 32


@dataclass(frozen=True)
class Recipe:
    """SGD with ``momentum`` and ``weight_decay`` from ``lr``, for ``epochs`` of ``batch_size`` videos; gradients
    clipped at norm ``grad_clip`` (None: not clipped). ``schedule``: ``"cosine"`` anneals lr to 0 over every step;
    ``"step"`` divides it by 10 at the start of each epoch in ``milestones`` (1-based epochs done);
    ``"plateau"`` divides it by 10 once the epoch's training loss has not fallen for ``patience`` epochs.
    ``source`` cites the paper; ``unstated`` names what the paper leaves out and what stands in."""

    lr: float
    epochs: int
    batch_size: int
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()
    patience: int = 10
    momentum: float = 0.9
    weight_decay: float = 0.0
    grad_clip: float | None = None
    source: str = ""
    unstated: str = ""

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"--epochs and --batch-size must be >= 1, got {self.epochs} and {self.batch_size}: "
                             "zero epochs would save an untrained sampler")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if not (0 <= self.momentum < 1 and self.weight_decay >= 0 and (self.grad_clip is None or self.grad_clip > 0)):
            raise ValueError(f"--momentum must be in [0, 1), --weight-decay >= 0 and grad_clip > 0, got "
                             f"{self.momentum}, {self.weight_decay} and {self.grad_clip}")

    def lr_factor(self, step: int, steps_per_epoch: int) -> float:
        """The lr multiplier after ``step`` optimiser steps for ``"cosine"`` and ``"step"`` (``"plateau"``: 1;
        its scheduler decides)."""
        if self.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, self.epochs * steps_per_epoch) / (self.epochs * steps_per_epoch)))
        if self.schedule == "step":
            return 0.1 ** sum(step >= m * steps_per_epoch for m in self.milestones)
        return 1.0


def short_recipe(lr: float) -> Recipe:
    """framesampler's short recipe, one for every sampler: SOSampler's optimiser (Lee et al. App. A.3: SGD, momentum
    0.9, weight decay 1e-4, cosine) for 20 epochs of 32 videos, gradients clipped at 40 (Lee et al.'s code), at the
    sampler's ``short_lr`` (tuned for these 20 epochs, see each sampler)."""
    return Recipe(lr=lr, epochs=SHORT_EPOCHS, batch_size=SHORT_BATCH, schedule="cosine", weight_decay=1e-4, grad_clip=40.0,
                  source="framesampler's short recipe (not a paper's): Lee et al. App. A.3's optimiser, 20 epochs, batch 32")
