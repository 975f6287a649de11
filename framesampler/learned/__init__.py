"""Trainable samplers (nn.Modules with their papers' losses); importing registers them."""
from framesampler.learned import ocsampler, sosampler  # noqa: F401  (registration)
from framesampler.learned.base import LearnedSampler, TrainingBatch, load_checkpoint, save_checkpoint
from framesampler.learned.train import (LEARNED_NAMES, TrainConfig, TrainSettings, run_training, train_and_save,
                                        train_sampler)

__all__ = ["LEARNED_NAMES", "LearnedSampler", "TrainConfig", "TrainSettings", "TrainingBatch", "load_checkpoint",
           "run_training", "save_checkpoint", "train_and_save", "train_sampler"]
