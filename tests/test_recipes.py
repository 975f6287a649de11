"""Each learned sampler trains by its paper's recipe by default (pinned to the papers' numbers, section cited), the
short recipe is one option away, and the training loop follows the recipe's schedule."""
import json

import pytest

from framesampler import create_sampler
from framesampler.classifiers.frozen import train_classifier
from framesampler.data.features import load_feature_file, trimmed_videos
from framesampler.data.untrimmed import UntrimmedConfig, untrimmed_videos
from framesampler.learned import TrainSettings, save_checkpoint, train_sampler
from framesampler.learned.recipe import Recipe, short_recipe
from framesampler.learned.train import learned_sampler_names
from framesampler.video.audio import AUDIO_DIM


def sampler(name, **options):
    return create_sampler(name, input_dim=options.pop("input_dim", 8), num_classes=3, **options)


def recipe(name, **options):
    return TrainSettings().resolve(sampler(name, **options))


def test_sosampler_recipe_is_lee_et_al_app_a3():
    # App. A.3: SGD, momentum 0.9, weight decay 1e-4, lr 1e-3, cosine annealing without warm-up; epochs, batch and
    # clipping are the authors' released configs' (100, 64, 40)
    r = recipe("sosampler")
    assert (r.lr, r.momentum, r.weight_decay, r.schedule) == (1e-3, 0.9, 1e-4, "cosine")
    assert (r.epochs, r.batch_size, r.grad_clip) == (100, 64, 40.0) and "released configs" in r.unstated


def test_smart_recipe_is_gowda_et_al_implementation_details():
    # "mini-batch SGD, momentum 0.9, 200 epochs on UCF101, batch 128, initial lr 0.0001 reduced by 10 every 25 epochs"
    r = recipe("smart")
    assert (r.lr, r.momentum, r.epochs, r.batch_size, r.schedule) == (1e-4, 0.9, 200, 128, "step")
    assert r.milestones == (25, 50, 75, 100, 125, 150, 175) and (r.weight_decay, r.grad_clip) == (0.0, None)
    assert r.lr * r.lr_factor(24 * 10, 10) == pytest.approx(1e-4) and r.lr * r.lr_factor(25 * 10, 10) == pytest.approx(1e-5)
    assert r.lr * r.lr_factor(199 * 10, 10) == pytest.approx(1e-11)


def test_adaframe_recipe_is_wu_et_al_sec_4_1():
    # Sec. 4.1: SGD, momentum 0.9, weight decay 1e-4, 100 epochs, batch 128 (FCVID), lr 1e-3 divided by 10 every 40
    r = recipe("adaframe")
    assert (r.lr, r.momentum, r.weight_decay, r.epochs, r.batch_size) == (1e-3, 0.9, 1e-4, 100, 128)
    assert (r.schedule, r.milestones) == ("step", (40, 80))


def test_scsampler_recipes_are_korbar_et_al_app_b():
    visual = recipe("scsampler")  # App. B.1: lr 1e-3, reduced when accuracy plateaus
    assert (visual.lr, visual.schedule) == (1e-3, "plateau")
    audio = {objective: recipe("scsampler", input="audio", input_dim=AUDIO_DIM, objective=objective)
             for objective in ("sal_rank", "sal_cl", "ac")}
    # App. B.2: SAL-RANK 0.01 for 5 epochs then / 10 every 5; SAL-CL 1e-3 for 10 epochs then / 10 for 6; AR 1e-3 / 10 every 5
    assert (audio["sal_rank"].lr, audio["sal_rank"].schedule, audio["sal_rank"].milestones) == (1e-2, "step", (5, 10))
    assert (audio["sal_cl"].lr, audio["sal_cl"].epochs, audio["sal_cl"].milestones) == (1e-3, 16, (10,))
    assert (audio["ac"].lr, audio["ac"].milestones) == (1e-3, (5, 10))


def test_ocsampler_recipe_is_the_authors_released_config():
    # configs/activitynet_10to6_resnet50.py: lr 0.001 / 8 * 40, momentum 0.9, wd 1e-4, clip 40, cosine, 50 epochs, batch 40
    r = recipe("ocsampler")
    assert (r.lr, r.momentum, r.weight_decay, r.grad_clip, r.schedule, r.epochs, r.batch_size) == \
        (pytest.approx(0.005), 0.9, 1e-4, 40.0, "cosine", 50, 40)
    assert sampler("ocsampler").options["entropy_weight"] == 0.1  # the configs' explore_rate


@pytest.mark.parametrize("name", learned_sampler_names())
def test_every_learned_sampler_declares_a_cited_paper_recipe_and_the_short_one_is_an_option(name):
    paper = recipe(name)
    assert paper.source and isinstance(paper, Recipe)
    short = TrainSettings(recipe="short").resolve(sampler(name))
    assert short == short_recipe(sampler(name).short_lr) and (short.epochs, short.batch_size) == (20, 32)
    overridden = TrainSettings(recipe="paper", epochs=3, lr=0.5).resolve(sampler(name))
    assert (overridden.epochs, overridden.lr, overridden.schedule) == (3, 0.5, paper.schedule)


def test_the_paper_readings_are_the_defaults():
    assert sampler("smart").options["omega_scale"] == "none"  # SMART Eq. 2: omega_t is the plain sum
    assert sampler("sosampler").options["label_guidance"] == "probs"  # Lee et al. Eq. 7 on h_c's softmax outputs
    # SCSampler Sec. 4.2.1 / Table 4: AC for the visual sampler, SAL-RANK for the audio one
    assert sampler("scsampler").options["objective"] == "ac"
    assert sampler("scsampler", input="compressed").options["objective"] == "ac"
    assert sampler("scsampler", input="audio", input_dim=AUDIO_DIM).options["objective"] == "sal_rank"


def test_unknown_recipe_is_one_line():
    with pytest.raises(ValueError, match="unknown recipe 'long': use one of paper, short"):
        TrainSettings(recipe="long")


@pytest.fixture
def setup(small_features):
    source = load_feature_file(small_features)
    classifier = train_classifier(trimmed_videos(source, [1, 2, 3], "train"), epochs=5, heads=("linear",))

    def videos(epoch):
        return untrimmed_videos(source, [1, 2, 3], "train", background=source, background_classes=[4, 5, 6],
                                config=UntrimmedConfig(length=32, seed=epoch))
    return classifier, videos


def test_training_follows_the_step_schedule_and_the_checkpoint_records_the_recipe(tmp_path, setup):
    classifier, videos = setup
    smart = create_sampler("smart", input_dim=16, num_classes=3, width=8)
    settings = TrainSettings(epochs=4)  # the paper recipe, cut to 4 epochs: lr 1e-4 until the first milestone
    log = train_sampler(smart, videos, classifier, T=8, settings=settings, progress=False)
    assert [row["lr"] for row in log] == pytest.approx([1e-4] * 4)
    directory = save_checkpoint(smart, tmp_path / "ck", T=8, N=3, classifier=classifier,
                                training=settings.record(smart), log=log)
    training = json.loads((directory / "config.json").read_text())["training"]
    assert training["recipe"] == "paper" and training["milestones"] == [25, 50, 75, 100, 125, 150, 175]
    assert training["epochs"] == 4 and training["source"].startswith("Gowda")


def test_a_short_step_schedule_divides_the_lr_at_its_milestones(setup, monkeypatch):
    classifier, videos = setup
    sos = create_sampler("sosampler", input_dim=16, num_classes=3, width=8)
    monkeypatch.setattr(type(sos), "paper_recipe", lambda self: Recipe(lr=0.1, epochs=3, batch_size=4, schedule="step",
                                                                       milestones=(1, 2), source="test"))
    log = train_sampler(sos, videos, classifier, T=8, settings=TrainSettings(), progress=False)
    assert [row["lr"] for row in log] == pytest.approx([0.01, 0.001, 0.001])  # lr after each epoch's last step


def test_plateau_divides_the_lr_once_the_loss_stops_falling(setup, monkeypatch):
    classifier, videos = setup
    sos = create_sampler("sosampler", input_dim=16, num_classes=3, width=8)
    monkeypatch.setattr(type(sos), "paper_recipe", lambda self: Recipe(lr=0.1, epochs=4, batch_size=64,
                                                                       schedule="plateau", patience=1, source="test"))
    # a loss that never falls
    monkeypatch.setattr(sos, "loss", lambda batch: {"loss": sum(p.sum() * 0 for p in sos.parameters()) + 1.0})
    log = train_sampler(sos, videos, classifier, T=8, settings=TrainSettings(), progress=False)
    # epoch 1 sets the best loss; epochs 2 and 3 do not beat it: after the second (patience 1) lr is divided by 10
    assert [row["lr"] for row in log] == pytest.approx([0.1, 0.1, 0.01, 0.01])


def test_experiments_retrain_a_checkpoint_of_another_recipe_instead_of_reusing_it(tmp_path, small_features):
    from framesampler.app.experiments import Learned, Runner
    from framesampler.app.prepare import DataConfig, prepare

    data = DataConfig(features=str(small_features), length=32, cache_dir=str(tmp_path / "cache"))
    setup = prepare(data, T=8)
    directory = tmp_path / "checkpoints" / "sosampler-T8-s0-paper"
    for epochs in (1, 1, 2):
        Runner(setup, data, seeds=1, settings=TrainSettings(epochs=epochs), out=tmp_path, progress=False).learned(
            Learned("sosampler"), T=8, N=3, seed=0)
        log = (directory / "train_log.jsonl").read_text().splitlines()
        assert len(log) == epochs  # reused while the recipe is the same, trained again when it is not
