"""Trainable samplers (nn.Modules with their papers' losses). Importing the package imports every module
in it, and each sampler module registers its sampler: a new one is one file and one ``register_sampler`` call."""
import importlib
import pkgutil

from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.checkpoint import load_checkpoint, save_checkpoint
from framesampler.learned.train import TrainSettings, learned_sampler_names, train_sampler

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["LearnedSampler", "TrainSettings", "TrainingBatch", "learned_sampler_names", "load_checkpoint",
           "save_checkpoint", "train_sampler"]
