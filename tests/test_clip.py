"""The frozen clip classifier whose frames interact, pi_o under it (exhaustive vs search), the experiments'
Tables 1-2 sections with it, and its use in training."""
import itertools
import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from framesampler.candidates import Candidates
from framesampler.classifiers.clip import ClipClassifier, load_clip_classifier
from framesampler.classifiers.frozen import ClassifierConfig, save_classifier
from framesampler.classifiers.saved import any_classifier_from_saved
from framesampler.cli import main
from framesampler.learned import TrainingBatch
from framesampler.learned.sosampler import scaled_margin
from framesampler.policies import Context, create_sampler
from framesampler.policies.optimal import exhaustive_subset, search_subset
from tests.conftest import CI


def clip_classifier(seed=0, d=6, classes=3):
    torch.manual_seed(seed)
    config = ClassifierConfig(input_dim=d, class_ids=list(range(classes)), class_names=[f"c{i}" for i in range(classes)],
                              head="transformer", hidden=8, dropout=0.0, consensus="clip", layers=1, heads=2)
    return ClipClassifier(config).freeze()


def test_frames_interact_and_a_frame_alone_is_a_one_frame_clip():
    model = clip_classifier()
    frames = torch.rand(2, 3, 6)
    assert model.video_log_probs(frames).shape == (2, 3)
    assert torch.allclose(model.frame_logits(frames[:, 0]), model.clip_logits(frames[:, :1]))
    swapped = frames[:, [1, 0, 2]]  # the order matters (places are encoded): not a symmetric consensus
    assert not torch.allclose(model.clip_logits(frames), model.clip_logits(swapped))
    mean_of_frames = torch.log_softmax(model.frame_logits(frames), -1).exp().mean(1)
    assert not torch.allclose(model.video_log_probs(frames).exp(), mean_of_frames, atol=1e-3)
    with pytest.raises(ValueError, match="zero frames"):
        model.clip_logits(torch.zeros(1, 0, 6))
    with pytest.raises(ValueError, match="6-d"):
        model.clip_logits(torch.zeros(1, 2, 5))


def test_macs_count_the_linear_layers_and_the_attention_products():
    model = clip_classifier()
    d, w, k, c = 6, 8, 4, 3
    linear = k * (d * w + 3 * w * w + w * w + 2 * 4 * w * w) + c * w  # projection, qkv, out, MLP; the classifier once
    assert model.macs(k) == linear + 2 * k * k * w


def test_save_and_load_round_trip(tmp_path):
    model = clip_classifier(seed=3)
    loaded = load_clip_classifier(save_classifier(model, tmp_path / "clip"))
    frames = torch.rand(2, 4, 6)
    assert torch.equal(model.clip_logits(frames), loaded.clip_logits(frames)) and loaded.layers == 1
    rebuilt = any_classifier_from_saved(asdict(model.config), model.state_dict())  # as a checkpoint embeds it
    assert isinstance(rebuilt, ClipClassifier) and torch.equal(rebuilt.clip_logits(frames), model.clip_logits(frames))


def brute_force(value, t, n):
    subsets = np.array(list(itertools.combinations(range(t), n)))
    return subsets[int(np.argmax(value(subsets).numpy()))]


@pytest.mark.parametrize("t, n", [(6, 2), (7, 3), (8, 5)])
def test_exhaustive_pi_o_is_the_brute_force_argmax_and_search_is_never_better(t, n):
    model, frames = clip_classifier(t), torch.rand(t, 6)
    score = model.subset_log_probs(frames, model.frame_logits(frames))

    def value(subsets):
        return score(torch.from_numpy(subsets))[:, 1]

    exact = exhaustive_subset(value, t, n, chunk=7)
    assert exact.tolist() == brute_force(value, t, n).tolist()
    found = search_subset(value, t, n)
    assert len(set(found.tolist())) == n and value(found[None])[0] <= value(exact[None])[0] + 1e-6


def test_pi_s_is_not_pi_o_under_interaction():
    # a value where the two frames best alone (0 and 1) are redundant together: the best pair is {0, 2}
    alone = np.array([5.0, 4.9, 3.0, 0.0])

    def value(subsets):
        return torch.tensor([alone[s].sum() - 4.0 * (0 in s and 1 in s) for s in subsets])

    assert exhaustive_subset(value, 4, 2).tolist() == [0, 2]
    assert sorted(np.argsort(-alone)[:2].tolist()) == [0, 1]  # pi_s


def test_oracle_under_a_clip_classifier_uses_the_classifier_on_subsets():
    model, frames = clip_classifier(1), torch.rand(8, 6)
    logits = model.frame_logits(frames)
    context = Context(frame_logits=logits, label=2, consensus="clip",
                      video_log_probs=model.subset_log_probs(frames, logits))
    picked = create_sampler("oracle").select(Candidates.of_length(8), 3, context=context)
    value = lambda s: context.video_log_probs(torch.from_numpy(s))[:, 2]  # noqa: E731
    assert picked.tolist() == brute_force(value, 8, 3).tolist()
    with pytest.raises(ValueError, match="video_log_probs"):
        create_sampler("oracle").select(Candidates.of_length(8), 3, context=Context(frame_logits=logits, label=2,
                                                                                   consensus="clip"))


def test_training_batches_score_subsets_with_the_clip_classifier():
    model, frames = clip_classifier(2), torch.rand(2, 5, 6)

    def clip_log_probs(positions):
        return model.video_log_probs(frames.gather(1, positions[..., None].expand(-1, -1, 6)))

    batch = TrainingBatch(torch.rand(2, 5, 4), model.frame_logits(frames), torch.tensor([0, 1]), "clip", clip_log_probs)
    positions = torch.tensor([[3, 1], [0, 4]])
    assert torch.allclose(batch.video_probs(positions), model.video_log_probs(frames[[[0], [1]], [[1, 3], [0, 4]]]).exp())
    sampler = create_sampler("ocsampler", input_dim=4, num_classes=3, width=4, N=2)
    assert torch.isfinite(sampler.loss(batch)["loss"])
    adaframe = create_sampler("adaframe", input_dim=4, num_classes=3, width=4, K=2, reward="classifier", frame_vector="cheap")
    with pytest.raises(ValueError, match="reward='agent'"):
        adaframe.loss(batch)


def test_the_ranking_margin_scaled_to_the_papers_total_at_t10():
    assert scaled_margin(0.01, 10, "pairs") == pytest.approx(0.01)
    assert scaled_margin(0.01, 30, "pairs") == pytest.approx(0.01 * 45 / 435)
    assert scaled_margin(0.01, 30, "none") == 0.01
    with pytest.raises(ValueError, match="margin_scale"):
        create_sampler("sosampler", input_dim=4, num_classes=3, margin_scale="T")


@pytest.mark.slow
def test_tables_1_and_2_with_the_clip_classifier(tmp_path, small_features):
    out = tmp_path / "out"
    which = "table2" if CI else "table1,table2"  # about 5 minutes for both on 2 busy cores
    args = ["experiments", "--features", str(small_features), "--which", which, "--seeds", "1",
            "--length", "32", "--classifier", "clip", "--out", str(out), "--cache-dir", str(tmp_path / "cache"),
            "--no-progress"]
    assert main(args) == 0
    results = json.loads((out / "experiments.json").read_text())
    assert results["config"]["classifier"] == "clip"
    if not CI:
        small = results["table1"]["6/10"]
        assert small["oracle"]["fidelity"] == 1.0 and small["oracle"]["top1"] >= small["oracle (search)"]["top1"] - 1e-9
        assert small["dense"]["gmacs"] > small["uniform"]["gmacs"] > 0
        assert small["semi_optimal_max"]["sampler_gmacs"] == pytest.approx(10 * small["uniform"]["gmacs"] / 6, rel=0.05)
    assert set(results["table2"]) == {f"{n}/10" for n in range(1, 7)}
    assert results["table2"]["1/10"]["random"]["frames"] == 1.0
    assert "classifier: clip" in (out / "experiments.md").read_text()
