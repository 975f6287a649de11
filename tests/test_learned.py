"""SOSampler's and OCSampler's equations on hand-computed cases, checkpoints, and training resume."""
import itertools
import json
import math

import numpy as np
import pytest
import torch

from framesampler import Candidates, create_sampler
from framesampler.classifiers.frozen import train_classifier
from framesampler.data.features import load_feature_file, trimmed_videos
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos
from framesampler.learned import TrainingBatch, TrainSettings, load_checkpoint, save_checkpoint, train_sampler
from framesampler.learned.ocsampler import order_log_prob, set_log_prob
from framesampler.learned.sosampler import pairwise_ranking_loss, teacher_confidence


def test_eq3_ranking_loss_hand_computed():
    student = torch.tensor([[0.5, 0.3, 0.2]])
    teacher = torch.tensor([[0.1, 0.6, 0.3]])
    # teacher order: 1 > 2 > 0. Pairs (p_i > p_j): (1,0): 0.3-0.5=-0.2 -> max(0, .1+.2)=.3;
    # (2,0): 0.2-0.5=-0.3 -> .4; (1,2): 0.3-0.2=.1 -> max(0, .1-.1)=0.  Sum = 0.7
    assert pairwise_ranking_loss(student, teacher, 0.1).item() == pytest.approx(0.7)
    # weighted by |p_i - p_j|: .5*.3 + .2*.4 + .3*0 = 0.23
    assert pairwise_ranking_loss(student, teacher, 0.1, weighted=True).item() == pytest.approx(0.23)
    # ties in the teacher make no pair
    assert pairwise_ranking_loss(student, torch.tensor([[0.2, 0.2, 0.2]]), 0.1).item() == 0.0


def test_teacher_confidence_label_and_max():
    logits = torch.log(torch.tensor([[[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]]))
    assert teacher_confidence(logits, torch.tensor([1]), "label").tolist()[0] == pytest.approx([0.2, 0.3])
    assert teacher_confidence(logits, torch.tensor([1]), "max").tolist()[0] == pytest.approx([0.7, 0.6])


def test_eq4_total_loss_is_the_lambda_mix():
    torch.manual_seed(0)
    batch = TrainingBatch(torch.rand(2, 5, 8), torch.randn(2, 5, 3), torch.tensor([0, 2]), "avg_logits")
    for lam in (0.0, 0.3, 0.99, 1.0):
        sampler = create_sampler("sosampler", input_dim=8, num_classes=3, width=4, dropout=0.0, lam=lam)
        losses = sampler.loss(batch)
        assert losses["loss"].item() == pytest.approx(lam * losses["L_SO"].item() + (1 - lam) * losses["L_LG"].item())


class FixedFrameClassifier(torch.nn.Module):
    """h_c replaced by given per-frame logits [B, T, C], whatever the encoder gives."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.logits


@pytest.mark.parametrize(("label_guidance", "expected"), [("probs", -math.log(0.7)), ("logits", -math.log(0.75))])
def test_eq7_label_guidance_averages_the_softmax_outputs(label_guidance, expected):
    # Lee et al. App. A.1: h_c is a linear projection *followed by a softmax*, averaged over T (Eq. 7). Two frames with
    # class probabilities (0.9, 0.1) and (0.5, 0.5), label 0: the mean of the probabilities is (0.7, 0.3), so
    # L_LG = -ln 0.7; averaging the logits instead (the earlier reading) gives softmax(ln 3, 0) = (0.75, 0.25).
    batch = TrainingBatch(torch.rand(1, 2, 8), torch.randn(1, 2, 2), torch.tensor([0]), "avg_logits")
    sampler = create_sampler("sosampler", input_dim=8, num_classes=2, width=4, dropout=0.0, label_guidance=label_guidance)
    sampler.frame_classifier = FixedFrameClassifier(torch.tensor([[[math.log(0.9), math.log(0.1)], [0.0, 0.0]]]))
    assert sampler.loss(batch)["L_LG"].item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("so_loss", ["mse", "kl"])
def test_ablation_losses_vanish_when_the_student_matches_the_teacher(so_loss):
    sampler = create_sampler("sosampler", input_dim=4, num_classes=2, width=4, dropout=0.0, so_loss=so_loss,
                             lam=1.0, temperature=1.0)
    for p in sampler.parameters():
        torch.nn.init.zeros_(p)
    batch = TrainingBatch(torch.rand(1, 3, 4), torch.zeros(1, 3, 2), torch.tensor([0]), "avg_logits")
    assert sampler.loss(batch)["loss"].item() == pytest.approx(0.0, abs=1e-7)  # uniform student = uniform teacher


def test_set_log_prob_hand_computed_and_equal_to_enumeration():
    log_pi = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    # P({0, 1}) = P(0 then 1) + P(1 then 0) = .5 * .3/.5 + .3 * .5/.7
    assert set_log_prob(log_pi, torch.tensor([[1, 0]])).exp().item() == pytest.approx(0.3 + 0.15 / 0.7)
    torch.manual_seed(1)
    t, n = 6, 3
    log_pi = torch.log_softmax(torch.randn(1, t), -1)
    pi = log_pi.exp()[0].tolist()
    for subset in itertools.combinations(range(t), n):
        enumerated = 0.0
        for order in itertools.permutations(subset):
            p, left = 1.0, 1.0
            for k in order:
                p, left = p * pi[k] / left, left - pi[k]
            enumerated += p
        assert set_log_prob(log_pi, torch.tensor([subset])).exp().item() == pytest.approx(enumerated, rel=1e-5)
    total = sum(set_log_prob(log_pi, torch.tensor([s])).exp().item() for s in itertools.combinations(range(t), n))
    assert total == pytest.approx(1.0, rel=1e-5)


def test_order_log_prob_is_plackett_luce():
    log_pi = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    assert order_log_prob(log_pi, torch.tensor([[2, 0]])).exp().item() == pytest.approx(0.2 * 0.5 / 0.8)


@pytest.mark.parametrize("mode", ["exact", "sorted", "sampled"])
def test_ocsampler_loss_runs_at_every_set_log_prob_mode(mode):
    torch.manual_seed(0)
    sampler = create_sampler("ocsampler", input_dim=8, num_classes=3, width=4, N=3, set_log_prob=mode)
    losses = sampler.loss(TrainingBatch(torch.rand(4, 7, 8), torch.randn(4, 7, 3), torch.tensor([0, 1, 2, 0]), "avg_logits"))
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"]) and sampler.policy_head.weight.grad.abs().sum() > 0


def test_ocsampler_uses_an_approximation_at_large_n():
    sampler = create_sampler("ocsampler", input_dim=8, num_classes=3, width=4, N=32)
    assert sampler.set_log_prob_mode() == "sampled"
    losses = sampler.loss(TrainingBatch(torch.rand(2, 100, 8), torch.randn(2, 100, 3), torch.tensor([0, 1]), "avg_logits"))
    assert torch.isfinite(losses["loss"])


@pytest.fixture
def small_setup(small_features):
    source = load_feature_file(small_features)
    classifier = train_classifier(trimmed_videos(source, [1, 2, 3], "train"), epochs=10, heads=("linear",))

    def videos(epoch):
        return untrimmed_videos(source, [1, 2, 3], "train", background=source, background_classes=[4, 5, 6],
                                config=UntrimmedConfig(length=32, seed=epoch))
    return source, classifier, videos


def test_checkpoint_round_trips_and_a_mismatch_is_refused(tmp_path, small_setup, small_features):
    source, classifier, videos = small_setup
    sampler = create_sampler("sosampler", input_dim=16, num_classes=3, width=8)
    train_sampler(sampler, videos, classifier, T=8, settings=TrainSettings(epochs=2), progress=False)
    directory = save_checkpoint(sampler, tmp_path / "ck", T=8, N=3, classifier=classifier, log=[{"epoch": 1}])
    loaded = load_checkpoint(directory, classifier)
    features = videos(0).video(0)[:8].numpy()
    candidates = Candidates.of_length(8, features=features)
    assert loaded.select(candidates, 3).tolist() == sampler.select(candidates, 3).tolist()
    assert np.allclose(loaded.scores(candidates), sampler.scores(candidates))
    assert json.loads((directory / "config.json").read_text())["T"] == 8
    other = train_classifier(trimmed_videos(source, [1, 2, 3], "train"), epochs=10, heads=("linear",), seed=5)
    with pytest.raises(ValueError, match="another frozen classifier"):
        load_checkpoint(directory, other)
    fewer = train_classifier(trimmed_videos(source, [1, 2], "train"), epochs=2, heads=("linear",))
    with pytest.raises(ValueError, match="trained for classes"):
        load_checkpoint(directory, fewer)
    with pytest.raises(FileNotFoundError, match="not a sampler checkpoint"):
        load_checkpoint(tmp_path / "nothing")


def test_training_resumes_after_an_interrupt(tmp_path, small_setup):
    _, classifier, videos = small_setup
    state = tmp_path / "state.pt"
    whole = create_sampler("ocsampler", input_dim=16, num_classes=3, width=8, N=3)
    whole_log = train_sampler(whole, videos, classifier, T=8, settings=TrainSettings(epochs=3), progress=False)
    def interrupted(epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return videos(epoch)

    first = create_sampler("ocsampler", input_dim=16, num_classes=3, width=8, N=3)
    with pytest.raises(KeyboardInterrupt):
        train_sampler(first, interrupted, classifier, T=8, settings=TrainSettings(epochs=3), progress=False,
                      state_path=state)
    assert state.is_file()
    resumed = create_sampler("ocsampler", input_dim=16, num_classes=3, width=8, N=3)
    log = train_sampler(resumed, videos, classifier, T=8, settings=TrainSettings(epochs=3), progress=False,
                        state_path=state)
    assert [row["loss"] for row in log] == pytest.approx([row["loss"] for row in whole_log])
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a, b)
    again = create_sampler("ocsampler", input_dim=16, num_classes=3, width=8, N=3)
    other_t = train_sampler(again, videos, classifier, T=9, settings=TrainSettings(epochs=3), progress=False,
                            state_path=state)
    assert [row["epoch"] for row in other_t] == [1, 2, 3], "a state of another T is not resumed"


def test_train_and_evaluate_from_the_command_line(tmp_path, small_features, capsys):
    from framesampler.cli import main

    common = ["--features", str(small_features), "--length", "32", "--T", "8", "--N", "3", "--no-progress",
              "--cache-dir", str(tmp_path / "cache")]
    for name in ("sosampler", "ocsampler"):
        assert main(["train", "--sampler", name, "--epochs", "2", "--out", str(tmp_path / name), *common]) == 0
    out = tmp_path / "r.json"
    assert main(["evaluate", "--policies", "uniform", "--repeats", "1", "--json", str(out), *common,
                 "--checkpoint", str(tmp_path / "sosampler"), "--checkpoint", str(tmp_path / "ocsampler")]) == 0
    report = json.loads(out.read_text())
    assert list(report["policies"]) == ["uniform", "sosampler", "ocsampler"]
    assert report["policies"]["sosampler"]["frames"] == 3.0
    log = (tmp_path / "sosampler" / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 2 and "L_SO" in json.loads(log[0])
    assert main(["evaluate", "--vocab", "1,2", "--checkpoint", str(tmp_path / "sosampler"), *common]) == 2
    assert "trained for classes" in capsys.readouterr().err


def test_feature_encoder_cost_is_counted():
    sampler = create_sampler("sosampler", input_dim=4096, num_classes=6)
    assert sampler.macs_per_frame() == 4096 * 256 + 256 * 256 + 256
