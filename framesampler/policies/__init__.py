"""Training-free samplers, the shared top-N pick and the registry. Importing the package imports every
module in it, and each module registers its samplers: a new sampler is one file and one
``register_sampler`` call."""
import importlib
import pkgutil

from framesampler.candidates import Reads
from framesampler.policies.base import Context, Sampler, Selection, check_budget, top_n_sorted
from framesampler.policies.registry import (
    create_sampler,
    list_samplers,
    load_installed_samplers,
    register_sampler,
    training_free_samplers,
)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

TRAINING_FREE = tuple(training_free_samplers())

__all__ = ["TRAINING_FREE", "Context", "Reads", "Sampler", "Selection", "check_budget", "create_sampler", "list_samplers",
           "load_installed_samplers", "register_sampler", "top_n_sorted", "training_free_samplers"]
