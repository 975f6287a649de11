"""``framesampler samplers``: the registered sampler names, installed plugins' included."""
from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    return subparsers.add_parser("samplers", parents=parents, help="list the registered sampler names")


def run(args: argparse.Namespace) -> None:
    import framesampler.learned  # noqa: F401  (registers the learned samplers beside the policies)
    from framesampler.policies import list_samplers

    print("\n".join(list_samplers()))
