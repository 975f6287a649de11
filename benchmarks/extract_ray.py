"""extract on Ray (loopback) against the local extract: the same dataset file, and the time of each.

Takes the first ``--videos`` clips of the shared UCF101 clip list (spread over its classes), extracts them locally
and with ``--ray`` into separate caches (the built-in classifier, or ``--classifier SPEC``), and compares every array
of the two dataset files (floats within float16 rounding; everything else equal). Prints and writes JSON.

    python benchmarks/extract_ray.py [--videos 40] [--T 32] [--classifier SPEC] [--json results/extract_ray.json]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from framesampler.cli import main as cli
from framesampler.data.features import find_shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--T", type=int, default=32)
    parser.add_argument("--classifier", default="frame")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clips = find_shared(Path("shared/data/ucf101-clips"))
    lines = (clips / "train.txt").read_text().splitlines()
    by_class: dict[str, list[str]] = {}
    for line in lines:
        by_class.setdefault(line.split()[-1], []).append(line)
    chosen = [line for group in zip(*by_class.values()) for line in group][:args.videos]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "clips.txt"
        manifest.write_text("".join(f"{clips / line.split()[0]} {line.split()[-1]}\n" for line in chosen))
        seconds, files = {}, {}
        for name, extra in (("local", []), ("ray", ["--ray"])):
            files[name] = Path(tmp) / f"{name}.npz"
            start = time.perf_counter()
            code = cli(["extract", str(manifest), "--T", str(args.T), "--classifier", args.classifier, "--out",
                        str(files[name]), "--cache-dir", str(Path(tmp) / f"cache-{name}"), "--no-progress", *extra])
            seconds[name] = time.perf_counter() - start
            if code:
                raise SystemExit(f"extract ({name}) failed")
        local, ray = np.load(files["local"]), np.load(files["ray"])
        differences = {}
        for key in local.files:
            a, b = local[key], ray[key]
            if a.dtype.kind == "f":
                differences[key] = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
            elif not np.array_equal(a, b):
                differences[key] = "differ"
        same_keys = set(local.files) == set(ray.files)
    report = {"videos": len(chosen), "T": args.T, "classifier": args.classifier, "seconds": seconds,
              "ray_over_local": seconds["ray"] / seconds["local"], "same_keys": same_keys,
              "max_abs_difference": differences, "load_average_start": load, "load_average_end": os.getloadavg(),
              "cpus": os.cpu_count()}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
