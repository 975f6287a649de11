"""One name -> factory registry for every sampler, training-free and learned (timm-style).

    create_sampler("semi_optimal", importance="max")   # any registered name, keyword options
    list_samplers()                                      # sorted names

Installed packages add samplers through the entry-point group ``framesampler.samplers``: each entry point is a
callable taking no arguments that calls ``register_sampler``, e.g. in the plugin's pyproject.toml

    [project.entry-points."framesampler.samplers"]
    mysampler = "my_package.sampler:register"

They are loaded once, the first time a name is not found or the names are listed (``load_installed_samplers``).
"""
from __future__ import annotations

import importlib.metadata
import inspect
import numbers
import sys
from collections.abc import Callable
from typing import Any

from framesampler.policies.base import Sampler

_REGISTRY: dict[str, tuple[Callable[..., Sampler], dict[str, Any]]] = {}
_UNLISTED: set[str] = set()
ENTRY_POINT_GROUP = "framesampler.samplers"
_plugins_loaded = False


def register_sampler(name: str, factory: Callable[..., Sampler], *, listed: bool = True, **preset: Any) -> None:
    """Register ``factory`` under ``name``; ``preset`` keywords are passed unless overridden. ``listed=False``
    keeps an alias or a sampler that needs arguments out of the default comparisons."""
    if name in _REGISTRY:
        raise ValueError(f"a sampler named {name!r} is already registered")
    _REGISTRY[name] = (factory, preset)
    if not listed:
        _UNLISTED.add(name)


def option_defaults(factory: Callable[..., Sampler]) -> dict:
    """Keyword defaults of a sampler class's constructors along its MRO (what an option's type is checked against)."""
    defaults: dict = {}
    for cls in reversed(getattr(factory, "__mro__", ())):
        if "__init__" in vars(cls):
            defaults.update({name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                             if p.default is not inspect.Parameter.empty})
    return defaults


def check_option_types(name: str, kwargs: dict) -> None:
    """A numeric option must be given a number, a yes/no option a bool (e.g. ``--option margin=abc``)."""
    defaults = option_defaults(sampler_factory(name))
    for key, value in kwargs.items():
        default = defaults.get(key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"sampler {name!r}: option {key}={value!r} must be true or false (default {default})")
        if isinstance(default, numbers.Real) and not isinstance(default, bool) and \
                (isinstance(value, bool) or not isinstance(value, numbers.Real)):
            raise ValueError(f"sampler {name!r}: option {key}={value!r} must be a number (default {default})")


def create_sampler(name: str, **kwargs: Any) -> Sampler:
    """Build the sampler registered as ``name``; its ``.name`` is set to ``name``. Options whose default is
    a number (or a bool) must be one."""
    factory, preset = sampler_factory(name), _REGISTRY[name][1]
    check_option_types(name, kwargs)
    try:
        sampler = factory(**{**preset, **kwargs})
    except TypeError as err:
        raise ValueError(f"sampler {name!r} cannot take these options ({err}); check the option names") from None
    sampler.name = name
    return sampler


def load_installed_samplers() -> None:
    """Call every ``framesampler.samplers`` entry point, once per process; each registers its samplers. A plugin
    that fails to load or register is reported on one line of stderr and skipped: the others and the built-in
    samplers stay usable."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()()
        except Exception as err:  # a broken plugin must not take the built-in samplers down with it
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            print(f"framesampler: warning: sampler plugin {entry.name} = {entry.value} is skipped ({reason}); "
                  "fix or uninstall the package that provides it", file=sys.stderr)


def sampler_factory(name: str) -> Callable[..., Sampler]:
    """The class or function registered as ``name`` (installed plugins are loaded if it is not built in)."""
    if name not in _REGISTRY:
        load_installed_samplers()
    if name not in _REGISTRY:
        raise ValueError(f"unknown sampler {name!r}; available: {', '.join(list_samplers())}")
    return _REGISTRY[name][0]


def list_samplers(kind: type | None = None) -> list[str]:
    """Names accepted by ``create_sampler``, installed plugins' included; with ``kind``, only those whose factory is a
    subclass of it."""
    load_installed_samplers()
    return sorted(name for name, (factory, _) in _REGISTRY.items()
                  if kind is None or (isinstance(factory, type) and issubclass(factory, kind)))


def training_free_samplers() -> list[str]:
    """The listed samplers that need no training, in registration order: what ``evaluate`` and ``demo``
    compare by default."""
    return [name for name, (factory, _) in _REGISTRY.items()
            if name not in _UNLISTED and not getattr(factory, "trainable", False)]
