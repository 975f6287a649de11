"""Renamed keywords keep working for a while: the old name is accepted with a ``DeprecationWarning``.

    @renamed_keyword("num_frames", "frame_count")
    def candidate_indices(frame_count: int, ...): ...

One name per idea: ``frame_count`` is a video's length in frames, ``N`` (``--num-frames``) how many are chosen.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


def renamed_keyword(old: str, new: str) -> Callable[[Function], Function]:
    """Let callers still pass ``old=`` for the keyword now named ``new`` (with a ``DeprecationWarning``);
    ``TypeError`` when both are given."""
    def decorate(function: Function) -> Function:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{function.__name__}() got both {old}= and {new}=: pass {new}= only")
                warnings.warn(f"{function.__name__}({old}=...) is deprecated: pass {new}=", DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)
        return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature; mypy cannot see it
    return decorate
