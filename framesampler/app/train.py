"""``framesampler train``: prepare the data and the frozen classifier, train a learned sampler, write
its checkpoint (resuming from ``<out>.resume.pt`` after an interrupt)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framesampler.app.prepare import DataConfig, Setup, check_budget_flags, prepare
from framesampler.learned.base import LearnedSampler, create_learned_sampler, learned_sampler_class
from framesampler.learned.checkpoint import CHECKPOINT_KEYS, save_checkpoint
from framesampler.learned.train import TrainSettings, learned_sampler_names, train_sampler
from framesampler.policies.registry import check_option_types
from framesampler.storage import check_replaceable


@dataclass
class TrainConfig(DataConfig):
    """One ``framesampler train`` run; recorded in the checkpoint's config.json."""

    sampler: str = "sosampler"
    out: str = "checkpoints/sampler"
    T: int = 10
    N: int = 6
    options: dict = field(default_factory=dict)
    settings: TrainSettings = field(default_factory=TrainSettings)
    device: str = "cpu"  # where the sampler trains (``framesampler.device``); not recorded: the data does not depend on it

    def __post_init__(self) -> None:
        check_budget_flags(self.T, self.N)


def training_options(setup: Setup, sampler_name: str, options: dict, *, N: int, seed: int) -> dict:
    """The constructor options ``sampler_name`` is trained with on ``setup``: ``options`` with the data's input width,
    the classifier's classes, the seed, N for a sampler trained for one budget, and what the data decides
    (``data_options``, e.g. SCSampler's ``input="auto"``), as recorded in the checkpoint."""
    if sampler_name not in learned_sampler_names():
        raise ValueError(f"unknown learned sampler {sampler_name!r}: use one of {', '.join(learned_sampler_names())}")
    options = {"input_dim": setup.sampler_input_dim, "num_classes": setup.classifier.config.num_classes,
               "seed": seed, **options}
    factory = learned_sampler_class(sampler_name)
    if factory.budget_option:
        options.setdefault(factory.budget_option, N)
    return factory.data_options(options, setup.inputs)


def train_and_save(setup: Setup, sampler_name: str, options: dict, *, T: int, N: int, seed: int,
                   settings: TrainSettings, out: Path, data: dict | None = None, progress: bool = True,
                   device: str = "cpu") -> LearnedSampler:
    """Train ``sampler_name`` against ``setup``'s classifier on its training videos (construction seed
    ``seed + epoch``) on ``device`` and write the checkpoint to ``out``; resumes from ``out``.resume.pt if it holds
    this very run (data, classifier, T, N, options, seed and settings), else starts afresh and says so."""
    classifier = setup.classifier
    sampler = create_learned_sampler(sampler_name, **training_options(setup, sampler_name, options, N=N, seed=seed))
    state_path = out.with_name(out.name + ".resume.pt")
    start = time.perf_counter()
    log = train_sampler(sampler, lambda epoch: setup.videos("train", seed + epoch), classifier, T=T,
                        settings=settings, seed=seed, state_path=state_path, run={"N": N, "data": setup.identity},
                        progress=progress, device=device)
    training = {**settings.record(sampler), "seconds": round(time.perf_counter() - start, 1)}
    save_checkpoint(sampler, out, T=T, N=N, classifier=classifier, extract=setup.extract, data=data, training=training,
                    log=log)
    state_path.unlink(missing_ok=True)
    return sampler


def run_training(config: TrainConfig, *, progress: bool = True) -> Path:
    """Prepare the data and classifier, train the sampler, write its checkpoint to ``config.out`` (checked
    first: it may only replace a previous checkpoint)."""
    check_replaceable(config.out, CHECKPOINT_KEYS)
    check_option_types(config.sampler, config.options)
    setup = prepare(config, T=config.T)
    data = {k: v for k, v in asdict(config).items() if k not in ("options", "settings", "out", "sampler", "device")}
    train_and_save(setup, config.sampler, config.options, T=config.T, N=config.N, seed=config.seed,
                   settings=config.settings, out=Path(config.out), data=data, progress=progress, device=config.device)
    return Path(config.out)
