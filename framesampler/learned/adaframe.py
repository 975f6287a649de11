"""AdaFrame (Wu, Xiong, Ma, Socher, Davis, CVPR 2019; TPAMI 2020): an LSTM agent that looks at one frame
per step, decides where to look next and when to stop.

No official code exists; this follows the TPAMI paper (equation and algorithm numbers as there). The
defaults are the paper's; the project's earlier readings stay as options (below, with their numbers).

- Global memory (Sec. 3.1): ``T_d`` = ``memory_frames`` (16, as the paper; at most T) candidates spread
  uniformly over the T (TSN segment centres), encoded by the shared cheap encoder f_s (``v^s_j``) plus a
  sinusoidal encoding of their positions, ``PE(v^s_j)``. The read at step t is soft attention with the
  query ``W_h h_{t-1}``: ``z_{t,j} = (W_h h_{t-1})^T PE(v^s_j)`` (Eq. 2), ``beta_t = softmax(z_t)``,
  ``u_t = sum_j beta_{t,j} PE(v^s_j)`` (the read keeps the positional encoding, so the agent can tell where
  the frames it attends to lie). The paper's memory is a light network on 112 px frames; on feature data
  f_s reads the same per-frame vector as the classifier.
- LSTM: ``h_t, c_t = LSTM([v_t, u_t], h_{t-1}, c_{t-1})`` (Eq. 1), a one-layer LSTM of ``lstm_width`` hidden units:
  2,048 as the paper's FCVID model (Sec. 4.1, "2,048 and 1,024 hidden units for FCVID and ACTIVITYNET"; the
  recipe is FCVID's too). ``v_t`` is the expensive backbone's feature of the frame looked at (Sec. 3.1: the
  LSTM's input is the penultimate layer of ResNet-101 etc., the memory a light network's), here the frozen
  classifier's per-frame vector (``frame_vector="classifier"``, ``Reads.FRAME_VECTORS``: the backbone features its
  head reads; the feature file's vectors on feature data, where they are also f_s's input; a user's classifier's
  logits on a dataset extracted with it, the only per-frame vector it gives), projected by its own
  ``Linear + ReLU``. The first look is at location ``l = 0`` (Algorithm 1), the first candidate
  (``first_location``).
- Prediction network ``s_t = f_p(h_t)``, trained with cross-entropy at the last step K (Eq. 3).
- Reward ``r_t = max(0, m_t - max_{t' < t} m_{t'})`` (Eq. 4), ``m_t`` the margin of the true class's
  probability over the best other class in f_p's ``softmax(s_t)`` (``reward="agent"``); the first step has
  no earlier prediction, so r_1 = 0. ``reward="classifier"`` uses the frozen classifier's consensus on the
  distinct candidates looked at so far instead.
- Selection network (``selection="gaussian"``, Sec. 3.1): location ``l ~ N(sigmoid(W_s h_t), 0.1^2)``
  while training (``location_std``) and the mean at test, candidate ``round(l * (T - 1))``; it may jump back.
  ``"pointer"`` draws the next frame from the memory frames with ``softmax_j((W_s h_t)^T PE(v^s_j))``, the
  form of Eq. 2 (the memory detached there, so the policy gradient does not reach f_s), the most likely
  at test.
- Utility network ``V_t = f_u(h_t)`` regresses the discounted return ``R_t = sum_{k>=t} gamma^{k-t} r_k``,
  ``gamma = 0.9``: ``L_utl = 1/2 sum_t (R_t - V_t)^2`` (Eqs. 6-7).
- REINFORCE with the utility as baseline (Eq. 9): ``L_sel = -sum_t log pi(a_t | h_t) (R_t - V_t)``,
  summed over the K - 1 steps whose choice is used (where to look after the last step is never looked
  at), averaged over ``episodes`` Monte-Carlo episodes per video (4 by default, as in Mnih et al.'s
  recurrent attention model; the paper does not say).
- Total loss ``L_cls + policy_weight * L_sel + utility_weight * L_utl`` (Eq. 8), both weights 1.

Adaptive lookahead inference (``stop="utility"``, Algorithm 2): run up to K = N steps, choosing
deterministically; a counter c grows at each step whose utility is more than mu (``threshold``) below
the running maximum ``V^max`` (which starts at 0), and inference stops once ``c < p`` fails, with the patience
``p = K/2 + 1`` if mu < 0.7 else K (``patience`` overrides it). K/2 is the real half, as Algorithm 2 writes
it (``patience_rule="half"``): for odd K (the paper's AdaFrame-3 and -5) the integer counter stops at
``ceil(K/2 + 1) = (K + 3) / 2`` counts, one more than ``K // 2 + 1`` (``patience_rule="floor"``, the earlier
reading; the same for even K). The video prediction is f_p's at the step
where it stopped (``prediction="agent"``); ``select`` returns the sorted distinct
candidates looked at (a repeated look counts once), at most N, and ``choose`` both (its ``Selection``'s
``prediction``). ``threshold`` can be set after loading.

Earlier readings, kept as options: ``stop="confidence"`` stops after the first step whose confidence
exceeds mu, or after p steps without a new utility maximum (the paper says confidence/entropy stopping
does not work); whose confidence (``confidence``): ``"agent"``, f_p's ``max softmax(s_t)``, or
``"agreement"``, the smaller of that and the frozen classifier's probability of f_p's class on the
distinct frames looked at. ``prediction="classifier"`` lets the frozen classifier decide on the frames
looked at, like every other sampler. Measured at N/T = 8/30 on the untrimmed UCF101 features (mean of 3
test constructions), top-1 with the mean distinct frames used, mu = 0.2 / 0.5 / 0.7 / 1.01, all with
``stop="confidence"``, ``prediction="classifier"``, ``selection="pointer"``, ``first_location=0.5``:

- ``reward="agent"`` (seed 0), ``confidence="agent"``: 0.34 (1.0), 0.54 (1.4), 0.77 (1.9), 0.83 (2.4);
- ``reward="agent"``, ``confidence="agreement"``: 0.58 (1.5), 0.66 (1.6), 0.78 (1.9), 0.83 (2.4);
- ``reward="classifier"``, ``confidence="agent"``, ``memory_frames=30`` (3 seeds): 0.35 (1.0),
  0.74 (2.4), 0.75 (2.8), 0.74 (3.7); uniform 0.52 and random 0.49 with 8.

With ``selection="gaussian"`` in that setting the mean location collapsed to one place within the
20-epoch budget (3-4 distinct frames of 8, top-1 0.40-0.52), while the pointer learned to go to the action.
All of those numbers were measured with two more earlier readings, kept as options: ``frame_vector="cheap"`` (v_t
is f_s's cheap input vector of the frame, the 64 px shallow-backbone vector on a video dataset; on the UCF101
feature file it is the same vector as the classifier's) and the LSTM as wide as the encoder (``width``, 256:
``lstm_width=0``). Checkpoints saved before these options existed load with them (``earlier_options``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from framesampler.candidates import Candidates, Reads
from framesampler.classifiers.consensus import check_consensus
from framesampler.cost import inference
from framesampler.learned.base import MAX_WIDTH, LearnedSampler, TrainingBatch
from framesampler.learned.recipe import Recipe
from framesampler.policies.base import Context, Selection
from framesampler.policies.registry import register_sampler


def memory_positions(num_candidates: int, memory_frames: int) -> torch.Tensor:
    """Positions [min(T_d, T)] of the memory frames: segment centres ``floor((j + 0.5) * T / T_d)``."""
    m = min(memory_frames, num_candidates)
    return ((torch.arange(m) + 0.5) * num_candidates / m).long()


def positional_encoding(positions: torch.Tensor, width: int) -> torch.Tensor:
    """Sinusoidal encoding [M, width] of integer positions [M] (Vaswani et al.; AdaFrame's PE in Eq. 1)."""
    rates = torch.exp(-math.log(10000.0) * torch.arange(0, width, 2, device=positions.device) / width)
    angles = positions.float()[:, None] * rates
    encoding = torch.zeros(len(positions), width, device=positions.device)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : width // 2])
    return encoding


def memory_attention(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Eq. 2: attention weights ``softmax_j(query . key_j)`` [B, M] from a query [B, W] and keys [B, M, W]."""
    return torch.softmax(torch.einsum("bw,bmw->bm", query, keys), dim=-1)


def prediction_margins(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``m_t`` [B, K]: true-class probability minus the best other class's, from probabilities [B, K, C]."""
    true = probs.gather(-1, labels[:, None, None].expand(-1, probs.shape[1], 1)).squeeze(-1)
    others = probs.scatter(-1, labels[:, None, None].expand(-1, probs.shape[1], 1), -1.0).amax(dim=-1)
    return true - others


def seen_consensus_probs(frame_logits: torch.Tensor, indices: torch.Tensor, kind: str) -> torch.Tensor:
    """The frozen classifier's prediction [B, K, C] after each step: its consensus ``kind`` over the
    distinct candidates among ``indices[:, :t + 1]`` [B, K], from its logits on each candidate [B, T, C]."""
    check_consensus(kind)
    looks = torch.zeros(*indices.shape, frame_logits.shape[1], device=frame_logits.device)
    seen = torch.cummax(looks.scatter(-1, indices[..., None], 1.0), dim=1).values  # [B, K, T]
    if kind == "max":
        hidden = frame_logits[:, None].masked_fill(seen[..., None] == 0, -math.inf)
        return torch.softmax(hidden.amax(dim=2), dim=-1)
    count = seen.sum(-1, keepdim=True)
    if kind == "avg_logits":
        return torch.softmax(torch.einsum("bkt,btc->bkc", seen, frame_logits) / count, dim=-1)
    return torch.einsum("bkt,btc->bkc", seen, torch.softmax(frame_logits, dim=-1)) / count


def margin_rewards(margins: torch.Tensor) -> torch.Tensor:
    """Eq. 4: ``r_t = max(0, m_t - max_{t' < t} m_{t'})`` [B, K]; r_1 = 0 (no earlier prediction)."""
    best_before = torch.cummax(margins, dim=-1).values[..., :-1]
    return torch.cat([torch.zeros_like(margins[..., :1]), torch.relu(margins[..., 1:] - best_before)], dim=-1)


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``R_t = sum_{k >= t} gamma^(k - t) r_k`` [B, K] from rewards [B, K]."""
    returns, running = torch.zeros_like(rewards), torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        returns[..., t] = running
    return returns


def location_to_index(location: torch.Tensor, num_candidates: int) -> torch.Tensor:
    """Candidate index ``round(l * (T - 1))`` of locations ``l`` (clamped to [0, 1])."""
    return torch.round(location.clamp(0.0, 1.0) * (num_candidates - 1)).long()


def policy_loss(log_probs: torch.Tensor, returns: torch.Tensor, utilities: torch.Tensor) -> torch.Tensor:
    """Eq. 9: ``-sum_t log pi(a_t | h_t) (R_t - V_t)``, the utility detached as a baseline; mean over videos."""
    return -(log_probs * (returns - utilities.detach())).sum(dim=-1).mean()


def utility_loss(returns: torch.Tensor, utilities: torch.Tensor) -> torch.Tensor:
    """Eq. 7: ``1/2 sum_t (R_t - V_t)^2``, mean over videos."""
    return 0.5 * (returns - utilities).pow(2).sum(dim=-1).mean()


PATIENCE_RULES = ("half", "floor")


def default_patience(steps: int, threshold: float, rule: str = "half") -> float:
    """The patience ``p`` of Algorithm 2: ``K/2 + 1`` if mu < 0.7, else ``K``; ``rule="half"`` takes K/2 as written
    (3.5 for K = 5: the counter stops at 4), ``"floor"`` as ``K // 2`` (the earlier reading: 3 for K = 5)."""
    if rule not in PATIENCE_RULES:
        raise ValueError(f"unknown patience_rule {rule!r}: use one of {', '.join(PATIENCE_RULES)}")
    if threshold >= 0.7:
        return steps
    return steps / 2 + 1 if rule == "half" else steps // 2 + 1


def utility_stop(utility: torch.Tensor, threshold: float, patience: float) -> int:
    """Algorithm 2: how many of the K steps adaptive lookahead inference uses, from the utility [K] at
    each step. ``V^max`` starts at 0; a step whose utility is more than mu (``threshold``) below it adds
    one to the counter c; inference goes on while ``c < patience`` (a real ``p``: 3.5 stops at c = 4) and t < K."""
    if threshold <= 0 or patience < 1:
        raise ValueError(f"the threshold must be > 0 and the patience >= 1, got {threshold} and {patience}")
    best, count, t = 0.0, 0, 0
    while count < patience and t < len(utility):
        if best - float(utility[t]) > threshold:
            count += 1
        best, t = max(best, float(utility[t])), t + 1
    return t


def lookahead_stop(confidence: torch.Tensor, utility: torch.Tensor, threshold: float, patience: float) -> int:
    """``stop="confidence"`` (not the paper's): how many of the K steps are used, from the prediction's
    confidence [K] and the utility [K] at each step: it stops after the first step t whose confidence
    exceeds ``threshold``, or where the utility has not exceeded its running maximum for ``patience`` steps."""
    if threshold <= 0 or patience < 1:
        raise ValueError(f"the threshold must be > 0 and the patience >= 1, got {threshold} and {patience}")
    best, since_best = -math.inf, 0
    for t in range(len(confidence)):
        if utility[t] > best:
            best, since_best = float(utility[t]), 0
        else:
            since_best += 1
        if confidence[t] > threshold or since_best >= patience:
            return t + 1
    return len(confidence)


FRAME_VECTORS = ("classifier", "cheap")
REWARDS = ("agent", "classifier")
CONFIDENCES = ("agent", "agreement")
SELECTIONS = ("gaussian", "pointer")
STOPS = ("utility", "confidence")
PREDICTIONS = ("agent", "classifier")


@dataclass
class Rollout:
    """Episodes of the agent: candidates looked at [E, K], f_p logits [E, K, C], utilities [E, K], and
    the log-probabilities of the choices of where to look next [E, K]."""

    indices: torch.Tensor
    logits: torch.Tensor
    utilities: torch.Tensor
    log_probs: torch.Tensor


class AdaFrame(LearnedSampler):
    """AdaFrame on the shared feature encoder (see the module docstring); ``K`` steps while training,
    ``N`` at ``select``, fewer when adaptive lookahead stops early.

    Recipe (``paper_recipe``, Sec. 4.1 implementation details): SGD, momentum 0.9, weight decay 1e-4, 100 epochs of
    128 videos (FCVID), lr 1e-3 divided by 10 every 40 epochs; no clipping stated (none). The short recipe's lr is
    1e-2, chosen with the earlier defaults at N/T = 8/30 on the UCF101 features (one test construction, top-1 at
    mu = 1.01, classifier reward, pointer policy): {3e-3: 0.66, 1e-2: 0.71, 2e-2: 0.62} with ``memory_frames=16``;
    ``memory_frames=30`` 0.75; 4 episodes per video 0.71 against 0.55 for one.
    """

    short_lr = 1e-2

    def paper_recipe(self) -> Recipe:
        return Recipe(lr=1e-3, epochs=100, batch_size=128, schedule="step", milestones=(40, 80), momentum=0.9,
                      weight_decay=1e-4, source="Wu et al. 2020 Sec. 4.1 (FCVID)")
    budget_option = "K"
    inference_options = ("threshold",)
    earlier_options = {"frame_vector": "cheap", "lstm_width": 0, "patience_rule": "floor"}

    def __init__(self, *, K: int = 8, memory_frames: int = 16, selection: str = "gaussian", reward: str = "agent",
                 episodes: int = 4, threshold: float = 0.7, patience: int | None = None, patience_rule: str = "half",
                 gamma: float = 0.9, location_std: float = 0.1, first_location: float = 0.0, policy_weight: float = 1.0,
                 utility_weight: float = 1.0, stop: str = "utility", prediction: str = "agent",
                 confidence: str = "agent", frame_vector: str = "classifier", frame_dim: int | None = None,
                 lstm_width: int = 2048, **kw) -> None:
        super().__init__(**kw)
        if K < 1 or memory_frames < 1 or episodes < 1:
            raise ValueError(f"K, memory_frames and episodes must be >= 1, got {K}, {memory_frames} and {episodes}")
        for name, value, allowed in (("selection", selection, SELECTIONS), ("reward", reward, REWARDS),
                                     ("confidence", confidence, CONFIDENCES), ("stop", stop, STOPS),
                                     ("prediction", prediction, PREDICTIONS), ("frame_vector", frame_vector, FRAME_VECTORS),
                                     ("patience_rule", patience_rule, PATIENCE_RULES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")
        for name, width, low in (("frame_dim", frame_dim, 1), ("lstm_width", lstm_width, 0)):
            if width is not None and (isinstance(width, bool) or not isinstance(width, int) or not low <= width <= MAX_WIDTH):
                raise ValueError(f"{name} must be an integer in {low}..{MAX_WIDTH}, got {width!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 (or None for K/2 + 1 below mu = 0.7, else K), got {patience}")
        if not 0.0 <= gamma <= 1.0 or location_std <= 0 or not 0.0 <= first_location <= 1.0:
            raise ValueError("gamma must be in [0, 1], location_std > 0 and first_location in [0, 1]")
        if policy_weight < 0 or utility_weight < 0:
            raise ValueError("policy_weight and utility_weight must be >= 0")
        self.options.update(K=K, memory_frames=memory_frames, selection=selection, reward=reward, episodes=episodes,
                            patience=patience, patience_rule=patience_rule, gamma=gamma, location_std=location_std,
                            first_location=first_location, policy_weight=policy_weight, utility_weight=utility_weight,
                            stop=stop, prediction=prediction, confidence=confidence, frame_vector=frame_vector,
                            frame_dim=frame_dim, lstm_width=lstm_width)
        agreement = stop == "confidence" and confidence == "agreement"
        self.reads = self.reads | (Reads.FRAME_LOGITS if agreement else Reads.NOTHING) | \
            (Reads.FRAME_VECTORS if frame_vector == "classifier" else Reads.NOTHING)
        self.threshold = threshold
        self.predicts = prediction == "agent"
        width = self.encoder.out_dim
        hidden = lstm_width or width
        vector_dim = frame_dim if frame_vector == "classifier" and frame_dim is not None else self.options["input_dim"]
        self.frame_projection = nn.Sequential(nn.Dropout(self.options["dropout"]), nn.Linear(vector_dim, width), nn.ReLU())
        self.memory_query = nn.Linear(hidden, width, bias=False)  # W_h of Eq. 2
        self.lstm = nn.LSTMCell(2 * width, hidden)  # Eq. 1
        self.prediction = nn.Linear(hidden, self.options["num_classes"])  # f_p, Eq. 3
        self.selection = nn.Linear(hidden, width if selection == "pointer" else 1)  # f_s
        self.utility = nn.Linear(hidden, 1)  # f_u, Eq. 6

    @classmethod
    def data_options(cls, options: dict, inputs: dict[Reads, int]) -> dict:
        """``frame_vector="classifier"`` (the default) takes the width of the data's classifier vectors
        (``Reads.FRAME_VECTORS``) as ``frame_dim``."""
        options = super().data_options(options, inputs)
        if options.get("frame_vector", "classifier") == "classifier" and Reads.FRAME_VECTORS in inputs:
            return {**options, "frame_dim": inputs[Reads.FRAME_VECTORS]}
        return options

    def frame_vectors(self, features: torch.Tensor, classifier_vectors: torch.Tensor | None) -> torch.Tensor:
        """The v_t table [B, T, D_v] of Eq. 1: the classifier's vectors (``frame_vector="classifier"``), or f_s's
        input ``features`` (``"cheap"``, the earlier reading)."""
        if self.options["frame_vector"] == "cheap":
            return features
        if classifier_vectors is None:
            raise ValueError("adaframe (frame_vector='classifier') reads the frozen classifier's vector of each candidate "
                             "(Eq. 1's v_t; candidates.frame_vectors / TrainingBatch.frame_vectors): none was given; "
                             "pass them, or train with frame_vector=cheap")
        return classifier_vectors

    @property
    def threshold(self) -> float:
        """mu of adaptive lookahead inference; above 1 it never stops on confidence."""
        return self.options["threshold"]

    @threshold.setter
    def threshold(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"threshold (mu) must be > 0, got {value}; a large value uses all K frames")
        self.options["threshold"] = float(value)

    def next_index(self, h: torch.Tensor, memory: torch.Tensor, positions: torch.Tensor, num_candidates: int,
                   sample: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Where to look next [E] from the hidden state [E, W], drawn (``sample``) or the most
        likely, and the log-probability of that choice [E]."""
        if self.options["selection"] == "gaussian":
            mean = torch.sigmoid(self.selection(h)).squeeze(-1)
            policy = torch.distributions.Normal(mean, self.options["location_std"])
            location = policy.sample() if sample else mean
            return location_to_index(location, num_candidates), policy.log_prob(location)
        scores = torch.einsum("bw,bmw->bm", self.selection(h), memory.detach())
        choice = torch.distributions.Categorical(logits=scores)
        slot = choice.sample() if sample else scores.argmax(dim=-1)
        return positions[slot], choice.log_prob(slot)

    def rollout(self, features: torch.Tensor, steps: int, *, sample: bool, episodes: int = 1,
                vectors: torch.Tensor | None = None) -> Rollout:
        """Run ``episodes`` episodes of ``steps`` steps on each video's candidate features [B, T, D] (f_s's input,
        the memory) and v_t table ``vectors`` [B, T, D_v] (``frame_vectors``; None: the features) (episode ``e`` of
        video ``b`` is row ``b * episodes + e``); ``sample`` draws where to look next."""
        vectors = features if vectors is None else vectors
        t = features.shape[1]
        positions = memory_positions(t, self.options["memory_frames"]).to(features.device)
        cheap = self.encoder(features[:, positions])  # v^s_j
        memory = cheap + positional_encoding(positions, cheap.shape[-1])  # PE(v^s_j)
        memory = memory.repeat_interleave(episodes, dim=0)
        rows = torch.arange(features.shape[0], device=features.device).repeat_interleave(episodes)
        h = c = features.new_zeros(len(rows), self.lstm.hidden_size)
        index = location_to_index(features.new_full((len(rows),), self.options["first_location"]), t)
        indices, logits, utilities, log_probs = [], [], [], []
        for _ in range(steps):
            read = torch.einsum("bm,bmw->bw", memory_attention(self.memory_query(h), memory), memory)  # Eq. 2, u_t
            h, c = self.lstm(torch.cat([self.frame_projection(vectors[rows, index]), read], dim=-1), (h, c))  # Eq. 1
            indices.append(index)
            logits.append(self.prediction(h))
            utilities.append(self.utility(h).squeeze(-1))
            index, log_prob = self.next_index(h, memory, positions, t, sample)
            log_probs.append(log_prob)
        return Rollout(torch.stack(indices, 1), torch.stack(logits, 1), torch.stack(utilities, 1),
                       torch.stack(log_probs, 1))

    def loss(self, batch: TrainingBatch) -> dict[str, torch.Tensor]:
        o, m = self.options, self.options["episodes"]
        episode = self.rollout(batch.features, o["K"], sample=True, episodes=m,
                               vectors=self.frame_vectors(batch.features, batch.frame_vectors))
        labels = batch.labels.repeat_interleave(m)
        cls = nn.functional.cross_entropy(episode.logits[:, -1], labels)  # Eq. 3
        if o["reward"] == "agent":
            probs = torch.softmax(episode.logits.detach(), dim=-1)
        else:
            if batch.clip_log_probs is not None:
                raise ValueError("reward='classifier' is the consensus of the frames seen so far, which a clip classifier "
                                 "does not have: use reward='agent' (the paper's, f_p's margin)")
            frame_logits = batch.frame_logits.repeat_interleave(m, dim=0)
            probs = seen_consensus_probs(frame_logits, episode.indices, batch.consensus)
        returns = discounted_returns(margin_rewards(prediction_margins(probs, labels)), o["gamma"])  # Eq. 4
        sel = policy_loss(episode.log_probs[:, :-1], returns[:, :-1], episode.utilities[:, :-1])  # Eq. 9
        utl = utility_loss(returns, episode.utilities)  # Eq. 7
        loss = cls + o["policy_weight"] * sel + o["utility_weight"] * utl
        return {"loss": loss, "L_cls": cls, "L_sel": sel, "L_utl": utl, "return": returns[:, 0].mean()}

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> Selection:
        """Adaptive lookahead inference: the sorted distinct candidates looked at and, with
        ``prediction="agent"``, f_p's class probabilities [C] at the step where it stopped (Algorithm 2)."""
        if k == 0:
            return Selection(np.empty(0, dtype=np.int64))
        features = self.candidate_input(candidates).to(self.device)
        given = None if candidates.frame_vectors is None else \
            torch.as_tensor(candidates.frame_vectors, dtype=torch.float32, device=self.device)[None]
        vectors = self.frame_vectors(features, given)
        if vectors.shape[-1] != self.frame_projection[1].in_features:
            raise ValueError(f"candidates.frame_vectors are {vectors.shape[-1]}-d, but this adaframe reads "
                             f"{self.frame_projection[1].in_features}-d v_t: give the classifier it was trained with")
        with inference(self):
            episode = self.rollout(features, k, sample=False, vectors=vectors)
        agent, utilities = torch.softmax(episode.logits[0], dim=-1).cpu(), episode.utilities[0].cpu()
        patience = self.options["patience"] or default_patience(k, self.threshold, self.options["patience_rule"])
        if self.options["stop"] == "utility":
            steps = utility_stop(utilities, self.threshold, patience)
        else:
            confidence = agent.amax(dim=-1)
            if self.options["confidence"] == "agreement":
                if context is None or context.frame_logits is None:
                    raise ValueError("adaframe with confidence='agreement' needs context.frame_logits; none was given")
                frame_logits = torch.as_tensor(context.frame_logits, dtype=torch.float32)[None]
                seen = seen_consensus_probs(frame_logits, episode.indices.cpu(), context.consensus)[0]
                confidence = torch.minimum(confidence, seen.gather(-1, agent.argmax(dim=-1, keepdim=True)).squeeze(-1))
            steps = lookahead_stop(confidence, utilities, self.threshold, patience)
        chosen = np.unique(episode.indices[0, :steps].cpu().numpy()).astype(np.int64)
        return Selection(chosen, None, agent[steps - 1].numpy() if self.options["prediction"] == "agent" else None)

    def scores(self, candidates: Candidates, context: Context | None = None) -> None:
        """None: the agent picks sequentially, it does not rank the candidates."""
        return None

    def macs_per_frame(self) -> int:
        """Multiply-accumulates per candidate, an upper bound: f_s on it as a memory frame plus one agent
        step (projection of v_t, memory query, LSTM, the three heads; attention products not counted)."""
        width, hidden = self.encoder.out_dim, self.lstm.hidden_size
        projection = self.frame_projection[1]
        assert isinstance(projection, nn.Linear)  # frame_projection: Dropout, Linear
        heads = (projection, self.memory_query, self.prediction, self.selection, self.utility)
        step = sum(layer.in_features * layer.out_features for layer in heads) + 4 * (2 * width + hidden) * hidden
        return super().macs_per_frame() - width + step


register_sampler("adaframe", AdaFrame)
