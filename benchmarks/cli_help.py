"""Seconds for ``python -m framesampler --help`` and each command's ``--help``, each a cold subprocess (target < 0.5 s,
issue 23); beside the same for the command line of an earlier commit (``--before REV``, checked out of git into a
temporary folder) and for a bare ``python -c pass`` (the interpreter's own start).

    .venv/bin/python benchmarks/cli_help.py [--repeats 5] [--before d08606a] [--out results/cli_help.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from framesampler.cli import COMMANDS
from framesampler.storage import write_text_atomically

ROOT = Path(__file__).resolve().parents[1]


def seconds(argv: list[str], pythonpath: Path, repeats: int) -> dict[str, float]:
    """Median and max wall seconds of ``python argv`` run ``repeats`` times, each a new process."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "OMP_NUM_THREADS": "1"}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *argv], env=env, cwd=pythonpath, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return {"median": round(statistics.median(times), 3), "max": round(max(times), 3)}


def helps(pythonpath: Path, module: str, repeats: int) -> dict[str, dict[str, float]]:
    names = [command.__name__.rpartition(".")[2] for command in COMMANDS]
    rows = {"--help": seconds(["-m", module, "--help"], pythonpath, repeats)}
    rows.update({f"{name} --help": seconds(["-m", module, name, "--help"], pythonpath, repeats) for name in names})
    return rows


def checkout(revision: str, into: Path) -> Path:
    """The ``framesampler`` package as of ``revision``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "framesampler"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--before", default="d08606a", help="the commit whose command line to time beside (cli.py, "
                        "one module; `none` to skip)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "cli_help.json")
    args = parser.parse_args()
    result = {"python": sys.version.split()[0], "repeats": args.repeats,
              "interpreter_start": seconds(["-c", "pass"], ROOT, args.repeats), "after": helps(ROOT, "framesampler", args.repeats)}
    if args.before != "none":
        with tempfile.TemporaryDirectory() as folder:
            result["before"] = {"revision": args.before,
                                **helps(checkout(args.before, Path(folder)), "framesampler.cli", args.repeats)}
    print(f"interpreter start: {result['interpreter_start']['median']:.3f} s (median of {args.repeats})")
    print(f"{'command':<24}{'after (s)':>10}{'max':>8}" + (f"{'before (s)':>12}{'max':>8}" if "before" in result else ""))
    for name, row in result["after"].items():
        before = result.get("before", {}).get(name)
        cells = f"{before['median']:>12.3f}{before['max']:>8.3f}" if before else ""
        print(f"{name:<24}{row['median']:>10.3f}{row['max']:>8.3f}{cells}")
    write_text_atomically(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
