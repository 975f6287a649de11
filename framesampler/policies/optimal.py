"""The optimal policy pi_o (Lee et al., BMVC 2024, Sec. 3): the N-subset the classifier likes best.

Given the frozen classifier's logits on each of the T candidates, the true label y and its consensus,
``pi_o(V) = argmax_{|S| = N} p(y | consensus(z[S]))``. It reads the label, so it is an oracle: an upper
bound for samplers, and the target pi_s approximates.

- ``optimal_subset``: exact search over all C(T, N) subsets, vectorised (meet in the middle);
- ``approximate_optimal_subset``: greedy forward selection then 1-swap local search, for large C(T, N);
- ``OptimalPolicy``: the sampler ("oracle", alias "optimal"); ``search="auto"`` picks one of the two.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from framesampler.candidates import Candidates, Reads
from framesampler.classifiers.consensus import check_consensus, consensus_log_probs
from framesampler.policies.base import Context, Sampler, context_label, context_logits
from framesampler.policies.registry import register_sampler

Search = Literal["auto", "exact", "approximate"]
SEARCHES = ("auto", "exact", "approximate")
SearchKind = Literal["exact", "approximate"]
Side = tuple[torch.Tensor, ...]


def subset_log_confidence(
    frame_logits: torch.Tensor, subsets: torch.Tensor, label: int, consensus: str
) -> torch.Tensor:
    """``log p(y | consensus(z[S]))`` [S] of each subset (rows of ``subsets`` [S, N], positions into z [T, C])."""
    return consensus_log_probs(frame_logits[subsets], consensus)[:, label]


def _combinations(t: int, k: int) -> np.ndarray:
    """All k-subsets of ``range(t)`` as sorted rows [C(t, k), k], in lexicographic order."""
    flat = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(t), k)), dtype=np.int64)
    return flat.reshape(math.comb(t, k), k)


def _no_choice(t: int, n: int) -> np.ndarray:
    """The subset when there is nothing to search: none for N = 0, all T frames for N >= T."""
    if n < 0:
        raise ValueError(f"n (frames to select) must be >= 0, got {n}")
    return np.arange(min(n, t), dtype=np.int64)


def _fold(x: torch.Tensor, combos: np.ndarray, op: Callable[..., torch.Tensor], empty: float) -> torch.Tensor:
    """``op``-reduce the rows of x [T, ...] over each combination [K, k] -> [K, ...], one pass per column."""
    if combos.shape[1] == 0:
        return torch.full((1, *x.shape[1:]), empty, dtype=x.dtype)
    index = torch.from_numpy(combos)
    out = x[index[:, 0]]
    for j in range(1, combos.shape[1]):
        op(out, x[index[:, j]], out=out)
    return out


def _side_avg_logits(z: torch.Tensor, label: int, n: int, combos: np.ndarray) -> Side:
    # d_tc = (z_tc - z_ty) / N, so log p_y(S) = -log sum_c exp(sum_{t in S} d_tc). A side keeps
    # exp(s - a) with its row max a (<= 1 everywhere, so the block's GEMM cannot overflow).
    s = _fold((z - z[:, label : label + 1]) / n, combos, torch.add, 0.0)
    a = s.amax(dim=1)
    return s.sub_(a[:, None]).exp_(), a


def _block_avg_logits(head: Side, tail: Side, label: int, n: int) -> torch.Tensor:
    (eh, ah), (et, at) = head, tail
    return (eh @ et.T).log_().add_(ah[:, None]).add_(at[None, :]).neg_()


def _side_avg_probs(z: torch.Tensor, label: int, n: int, combos: np.ndarray) -> Side:
    return (_fold(torch.softmax(z, dim=-1)[:, label], combos, torch.add, 0.0),)


def _block_avg_probs(head: Side, tail: Side, label: int, n: int) -> torch.Tensor:
    return torch.log((head[0][:, None] + tail[0][None, :]) / n)


def _side_max(z: torch.Tensor, label: int, n: int, combos: np.ndarray) -> Side:
    # log p_y(S) = z_Sy - log sum_c exp(z_Sc) with z_S = max(head max, tail max), and exp(max(u, v)) =
    # max(exp u, exp v): a side keeps exp(m - M) and m_y - M, M the video's largest logit (so <= 1).
    # The max over an empty side (N = 1 has no tail) is -inf, the identity of max.
    m = _fold(z, combos, torch.maximum, -math.inf) - z.max()
    return m.exp(), m[:, label]


def _block_max(head: Side, tail: Side, label: int, n: int) -> torch.Tensor:
    (eh, yh), (et, yt) = head, tail
    mass = torch.maximum(eh[:, None, :], et[None, :, :]).sum(dim=-1)  # sum_c exp(z_Sc - M)
    return torch.maximum(yh[:, None], yt[None, :]) - mass.log_()


_SIDES: dict[str, Callable[..., Side]] = {
    "avg_logits": _side_avg_logits,
    "avg_probs": _side_avg_probs,
    "max": _side_max,
}
_BLOCKS: dict[str, Callable[..., torch.Tensor]] = {
    "avg_logits": _block_avg_logits,
    "avg_probs": _block_avg_probs,
    "max": _block_max,
}


def optimal_subset(
    frame_logits: torch.Tensor, n: int, label: int, consensus: str, *, chunk_elements: int = 1_000_000
) -> np.ndarray:
    """Exact pi_o: sorted int64 positions of the N-subset maximising ``p(y | consensus(z[S]))``.

    Meet in the middle over all C(T, N) subsets, no loop per subset: a sorted subset is a head of
    ``a = ceil(N/2)`` frames and a tail of ``N - a`` frames with ``max(head) < min(tail)``. Heads and
    tails are enumerated once with per-side aggregates; for each m, the block "heads with max m x tails
    with min > m" is scored at once (a GEMM for "avg_logits"), in chunks of at most ``chunk_elements``
    float64 values (8 MB by default; larger chunks are slower, not faster). Computed in float64, exact
    up to rounding while the video's logits span less than ~700 (no exp underflows to 0). N >= T returns
    all frames, N = 0 none.

    Ties (equal computed scores) go to the first subset in search order: heads by increasing max,
    then lexicographically by head, then by tail.

    Under "avg_probs", pi_o equals pi_s with importance = true-label confidence: the objective
    ``(1/N) sum_{t in S} p(y | v_t)`` is a sum of per-frame terms, so its maximum over ``|S| = N``
    is attained by the N largest terms (swapping any chosen term for a larger unchosen one cannot
    lower the sum). The search below does not rely on this; the tests check it.
    """
    check_consensus(consensus)
    z = frame_logits.detach().cpu().to(torch.float64)
    t = z.shape[0]
    if n <= 0 or n >= t:
        return _no_choice(t, n)
    a, b = (n + 1) // 2, n // 2
    heads = _combinations(t, a)
    heads = heads[np.argsort(heads[:, -1], kind="stable")]
    tails = _combinations(t, b)  # lexicographic, hence sorted by min; the empty tail (b = 0) fits every m
    head_max = heads[:, -1]
    tail_min = tails[:, 0] if b else np.full(len(tails), t)
    side, block = _SIDES[consensus], _BLOCKS[consensus]
    head_side, tail_side = side(z, label, n, heads), side(z, label, n, tails)
    width = z.shape[1] if consensus == "max" else 1
    best_score, best = -math.inf, None
    for m in range(a - 1, t - b):
        h0, h1 = np.searchsorted(head_max, m, side="left"), np.searchsorted(head_max, m, side="right")
        t0 = int(np.searchsorted(tail_min, m, side="right"))
        tail = tuple(x[t0:] for x in tail_side)
        rows = max(1, chunk_elements // ((len(tails) - t0) * width))
        for r0 in range(h0, h1, rows):
            r1 = min(r0 + rows, h1)
            scores = block(tuple(x[r0:r1] for x in head_side), tail, label, n)
            flat = int(torch.argmax(scores))
            score = float(scores.reshape(-1)[flat])
            if best is None or score > best_score:
                i, j = divmod(flat, scores.shape[1])
                best_score, best = score, np.concatenate([heads[r0 + i], tails[t0 + j]])
    assert best is not None  # 0 < n < t: the loop scores every subset, at least one
    return np.sort(best).astype(np.int64)


Value = Callable[[np.ndarray], torch.Tensor]


def _local_search(value: Value, t: int, subset: np.ndarray) -> tuple[np.ndarray, float]:
    """Best-improvement 1-swap hill climbing from ``subset``; returns the local optimum and its value."""
    score = float(value(subset[None])[0])
    while True:
        outside = np.setdiff1d(np.arange(t), subset)
        if len(outside) == 0:
            return subset, score
        swaps = np.repeat(subset[None], len(subset) * len(outside), axis=0)
        slot, new = np.divmod(np.arange(len(swaps)), len(outside))
        swaps[np.arange(len(swaps)), slot] = outside[new]
        swaps.sort(axis=1)
        values = value(swaps)
        i = int(torch.argmax(values))
        if float(values[i]) <= score + 1e-12:
            return subset, score
        subset, score = swaps[i], float(values[i])


def search_subset(value: Value, t: int, n: int, *, restarts: int = 0, seed: int = 0) -> np.ndarray:
    """Approximate argmax of ``value`` (sorted subsets [S, N] -> [S]) over the N-subsets of T: greedy
    forward selection, then best-improvement 1-swap local search (see ``approximate_optimal_subset``)."""
    if n <= 0 or n >= t:
        return _no_choice(t, n)
    chosen = np.empty(0, dtype=np.int64)
    for _ in range(n):
        rest = np.setdiff1d(np.arange(t), chosen)
        grown = np.sort(np.concatenate([np.repeat(chosen[None], len(rest), axis=0), rest[:, None]], axis=1), axis=1)
        chosen = grown[int(torch.argmax(value(grown)))]
    rng = np.random.default_rng(seed)
    starts = [chosen] + [np.sort(rng.choice(t, size=n, replace=False)) for _ in range(restarts)]
    best, _ = max((_local_search(value, t, start) for start in starts), key=lambda found: found[1])  # first of ties
    return best.astype(np.int64)


def exhaustive_subset(value: Value, t: int, n: int, *, chunk: int = 4096) -> np.ndarray:
    """Exact argmax of ``value`` over all C(T, N) sorted subsets, scored ``chunk`` at a time (any
    classifier, e.g. one whose frames interact; ties go to the lexicographically first subset)."""
    if n <= 0 or n >= t:
        return _no_choice(t, n)
    subsets = _combinations(t, n)
    values = torch.cat([value(subsets[i:i + chunk]) for i in range(0, len(subsets), chunk)])
    return subsets[int(torch.argmax(values))].astype(np.int64)


def approximate_optimal_subset(
    frame_logits: torch.Tensor, n: int, label: int, consensus: str, *, restarts: int = 0, seed: int = 0
) -> np.ndarray:
    """Approximate pi_o: greedy forward selection, then best-improvement 1-swap local search.

    Greedy adds, N times, the frame that most raises ``p(y | consensus(z[S]))`` (all remaining frames
    scored in one batch); local search then takes the best improving (in, out) swap, all swaps in one
    batch, until none improves. ``restarts`` more local searches start from random N-subsets (drawn
    with ``seed``); the best local optimum wins. Never better than ``optimal_subset``; sorted int64
    positions.
    """
    check_consensus(consensus)
    z = frame_logits.detach().cpu().to(torch.float64)
    return search_subset(lambda subsets: subset_log_confidence(z, torch.from_numpy(subsets), label, consensus),
                         z.shape[0], n, restarts=restarts, seed=seed)


def _check_search(search: str) -> None:
    if search not in SEARCHES:
        raise ValueError(f"unknown search {search!r}: use 'auto', 'exact' or 'approximate'")


def optimal_search_kind(t: int, n: int, search: Search = "auto", max_exact_subsets: int = 10_000_000) -> SearchKind:
    """Which search ``OptimalPolicy`` runs for N of T frames: "auto" is exact when C(T, N) <= the cap."""
    _check_search(search)
    if search != "auto":
        return search
    return "exact" if math.comb(t, min(n, t)) <= max_exact_subsets else "approximate"


class OptimalPolicy(Sampler):
    """pi_o (Lee et al. 2024, Sec. 3): the N-subset maximising the classifier's true-label probability.

    Under a consensus classifier the search runs on its per-frame logits (meet in the middle when exact);
    under a classifier whose frames interact (``context.consensus == "clip"``) every subset it scores goes
    through the classifier (``context.video_log_probs``): exhaustively while C(T, N) <=
    ``max_exact_network_subsets``, else by greedy + swap search.
    """

    name = "oracle"
    reads = Reads.FRAME_LOGITS | Reads.LABEL

    def __init__(self, *, search: Search = "auto", max_exact_subsets: int = 10_000_000,
                 max_exact_network_subsets: int = 20_000, **kw) -> None:
        super().__init__(**kw)
        _check_search(search)
        self.search = search
        self.max_exact_subsets = max_exact_subsets
        self.max_exact_network_subsets = max_exact_network_subsets

    def _select(self, candidates: Candidates, k: int, context: Context | None, rng: np.random.Generator,
                scores: np.ndarray | None) -> np.ndarray:
        logits, label = context_logits(context), context_label(context)
        assert context is not None  # context_logits raised otherwise
        if logits.shape[0] != len(candidates):
            raise ValueError(f"context.frame_logits has {logits.shape[0]} rows for {len(candidates)} candidates")
        if context.consensus == "clip":
            video_log_probs = context.video_log_probs
            if video_log_probs is None:
                raise ValueError("pi_o under a clip classifier needs context.video_log_probs (the classifier on a subset)")
            kind = optimal_search_kind(len(candidates), k, self.search, self.max_exact_network_subsets)

            def value(subsets: np.ndarray) -> torch.Tensor:
                return video_log_probs(torch.from_numpy(subsets))[:, label]

            search = exhaustive_subset if kind == "exact" else search_subset
            return search(value, len(candidates), k)
        kind = optimal_search_kind(len(candidates), k, self.search, self.max_exact_subsets)
        logit_search = optimal_subset if kind == "exact" else approximate_optimal_subset
        return logit_search(logits, k, label, context.consensus)


register_sampler("oracle", OptimalPolicy)
register_sampler("optimal", OptimalPolicy, listed=False)
