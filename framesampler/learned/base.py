"""What every learned sampler shares: the encoder and the sampler contract.

A learned sampler is an ``nn.Module`` and a ``Sampler``: ``frame_scores`` maps candidate features
[B, T, D] to importance logits [B, T] (differentiable), ``loss`` is its paper's training objective on
a batch, and ``select`` (inherited) is top-N of the scores, sorted by time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates, Reads
from framesampler.classifiers.consensus import consensus_probs
from framesampler.constants import MAX_WIDTH
from framesampler.cost import count_macs, inference
from framesampler.learned.encoder import FeatureEncoder
from framesampler.learned.recipe import Recipe
from framesampler.policies.base import Context, Sampler
from framesampler.policies.registry import create_sampler, sampler_factory

MAX_INPUT_DIM = 16384  # features per candidate the encoder reads


@dataclass
class TrainingBatch:
    """One batch for ``loss``: candidate features [B, T, D], the frozen classifier's logits on each
    candidate alone [B, T, C], labels [B], and the classifier's consensus; for a classifier whose frames
    interact (consensus ``"clip"``), ``clip_log_probs`` scores subsets (positions [B, K] -> [B, C]). ``frame_vectors``
    [B, T, D_c]: the frozen classifier's vector of each candidate (what its head reads), for a sampler that reads
    them (``Reads.FRAME_VECTORS``, AdaFrame's v_t)."""

    features: torch.Tensor
    frame_logits: torch.Tensor
    labels: torch.Tensor
    consensus: str
    clip_log_probs: Callable[[torch.Tensor], torch.Tensor] | None = None
    frame_vectors: torch.Tensor | None = None

    def video_probs(self, positions: torch.Tensor) -> torch.Tensor:
        """The frozen classifier's class probabilities [B, C] on the candidates ``positions`` [B, K] of each video."""
        if self.clip_log_probs is not None:
            return self.clip_log_probs(positions.sort(dim=-1).values).exp()
        return consensus_probs(self.frame_logits[torch.arange(len(positions))[:, None], positions], self.consensus)


ENCODER_INPUTS = ("features", "compressed", "sizes")


def learned_sampler_class(name: str) -> type[LearnedSampler]:
    """The class registered as ``name``; ``ValueError`` unless it is a learned sampler."""
    factory = sampler_factory(name)
    if not (isinstance(factory, type) and issubclass(factory, LearnedSampler)):
        raise ValueError(f"{name!r} is not a learned sampler: it has no weights to train or load")
    return factory


def create_learned_sampler(name: str, **options: Any) -> LearnedSampler:
    """``create_sampler`` for a learned sampler; ``ValueError`` unless ``name`` is one."""
    sampler = create_sampler(name, **options)
    if not isinstance(sampler, LearnedSampler):
        raise ValueError(f"{name!r} is not a learned sampler: it has no weights to train or load")
    return sampler


class LearnedSampler(nn.Module, Sampler):
    """Encoder f_s (``FeatureEncoder``: a projection of each candidate's cheap feature vector with a
    temporal shift across the T candidates) plus a head. ``input="compressed"`` (Lee et al.'s f_s reads decoded
    frames; this is framesampler's option, after SCSampler Sec. 3.3.1) gives f_s each candidate's compressed-domain
    vector instead (``Reads.COMPRESSED``: its motion-vector map and coded size, read from the bitstream, so the
    pipeline decodes no candidate), through ``log1p``; ``input="sizes"`` gives it only the coded size of each candidate's
    motion frame (``Reads.CODED_SIZES``: read from the packet index, no packet decoded at all). Measured on the pixel
    benchmark at 64 -> 8 (``results/pays_for_itself``): 0.159 s a video against uniform N=8's 0.191 s, but top-1 0.396
    (uniform 0.414; 0.919 with the motion-vector maps): the sizes alone do not train a ranking. Subclasses define ``frame_scores(features
    [B, T, D]) -> [B, T]`` and ``loss(batch: TrainingBatch) -> {"loss": scalar, ...components}``;
    ``batch_scores`` scores many videos at once under ``inference``, the one eval-mode/no-grad helper."""

    reads = Reads.FEATURES
    trainable = True
    short_lr = 1e-3  # the learning rate of framesampler's short recipe (``recipe.short_recipe``)
    budget_option: str | None = None  # the constructor option that takes N, for samplers trained for one N
    inference_options: tuple[str, ...] = ()  # attributes that may change after training (e.g. a stopping threshold)
    earlier_options: dict[str, Any] = {}  # options added since checkpoints were saved: their reading before they existed

    def __init__(self, *, input_dim: int, num_classes: int, width: int = 256, shift_div: int = 8,
                 dropout: float = 0.5, seed: int = 0, input: str = "features") -> None:
        nn.Module.__init__(self)
        for name, value, bound in (("input_dim", input_dim, MAX_INPUT_DIM), ("width", width, MAX_WIDTH)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= bound:
                raise ValueError(f"{name} must be an integer in 1..{bound}, got {value!r}")
        Sampler.__init__(self, seed=seed)
        torch.manual_seed(seed)
        if input not in ENCODER_INPUTS:
            raise ValueError(f"unknown input {input!r}: use one of {', '.join(ENCODER_INPUTS)}")
        self.options: dict[str, Any] = dict(input_dim=input_dim, num_classes=num_classes, width=width,
                                             shift_div=shift_div, dropout=dropout, seed=seed)
        if input != "features":  # recorded only when set, so checkpoints from before the option load unchanged
            self.options["input"] = input
            self.reads = Reads.COMPRESSED | (Reads.CODED_SIZES if input == "sizes" else Reads.NOTHING)
        self.encoder = FeatureEncoder(input_dim, width, shift_div=shift_div, dropout=dropout,
                                      log_input=input in ("compressed", "sizes"))

    @classmethod
    def data_options(cls, options: dict[str, Any], inputs: dict[Reads, int]) -> dict[str, Any]:
        """``options`` with those the training data decides filled in: ``input="compressed"`` takes the width of the
        data's compressed-domain vectors (SCSampler decides its own ``input``); ``inputs``: what the data carries for
        samplers and its width, e.g. ``{Reads.FEATURES: 112, Reads.COMPRESSED: 65}``."""
        if options.get("input") == "compressed" and Reads.COMPRESSED in inputs:
            return {**options, "input_dim": inputs[Reads.COMPRESSED]}
        if options.get("input") == "sizes" and Reads.COMPRESSED in inputs:
            return {**options, "input_dim": 1}
        return options

    def paper_recipe(self) -> Recipe:
        """How the sampler's paper trains it (section cited in the subclass; the default of ``train``)."""
        raise NotImplementedError(f"{type(self).__name__} declares no paper recipe: train it with --recipe short")

    def candidate_input(self, candidates: Candidates) -> torch.Tensor:
        """The encoder's input for one video [1, T, D]: its candidates' features, or their compressed-domain
        vectors or audio patches for a sampler that reads those (``Reads.COMPRESSED``, ``Reads.AUDIO``), followed by their
        language features for one that reads them (``Reads.LANGUAGE``)."""
        name = next((field for flag, field in ((Reads.COMPRESSED, "compressed"), (Reads.AUDIO, "audio")) if flag in self.reads),
                    "features")
        values = getattr(candidates, name)
        if Reads.CODED_SIZES in self.reads and values is not None:
            values, name = values[:, -1:], "compressed (coded sizes)"
        if Reads.LANGUAGE in self.reads:  # SMART's X_i: the visual features, then the language ones
            values, name = np.concatenate([values, candidates.language], axis=1), "features + candidates.language"
        if values.shape[1] != self.options["input_dim"]:
            raise ValueError(f"candidates.{name} are {values.shape[1]}-d, but {self.name!r} takes "
                             f"{self.options['input_dim']}-d input (its input_dim): give the input it was trained on")
        return torch.as_tensor(values, dtype=torch.float32)[None]

    @property
    def device(self) -> torch.device:
        """Where the sampler's parameters are (``Pipeline`` and ``train_sampler`` move it to their device)."""
        return next(self.parameters()).device

    def frame_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Importance logits [B, T] of candidate features [B, T, D], differentiable (each subclass's)."""
        raise NotImplementedError

    def loss(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        """The paper's training objective on ``batch``: ``{"loss": scalar, ...components}`` (each subclass's)."""
        raise NotImplementedError

    def batch_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Scores [B, T] of many videos' candidate features [B, T, D], in inference mode, on the sampler's device;
        returned on the CPU."""
        with inference(self):
            return self.frame_scores(features.to(self.device)).cpu()

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray | None:
        return self.batch_scores(self.candidate_input(candidates))[0].numpy()

    def with_inference_options(self, **options: Any) -> LearnedSampler:
        """Set test-time options that need no retraining (only those named in ``inference_options``)."""
        unknown = sorted(set(options) - set(self.inference_options))
        if unknown:
            raise ValueError(f"{self.name} cannot change {', '.join(unknown)} after training; "
                             f"it can change: {', '.join(self.inference_options) or 'nothing'}")
        for name, value in options.items():
            setattr(self, name, value)
        return self

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of f_s and the scoring head for one candidate."""
        return count_macs(self.encoder, torch.zeros(1, 1, self.options["input_dim"], device=self.device)) + self.encoder.out_dim
