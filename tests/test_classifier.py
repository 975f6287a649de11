import pytest
import torch

from framesampler.classifiers.consensus import consensus_probs
from framesampler.classifiers.frozen import cached_classifier, dense_scores, load_head, save_classifier, train_classifier
from framesampler.data.features import load_feature_file, trimmed_videos


def test_consensus_rules_hand_checked():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    assert torch.allclose(consensus_probs(logits, "avg_logits"), torch.softmax(torch.tensor([1.0, 0.0]), 0))
    assert torch.allclose(consensus_probs(logits, "max"), torch.softmax(torch.tensor([2.0, 0.0]), 0))
    expected = (torch.softmax(logits[0], 0) + torch.tensor([0.5, 0.5])) / 2
    assert torch.allclose(consensus_probs(logits, "avg_probs"), expected)
    with pytest.raises(ValueError, match="unknown consensus"):
        consensus_probs(logits, "median")


@pytest.fixture
def trained(small_features):
    source = load_feature_file(small_features)
    return source, train_classifier(trimmed_videos(source, [1, 2, 3], "train"), epochs=15, seed=0)


def test_classifier_learns_chooses_a_head_and_is_frozen(trained):
    source, model = trained
    top1, _ = dense_scores(model, trimmed_videos(source, [1, 2, 3], "test"))
    assert top1 == 1.0
    assert model.config.head in ("linear", "mlp") and set(model.config.report["validation_top1"]) == {"linear", "mlp"}
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_classifier_round_trips_and_the_cache_trains_once(tmp_path, trained):
    source, model = trained
    frames = source.features[:2]
    loaded = load_head(save_classifier(model, tmp_path / "clf"))
    assert loaded.config == model.config
    assert torch.equal(loaded.video_log_probs(frames), model.video_log_probs(frames))
    calls = []
    first = cached_classifier(tmp_path, {"k": 1}, lambda: calls.append(1) or model)
    second = cached_classifier(tmp_path, {"k": 1}, lambda: calls.append(1) or model)
    assert calls == [1] and torch.equal(first.frame_logits(frames), second.frame_logits(frames))
    with pytest.raises(FileNotFoundError, match="not a saved classifier"):
        load_head(tmp_path / "nothing")


def test_classifier_refuses_features_of_the_wrong_size(trained):
    _, model = trained
    with pytest.raises(ValueError, match="takes 16-d frame features, got 8-d"):
        model.frame_logits(torch.zeros(3, 8))


def test_nothing_non_finite_is_cached(tmp_path, trained):
    """Issue 10, case 3: a classifier with NaN weights is never cached; one cached by an older version is
    trained again."""
    source, model = trained
    broken = load_head(save_classifier(model, tmp_path / "copy"))
    with torch.no_grad():
        broken.head[-1].bias[0] = float("nan")
    with pytest.raises(ValueError, match=r"non-finite \(NaN/inf\) weights"):
        cached_classifier(tmp_path, {"k": 2}, lambda: broken)
    assert not (tmp_path / "classifiers").exists() or not any((tmp_path / "classifiers").iterdir())
    first = cached_classifier(tmp_path, {"k": 3}, lambda: model)
    (directory,) = (tmp_path / "classifiers").iterdir()
    weights = first.state_dict()
    weights[next(k for k in reversed(weights) if k.endswith("bias"))] = torch.full_like(first.head[-1].bias, float("nan"))
    torch.save(weights, directory / "weights.pt")
    calls = []
    again = cached_classifier(tmp_path, {"k": 3}, lambda: calls.append(1) or model)
    assert calls == [1] and all(v.isfinite().all() for v in again.state_dict().values())
    assert all(v.isfinite().all() for v in load_head(directory).state_dict().values())
