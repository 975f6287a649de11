"""One name -> factory registry for every sampler, training-free and learned (timm-style).

    create_sampler("semi_optimal", importance="max")   # any registered name, keyword options
    list_samplers()                                      # sorted names
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from framesampler.policies.base import Sampler

_REGISTRY: dict[str, tuple[Callable[..., Sampler], dict[str, Any]]] = {}
_UNLISTED: set[str] = set()


def register_sampler(name: str, factory: Callable[..., Sampler], *, listed: bool = True, **preset: Any) -> None:
    """Register ``factory`` under ``name``; ``preset`` keywords are passed unless overridden. ``listed=False``
    keeps an alias or a sampler that needs arguments out of the default comparisons."""
    if name in _REGISTRY:
        raise ValueError(f"a sampler named {name!r} is already registered")
    _REGISTRY[name] = (factory, preset)
    if not listed:
        _UNLISTED.add(name)


def create_sampler(name: str, **kwargs: Any) -> Sampler:
    """Build the sampler registered as ``name``; its ``.name`` is set to ``name``."""
    factory, preset = sampler_factory(name), _REGISTRY[name][1]
    try:
        sampler = factory(**{**preset, **kwargs})
    except TypeError as err:
        raise ValueError(f"sampler {name!r} cannot take these options ({err}); check the option names") from None
    sampler.name = name
    return sampler


def sampler_factory(name: str) -> Callable[..., Sampler]:
    """The class or function registered as ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown sampler {name!r}; available: {', '.join(list_samplers())}")
    return _REGISTRY[name][0]


def list_samplers(kind: type | None = None) -> list[str]:
    """Names accepted by ``create_sampler``; with ``kind``, only those whose factory is a subclass of it."""
    return sorted(name for name, (factory, _) in _REGISTRY.items()
                  if kind is None or (isinstance(factory, type) and issubclass(factory, kind)))


def training_free_samplers() -> list[str]:
    """The listed samplers that need no training, in registration order: what ``evaluate`` and ``demo``
    compare by default."""
    return [name for name, (factory, _) in _REGISTRY.items()
            if name not in _UNLISTED and not getattr(factory, "trainable", False)]
