"""``--config FILE``: a command's flags read from a TOML (or, with PyYAML, YAML) file, as that command's defaults.

Keys are the flags' names as Python sees them (``T``, ``features``, ``background_classes``; dashes or underscores,
and a flag's long spelling, e.g. ``num-candidates`` or ``lambda``, are accepted too); values are what the flag takes
(a list for a comma-separated or repeatable flag, true/false for a switch). The command line wins over the file.

    # run.toml                      framesampler evaluate --config run.toml --N 4
    features = "ucf101.npz"
    T = 16
    policies = ["uniform", "mgsampler"]
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import tomllib

SUFFIXES = (".toml", ".yaml", ".yml")


def config_options() -> argparse.ArgumentParser:
    """The parent parser every command gets: ``--config FILE``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config", type=Path, metavar="FILE", help="a .toml or .yaml file of this command's flags "
                        "(keys: the flags' names, e.g. T = 16, features = \"x.npz\"); the command line wins over it")
    return parser


def config_path(argv: list[str]) -> Path | None:
    """The ``--config`` given in a command's arguments ``argv`` (the command name excluded), if any."""
    known, _ = config_options().parse_known_args(argv)
    return known.config


def read_config(path: Path) -> dict[str, Any]:
    """The table in ``path`` (TOML by tomllib; YAML needs PyYAML); one line naming what is wrong otherwise."""
    if path.suffix.lower() not in SUFFIXES:
        raise ValueError(f"--config {path}: give a .toml, .yaml or .yml file")
    if not path.is_file():
        raise FileNotFoundError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"--config {path} is not valid TOML: {err}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ValueError(f"--config {path}: reading YAML needs PyYAML: pip install pyyaml (or write the file as "
                             "TOML)") from None
        try:
            table = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"--config {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ValueError(f"--config {path} holds a {type(table).__name__}, not a table of flag names and values")
    return table


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every name a key may use for an optional flag of ``parser``: its dest and its long spellings."""
    flags = {}
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "config"):
            continue
        flags[action.dest] = action
        flags.update({name.lstrip("-").replace("-", "_"): action for name in action.option_strings if name.startswith("--")})
    return flags


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` from the file as ``action`` would have parsed it from the command line."""
    def one(item: Any) -> Any:
        if isinstance(item, (dict, list, bool)):
            raise ValueError(f"{where}: {item!r} is not a value this flag takes")
        try:
            converted = action.type(str(item)) if callable(action.type) else str(item)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None
        if action.choices is not None and converted not in action.choices:
            raise ValueError(f"{where}: {converted!r} is not one of {', '.join(map(str, action.choices))}")
        return converted

    if action.nargs == 0:  # a switch: store_true, --audio/--no-audio
        if not isinstance(value, bool):
            raise ValueError(f"{where}: give true or false")
        return value
    if isinstance(action, argparse._AppendAction) or action.nargs in ("*", "+"):
        return [one(item) for item in (value if isinstance(value, list) else [value])]
    if isinstance(value, list):  # a comma-separated flag, e.g. policies = ["uniform", "mgsampler"]
        value = ",".join(map(str, value))
    return one(value)


def apply_config(parser: argparse.ArgumentParser, path: Path, command: str) -> dict[str, list]:
    """Make the file's values the defaults of ``parser`` (the ``command``'s); a flag it gives is no longer required.
    Returns the repeatable flags it set (dest -> list), whose command-line values replace the file's
    (``drop_config_items``)."""
    table = read_config(path)
    flags = _flags(parser)
    keys = {key: str(key).replace("-", "_") for key in table}
    unknown = [str(key) for key, name in keys.items() if name not in flags]
    if unknown:
        raise ValueError(f"--config {path}: unknown key(s) {', '.join(unknown)} for `framesampler {command}`: use its "
                         f"flags' names ({', '.join(sorted(a.dest for a in set(flags.values())))}); positional "
                         "arguments go on the command line")
    repeated = {}
    for key, name in keys.items():
        action = flags[name]
        action.default = _convert(action, table[key], f"--config {path}: {key}")
        action.required = False
        if isinstance(action, argparse._AppendAction):
            repeated[action.dest] = action.default
    return repeated


def drop_config_items(args: argparse.Namespace, repeated: dict[str, list]) -> None:
    """A repeatable flag given on the command line replaces the file's list (argparse appends to its default)."""
    for dest, items in repeated.items():
        values = getattr(args, dest)
        if len(values) > len(items):
            setattr(args, dest, values[len(items):])
