"""SCSampler's objectives (Korbar et al. 2019, Sec. 3.2, Eq. 1-2), list combinations (Sec. 3.3.3) and
"every N clips" (App. D) on hand-computed cases, and its option errors."""
import math

import numpy as np
import pytest
import torch

from framesampler import Candidates, Context, create_sampler
from framesampler.candidates import Reads
from framesampler.learned import TrainingBatch
from framesampler.learned.scsampler import (
    SCHEMES,
    ac_saliency,
    action_classification_loss,
    combine_saliency,
    oracle_saliency_labels,
    resolve_k_train,
    saliency_classification_loss,
    saliency_ranking_loss,
    strided_positions,
)


def test_ac_loss_is_cross_entropy_on_every_frame_and_saliency_is_the_max_probability():
    logits = torch.log(torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]]))
    # label 1 on both frames: -(log .2 + log .3) / 2
    expected = -(math.log(0.2) + math.log(0.3)) / 2
    assert action_classification_loss(logits, torch.tensor([1])).item() == pytest.approx(expected)
    assert ac_saliency(logits).tolist()[0] == pytest.approx([0.7, 0.6])


def test_sal_cl_labels_are_the_oracle_top_k_and_the_loss_is_bce():
    oracle = torch.tensor([[0.1, 0.9, 0.3, 0.9]])  # true-class probabilities; the tie goes to the earlier frame
    assert oracle_saliency_labels(oracle, 2).tolist() == [[0.0, 1.0, 0.0, 1.0]]
    assert oracle_saliency_labels(oracle, 1).tolist() == [[0.0, 1.0, 0.0, 0.0]]
    assert resolve_k_train(None, 4) == 2 and resolve_k_train(None, 1) == 1 and resolve_k_train(3, 4) == 3
    logits = torch.tensor([[0.0, 2.0, -1.0, 0.0]])
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -(math.log(1 - sig(0.0)) + math.log(sig(2.0)) + math.log(1 - sig(-1.0)) + math.log(sig(0.0))) / 4
    assert saliency_classification_loss(logits, oracle, 2).item() == pytest.approx(expected)


def test_eq1_2_ranking_hinge_on_three_frames():
    saliency = torch.tensor([[0.5, 0.3, 2.0]])
    oracle = torch.tensor([[0.1, 0.6, 0.3]])  # oracle order: 1 > 2 > 0
    # (1 over 0): max(0, 1 - (.3 - .5)) = 1.2; (2 over 0): max(0, 1 - 1.5) = 0; (1 over 2): max(0, 1 - (.3 - 2)) = 2.7
    assert saliency_ranking_loss(saliency, oracle, 1.0).item() == pytest.approx((1.2 + 0.0 + 2.7) / 3)
    assert saliency_ranking_loss(saliency, oracle, 0.5).item() == pytest.approx((0.7 + 0.0 + 2.2) / 3)
    # tied oracle scores make no pair; a video with no pair costs nothing
    assert saliency_ranking_loss(saliency, torch.tensor([[0.2, 0.2, 0.3]]), 1.0).item() == pytest.approx((0.0 + 0.0) / 2)
    assert saliency_ranking_loss(saliency, torch.full((1, 3), 0.2), 1.0).item() == 0.0


@pytest.mark.parametrize("objective", ["ac", "sal_cl", "sal_rank"])
def test_each_objective_trains_its_head_and_picks_top_k(objective):
    torch.manual_seed(0)
    sampler = create_sampler("scsampler", input_dim=8, num_classes=3, width=4, dropout=0.0, objective=objective)
    batch = TrainingBatch(torch.rand(2, 6, 8), torch.randn(2, 6, 3), torch.tensor([0, 2]), "avg_logits")
    losses = sampler.loss(batch)
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"]) and sampler.head.weight.grad.abs().sum() > 0
    assert sampler.head.out_features == (3 if objective == "ac" else 1)
    hidden = sampler.encoder(batch.features)
    if objective == "ac":
        assert losses["loss"].item() == pytest.approx(action_classification_loss(sampler.head(hidden), batch.labels).item())
    candidates = Candidates.of_length(6, features=batch.features[0].numpy())
    scores = sampler.scores(candidates)
    assert sampler.select(candidates, 2).tolist() == sorted(np.argsort(-scores)[:2].tolist())


def test_sal_cl_uses_the_frozen_classifiers_true_class_top_k():
    sampler = create_sampler("scsampler", input_dim=4, num_classes=2, width=4, dropout=0.0, objective="sal_cl", k_train=1)
    for p in sampler.parameters():
        torch.nn.init.zeros_(p)  # saliency logit 0 everywhere: BCE = log 2 whatever the labels
    frame_logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]]])
    assert sampler.loss(TrainingBatch(torch.rand(1, 3, 4), frame_logits, torch.tensor([1]), "avg_logits"))["loss"].item() \
        == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="k_train=5 exceeds"):
        create_sampler("scsampler", input_dim=4, num_classes=2, objective="sal_cl", k_train=5).loss(
            TrainingBatch(torch.rand(1, 3, 4), frame_logits, torch.tensor([1]), "avg_logits"))


HAND_A = np.array([0.9, 0.8, 0.1, 0.2, 0.5])  # ranks 0, 1, 4, 3, 2
HAND_B = np.array([0.1, 0.7, 0.9, 0.3, 0.2])  # ranks 4, 1, 0, 2, 3


@pytest.mark.parametrize("scheme, k, weight, k_prime, expected", [
    # w*minmax(a) + (1-w)*minmax(b) = [.5, .8125, .5, .1875, .3125]; tie 0/2 -> earlier
    ("convex_score", 2, 0.5, None, [0, 1]),
    ("convex_score", 2, 0.2, None, [1, 2]),  # [.2, .775, .8, .225, .2]
    ("convex_list", 2, 0.5, None, [0, 1]),  # mean ranks [2, 1, 2, 2.5, 2.5]
    ("convex_list", 1, 1.0, None, [0]),  # w = 1: list a alone
    ("union_list", 2, 0.5, None, [0, 2]),  # K' = floor(1.6) = 1: a's top 0, then b's best other, 2
    ("union_list", 3, 0.5, 2, [0, 1, 2]),  # a's top 2 = {0, 1}, then b's best not in it: 2
    ("union_list", 4, 0.5, None, [0, 1, 2, 4]),  # K' = 3: {0, 1, 4}, then b's list 2, 1, 3, 4, 0 adds 2
    ("union_list", 2, 0.5, 0, [1, 2]),  # K' = 0: list b alone
    ("union_best_rank", 2, 0.5, None, [0, 2]),  # top-1 of a is 0, of b is 2
    ("union_best_rank", 3, 0.5, None, [0, 1, 2]),  # K' = 2 adds 1 (second in both)
    ("union_best_rank", 4, 0.5, 2, [0, 1, 2]),  # fixed K' = 2: only three candidates in the union
    ("intersect_list", 1, 0.5, None, [1]),  # K' = 2: {0,1} & {2,1}
    ("intersect_list", 2, 0.5, None, [1, 4]),  # K' = 4: {0,1,4,3} & {2,1,3,4} = {1,3,4}; 4 (a-rank 2) before 3
    ("intersect_list", 3, 0.5, 3, [1]),  # fixed K' = 3: only 1 is common
])
def test_combination_schemes_on_hand_made_lists(scheme, k, weight, k_prime, expected):
    assert combine_saliency(HAND_A, HAND_B, k, scheme, weight=weight, k_prime=k_prime).tolist() == expected


def test_union_list_takes_k_prime_from_the_first_list_then_different_ones_from_the_second():
    a = np.arange(10.0)[::-1]  # ranks 0..9 in time order
    b = np.arange(10.0)  # the opposite order
    assert combine_saliency(a, b, 10, "union_list").tolist() == list(range(10))
    # K = 10, K' = 8: a's top 8 are 0..7, then b's best two not among them, 9 and 8
    assert combine_saliency(a, b, 4, "union_list", k_prime=2).tolist() == [0, 1, 8, 9]
    assert combine_saliency(a, b, 5, "union_list").tolist() == [0, 1, 2, 3, 9]  # K' = 4
    assert combine_saliency(a, b, 10, "union_best_rank", k_prime=8).tolist() == list(range(10))
    assert combine_saliency(a, b, 6, "union_best_rank").tolist() == [0, 1, 2, 7, 8, 9]  # symmetric: three of each
    overlapping = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    assert combine_saliency(overlapping, overlapping, 3, "union_list", k_prime=1).tolist() == [0, 1, 2]  # different ones


def test_combination_of_two_samplers_and_bad_options():
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.5, 0.5]]))
    context = Context(frame_logits=logits, label=1)
    candidates = Candidates.of_length(4)
    combined = create_sampler("sc_combined", first="semi_optimal_max", second="semi_optimal_label", scheme="convex_list")
    assert create_sampler("sc_combined", first="random", second="uniform").scheme == "union_list"
    # max: [.9, .6, .7, .5] ranks [0, 2, 1, 3]; label: [.1, .6, .7, .5] ranks [3, 1, 0, 2]
    assert combined.select(candidates, 1, context=context).tolist() == [2]
    assert combined.reads == Reads.FRAME_LOGITS | Reads.LABEL
    for scheme in SCHEMES:
        assert len(combine_saliency(HAND_A, HAND_B, 5, scheme)) == 5
    with pytest.raises(ValueError, match="unknown scheme"):
        combine_saliency(HAND_A, HAND_B, 2, "borda")
    with pytest.raises(ValueError, match="weight"):
        combine_saliency(HAND_A, HAND_B, 2, "convex_score", weight=1.5)
    with pytest.raises(ValueError, match="k_prime"):
        create_sampler("sc_combined", first="random", second="uniform", k_prime=-1)
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        combine_saliency(HAND_A, HAND_B[:3], 2, "convex_list")
    with pytest.raises(ValueError, match="NaN"):
        combine_saliency(np.array([np.nan, 1.0]), np.zeros(2), 1, "convex_list")
    with pytest.raises(ValueError, match="convex_score needs finite"):
        combine_saliency(np.array([-np.inf, 1.0]), np.zeros(2), 1, "convex_score")
    assert combine_saliency(np.array([-np.inf, 1.0]), np.zeros(2), 1, "union_list", k_prime=1).tolist() == [1]  # -inf last


@pytest.mark.parametrize("stride", [1, 2, 3, 7])
def test_stride_only_returns_multiples_of_it(stride):
    sampler = create_sampler("scsampler", input_dim=8, num_classes=3, width=4, stride=stride)
    features = np.random.default_rng(stride).random((20, 8))
    candidates = Candidates.of_length(20, features=features)
    scored = strided_positions(20, stride)
    assert scored.tolist() == list(range(0, 20, stride))
    for n in (1, 3, 8, 20):
        picked = sampler.select(candidates, n)
        assert np.all(picked % stride == 0) and len(picked) == min(n, len(scored))
    scores = sampler.scores(candidates)
    assert np.isfinite(scores[scored]).all() and np.isneginf(np.delete(scores, scored)).all()
    assert sampler.candidates_read(20) == len(scored)


def test_the_scorer_reads_each_clip_alone_and_a_shift_trains_on_the_strided_spacing():
    features = torch.rand(1, 6, 8)
    sampler = create_sampler("scsampler", input_dim=8, num_classes=3, width=4, dropout=0.0).eval()
    changed = features.clone()
    changed[0, 3] += 1.0
    with torch.no_grad():
        before, after = sampler.frame_scores(features), sampler.frame_scores(changed)
    assert torch.equal(torch.cat([before[:, :3], before[:, 4:]], 1), torch.cat([after[:, :3], after[:, 4:]], 1))
    shifted = create_sampler("scsampler", input_dim=8, num_classes=3, width=8, dropout=0.0, shift_div=4, stride=2,
                             objective="sal_rank")
    batch = TrainingBatch(features, torch.randn(1, 6, 3), torch.tensor([1]), "avg_logits")
    with torch.no_grad():
        oracle = torch.softmax(batch.frame_logits[:, ::2], -1)[..., 1]
        expected = saliency_ranking_loss(shifted.frame_scores(features[:, ::2]), oracle, 1.0)
        assert shifted.loss(batch)["loss"].item() == pytest.approx(expected.item())


def test_head_cost_is_counted():
    assert create_sampler("scsampler", input_dim=64, num_classes=6, objective="sal_rank").macs_per_frame() \
        == 64 * 256 + 256 * 256 + 256
    assert create_sampler("scsampler", input_dim=64, num_classes=6, objective="ac").macs_per_frame() \
        == 64 * 256 + 256 * 256 + 256 * 6


@pytest.mark.parametrize("options, message", [
    ({"objective": "saliency"}, "unknown objective"),
    ({"k_train": 0}, "k_train"),
    ({"k_train": 2.5}, "k_train"),
    ({"margin": 0.0}, "margin"),
    ({"stride": 0}, "stride"),
])
def test_bad_options_raise(options, message):
    with pytest.raises(ValueError, match=message):
        create_sampler("scsampler", input_dim=8, num_classes=3, **options)
