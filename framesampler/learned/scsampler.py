"""SCSampler (Korbar, Tran and Torresani, ICCV 2019): a light saliency model s(.) scores every
candidate, the frozen classifier runs on the top K only and averages its predictions over them.

s(.) is the shared encoder f_s plus one head, trained by one of the paper's three objectives
(``objective``), all against the frozen classifier's per-candidate scores:

- ``"ac"`` (Sec. 3.2.1): s is an action classifier (linear head, C classes) trained with
  cross-entropy against the video label on *every* candidate; saliency = its maximum class probability;
- ``"sal_cl"`` (Sec. 3.2.2, App. C.1): binary saliency. The oracle O(v, y; K_tr) marks the K_tr candidates
  with the highest true-class probability of the frozen classifier as salient (1), the rest 0; loss:
  binary cross-entropy of a saliency logit. K_tr = ``k_train``, by default the paper's best (App. C.1, Fig. 3):
  T // 2 for the visual sampler, T // 4 for the audio one;
- ``"sal_rank"`` (Sec. 3.2.2, Eq. 1-2): for every pair the oracle orders (true-class probability
  p_i > p_j), the hinge ``max(0, margin - (s_i - s_j))``, margin 1; averaged over the pairs of each
  video (Eq. 2 sums them; the mean keeps the loss scale independent of T) and over the batch.

Input (``input``): the paper's visual sampler reads the *compressed* video (Sec. 3.3.1), the motion
displacements (MD) and RGB residuals (RGB-R) of the P-frames, "without the need for costly decoding":

- ``"compressed"``: each candidate's compressed-domain vector (``Candidates.compressed``,
  ``framesampler.video.bitstream.compressed_vectors``): the 8 x 8 MD map of its motion frame and, for RGB-R,
  which FFmpeg does not export, that frame's coded size over the video's mean P-frame size (65 values).
  The pipeline reads them from the bitstream and decodes no candidate's pixels; only the K chosen frames are
  decoded, for the classifier. The network is an MLP on ``log1p`` of the vector (displacements in pixels and
  size ratios span orders of magnitude), its MACs its own: no backbone is charged per candidate;
- ``"audio"`` (Sec. 3.3.2, the audio sampler): each candidate's log-MEL patch (``Candidates.audio``,
  ``framesampler.video.audio``: the 2 s of audio centred on it, 40 MEL filters as in the paper, 50 time frames
  where the paper takes 200). The network (``AudioNet``) is VGG-like, as the paper's: four blocks of a 3 x 3
  convolution, ReLU and 2 x 2 max-pooling (8, 16, 32, 64 channels; the paper's VGG has 18 layers and is
  pretrained on AudioSet, which is not available here: this one is trained from scratch), global average
  pooling, then f_s and the head. The pipeline reads the audio stream only; its MACs are its own (no
  backbone). A video without audio (or silent throughout) gives every candidate the same patch, so equal
  scores: ``scores`` warns (a ``UserWarning``, shown once by Python's default filter), and a combination
  takes its other list (``combine_saliency``);
- ``"features"``: the shared per-candidate features (decoded low-resolution pixels through the shallow
  backbone on video files, the VGG16 vectors on the shared feature files), the cheap backbone charged per
  candidate;
- ``"auto"`` (the default): the paper's visual ``"compressed"`` wherever the training data carries it (a video
  dataset extracted with it), else ``"features"`` (the shared feature files have no bitstream). It is
  resolved when training starts (``data_options``) and recorded resolved in the checkpoint; a sampler built
  directly, with no data, reads features.

Architecture: the paper's samplers are ResNet-18s on MD and RGB-R frames averaged over a clip's P-frames
(or a VGG on audio); here a candidate is one frame, read through its one motion frame, and s is the shared
encoder f_s (an MLP: two ReLU layers, width 256) with a linear head (C class logits for AC, one saliency
logit otherwise) on whichever input (after ``AudioNet`` for audio). s(.) scores each clip alone (Sec. 3.1,
``s(phi^(i))``): the encoder's temporal shift is off by default (``shift_div=0``; ``shift_div=8`` was this
project's first reading, measured at N/T = 8/30 on the untrimmed UCF101 features, 3 seeds: top-1 AC 0.914,
SAL-CL 0.936, SAL-RANK 0.938).

Which objective (``objective="auto"``, the default): the paper's best for each input (Sec. 4.2.1, Table 4, and the
configuration of Sec. 4.1): AC for the visual sampler (``"features"``, ``"compressed"``), SAL-RANK for the audio
one. This project's first reading trained every input with SAL-RANK (``objective="sal_rank"``); measured at N/T =
8/30 on the untrimmed UCF101 features, 3 seeds, short recipe: AC 0.914 (with the shift), SAL-RANK 0.938.

Recipe (``paper_recipe``, App. B): the visual sampler at lr 1e-3, "reduced when accuracy plateaus" (after Wu et
al.'s CoViAR); the audio one with SAL-RANK at 0.01 (Sports1M) for 5 epochs then divided by 10 every 5, with
SAL-CL at 1e-3 for 10 epochs then 1e-3 / 10 for 6, with AC ("AR") at 1e-3 divided by 10 every 5. The paper gives
no optimiser, total epochs (but SAL-CL's 16), batch, weight decay or plateau patience: SGD with momentum 0.9 (as
every other sampler here), no weight decay, 45 visual epochs (App. B's classifiers' count), 15 audio ones (three
steps), batch 32, patience 10 (PyTorch's default) on the epoch's training loss (no validation split here) stand
in. Its pretrained layers' 100x (visual) or 20x (audio) lower rates have no counterpart: f_s is trained from
scratch on given features (the audio network too, see ``"audio"`` above).

Inference: top K of s, sorted by time; the video prediction is the classifier's consensus over them.

"Every N clips" (App. D): with ``stride`` s > 1 only candidates 0, s, 2s, ... are scored (ceil(T/s)
encoder passes instead of T: ``candidates_read``, which ``framesampler.cost.video_macs``
charges) and the top K is taken among them; when K exceeds ceil(T/s) all the scored candidates are
returned (fewer than K). With the temporal shift on, training also takes every s-th of its T candidates,
so the shift mixes neighbours s apart as at inference, never a spacing it was not trained on.

Combining two saliency lists (Sec. 3.3.3, visual and audio samplers): ``combine_saliency`` on any two
samplers' scores, and ``SaliencyCombination`` (registered ``"sc_combined"``) wrapping two samplers; the
paper's best, AV-union-list, is ``first`` = the visual (compressed) sampler, ``second`` = the audio one.
"""
from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates, Reads
from framesampler.cost import count_macs
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.encoder import FeatureEncoder
from framesampler.learned.recipe import Recipe
from framesampler.learned.sosampler import teacher_confidence
from framesampler.policies.base import Context, Sampler, check_budget, top_n_sorted
from framesampler.policies.registry import create_sampler, register_sampler
from framesampler.video.audio import AUDIO_DIM, MEL_BANDS, MEL_FRAMES

Objective = Literal["auto", "ac", "sal_cl", "sal_rank"]
OBJECTIVES = ("auto", "ac", "sal_cl", "sal_rank")
Input = Literal["auto", "compressed", "audio", "features"]
INPUTS = ("auto", "compressed", "audio", "features")
INPUT_READS = {"compressed": Reads.COMPRESSED, "audio": Reads.AUDIO, "features": Reads.FEATURES}
Scheme = Literal["convex_score", "convex_list", "union_list", "union_best_rank", "intersect_list"]
SCHEMES = ("convex_score", "convex_list", "union_list", "union_best_rank", "intersect_list")
UNION_K_PRIME_RATIO = 0.8  # App. C.2: K' = 8 of K = 10 was best


def action_classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sec. 3.2.1 (AC): mean cross-entropy of every candidate's logits [B, T, C] with its video's label [B]."""
    b, t, c = class_logits.shape
    return nn.functional.cross_entropy(class_logits.reshape(b * t, c), labels.repeat_interleave(t))


def ac_saliency(class_logits: torch.Tensor) -> torch.Tensor:
    """Sec. 3.2.1: the saliency of an AC-trained s, its maximum class probability [B, T] from logits [B, T, C]."""
    return torch.softmax(class_logits, dim=-1).amax(dim=-1)


def resolve_k_train(k_train: int | None, num_candidates: int, audio: bool = False) -> int:
    """K_tr for T candidates: ``k_train``, or when None the paper's best (App. C.1): T // 2 for the visual sampler,
    T // 4 for the audio one (at least 1)."""
    if k_train is None:
        return max(1, num_candidates // (4 if audio else 2))
    if k_train > num_candidates:
        raise ValueError(f"k_train={k_train} exceeds the T={num_candidates} candidates per video; lower it "
                         "or pass k_train=None for the paper's T // 2 (visual) or T // 4 (audio)")
    return k_train


def oracle_saliency_labels(oracle: torch.Tensor, k_train: int) -> torch.Tensor:
    """App. C.1: O(v, y; K_tr) as labels [B, T]: 1 for the ``k_train`` highest oracle scores [B, T] of each
    video (the frozen classifier's true-class probability), 0 elsewhere. Ties go to the earlier candidate."""
    top = torch.argsort(oracle, dim=-1, descending=True, stable=True)[:, :k_train]
    return torch.zeros_like(oracle).scatter(-1, top, 1.0)


def saliency_classification_loss(saliency_logits: torch.Tensor, oracle: torch.Tensor, k_train: int) -> torch.Tensor:
    """Sec. 3.2.2 (SAL-CL): binary cross-entropy of saliency logits [B, T] with the oracle's top-K_tr labels."""
    return nn.functional.binary_cross_entropy_with_logits(saliency_logits, oracle_saliency_labels(oracle, k_train))


def saliency_ranking_loss(saliency: torch.Tensor, oracle: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Eq. 1-2 (SAL-RANK): ``max(0, margin - r_ij (s_i - s_j))`` over the pairs i < j with unequal oracle
    scores (r_ij = sign(o_i - o_j)), averaged over each video's pairs, then over the batch. [B, T] inputs."""
    i, j = torch.triu_indices(saliency.shape[1], saliency.shape[1], offset=1)
    order = torch.sign(oracle[:, i] - oracle[:, j])
    hinge = torch.relu(margin - order * (saliency[:, i] - saliency[:, j])) * order.abs()
    return (hinge.sum(dim=1) / order.abs().sum(dim=1).clamp_min(1)).mean()


def strided_positions(num_candidates: int, stride: int) -> np.ndarray:
    """App. D: the candidates scored with "every ``stride`` clips": 0, s, 2s, ... below T."""
    return np.arange(0, num_candidates, stride, dtype=np.int64)


def list_ranks(scores: np.ndarray) -> np.ndarray:
    """Rank of each candidate in its list (0 = highest score; ties: the earlier candidate first)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    return ranks


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores rescaled to [0, 1] (all zeros when they are all equal)."""
    span = scores.max() - scores.min()
    return (scores - scores.min()) / span if span > 0 else np.zeros_like(scores, dtype=np.float64)


def ranks_nothing(scores: np.ndarray) -> bool:
    """Whether a saliency list's finite scores are all equal (or none is finite)."""
    finite = scores[np.isfinite(scores)]
    return finite.size == 0 or bool(finite.min() == finite.max())


def check_combination(scheme: str, weight: float, k_prime: int | None) -> None:
    """Validate ``combine_saliency``'s options."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: use one of {', '.join(SCHEMES)}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if k_prime is not None and (not isinstance(k_prime, int) or k_prime < 0):
        raise ValueError(f"k_prime must be an integer >= 0 (or None: floor(0.8 K) for union_list, grown until K "
                         f"candidates are found for the others), got {k_prime!r}")


def combine_saliency(scores_a: np.ndarray, scores_b: np.ndarray, k: int, scheme: Scheme, *, weight: float = 0.5,
                     k_prime: int | None = None) -> np.ndarray:
    """Sec. 3.3.3: the K candidates chosen by combining two saliency lists [T] (higher = more salient);
    sorted int64 positions. ``weight`` w goes to list a, 1 - w to list b.

    - ``"convex_score"``: top K of ``w * minmax(a) + (1 - w) * minmax(b)`` (min-max puts both on [0, 1]
      whatever their units: logits, probabilities, motion);
    - ``"convex_list"``: the K lowest ``w * rank_a + (1 - w) * rank_b`` (rank 0 = most salient);
    - ``"union_list"`` (the paper's AV-union-list): the K' top candidates of list a, then the K - K'
      best-ranked candidates of list b that are not among them; K' = ``k_prime``, by default
      ``floor(0.8 K)`` (K' = 8 of K = 10 was best, App. C.2), at most K;
    - ``"union_best_rank"`` (this project's first reading of the union, symmetric): the union of the two
      top-K' lists, K' grown until it holds K candidates, i.e. the K best by ``min(rank_a, rank_b)``
      (then by the other rank, then by list a); with a fixed ``k_prime`` only that union is kept, so it may
      return fewer than K;
    - ``"intersect_list"``: the candidates in both top-K' lists, K' grown until at least K are common,
      i.e. the K best by ``max(rank_a, rank_b)`` (then by the other rank, then by list a); with a fixed
      ``k_prime`` only that intersection is kept.

    Ties go to the earlier candidate (``top_n_sorted``'s rule); the list schemes accept -inf scores
    (unscored candidates, e.g. a strided SCSampler's), ranked last. A list whose finite scores are all equal
    ranks nothing (the audio sampler on a video without sound): the other list's top K is taken instead, in
    every scheme (this project's rule; the paper does not say).
    """
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"pass two score lists of one value per candidate (equal 1-D shapes), "
                         f"got {a.shape} and {b.shape}")
    check_combination(scheme, weight, k_prime)
    k = check_budget(len(a), k, "all")
    if np.isnan(a).any() or np.isnan(b).any() or np.isposinf(a).any() or np.isposinf(b).any():
        raise ValueError("scores contain NaN or +inf: the samplers produced invalid saliency values")
    flat_a, flat_b = ranks_nothing(a), ranks_nothing(b)
    if flat_a != flat_b:
        return top_n_sorted(a if flat_b else b, k)
    if scheme == "convex_score":
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise ValueError("convex_score needs finite scores (a strided SCSampler leaves -inf where it did not "
                             "score): use stride=1 or a list scheme")
        return top_n_sorted(weight * minmax(a) + (1 - weight) * minmax(b), k)
    rank_a, rank_b = list_ranks(a), list_ranks(b)
    if scheme == "convex_list":
        return top_n_sorted(-(weight * rank_a + (1 - weight) * rank_b), k)
    if scheme == "union_list":
        first = np.argsort(rank_a)[:min(k, int(UNION_K_PRIME_RATIO * k) if k_prime is None else k_prime)]
        rest = [i for i in np.argsort(rank_b) if i not in set(first)][:k - len(first)]
        return np.sort(np.concatenate([first, rest])).astype(np.int64)
    best, worst = np.minimum(rank_a, rank_b), np.maximum(rank_a, rank_b)
    first, then = (best, worst) if scheme == "union_best_rank" else (worst, best)
    order = np.lexsort((rank_a, then, first))
    if k_prime is not None:
        order = order[first[order] < k_prime]
    return np.sort(order[:k]).astype(np.int64)


class AudioNet(nn.Module):
    """Sec. 3.3.2's VGG-like audio network, small: log-MEL patches [B, T, MEL_BANDS * MEL_FRAMES] ->
    [B, T, ``out_dim``]. The input is standardised by a BatchNorm of one channel (log power has no fixed
    scale), then four blocks of 3 x 3 convolution (padding 1), ReLU and 2 x 2 max-pooling with ``channels``,
    then the mean over what is left of time and frequency."""

    def __init__(self, channels: tuple[int, ...] = (8, 16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm2d(1)]
        for inputs, outputs in zip((1, *channels), channels):
            layers += [nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        self.layers = nn.Sequential(*layers)
        self.out_dim = channels[-1]

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        b, t, d = patches.shape
        if d != AUDIO_DIM:
            raise ValueError(f"the audio network takes [videos, T, {AUDIO_DIM}] log-MEL patches, got {tuple(patches.shape)}")
        return self.layers(patches.reshape(b * t, 1, MEL_BANDS, MEL_FRAMES)).mean(dim=(2, 3)).reshape(b, t, -1)


class SCSampler(LearnedSampler):
    """SCSampler's saliency model on the shared encoder (see the module docstring).

    The short recipe's learning rate, 1e-2, comes from a sweep of SAL-RANK on the UCF101 untrimmed construction
    at N/T = 8/30, 20 epochs: top-1 0.924 at 1e-3, 0.942 at 1e-2, 0.942 at 3e-2.
    """

    short_lr = 1e-2

    def paper_recipe(self) -> Recipe:
        source = "Korbar et al. 2019 App. B." + ("2" if self.options["input"] == "audio" else "1")
        if self.options["input"] != "audio":
            return Recipe(lr=1e-3, epochs=45, batch_size=32, schedule="plateau", patience=10, source=source,
                          unstated="optimiser (SGD, momentum 0.9), epochs 45, batch 32, patience 10 on the training "
                                   "loss, no weight decay")
        unstated = "optimiser (SGD, momentum 0.9), batch 32, no weight decay"
        if self.options["objective"] == "sal_cl":
            return Recipe(lr=1e-3, epochs=16, batch_size=32, schedule="step", milestones=(10,), source=source,
                          unstated=unstated)
        lr = 1e-2 if self.options["objective"] == "sal_rank" else 1e-3
        return Recipe(lr=lr, epochs=15, batch_size=32, schedule="step", milestones=(5, 10), source=source,
                      unstated=f"{unstated}, epochs 15")

    def __init__(self, *, objective: Objective = "auto", k_train: int | None = None, margin: float = 1.0,
                 stride: int = 1, shift_div: int = 0, input: Input = "auto", **kw) -> None:
        super().__init__(shift_div=shift_div, **kw)
        if input not in INPUTS:
            raise ValueError(f"unknown input {input!r}: use one of {', '.join(INPUTS)}")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
        if k_train is not None and (not isinstance(k_train, int) or k_train < 1):
            raise ValueError(f"k_train (K_tr, salient candidates per training video) must be an integer >= 1 "
                             f"or None for the paper's T // 2 (visual) or T // 4 (audio), got {k_train!r}")
        if margin <= 0:
            raise ValueError(f"margin must be > 0 (the paper uses 1), got {margin}")
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f"stride must be an integer >= 1 (1 scores every candidate), got {stride!r}")
        input = "features" if input == "auto" else input  # no data to decide by: see the module docstring
        if objective == "auto":  # the paper's best for the input (Sec. 4.2.1, Table 4)
            objective = "sal_rank" if input == "audio" else "ac"
        self.options.update(objective=objective, k_train=k_train, margin=margin, stride=stride, input=input)
        self.reads = INPUT_READS[input]
        self.audio_net = AudioNet() if input == "audio" else None
        if self.audio_net is not None:
            if self.options["input_dim"] != AUDIO_DIM:
                raise ValueError(f"input='audio' reads {MEL_BANDS} x {MEL_FRAMES} log-MEL patches (input_dim {AUDIO_DIM}), "
                                 f"got input_dim={self.options['input_dim']}: pass input_dim={AUDIO_DIM}")
            self.encoder = FeatureEncoder(self.audio_net.out_dim, self.options["width"], shift_div=shift_div,
                                          dropout=self.options["dropout"])
        outputs = kw["num_classes"] if objective == "ac" else 1
        self.head = nn.Linear(self.encoder.out_dim, outputs)  # AC: C class logits; SAL-*: one saliency logit

    @classmethod
    def data_options(cls, options: dict, inputs: dict[Reads, int]) -> dict:
        """``input="auto"`` resolved by the data: ``"compressed"`` when it carries the compressed-domain input,
        else ``"features"``; with ``"compressed"`` or ``"audio"``, ``input_dim`` is that input's width."""
        resolved = options.get("input", "auto")
        if resolved == "auto":
            resolved = "compressed" if Reads.COMPRESSED in inputs else "features"
        if resolved in ("compressed", "audio") and INPUT_READS[resolved] in inputs:
            return {**options, "input": resolved, "input_dim": inputs[INPUT_READS[resolved]]}
        return {**options, "input": resolved}

    def forward_input(self, inputs: torch.Tensor) -> torch.Tensor:
        """s's head on its input [B, T, D]: the features, ``log1p`` of the compressed-domain vectors, or the
        audio network on the log-MEL patches."""
        if self.audio_net is not None:
            inputs = self.audio_net(inputs)
        elif Reads.COMPRESSED in self.reads:
            inputs = torch.log1p(inputs)
        return self.head(self.encoder(inputs))

    def frame_scores(self, features: torch.Tensor) -> torch.Tensor:
        out = self.forward_input(features)
        return ac_saliency(out) if self.options["objective"] == "ac" else out.squeeze(-1)

    def loss(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        o = self.options
        features, frame_logits = batch.features, batch.frame_logits
        if o["shift_div"] and o["stride"] > 1:  # the shift sees neighbours ``stride`` apart, as at inference
            features, frame_logits = features[:, ::o["stride"]], frame_logits[:, ::o["stride"]]
        out = self.forward_input(features)
        if o["objective"] == "ac":
            return {"loss": action_classification_loss(out, batch.labels)}
        oracle = teacher_confidence(frame_logits, batch.labels, "label")
        if o["objective"] == "sal_cl":
            k = resolve_k_train(o["k_train"], oracle.shape[1], audio=o["input"] == "audio")
            return {"loss": saliency_classification_loss(out.squeeze(-1), oracle, k)}
        return {"loss": saliency_ranking_loss(out.squeeze(-1), oracle, o["margin"])}

    def scores(self, candidates: Candidates, context: Context | None = None) -> np.ndarray:
        """Saliency [T]; with ``stride`` > 1 only the strided candidates are scored, the rest are -inf. Warns
        when the audio sampler's candidates all carry the same patch (no audio track, or silence)."""
        if self.audio_net is not None and candidates.audio is not None and np.ptp(candidates.audio) == 0:
            warnings.warn("scsampler (input='audio'): a video has no audio track (or is silent throughout); its "
                          "candidates all score the same (a combination takes its other list)", stacklevel=2)
        positions = strided_positions(len(candidates), self.options["stride"])
        scored = self.batch_scores(self.candidate_input(candidates)[:, torch.from_numpy(positions)])[0].numpy()
        scores = np.full(len(candidates), -np.inf, dtype=scored.dtype)
        scores[positions] = scored
        return scores

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of the audio network (input="audio"), f_s and the head for one scored candidate; a
        video of T candidates costs ``ceil(T / stride)`` of them (``candidates_read``)."""
        head = self.head.in_features * self.head.out_features
        if self.audio_net is None:
            return super().macs_per_frame() - self.encoder.out_dim + head
        return count_macs(self.audio_net, torch.zeros(1, 1, AUDIO_DIM, device=self.device)) + \
            count_macs(self.encoder, torch.zeros(1, 1, self.audio_net.out_dim, device=self.device)) + head

    def candidates_read(self, num_candidates: int) -> int:
        """App. D: every ``stride``-th candidate is scored, ``ceil(T / stride)`` of them."""
        return math.ceil(num_candidates / self.options["stride"])


class SaliencyCombination(Sampler):
    """Sec. 3.3.3: two scoring samplers (instances, or registered names built with this seed) combined by
    ``combine_saliency``, by default the paper's best, AV-union-list (``first`` the visual sampler);
    picks K (fewer only with a fixed ``k_prime`` in union_best_rank or intersect_list)."""

    def __init__(self, *, first: Sampler | str, second: Sampler | str, scheme: Scheme = "union_list",
                 weight: float = 0.5, k_prime: int | None = None, seed: int = 0) -> None:
        super().__init__(seed=seed)
        check_combination(scheme, weight, k_prime)
        self.first, self.second = (create_sampler(s, seed=seed) if isinstance(s, str) else s for s in (first, second))
        self.scheme, self.weight, self.k_prime = scheme, weight, k_prime
        self.reads = self.first.reads | self.second.reads

    def macs_per_frame(self) -> int:
        """Both samplers' networks on a candidate (an upper bound when one scores only every s-th)."""
        return self.first.macs_per_frame() + self.second.macs_per_frame()

    def candidates_read(self, num_candidates: int) -> int:
        return max(self.first.candidates_read(num_candidates), self.second.candidates_read(num_candidates))

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        first, second = (sampler.scores(candidates, context) for sampler in (self.first, self.second))
        if first is None or second is None:
            raise ValueError(f"scsampler combines two scoring samplers; {self.first.name!r} or {self.second.name!r} gives no scores")
        return combine_saliency(first, second, k, self.scheme, weight=self.weight, k_prime=self.k_prime)


register_sampler("scsampler", SCSampler)
register_sampler("sc_combined", SaliencyCombination, listed=False)
