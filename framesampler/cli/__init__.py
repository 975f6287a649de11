"""The ``framesampler`` command line: it parses arguments and calls the application layer, nothing more.

One module per command (``framesampler/cli/<command>.py``: ``add_parser(subparsers, parents)`` and ``run(args)``);
the flags several commands share are declared once, as parent parsers (``options.py``), and every command takes
``--config FILE`` (``config.py``). Parsing imports neither torch nor a decoder, so ``--help`` answers at once: each
``run`` imports the application layer it calls.
"""
from __future__ import annotations

import argparse
import sys

from framesampler.cli import (
    batch,
    construct,
    demo,
    evaluate,
    experiments,
    extract,
    independence,
    report,
    sample,
    samplers,
    train,
)
from framesampler.cli.config import apply_config, config_options, config_path, drop_config_items
from framesampler.cli.outputs import check_outputs

COMMANDS = (evaluate, train, experiments, demo, extract, construct, sample, batch, independence, report, samplers)

__all__ = ["COMMANDS", "build_parser", "check_outputs", "main", "parse_args"]


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="framesampler", description=__import__("framesampler").__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    parents = [config_options()]
    commands = {}
    for command in COMMANDS:
        sub = command.add_parser(subparsers, parents)
        sub.set_defaults(handler=command.run)
        commands[sub.prog.split()[-1]] = sub
    return parser, commands


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one subcommand per module of ``COMMANDS``."""
    return _build()[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default: ``sys.argv[1:]``); a command's ``--config FILE`` supplies its flags' defaults."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser, commands = _build()
    repeated: dict[str, list] = {}
    if argv and argv[0] in commands:
        path = config_path(argv[1:])
        if path is not None:
            repeated = apply_config(commands[argv[0]], path, argv[0])
    args = parser.parse_args(argv)
    drop_config_items(args, repeated)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one command; bad input ends in one line on stderr and exit status 2."""
    try:
        args = parse_args(argv)
        check_outputs(args)
        args.handler(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        from framesampler.video.decode import VideoError

        if isinstance(err, RuntimeError) and not isinstance(err, VideoError):
            raise
        print(f"framesampler: error: {err}", file=sys.stderr)
        return 2
    return 0
