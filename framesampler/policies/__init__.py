"""Training-free samplers, the shared top-N pick and the registry (importing registers them all)."""
from framesampler.policies import fixed, mgsampler, optimal, semi_optimal  # noqa: F401  (registration)
from framesampler.policies.base import Context, Sampler, check_budget, top_n_sorted
from framesampler.policies.registry import create_sampler, list_samplers, register_sampler

TRAINING_FREE = ("uniform", "random", "dense", "frameexit", "mgsampler", "semi_optimal_label", "semi_optimal_max", "oracle")

__all__ = ["Context", "Sampler", "TRAINING_FREE", "check_budget", "create_sampler", "list_samplers",
           "register_sampler", "top_n_sorted"]
