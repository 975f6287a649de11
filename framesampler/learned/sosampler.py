"""SOSampler (Lee et al., BMVC 2024, Sec. 4.2, App. A.1): a light network that learns pi_s.

Teacher: the frozen classifier's confidence in each candidate alone, ``c(v_t)`` ("label": true-label
probability, "max": highest class probability), as ``p_s = softmax(c / temperature)`` over the T
candidates. Student: importance head h_s (linear, softmax over T) and frame classifier h_c (linear) on
the shared encoder f_s. Losses:

- ``L_SO`` (Eq. 3), pairwise ranking with margin gamma over pairs ordered by the teacher:
  ``sum_{p_i > p_j} max(0, gamma - (q_i - q_j))``, q the student's softmax; ``"rank_weighted"``
  multiplies each pair by ``|p_i - p_j|`` (the authors' code); ``"mse"`` and ``"kl"`` for the ablation;
- ``L_LG`` (Eq. 7): cross-entropy with the label of ``y_s``, the T-averaged h_c outputs. "h_s and h_c [are] linear
  projections followed by a softmax" (App. A.1), so ``y_s`` averages class *probabilities* and ``L_LG = -log y_s[y]``
  (``label_guidance="probs"``, the default); ``"logits"``, this project's first reading, averages the logits
  before one softmax;
- ``L = lambda * L_SO + (1 - lambda) * L_LG`` (Eq. 4), lambda = 0.99 (App. A.3).

The margin gamma = 0.01 is the authors' released configs' (the paper names gamma but gives no value), at T = 10. Its softmax over T cannot meet it for every pair once
``gamma T (T - 1) / 2 > 1`` (T > 14 at 0.01): q_i >= q_min + rank_i * gamma sums to more than 1. By
default (``margin_scale="none"``) gamma stays fixed, as written, and the hinges of such T never all
close; ``margin_scale="pairs"`` scales it to ``gamma * 45 / (T (T - 1) / 2)``, the paper's total margin
at T = 10 spread over T's pairs.

Inference: top N of h_s, sorted by time (any N: the ranking does not depend on N).

Recipe (``paper_recipe``, App. A.3): SGD, momentum 0.9, weight decay 1e-4, lr 1e-3, cosine annealing without
warm-up. The paper gives no epochs, batch or clipping; the authors' released configs (e.g.
``configs/activitynet/activitynet_so_resnet50_config.py``) train 100 epochs of 64 videos with gradients clipped at
norm 40, which stand in.

Augmentation (App. A.3: "all frames are randomly scaled and cropped to 224x224, followed by random flipping", the
sampler reading the same frames reduced in resolution; the authors' config: mmaction2's ``RandomResizedCrop`` and
``Flip``, one box and flip per clip). f_s reads features computed once per frame, so a video dataset from ``extract``
holds K augmented views of each training video (``--augment-views``, default 4: ``framesampler.app.extract``), the
classifier's and the sampler's input of each; every epoch each training video is seen through one of its K views
drawn at random, the teacher's confidences computed on that view too (``augment="auto"``: the views when the data
has them, as on a video dataset, and the frames as they are on data without; ``"views"`` requires them; ``"none"``,
this project's first reading, trains on the frames as they are). The paper draws a new crop every epoch; K fixed
views per video stand in. The UCF101 feature file holds no pixels and so no views: there SOSampler trains without
augmentation.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from framesampler.candidates import Reads
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.recipe import Recipe
from framesampler.policies.registry import register_sampler

SOLoss = Literal["rank", "rank_weighted", "mse", "kl"]
SO_LOSSES = ("rank", "rank_weighted", "mse", "kl")
MARGIN_SCALES = ("none", "pairs")
LABEL_GUIDANCES = ("probs", "logits")
AUGMENTS = ("auto", "views", "none")


def scaled_margin(margin: float, num_candidates: int, scale: str) -> float:
    """gamma for T candidates: as given (``"none"``) or ``gamma * 45 / (T (T - 1) / 2)`` (``"pairs"``)."""
    if scale == "none" or num_candidates < 2:
        return margin
    return margin * 45 / (num_candidates * (num_candidates - 1) / 2)


def teacher_confidence(frame_logits: torch.Tensor, labels: torch.Tensor, importance: str) -> torch.Tensor:
    """``c(v_t)`` [B, T] from the classifier's frame logits [B, T, C]: true-label or max probability."""
    probs = torch.softmax(frame_logits, dim=-1)
    if importance == "max":
        return probs.amax(dim=-1)
    if importance == "label":
        return probs.gather(-1, labels[:, None, None].expand(-1, probs.shape[1], 1)).squeeze(-1)
    raise ValueError(f"unknown importance {importance!r}: use 'label' or 'max'")


def pairwise_ranking_loss(student: torch.Tensor, teacher: torch.Tensor, margin: float, *,
                          weighted: bool = False) -> torch.Tensor:
    """Eq. 3: for each pair (i, j) the teacher orders (p_i > p_j), ``max(0, margin - (s_i - s_j))``,
    times ``|p_i - p_j|`` if ``weighted``; summed over pairs, averaged over the batch. [B, T] inputs."""
    i, j = torch.triu_indices(student.shape[1], student.shape[1], offset=1)
    teacher_gap = teacher[:, i] - teacher[:, j]
    order = torch.sign(teacher_gap)
    hinge = torch.relu(margin - order * (student[:, i] - student[:, j]))
    weight = teacher_gap.abs() if weighted else order.abs()
    return (weight * hinge).sum(dim=1).mean()


class SOSampler(LearnedSampler):
    """SOSampler on the shared feature encoder (see the module docstring)."""

    def __init__(self, *, importance: str = "max", temperature: float = 1.0, so_loss: SOLoss = "rank",
                 margin: float = 0.01, margin_scale: str = "none", lam: float = 0.99, label_guidance: str = "probs",
                 augment: str = "auto", **kw) -> None:
        super().__init__(**kw)
        if augment not in AUGMENTS:
            raise ValueError(f"unknown augment {augment!r}: use one of {', '.join(AUGMENTS)}")
        if augment == "views" and self.options.get("input", "features") != "features":
            raise ValueError("augment='views' augments the decoded frames' features; the compressed-domain input has "
                             "no views: use augment=none")
        if label_guidance not in LABEL_GUIDANCES:
            raise ValueError(f"unknown label_guidance {label_guidance!r}: use one of {', '.join(LABEL_GUIDANCES)}")
        if margin_scale not in MARGIN_SCALES:
            raise ValueError(f"unknown margin_scale {margin_scale!r}: use one of {', '.join(MARGIN_SCALES)}")
        if importance not in ("label", "max"):
            raise ValueError(f"unknown importance {importance!r}: use 'label' or 'max'")
        if so_loss not in SO_LOSSES:
            raise ValueError(f"unknown so_loss {so_loss!r}: use one of {', '.join(SO_LOSSES)}")
        if not 0.0 <= lam <= 1.0 or temperature <= 0:
            raise ValueError("lam must be in [0, 1] and temperature > 0")
        self.options.update(importance=importance, temperature=temperature, so_loss=so_loss, margin=margin,
                            margin_scale=margin_scale, lam=lam, label_guidance=label_guidance, augment=augment)
        self.importance_head = nn.Linear(self.encoder.out_dim, 1)  # h_s
        self.frame_classifier = nn.Linear(self.encoder.out_dim, kw["num_classes"])  # h_c

    earlier_options = {"augment": "auto"}  # checkpoints from before the views: "auto" on data that had none

    @classmethod
    def data_options(cls, options: dict, inputs: dict[Reads, int]) -> dict:
        """``augment="auto"`` becomes ``"views"`` when the data carries augmented views of its training videos
        (``Reads.AUGMENTED_VIEWS``) and f_s reads the decoded frames' features; without views it stays ``"auto"``
        (trained on the frames as they are)."""
        options = super().data_options(options, inputs)
        if options.get("augment", "auto") == "auto" and options.get("input", "features") == "features" \
                and Reads.AUGMENTED_VIEWS in inputs:
            return {**options, "augment": "views"}
        return options

    def paper_recipe(self) -> Recipe:
        return Recipe(lr=1e-3, epochs=100, batch_size=64, schedule="cosine", momentum=0.9, weight_decay=1e-4,
                      grad_clip=40.0, source="Lee et al. 2024 App. A.3",
                      unstated="epochs 100, batch 64, clip 40: the authors' released configs")

    def frame_scores(self, features: torch.Tensor) -> torch.Tensor:
        return self.importance_head(self.encoder(features)).squeeze(-1)

    def loss(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        o = self.options
        hidden = self.encoder(batch.features)
        student = torch.softmax(self.importance_head(hidden).squeeze(-1), dim=-1)
        teacher = torch.softmax(teacher_confidence(batch.frame_logits, batch.labels, o["importance"]) / o["temperature"], dim=-1)
        if o["so_loss"] in ("rank", "rank_weighted"):
            margin = scaled_margin(o["margin"], student.shape[1], o["margin_scale"])
            so = pairwise_ranking_loss(student, teacher, margin, weighted=o["so_loss"] == "rank_weighted")
        elif o["so_loss"] == "mse":
            so = nn.functional.mse_loss(student, teacher)
        else:
            so = nn.functional.kl_div(student.clamp_min(1e-12).log(), teacher, reduction="batchmean")
        frame_logits = self.frame_classifier(hidden)
        if o["label_guidance"] == "probs":  # Eq. 7 on h_c's softmax outputs
            y_s = torch.softmax(frame_logits, dim=-1).mean(dim=1)
            lg = nn.functional.nll_loss(y_s.clamp_min(1e-12).log(), batch.labels)
        else:
            lg = nn.functional.cross_entropy(frame_logits.mean(dim=1), batch.labels)
        return {"loss": o["lam"] * so + (1 - o["lam"]) * lg, "L_SO": so, "L_LG": lg}


register_sampler("sosampler", SOSampler)
