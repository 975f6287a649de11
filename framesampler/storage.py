"""Atomic writes: a reader (or a rerun after an interrupt) sees the old version or the new, never half.

What is written gets the user's normal permissions (the umask), and an existing directory is replaced
only when it is one of framesampler's own (see ``atomic_directory``): never a user's folder.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import pickle
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import torch

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

WeightsFormat = Literal["pt", "safetensors"]
WEIGHTS_FORMATS: tuple[WeightsFormat, ...] = ("pt", "safetensors")
Settings = TypeVar("Settings", bound="DataclassInstance")  # a dataclass rebuilt from the JSON object it was saved as


def is_own_directory(directory: Path, keys: Iterable[str]) -> bool:
    """Whether ``directory`` is empty or is one framesampler wrote: its ``config.json`` is a JSON object
    holding every one of ``keys``."""
    if not any(directory.iterdir()):
        return True
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(config, dict) and all(key in config for key in keys)


def check_replaceable(directory: str | os.PathLike, keys: Iterable[str]) -> Path:
    """Raise ``ValueError`` unless ``directory`` may be (re)written by ``atomic_directory(directory, keys=keys)``:
    it does not exist, is empty, or is framesampler's own output of this kind. Returns it as an absolute path."""
    directory = Path(os.path.abspath(directory))
    keys = tuple(keys)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a directory: choose another output directory")
    if directory.is_dir() and not is_own_directory(directory, keys):
        raise ValueError(f"{directory} already exists and is not a framesampler output of this kind (no config.json "
                         f"with {', '.join(keys)}): refusing to replace it; choose another output directory")
    return directory


def _writable_place(path: Path, what: str) -> None:
    """Raise ``ValueError`` unless ``path`` can be created: its nearest existing ancestor is a writable folder."""
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {path}: {ancestor} is a file, not a folder; choose another place")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path}: the folder {ancestor} is not writable; choose another place")


def check_output_file(path: str | os.PathLike, what: str = "output") -> Path:
    """Raise ``ValueError`` (one line naming ``what``, e.g. ``"--json"``) unless ``path`` can be written as a
    file: not a directory, in (or creatable under) a writable folder. Call it before the work, not after."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory: give a file name (inside it, say)")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{what} {path} exists and is not writable; choose another file")
    _writable_place(path, what)
    return path


def check_output_directory(path: str | os.PathLike, what: str = "output") -> Path:
    """Raise ``ValueError`` unless ``path`` is (or can be created as) a writable directory."""
    path = Path(os.path.abspath(path))
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a directory; choose a folder")
    if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {path} is not writable; choose another folder")
    if not path.exists():
        _writable_place(path, what)
    return path


@contextmanager
def atomic_directory(directory: str | os.PathLike, *, keys: Iterable[str]) -> Iterator[Path]:
    """Yield an empty staging directory beside ``directory``; on success it replaces ``directory``,
    on error it is removed and ``directory`` is left as it was.

    An existing ``directory`` is replaced only if it is empty or framesampler's own output of the same kind
    (its ``config.json`` holds all of ``keys``, see ``check_replaceable``, which a run calls before its work);
    anything else raises ``ValueError``, so a user's folder is never deleted. The staging directory (hence the result) has the umask's permissions.
    """
    directory = check_replaceable(directory, keys)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.{secrets.token_hex(4)}.partial")
    staging.mkdir()  # unlike tempfile.mkdtemp (0700), mkdir honours the umask
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.exists():
        old = directory.with_name(f".{directory.name}.{secrets.token_hex(4)}.old")
        os.replace(directory, old)
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, directory)


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; on success it replaces ``path``, on error it is
    removed and ``path`` is left as it was."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory: give a file name to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def remove_stale_partials(directory: str | os.PathLike) -> int:
    """Remove the ``atomic_file`` temporaries (``.NAME.PID.partial``) under ``directory`` whose writer is no
    longer running (a killed run); returns how many."""
    removed = 0
    for path in Path(directory).rglob(".*.partial"):
        pid = path.name[:-len(".partial")].rpartition(".")[2]
        if pid.isdigit() and path.is_file() and not _running(int(pid)):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as partial:
        partial.write_text(text)
    return Path(path)


def save_atomically(obj: object, path: Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and a rename."""
    with atomic_file(path) as partial:
        torch.save(obj, partial)


def one_line(error: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, without terminal colour codes, cut at ``limit`` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def non_finite(states: dict[str, dict]) -> list[str]:
    """``file:tensor`` names of the floating-point tensors in ``states`` holding NaN or inf."""
    return [f"{file}:{name}" for file, state in states.items() for name, value in state.items()
            if torch.is_tensor(value) and value.is_floating_point() and not value.isfinite().all()]


def key_problems(cls: type[DataclassInstance], raw: dict) -> list[str]:
    """What keeps the JSON object ``raw`` from being the dataclass ``cls``: its unknown keys (e.g. written by a
    newer framesampler) and the required ones it lacks; empty when none."""
    names = {f.name for f in dataclasses.fields(cls)}
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return ([f"unknown key(s) {', '.join(sorted(set(raw) - names))}"] if set(raw) - names else []) + \
        ([f"no {', '.join(sorted(required - set(raw)))}"] if required - set(raw) else [])


def settings_from_dict(cls: type[Settings], raw: object, *, where: str, fix: str) -> Settings:
    """The dataclass ``cls`` of a saved JSON object, refused in one line (``ValueError``) naming what is wrong with
    its keys (``key_problems``); ``fix`` says what to do."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is a {type(raw).__name__}, not an object of settings: {fix}")
    problems = key_problems(cls, raw)
    if problems:
        raise ValueError(f"{where} has {'; '.join(problems)}: {fix}")
    return cls(**raw)


def weights_file(directory: Path, name: str) -> Path | None:
    """The file holding the state ``name`` (e.g. ``weights.pt``) in a saved directory: ``weights.pt`` as
    ``torch.save`` wrote it, or ``weights.safetensors``; None when neither is there."""
    found = [path for path in (directory / name, (directory / name).with_suffix(".safetensors")) if path.is_file()]
    if len(found) > 1:
        raise ValueError(f"{directory} holds both {found[0].name} and {found[1].name}: remove the one not meant")
    return found[0] if found else None


def _safetensors() -> Any:
    if importlib.util.find_spec("safetensors") is None:
        raise ValueError("safetensors weights need the safetensors package: pip install 'framesampler[safetensors]'")
    import safetensors.torch

    return safetensors.torch


def save_module(directory: str | os.PathLike, config: dict, states: dict[str, dict], *, keys: Iterable[str],
                texts: dict[str, str] | None = None, weights_format: WeightsFormat = "pt") -> Path:
    """One saved model directory, written atomically: ``config.json``, one weights file per entry of ``states``
    (file name -> state dict) and the ``texts`` (file name -> content, e.g. a training log). Classifiers and
    sampler checkpoints both use it. ``weights_format``: ``"pt"`` (``torch.save``, the file named as given) or
    ``"safetensors"`` (``weights.pt`` becomes ``weights.safetensors``; needs the ``safetensors`` extra). It
    replaces only a directory of the same kind (``config.json`` with ``keys``), and non-finite weights
    (a diverged training, NaN in the data) are refused: nothing non-finite is ever saved."""
    if weights_format not in WEIGHTS_FORMATS:
        raise ValueError(f"unknown weights format {weights_format!r}: use one of {', '.join(WEIGHTS_FORMATS)}")
    bad = non_finite(states)
    if bad:
        raise ValueError(f"not saving {directory}: non-finite (NaN/inf) weights in {', '.join(bad[:3])}; the training "
                         "diverged (lower --lr) or its data holds NaN/inf")
    writer = _safetensors() if weights_format == "safetensors" else None
    with atomic_directory(directory, keys=keys) as staging:
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        for name, state in states.items():
            if writer is None:
                torch.save(state, staging / name)
            else:
                writer.save_file({key: value.contiguous() for key, value in state.items()},
                                 str((staging / name).with_suffix(".safetensors")))
        for name, text in (texts or {}).items():
            (staging / name).write_text(text)
    return Path(directory)


def load_module(directory: str | os.PathLike, states: tuple[str, ...], *, what: str, make: str) -> tuple[dict, dict[str, dict]]:
    """``config.json`` (read once) and the named state files of a directory written by ``save_module``;
    ``what`` names the kind of directory and ``make`` the command that makes one, for the errors."""
    directory = Path(directory)
    files = {name: weights_file(directory, name) for name in states}
    missing = [name for name in ("config.json",) if not (directory / name).is_file()] + \
        [name for name, path in files.items() if path is None]
    if missing:
        raise FileNotFoundError(f"{directory} is not a {what} (it lacks {', '.join(missing)}); make one with {make}")
    try:
        config = json.loads((directory / "config.json").read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{directory / 'config.json'} is not valid JSON ({err}); make the {what} again with {make}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{directory / 'config.json'} holds a {type(config).__name__}, not a {what}'s settings; "
                         f"make it again with {make}")
    reader = _safetensors() if any(path and path.suffix == ".safetensors" for path in files.values()) else None
    try:
        loaded = {name: reader.load_file(str(path), device="cpu") if reader and path.suffix == ".safetensors" else
                  torch.load(path, map_location="cpu", weights_only=True) for name, path in files.items() if path}
    except pickle.UnpicklingError:  # refused by weights_only: loading it could run code
        raise ValueError(f"{directory} holds a weights file with Python objects beyond tensors, refused because loading "
                         f"it could run code; make the {what} again with {make}") from None
    except Exception as err:  # a torn or foreign file: torch raises several unrelated types
        raise ValueError(f"{directory} holds an unreadable weights file ({type(err).__name__}: {one_line(err)}); "
                         f"make the {what} again with {make}") from None
    bad = non_finite(loaded)
    if bad:
        raise ValueError(f"{directory} holds non-finite (NaN/inf) weights in {', '.join(bad[:3])}; make the {what} "
                         f"again with {make}")
    return config, loaded
