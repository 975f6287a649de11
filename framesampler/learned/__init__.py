"""Trainable samplers (nn.Modules with their papers' losses); importing registers them."""
from framesampler.learned import adaframe, ocsampler, scsampler, smart, sosampler  # noqa: F401  (registration)
from framesampler.learned.base import LearnedSampler, TrainingBatch
from framesampler.learned.checkpoint import load_checkpoint, save_checkpoint
from framesampler.learned.train import TrainSettings, learned_sampler_names, train_sampler

__all__ = ["LearnedSampler", "TrainSettings", "TrainingBatch", "learned_sampler_names", "load_checkpoint",
           "save_checkpoint", "train_sampler"]
