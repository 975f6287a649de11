"""SMART (Gowda, Rohrbach, Sevilla-Lara, "SMART Frame Selection for Action Recognition", AAAI 2021).

No official code exists; this follows the paper's description, on the shared light encoder: X_i [W]
is the encoder's feature of candidate i.

Single-frame selector: a 2-layer MLP on X_i gives ``delta_i = sigmoid(mlp(X_i))``, regressed onto the
frozen classifier's true-class probability on frame i alone, ``softmax(frame_logits_i)[label]``. The
paper regresses that confidence; it does not pin the loss here, so ``single_loss="mse"`` (default, L2
on the probability) and ``"bce"`` (cross-entropy with the soft target) are both offered.

Global selector (equation numbers as in the paper; where its text leaves a choice, the reading below):

- pairing: frame i is paired with a later frame r > i, ``Z_i = [X_i : X_r]`` [2W]; the last frame is
  paired with itself. Training draws r uniformly from the later frames (torch RNG, so a resumed run
  draws the same); scoring uses the fixed midpoint ``r = (i + T) // 2`` so it is deterministic;
- Eq. 1, self-attention: ``alpha_i = sigmoid(Z_i . u + b_u)``, ``Z' = sum_i alpha_i Z_i / sum_i alpha_i``;
- Eq. 2, relation: ``beta_i = sigmoid([Z_i : Z'] . v + b_v)``;
- Eq. 3, the LSTM input: ``omega_t = sum_{i<=t} beta_i Z_i / sum_{i<=t} beta_i``, the running
  beta-weighted mean of the pair representations up to t (normalised as Eq. 1 is, so its scale does
  not grow with t); the LSTM runs over omega_1..omega_T, states h_t;
- Eq. 4, temporal weights: ``lambda_t = sigmoid(h_t . w + b_w)``;
- Eq. 5, relational-temporal weights: ``gamma_t = beta_t * lambda_t`` (both in (0, 1));
- Eq. 6, the video representation ``V = sum_t gamma_t Z_t / sum_t gamma_t`` and a linear classifier
  on it; Eq. 7, its cross-entropy with the label.

Final score (inference): ``delta_i * gamma_i``, top N sorted by time. Training loss:
``L_single + global_weight * L_global``. ``selector`` gives the ablation of SMART Tab. 1:
``"both"`` (the method), ``"single"`` (score delta, only L_single trained) or ``"global"`` (score
gamma, only L_global trained).

Not implemented: the paper's optional language features (the ImageNet class names a frame is
recognised as, embedded with word vectors and concatenated to X_i). The shared UCF101 features are
VGG16 relu6 vectors with no ImageNet class output to name, and no word-vector tables are available
offline here; SMART's selectors run on the visual features alone, as in its vision-only rows.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.sosampler import teacher_confidence
from framesampler.policies.registry import register_sampler

SELECTORS = ("both", "single", "global")
SINGLE_LOSSES = ("mse", "bce")


def later_frame_pairing(t: int, *, random: bool, generator: torch.Generator | None = None,
                        batch: int = 1) -> torch.Tensor:
    """Partner r [batch, t] of each frame i: a later frame (uniform over i+1..t-1 if ``random``, else
    the midpoint ``(i + t) // 2``); the last frame is its own partner."""
    i = torch.arange(t)
    if not random:
        return ((i + t) // 2).expand(batch, t)
    u = torch.rand(batch, t, generator=generator)
    return torch.minimum(i + 1 + (u * (t - 1 - i)).long(), torch.tensor(t - 1))


def pair_features(x: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """``Z_i = [X_i : X_r]`` [B, T, 2W] from features x [B, T, W] and partners r [B, T]."""
    return torch.cat([x, x.gather(1, partner[..., None].expand_as(x))], dim=-1)


def self_attention(z: torch.Tensor, u: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: ``alpha_i = sigmoid(u(Z_i))`` [B, T] and ``Z' = sum alpha_i Z_i / sum alpha_i`` [B, 2W]."""
    alpha = torch.sigmoid(u(z)).squeeze(-1)
    return alpha, weighted_mean(z, alpha)


def weighted_mean(z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i z_i / sum_i w_i`` [B, F] for z [B, T, F] and weights w [B, T]."""
    return (weight[..., None] * z).sum(1) / weight.sum(1, keepdim=True)


def relation_weights(z: torch.Tensor, z_global: torch.Tensor, v: nn.Linear) -> torch.Tensor:
    """Eq. 2: ``beta_i = sigmoid(v([Z_i : Z']))`` [B, T]."""
    return torch.sigmoid(v(torch.cat([z, z_global[:, None].expand_as(z)], dim=-1))).squeeze(-1)


def running_weighted_mean(z: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``omega_t = sum_{i<=t} beta_i Z_i / sum_{i<=t} beta_i`` [B, T, 2W]."""
    return torch.cumsum(beta[..., None] * z, dim=1) / torch.cumsum(beta, dim=1)[..., None]


def relational_temporal_weights(beta: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Eq. 5: ``gamma_t = beta_t * lambda_t`` [B, T]."""
    return beta * lam


class GlobalOutput(NamedTuple):
    """The global selector's weights [B, T] (Eqs. 1, 2, 4, 5) and its class logits [B, C] (Eq. 6)."""

    alpha: torch.Tensor
    beta: torch.Tensor
    lam: torch.Tensor
    gamma: torch.Tensor
    logits: torch.Tensor


class GlobalSelector(nn.Module):
    """Eqs. 1-6 on encoder features [B, T, W] and partners [B, T] (see ``later_frame_pairing``)."""

    def __init__(self, width: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.attention = nn.Linear(2 * width, 1)  # U, Eq. 1
        self.relation = nn.Linear(4 * width, 1)  # V, Eq. 2
        self.lstm = nn.LSTM(2 * width, hidden, batch_first=True)  # Eq. 3
        self.temporal = nn.Linear(hidden, 1)  # Eq. 4
        self.classifier = nn.Linear(2 * width, num_classes)  # Eq. 6

    def forward(self, x: torch.Tensor, partner: torch.Tensor) -> GlobalOutput:
        z = pair_features(x, partner)
        alpha, z_global = self_attention(z, self.attention)
        beta = relation_weights(z, z_global, self.relation)
        states, _ = self.lstm(running_weighted_mean(z, beta))
        lam = torch.sigmoid(self.temporal(states)).squeeze(-1)
        gamma = relational_temporal_weights(beta, lam)
        return GlobalOutput(alpha, beta, lam, gamma, self.classifier(weighted_mean(z, gamma)))


class SMARTSampler(LearnedSampler):
    """SMART on the shared feature encoder (see the module docstring).

    Its default learning rate is 1e-2 (SGD as in ``train_sampler``): at 1e-3 the global classification
    loss barely leaves ln(C) in 20 epochs on the UCF101 features (top-1 0.69 at N/T = 8/30), while
    1e-2 and 3e-2 both reach 0.94.
    """

    default_lr = 1e-2

    def __init__(self, *, selector: str = "both", single_loss: str = "mse", global_weight: float = 1.0,
                 mlp_hidden: int = 128, lstm_hidden: int = 256, **kw) -> None:
        super().__init__(**kw)
        if selector not in SELECTORS:
            raise ValueError(f"unknown selector {selector!r}: use one of {', '.join(SELECTORS)}")
        if single_loss not in SINGLE_LOSSES:
            raise ValueError(f"unknown single_loss {single_loss!r}: use one of {', '.join(SINGLE_LOSSES)}")
        if global_weight <= 0 or mlp_hidden < 1 or lstm_hidden < 1:
            raise ValueError(f"global_weight must be > 0 (got {global_weight}) and mlp_hidden, lstm_hidden >= 1 "
                             f"(got {mlp_hidden}, {lstm_hidden}); for no global loss use selector='single'")
        self.options.update(selector=selector, single_loss=single_loss, global_weight=global_weight,
                            mlp_hidden=mlp_hidden, lstm_hidden=lstm_hidden)
        width = self.encoder.out_dim
        self.single = nn.Sequential(nn.Linear(width, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, 1))
        self.global_selector = GlobalSelector(width, lstm_hidden, kw["num_classes"])

    def frame_scores(self, features: torch.Tensor) -> torch.Tensor:
        """``delta * gamma`` [B, T] (``"single"``: delta, ``"global"``: gamma), midpoint pairing."""
        x = self.encoder(features)
        selector = self.options["selector"]
        if selector != "global":
            delta = torch.sigmoid(self.single(x)).squeeze(-1)
            if selector == "single":
                return delta
        gamma = self.global_selector(x, later_frame_pairing(x.shape[1], random=False, batch=x.shape[0])).gamma
        return gamma if selector == "global" else delta * gamma

    def loss(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        o = self.options
        x = self.encoder(batch.features)
        losses: dict[str, torch.Tensor] = {}
        if o["selector"] != "global":
            logit = self.single(x).squeeze(-1)
            target = teacher_confidence(batch.frame_logits, batch.labels, "label")
            if o["single_loss"] == "mse":
                losses["L_single"] = nn.functional.mse_loss(torch.sigmoid(logit), target)
            else:
                losses["L_single"] = nn.functional.binary_cross_entropy_with_logits(logit, target)
        if o["selector"] != "single":
            partner = later_frame_pairing(x.shape[1], random=True, batch=x.shape[0])
            logits = self.global_selector(x, partner).logits
            losses["L_global"] = nn.functional.cross_entropy(logits, batch.labels)  # Eq. 7
        total = losses.get("L_single", 0.0) + o["global_weight"] * losses.get("L_global", 0.0)
        return {"loss": total, **losses}

    def macs_per_frame(self) -> int:
        """The encoder plus, per frame, the single-frame MLP and/or the global selector's U, V, LSTM and w
        (the selectors ``selector`` scores with; the Eq. 6 classifier runs only in training)."""
        w, h, lstm = self.encoder.out_dim, self.options["mlp_hidden"], self.options["lstm_hidden"]
        single = w * h + h if self.options["selector"] != "global" else 0
        global_ = 2 * w + 4 * w + 4 * lstm * (2 * w + lstm) + lstm if self.options["selector"] != "single" else 0
        return super().macs_per_frame() - w + single + global_


register_sampler("smart", SMARTSampler)
