"""AdaFrame's equations on hand-computed cases, its adaptive lookahead stop, select's contract, options."""
import math

import numpy as np
import pytest
import torch

import framesampler.learned.adaframe  # noqa: F401  (registration, until learned/__init__ imports it)
from framesampler import Candidates, Context, create_sampler
from framesampler.candidates import Reads
from framesampler.classifiers.consensus import consensus_probs
from framesampler.learned import TrainingBatch
from framesampler.learned.adaframe import (
    default_patience,
    discounted_returns,
    location_to_index,
    lookahead_stop,
    margin_rewards,
    memory_attention,
    memory_positions,
    policy_loss,
    prediction_margins,
    seen_consensus_probs,
    utility_loss,
    utility_stop,
)


def small(**options):
    """A tiny AdaFrame; v_t from the candidates' own features and a 6-unit LSTM unless asked otherwise."""
    return create_sampler("adaframe", **{"input_dim": 8, "num_classes": 3, "width": 4, "dropout": 0.0,
                                         "frame_vector": "cheap", "lstm_width": 6, **options})


def test_eq4_reward_is_the_gain_over_the_best_earlier_margin():
    margins = torch.tensor([[0.1, -0.2, 0.3, 0.25, 0.6]])
    # best before: -, .1, .1, .3, .3 -> gains: 0 (first step), max(0, -.3), .2, max(0, -.05), .3
    assert margin_rewards(margins)[0].tolist() == pytest.approx([0.0, 0.0, 0.2, 0.0, 0.3])


def test_margin_is_true_class_over_best_other():
    probs = torch.tensor([[[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]])
    assert prediction_margins(probs, torch.tensor([1]))[0].tolist() == pytest.approx([0.3 - 0.5, 0.6 - 0.3])
    assert prediction_margins(probs, torch.tensor([0]))[0].tolist() == pytest.approx([0.5 - 0.3, 0.1 - 0.6])


def test_discounted_returns_gamma_0_9_by_hand():
    rewards = torch.tensor([[0.0, 0.0, 0.2, 0.0, 0.3]])
    # R5 = .3; R4 = .9 * .3 = .27; R3 = .2 + .9 * .27 = .443; R2 = .3987; R1 = .35883
    assert discounted_returns(rewards, 0.9)[0].tolist() == pytest.approx([0.35883, 0.3987, 0.443, 0.27, 0.3])


def test_location_to_index_rounds_and_clamps():
    locations = torch.tensor([0.0, 1.0, 0.1, 0.51, -0.3, 1.2])
    # round(l * 29): 0, 29, 2.9 -> 3, 14.79 -> 15; out of [0, 1] clamps to the ends
    assert location_to_index(locations, 30).tolist() == [0, 29, 3, 15, 0, 29]
    assert location_to_index(torch.tensor([0.5]), 31).tolist() == [15]


def test_memory_positions_spread_uniformly():
    assert memory_positions(30, 5).tolist() == [3, 9, 15, 21, 27]
    assert memory_positions(4, 16).tolist() == [0, 1, 2, 3]  # never more memory frames than candidates


def test_eq1_memory_attention_is_a_softmax_over_the_memory():
    query, keys = torch.tensor([[1.0, 0.0]]), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    assert memory_attention(query, keys)[0].tolist() == pytest.approx([math.e / (1 + math.e), 1 / (1 + math.e)])
    torch.manual_seed(0)
    weights = memory_attention(torch.randn(3, 8), torch.randn(3, 5, 8))
    assert weights.shape == (3, 5) and torch.allclose(weights.sum(-1), torch.ones(3)) and (weights >= 0).all()


def test_eq9_policy_loss_uses_the_utility_as_a_detached_baseline():
    log_probs = torch.tensor([[1.0, 2.0]], requires_grad=True)
    utilities = torch.tensor([[0.2, 0.3]], requires_grad=True)
    loss = policy_loss(log_probs, torch.tensor([[0.5, 0.1]]), utilities)
    assert loss.item() == pytest.approx(-(1.0 * 0.3 + 2.0 * -0.2))
    loss.backward()
    assert utilities.grad is None or not utilities.grad.any()
    assert log_probs.grad[0].tolist() == pytest.approx([-0.3, 0.2])


def test_eq7_utility_loss_by_hand():
    assert utility_loss(torch.tensor([[0.5, 0.1]]), torch.tensor([[0.2, 0.3]])).item() == pytest.approx(0.065)


@pytest.mark.parametrize("kind", ["avg_logits", "avg_probs", "max"])
def test_classifier_prediction_counts_each_frame_looked_at_once(kind):
    torch.manual_seed(0)
    logits = torch.randn(1, 6, 4)
    probs = seen_consensus_probs(logits, torch.tensor([[2, 5, 2, 0]]), kind)
    for step, seen in enumerate([[2], [2, 5], [2, 5], [0, 2, 5]]):
        assert torch.allclose(probs[0, step], consensus_probs(logits[0, seen], kind), atol=1e-6)


def test_default_patience_is_k_half_plus_one_as_written_and_the_floor_as_the_earlier_reading():
    """Algorithm 2: p = K/2 + 1 if mu < 0.7 else K, and the loop runs while c < p. For odd K (AdaFrame-3 and -5 in
    the paper) the real half makes the integer counter stop one count later than K // 2 + 1."""
    assert default_patience(8, 0.5) == 5 and default_patience(8, 0.2) == 5 == default_patience(8, 0.2, "floor")
    assert default_patience(8, 0.7) == 8 and default_patience(9, 1.01) == 9 == default_patience(9, 1.01, "floor")
    assert default_patience(5, 0.5) == 3.5 and default_patience(5, 0.5, "floor") == 3
    assert default_patience(3, 0.2) == 2.5 and default_patience(3, 0.2, "floor") == 2
    drops = torch.tensor([0.9, 0.0, 0.0, 0.0, 0.0])  # after V^max = .9 every step drops by .9 > mu: c = 1, 2, 3, 4
    assert utility_stop(drops, 0.5, default_patience(5, 0.5)) == 5  # c < 3.5 until c = 4, after step 5
    assert utility_stop(drops, 0.5, default_patience(5, 0.5, "floor")) == 4  # c reaches 3 after step 4
    below = torch.tensor([-1.0, -1.0, -1.0])  # V^max stays 0: every step counts (AdaFrame-3)
    assert utility_stop(below, 0.5, default_patience(3, 0.5)) == 3 > utility_stop(below, 0.5, default_patience(3, 0.5, "floor")) == 2
    with pytest.raises(ValueError, match="unknown patience_rule"):
        default_patience(5, 0.5, "round")


def test_algorithm2_counts_drops_of_more_than_mu_below_the_running_max():
    # V^max starts at 0: .5 (max .5), .2 (drop .3), .45 (drop .05), .1 (drop .4), .3 (drop .2), .0 (drop .5)
    utility = torch.tensor([0.5, 0.2, 0.45, 0.1, 0.3, 0.0, 0.6, 0.6])
    assert utility_stop(utility, 0.25, 2) == 4  # counted at steps 2 and 4: c reaches p = 2 after step 4
    assert utility_stop(utility, 0.25, 3) == 6  # the third count is at step 6
    assert utility_stop(utility, 0.35, 2) == 6  # only the drops .4 (step 4) and .5 (step 6) exceed .35
    assert utility_stop(utility, 0.7, 8) == 8  # no drop exceeds .7: all K steps
    assert utility_stop(torch.tensor([-0.3, 0.1, 0.2]), 0.2, 1) == 1  # the first step is compared with V^max = 0


def test_adaptive_inference_stops_by_utility_and_predicts_with_f_p():
    sampler = small(selection="gaussian", threshold=0.2)
    for layer in (sampler.selection, sampler.utility, sampler.prediction):
        torch.nn.init.zeros_(layer.weight)
    with torch.no_grad():
        sampler.selection.bias.fill_(10.0)  # after the first look (l = 0: candidate 0), look at the last one
        sampler.utility.bias.fill_(-1.0)  # V_t = -1 at every step: 0 - (-1) > mu, one count per step
        sampler.prediction.bias.copy_(torch.tensor([0.0, 2.0, 0.0]))
    candidates = Candidates.of_length(11, features=np.random.default_rng(0).random((11, 8)))
    selection = sampler.choose(candidates, 6)  # K = 6: p = K // 2 + 1 = 4 counts, so 4 steps
    assert selection.positions.tolist() == [0, 10]
    assert selection.prediction.tolist() == pytest.approx(torch.softmax(torch.tensor([0.0, 2.0, 0.0]), 0).tolist())
    sampler.options["patience"] = 1
    assert sampler.select(candidates, 6).tolist() == [0]  # stops after the first step
    sampler.options["prediction"] = "classifier"
    assert sampler.choose(candidates, 6).prediction is None  # the frozen classifier decides


def test_defaults_are_the_papers():
    options = small().options
    assert (options["selection"], options["reward"], options["memory_frames"], options["first_location"],
            options["location_std"], options["stop"], options["prediction"]) == \
        ("gaussian", "agent", 16, 0.0, 0.1, "utility", "agent")


def test_lookahead_stops_at_the_first_confident_step():
    confidence = torch.tensor([0.3, 0.8, 0.9, 0.95])
    utility = torch.tensor([0.5, 0.6, 0.7, 0.8])
    assert lookahead_stop(confidence, utility, 0.5, 3) == 2
    assert lookahead_stop(confidence, utility, 0.85, 3) == 3
    assert lookahead_stop(confidence, utility, 1.01, 4) == 4  # mu above 1: all K


def test_lookahead_stops_when_the_utility_has_not_risen_for_p_steps():
    confidence = torch.full((8,), 0.3)
    falling = torch.tensor([0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2])
    # the best utility is at step 1; steps 2, 3, 4 do not beat it: stop after step 4 with p = 3
    assert lookahead_stop(confidence, falling, 0.9, 3) == 4
    rising = torch.tensor([0.5, 0.4, 0.6, 0.2, 0.1, 0.0, 0.7, 0.0])  # new best at step 3, none in 4-6
    assert lookahead_stop(confidence, rising, 0.9, 3) == 6
    # p = K (mu >= 0.7) never stops on the utility within K steps
    assert lookahead_stop(confidence, falling, 0.9, default_patience(8, 0.9)) == 8


def test_loss_is_the_sum_of_its_parts_and_trains_every_head():
    torch.manual_seed(0)
    batch = TrainingBatch(torch.rand(4, 7, 8), torch.randn(4, 7, 3), torch.tensor([0, 1, 2, 0]), "avg_logits")
    for selection in ("pointer", "gaussian"):
        for reward in ("classifier", "agent"):
            sampler = small(K=3, memory_frames=4, selection=selection, reward=reward, episodes=2)
            losses = sampler.loss(batch)
            assert losses["loss"].item() == pytest.approx(
                losses["L_cls"].item() + losses["L_sel"].item() + losses["L_utl"].item(), rel=1e-5)
            losses["loss"].backward()
            for head in (sampler.selection, sampler.utility, sampler.prediction, sampler.memory_query):
                assert head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("selection", ["pointer", "gaussian"])
def test_select_returns_at_most_n_sorted_unique_positions(selection):
    torch.manual_seed(0)
    sampler = small(selection=selection, threshold=1.01)
    rng = np.random.default_rng(0)
    for t, n in [(10, 4), (10, 10), (5, 8), (30, 8), (1, 1)]:
        picked = sampler.select(Candidates.of_length(t, features=rng.random((t, 8))), n)
        assert picked.dtype == np.int64 and len(picked) <= min(n, t)
        assert (np.diff(picked) > 0).all() and ((picked >= 0) & (picked < t)).all()
    assert len(sampler.select(Candidates.of_length(10, features=rng.random((10, 8))), 0)) == 0


def test_repeated_looks_count_once_and_a_confident_agent_stops_early():
    sampler = small(selection="gaussian", threshold=1.01, first_location=0.5)
    torch.nn.init.zeros_(sampler.selection.weight)
    torch.nn.init.zeros_(sampler.selection.bias)  # location sigmoid(0) = 0.5 at every step
    candidates = Candidates.of_length(11, features=np.random.default_rng(0).random((11, 8)))
    assert sampler.select(candidates, 6).tolist() == [5]
    confident = small(threshold=0.5, stop="confidence")
    torch.nn.init.zeros_(confident.prediction.weight)
    with torch.no_grad():
        confident.prediction.bias.copy_(torch.tensor([10.0, 0.0, 0.0]))  # f_p is sure from the first step
    assert len(confident.select(candidates, 6)) == 1


def test_agreement_stops_only_when_the_frozen_classifier_backs_the_agents_class():
    sampler = small(selection="gaussian", stop="confidence", confidence="agreement", threshold=0.6, first_location=0.5)
    torch.nn.init.zeros_(sampler.selection.weight)
    torch.nn.init.zeros_(sampler.prediction.weight)
    with torch.no_grad():
        sampler.selection.bias.fill_(10.0)  # after the first (middle) frame, look at the last one
        sampler.prediction.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))  # f_p: class 0 at 0.987 from the start
    candidates = Candidates.of_length(11, features=np.random.default_rng(0).random((11, 8)))
    backs, disagrees = torch.zeros(11, 3), torch.zeros(11, 3)
    backs[5] = torch.tensor([5.0, 0.0, 0.0])  # the classifier on the first frame looked at: class 0 at 0.987
    disagrees[5] = torch.tensor([0.0, 5.0, 0.0])  # sure too, but of class 1: class 0 gets 0.007
    assert sampler.select(candidates, 4, context=Context(frame_logits=backs)).tolist() == [5]
    assert sampler.select(candidates, 4, context=Context(frame_logits=disagrees)).tolist() == [5, 10]
    with pytest.raises(ValueError, match="frame_logits"):
        sampler.select(candidates, 4)
    agent = small(selection="gaussian", stop="confidence", threshold=0.6, first_location=0.5)
    agent.load_state_dict(sampler.state_dict())
    assert agent.select(candidates, 4).tolist() == [5]  # f_p alone is sure at once


def test_threshold_is_settable_and_survives_a_rebuild_from_options():
    torch.manual_seed(0)
    sampler = small(memory_frames=5)
    sampler.threshold = 0.2
    rebuilt = create_sampler("adaframe", **sampler.options)
    rebuilt.load_state_dict(sampler.state_dict())
    candidates = Candidates.of_length(12, features=np.random.default_rng(1).random((12, 8)))
    assert rebuilt.threshold == 0.2
    assert rebuilt.select(candidates, 5).tolist() == sampler.select(candidates, 5).tolist()
    with pytest.raises(ValueError, match="threshold"):
        sampler.threshold = 0.0


def test_a_sequential_agent_has_no_scores_and_its_selection_says_so():
    candidates = Candidates.of_length(4, features=np.zeros((4, 8)))
    assert small().scores(candidates) is None and small().choose(candidates, 2).scores is None


@pytest.mark.parametrize("options, match", [
    (dict(K=0), "K, memory_frames and episodes"),
    (dict(memory_frames=0), "K, memory_frames and episodes"),
    (dict(episodes=0), "K, memory_frames and episodes"),
    (dict(selection="uniform"), "unknown selection"),
    (dict(reward="label"), "unknown reward"),
    (dict(confidence="label"), "unknown confidence"),
    (dict(stop="entropy"), "unknown stop"),
    (dict(prediction="oracle"), "unknown prediction"),
    (dict(patience=0), "patience"),
    (dict(patience_rule="ceil"), "unknown patience_rule"),
    (dict(frame_vector="memory"), "unknown frame_vector"),
    (dict(lstm_width=-1), "lstm_width must be an integer"),
    (dict(frame_dim=2.5), "frame_dim must be an integer"),
    (dict(gamma=1.5), "gamma"),
    (dict(location_std=0.0), "location_std"),
    (dict(first_location=2.0), "first_location"),
    (dict(policy_weight=-1.0), "policy_weight"),
    (dict(threshold=-0.1), "threshold"),
])
def test_bad_options_raise(options, match):
    with pytest.raises(ValueError, match=match):
        small(**options)


def test_bad_stop_arguments_raise():
    with pytest.raises(ValueError, match="threshold must be > 0"):
        lookahead_stop(torch.ones(3), torch.ones(3), 0.0, 2)
    with pytest.raises(ValueError, match="patience >= 1"):
        lookahead_stop(torch.ones(3), torch.ones(3), 0.5, 0)


class Recorder(torch.nn.Module):
    """Stands in for AdaFrame's v_t projection: keeps each v_t it is given and returns zeros of the LSTM's width."""

    def __init__(self, in_features: int, width: int) -> None:
        super().__init__()
        self.seen, self.width = [], width
        self.register_buffer("marker", torch.zeros(in_features))  # the width the sampler checks

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        self.seen.append(v.detach().clone())
        return v.new_zeros(len(v), self.width)

    def __getitem__(self, index: int) -> torch.nn.Module:
        return torch.nn.Linear(len(self.marker), self.width)


def test_v_t_is_the_classifiers_vector_of_the_frame_looked_at_eq1():
    """Eq. 1's v_t is the expensive backbone's feature of the frame looked at (``frame_vectors``, 5-d here), not
    f_s's cheap input (8-d); the earlier reading (``frame_vector="cheap"``) feeds the cheap vector."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    features, vectors = rng.random((11, 8)), rng.random((11, 5))
    candidates = Candidates.of_length(11, features=features, frame_vectors=vectors)
    for reading, dim, table in (("classifier", 5, vectors), ("cheap", 8, features)):
        sampler = small(frame_vector=reading, frame_dim=5, selection="gaussian", threshold=1.01, first_location=0.5)
        assert (Reads.FRAME_VECTORS in sampler.reads) == (reading == "classifier")
        torch.nn.init.zeros_(sampler.selection.weight)
        torch.nn.init.zeros_(sampler.selection.bias)  # look at the middle candidate, 5, at every step
        sampler.frame_projection = Recorder(dim, 4)
        assert sampler.select(candidates, 3).tolist() == [5]
        assert len(sampler.frame_projection.seen) == 3
        for v in sampler.frame_projection.seen:
            np.testing.assert_allclose(v[0].numpy(), table[5], rtol=1e-6)
    with pytest.raises(ValueError, match="frozen classifier's vector of each candidate"):
        small(frame_vector="classifier", frame_dim=5).select(Candidates.of_length(11, features=features), 3)
    with pytest.raises(ValueError, match="frame_vectors are 5-d, but this adaframe reads 8-d"):
        small(frame_vector="classifier").select(candidates, 3)  # no frame_dim: built for 8-d v_t


def test_the_training_batch_brings_v_t_and_the_data_its_width():
    from framesampler.learned.adaframe import AdaFrame

    torch.manual_seed(0)
    batch = TrainingBatch(torch.rand(2, 6, 8), torch.randn(2, 6, 3), torch.tensor([0, 2]), "avg_logits",
                          frame_vectors=torch.rand(2, 6, 5))
    sampler = small(frame_vector="classifier", frame_dim=5, K=3, memory_frames=4)
    sampler.loss(batch)["loss"].backward()
    assert sampler.frame_projection[1].weight.grad.shape == (4, 5) and sampler.frame_projection[1].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="TrainingBatch.frame_vectors"):
        sampler.loss(TrainingBatch(batch.features, batch.frame_logits, batch.labels, "avg_logits"))
    inputs = {Reads.FEATURES: 112, Reads.FRAME_VECTORS: 1280}
    assert AdaFrame.data_options({"input_dim": 112}, inputs)["frame_dim"] == 1280
    assert "frame_dim" not in AdaFrame.data_options({"input_dim": 112, "frame_vector": "cheap"}, inputs)


def test_paper_defaults_lstm_2048_classifier_v_t_and_the_earlier_readings():
    """Sec. 4.1: a one-layer LSTM of 2,048 hidden units (FCVID, whose recipe is the default); v_t the classifier's."""
    sampler = create_sampler("adaframe", input_dim=8, num_classes=3)
    assert sampler.lstm.hidden_size == 2048 and sampler.options["frame_vector"] == "classifier"
    assert sampler.options["patience_rule"] == "half"
    earlier = create_sampler("adaframe", input_dim=8, num_classes=3, lstm_width=0, frame_vector="cheap")
    assert earlier.lstm.hidden_size == 256 == earlier.options["width"]  # the LSTM as wide as the encoder


def test_a_checkpoint_saved_before_the_options_existed_loads_with_the_earlier_readings(tmp_path):
    """An old config.json has no frame_vector, lstm_width or patience_rule: it loads as cheap v_t, an LSTM as wide as
    the encoder and K // 2 + 1, and picks as it did."""
    import json

    from framesampler.classifiers.frozen import ClassifierConfig, FrameClassifier
    from framesampler.learned.checkpoint import read_checkpoint, save_checkpoint

    torch.manual_seed(0)
    old = small(lstm_width=0, patience_rule="floor", threshold=0.5, K=5)
    classifier = FrameClassifier(ClassifierConfig(input_dim=8, class_ids=[1, 2, 3], class_names=["a", "b", "c"]))
    directory = save_checkpoint(old, tmp_path / "old", T=11, N=5, classifier=classifier)
    config = json.loads((directory / "config.json").read_text())
    for key in ("frame_vector", "lstm_width", "patience_rule", "frame_dim"):
        config["options"].pop(key)
    (directory / "config.json").write_text(json.dumps(config))
    loaded = read_checkpoint(directory).sampler
    assert {k: loaded.options[k] for k in ("frame_vector", "lstm_width", "patience_rule")} == \
        {"frame_vector": "cheap", "lstm_width": 0, "patience_rule": "floor"}
    assert loaded.lstm.hidden_size == 4
    candidates = Candidates.of_length(11, features=np.random.default_rng(2).random((11, 8)))
    assert loaded.select(candidates, 5).tolist() == old.eval().select(candidates, 5).tolist()
    saved = json.loads((save_checkpoint(loaded, tmp_path / "new", T=11, N=5, classifier=classifier)
                        / "config.json").read_text())
    assert saved["options"]["frame_vector"] == "cheap" and saved["options"]["lstm_width"] == 0  # recorded now
