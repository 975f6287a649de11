"""MkDocs hooks: the CLI reference generated from the parser, and results/ served beside the pages.

``reference/cli.md`` holds the marker ``<!-- cli-reference -->``; it is replaced by every command's ``--help``,
walked from ``framesampler.cli.build_parser()`` (a module or a package, either way), nested subcommands included.
Every ``.md``, ``.png`` and ``.txt`` under ``results/`` is added to the site at the same path, so pages link to
``results/<run>/experiments.md`` as the README does.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- cli-reference -->"
RESULT_SUFFIXES = (".md", ".png", ".txt")


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """The (name, parser) pairs of a parser's subcommands, each parser once (aliases skipped)."""
    seen: set[int] = set()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    found.append((name, sub))
    return found


def cli_reference(parser: argparse.ArgumentParser, prefix: str = "framesampler", level: int = 2) -> str:
    """Markdown: a heading and the ``--help`` text of ``parser`` and of each subcommand below it."""
    parts = []
    for name, sub in _subcommands(parser):
        command = f"{prefix} {name}"
        sub.prog = command
        parts.append(f"{'#' * level} `{command}`\n\n```text\n{sub.format_help().rstrip()}\n```\n")
        parts.append(cli_reference(sub, command, level + 1))
    return "\n".join(part for part in parts if part)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    os.environ["COLUMNS"] = "110"  # argparse wraps help text to the terminal; fixed for a reproducible page
    from framesampler.cli import build_parser

    parser = build_parser()
    parser.prog = "framesampler"
    top = f"```text\n{parser.format_help().rstrip()}\n```\n"
    return markdown.replace(MARKER, top + "\n" + cli_reference(parser))


def on_files(files: Files, config) -> Files:
    for path in sorted((ROOT / "results").rglob("*")):
        if path.suffix in RESULT_SUFFIXES and "checkpoints" not in path.parts:
            files.append(File(str(path.relative_to(ROOT)), src_dir=str(ROOT), dest_dir=config["site_dir"],
                              use_directory_urls=config["use_directory_urls"]))
    return files
