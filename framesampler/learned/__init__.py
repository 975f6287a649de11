"""Trainable samplers (nn.Modules with their papers' losses); importing registers them."""
from framesampler.learned import adaframe, ocsampler, scsampler, smart, sosampler  # noqa: F401  (registration)
from framesampler.learned.base import LearnedSampler, TrainingBatch, load_checkpoint, save_checkpoint
from framesampler.learned.train import (
                                        TrainConfig,
                                        TrainSettings,
                                        learned_sampler_names,
                                        run_training,
                                        train_and_save,
                                        train_sampler,
)

__all__ = ["LearnedSampler", "TrainConfig", "TrainSettings", "TrainingBatch", "learned_sampler_names", "load_checkpoint",
           "run_training", "save_checkpoint", "train_and_save", "train_sampler"]
