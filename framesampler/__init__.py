"""framesampler: choose the N of T candidate frames that let a frozen video classifier decide best.

The public names load on first use (``import framesampler`` imports neither torch nor a decoder);
reaching any of them registers every sampler, training-free and learned.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what a type checker sees; at run time the names load lazily through __getattr__ below
    from framesampler.candidates import Candidates, candidate_indices
    from framesampler.classifiers.model import Classifier, load_classifier
    from framesampler.learned import load_checkpoint
    from framesampler.policies import Context, Sampler, Selection, create_sampler, list_samplers, top_n_sorted

_PUBLIC = {
    "Candidates": "framesampler.candidates", "candidate_indices": "framesampler.candidates",
    "Context": "framesampler.policies", "Sampler": "framesampler.policies", "Selection": "framesampler.policies",
    "create_sampler": "framesampler.policies", "list_samplers": "framesampler.policies",
    "top_n_sorted": "framesampler.policies", "load_checkpoint": "framesampler.learned",
    "Classifier": "framesampler.classifiers.model", "load_classifier": "framesampler.classifiers.model",
}
__all__ = [
    "Candidates", "Classifier", "Context", "Sampler", "Selection", "candidate_indices", "create_sampler",
    "list_samplers", "load_checkpoint", "load_classifier", "top_n_sorted",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'framesampler' has no attribute {name!r}")
    importlib.import_module("framesampler.learned")  # registers the learned samplers beside the policies
    return getattr(importlib.import_module(_PUBLIC[name]), name)
