"""Atomic writes: a reader (or a rerun after an interrupt) sees the old version or the new, never half.

What is written gets the user's normal permissions (the umask), and an existing directory is replaced
only when it is one of framesampler's own (see ``atomic_directory``): never a user's folder.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


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


def save_module(directory: str | os.PathLike, config: dict, states: dict[str, dict], *, keys: Iterable[str],
                texts: dict[str, str] | None = None) -> Path:
    """One saved model directory, written atomically: ``config.json``, one ``torch.save`` file per entry
    of ``states`` (file name -> state dict) and the ``texts`` (file name -> content, e.g. a training log).
    Classifiers and sampler checkpoints both use it. It
    replaces only a directory of the same kind (``config.json`` with ``keys``), and non-finite weights
    (a diverged training, NaN in the data) are refused: nothing non-finite is ever saved."""
    bad = non_finite(states)
    if bad:
        raise ValueError(f"not saving {directory}: non-finite (NaN/inf) weights in {', '.join(bad[:3])}; the training "
                         "diverged (lower --lr) or its data holds NaN/inf")
    with atomic_directory(directory, keys=keys) as staging:
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        for name, state in states.items():
            torch.save(state, staging / name)
        for name, text in (texts or {}).items():
            (staging / name).write_text(text)
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
