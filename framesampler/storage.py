"""Atomic writes: a reader (or a rerun after an interrupt) sees the old version or the new, never half."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


@contextmanager
def atomic_directory(directory: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty staging directory beside ``directory``; on success it replaces ``directory``,
    on error it is removed and ``directory`` is left as it was."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(staging, directory)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it replaces ``path``, on error it is
    removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def save_atomically(obj: object, path: Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as partial:
        torch.save(obj, partial)


def save_module(directory: str | os.PathLike, config: dict, states: dict[str, dict]) -> Path:
    """One saved model directory, written atomically: ``config.json`` and one ``torch.save`` file per
    entry of ``states`` (file name -> state dict). Classifiers and sampler checkpoints both use it."""
    with atomic_directory(directory) as staging:
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        for name, state in states.items():
            torch.save(state, staging / name)
    return Path(directory)


def load_module(directory: str | os.PathLike, states: tuple[str, ...], *, what: str, make: str) -> tuple[dict, dict[str, dict]]:
    """``config.json`` (read once) and the named state files of a directory written by ``save_module``;
    ``what`` names the kind of directory and ``make`` the command that makes one, for the errors."""
    directory = Path(directory)
    missing = [name for name in ("config.json", *states) if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory} is not a {what} (it lacks {', '.join(missing)}); make one with {make}")
    try:
        config = json.loads((directory / "config.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{directory / 'config.json'} is not valid JSON ({err}); make the {what} again with {make}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{directory / 'config.json'} holds a {type(config).__name__}, not a {what}'s settings; "
                         f"make it again with {make}")
    try:
        loaded = {name: torch.load(directory / name, map_location="cpu", weights_only=True) for name in states}
    except Exception as err:  # a torn or foreign file: torch raises several unrelated types
        raise ValueError(f"{directory} holds an unreadable weights file ({type(err).__name__}: {err}); "
                         f"make the {what} again with {make}") from None
    return config, loaded
