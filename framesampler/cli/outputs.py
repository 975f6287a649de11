"""Every path a command writes is checked before any work starts: never one it reads, never two outputs in one."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

FILE_OUTPUTS = ("json", "sheet", "plot", "csv", "html")  # flags naming a file a command writes at the end
DIRECTORY_OUTPUTS = ("construct", "train", "experiments")  # commands whose --out is a folder (extract's is a file)
INPUTS = ("video", "videos", "manifest", "results", "source", "features", "background", "dataset", "test", "checkpoint",
          "sampler", "background_videos", "data", "config")  # arguments naming what a command reads
CHECKPOINT_INPUTS = ("checkpoint", "sampler")  # folders whose files are read: an output may not be one of them
WRITTEN_IN_OUT = {"construct": ("train.txt", "test.txt", "segments.json", "construct.json")}  # files --out gets


def _inputs(args: argparse.Namespace) -> list[Path]:
    """Every existing path the parsed command reads (a checkpoint folder: the files in it, too)."""
    paths = []
    for name in INPUTS:
        value = getattr(args, name, None)
        for path in map(Path, (value or []) if isinstance(value, list) else [value] if value is not None else []):
            if path.exists():
                paths.append(path)
            if name in CHECKPOINT_INPUTS and path.is_dir():
                paths += [child for child in path.iterdir() if child.is_file()]
    return paths


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (same device and inode: links included), or one path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path is checked before any work starts, so a run never ends in a traceback that loses it,
    and none may be an input of the run (nor another output): writing it would destroy what is read."""
    from framesampler.storage import check_output_directory, check_output_file

    outputs = []
    for flag in FILE_OUTPUTS:
        if getattr(args, flag, None) is not None:
            outputs.append((f"--{flag}", check_output_file(getattr(args, flag), f"--{flag}")))
    if getattr(args, "out", None) is not None:
        check = check_output_directory if args.command in DIRECTORY_OUTPUTS else check_output_file
        outputs.append(("--out", check(args.out, "--out")))
        outputs += [("--out", Path(args.out) / name) for name in WRITTEN_IN_OUT.get(args.command, ())]
    inputs = _inputs(args)
    for number, (flag, path) in enumerate(outputs):
        for source in inputs:
            if _same_file(path, source):
                raise ValueError(f"{flag} {path} is the input {source}: writing it would destroy what this run reads; "
                                 f"choose another {flag}")
            inside = Path(os.path.realpath(source)).is_relative_to(os.path.realpath(path))
            # train replaces its --out folder (check_replaceable first says when it may not be replaced at all)
            if args.command == "train" and flag == "--out" and inside:
                _check_replaceable_checkpoint(path)
                raise ValueError(f"--out {path} is replaced by the new checkpoint, and it holds the input {source}: "
                                 "choose another --out")
        for other, earlier in outputs[:number]:
            if _same_file(path, earlier):
                raise ValueError(f"{other} and {flag} both name {path}: give each output its own file")


def _check_replaceable_checkpoint(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` may be replaced by a checkpoint (``storage.check_replaceable``)."""
    from framesampler.learned.checkpoint import CHECKPOINT_KEYS
    from framesampler.storage import check_replaceable

    check_replaceable(path, CHECKPOINT_KEYS)
