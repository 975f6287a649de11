"""pi_o: the exact search equals brute force, the approximate one stays close, the sampler's edges."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from framesampler.candidates import Candidates
from framesampler.classifiers.consensus import CONSENSUS
from framesampler.policies.base import Context, top_n_sorted
from framesampler.policies.optimal import (
    OptimalPolicy,
    approximate_optimal_subset,
    optimal_search_kind,
    optimal_subset,
    subset_log_confidence,
)
from framesampler.policies.registry import create_sampler


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tensors here are tiny: one thread avoids oversubscribing a busy machine (tests stay fast)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_case(seed: int, t: int, c: int) -> tuple[torch.Tensor, int]:
    """Logits [T, C] of scale ~3 and a label, reproducible from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(t, c, generator=g, dtype=torch.float64), int(torch.randint(c, (1,), generator=g))


def value(logits: torch.Tensor, subset: np.ndarray, label: int, consensus: str) -> float:
    return float(subset_log_confidence(logits, torch.from_numpy(subset)[None], label, consensus))


def brute_force_value(logits: torch.Tensor, n: int, label: int, consensus: str) -> float:
    subsets = torch.tensor(list(itertools.combinations(range(logits.shape[0]), n)))
    return float(subset_log_confidence(logits, subsets, label, consensus).max())


@st.composite
def small_cases(draw):
    t = draw(st.integers(1, 9))
    return draw(st.integers(0, 2**31)), t, draw(st.integers(1, t)), draw(st.integers(2, 6))


@settings(max_examples=150, deadline=None)
@given(small_cases(), st.sampled_from(CONSENSUS), st.sampled_from([1, 1_000_000]))
def test_exact_equals_brute_force(case, consensus, chunk_elements):
    seed, t, n, c = case
    logits, label = random_case(seed, t, c)
    subset = optimal_subset(logits, n, label, consensus, chunk_elements=chunk_elements)
    assert subset.dtype == np.int64 and len(subset) == n
    assert np.array_equal(subset, np.unique(subset)) and subset.min() >= 0 and subset.max() < t
    best = brute_force_value(logits, n, label, consensus)
    assert value(logits, subset, label, consensus) == pytest.approx(best, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(small_cases())
def test_avg_probs_optimal_is_top_n_label_confidence(case):
    seed, t, n, c = case
    logits, label = random_case(seed, t, c)
    semi_optimal = top_n_sorted(torch.softmax(logits, dim=-1)[:, label], n)
    exact = optimal_subset(logits, n, label, "avg_probs")
    semi_optimal_value = value(logits, semi_optimal, label, "avg_probs")
    assert value(logits, exact, label, "avg_probs") == pytest.approx(semi_optimal_value, abs=1e-12)


@pytest.mark.parametrize("consensus", CONSENSUS)
def test_approximate_is_below_exact_and_usually_equal(consensus):
    matches = 0
    for seed in range(30):
        t = 2 + seed % 8
        n = 1 + seed % (t - 1)
        logits, label = random_case(seed, t, 2 + seed % 5)
        exact = value(logits, optimal_subset(logits, n, label, consensus), label, consensus)
        approx = value(logits, approximate_optimal_subset(logits, n, label, consensus), label, consensus)
        restarted = approximate_optimal_subset(logits, n, label, consensus, restarts=2, seed=seed)
        assert approx - 1e-12 <= value(logits, restarted, label, consensus) <= exact + 1e-9
        matches += approx >= exact - 1e-9
    assert matches >= 27


@pytest.mark.parametrize("consensus", CONSENSUS)
def test_approximate_gap_is_small_at_t16_n6(consensus):
    gaps = []
    for seed in range(20):
        logits, label = random_case(seed, 16, 10)
        exact = value(logits, optimal_subset(logits, 6, label, consensus), label, consensus)
        gaps.append(exact - value(logits, approximate_optimal_subset(logits, 6, label, consensus), label, consensus))
    assert min(gaps) >= -1e-9 and np.mean(gaps) < 0.05


@pytest.mark.parametrize("search", [optimal_subset, approximate_optimal_subset])
@pytest.mark.parametrize("consensus", CONSENSUS)
def test_all_frames_when_n_is_t(search, consensus):
    logits, label = random_case(0, 7, 4)
    assert np.array_equal(search(logits, 7, label, consensus), np.arange(7))


def test_n1_avg_logits_is_argmax_label_log_prob():
    logits, label = random_case(1, 12, 5)
    best = int(torch.log_softmax(logits, dim=-1)[:, label].argmax())
    assert optimal_subset(logits, 1, label, "avg_logits").tolist() == [best]


def test_policy_edges():
    logits, label = random_case(2, 6, 4)
    context = Context(frame_logits=logits, label=label)
    policy = OptimalPolicy()
    candidates = Candidates.of_length(6)
    assert policy.select(candidates, 0, context=context).tolist() == []
    assert policy.select(candidates, 9, context=context, short_policy="all").tolist() == list(range(6))
    with pytest.raises(ValueError):
        policy.select(candidates, 9, context=context, short_policy="error")
    with pytest.raises(ValueError, match="label"):
        policy.select(candidates, 2, context=Context(frame_logits=logits))


@pytest.mark.parametrize("consensus", CONSENSUS)
def test_policy_picks_the_optimum(consensus):
    logits, label = random_case(3, 9, 5)
    chosen = OptimalPolicy().select(Candidates.of_length(9), 4, context=Context(logits, label, consensus))
    best = brute_force_value(logits, 4, label, consensus)
    assert value(logits, chosen, label, consensus) == pytest.approx(best, abs=1e-9)


def test_registry_and_search_kind():
    assert isinstance(create_sampler("oracle"), OptimalPolicy)
    assert create_sampler("optimal", search="approximate").name == "optimal"
    assert optimal_search_kind(30, 8) == "exact"
    assert optimal_search_kind(100, 32) == "approximate"
    assert optimal_search_kind(30, 8, "auto", max_exact_subsets=1000) == "approximate"
    assert optimal_search_kind(100, 32, "exact") == "exact"
    with pytest.raises(ValueError):
        OptimalPolicy(search="fast")


def test_approximate_scales_to_t100_n32():
    logits, label = random_case(4, 100, 200)
    chosen = OptimalPolicy().select(Candidates.of_length(100), 32, context=Context(logits.float(), label))
    assert len(chosen) == 32 and np.array_equal(chosen, np.unique(chosen))
