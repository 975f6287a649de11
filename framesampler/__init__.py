"""framesampler: choose the N of T candidate frames that let a frozen video classifier decide best."""
from framesampler import learned  # noqa: F401  (registers the learned samplers)
from framesampler.candidates import Candidates, candidate_indices
from framesampler.policies import Context, Sampler, create_sampler, list_samplers, top_n_sorted

__all__ = ["Candidates", "Context", "Sampler", "candidate_indices", "create_sampler", "list_samplers", "top_n_sorted"]
__version__ = "0.1.0"
