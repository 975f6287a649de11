"""The table of results/your_classifier/README.md, from the JSON files run.sh writes (nothing typed by hand)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = (("n8.json", "n8_timed.json", "uniform"), ("n16.json", "n16.json", "uniform"), ("n32.json", "n32.json", "uniform"),
        ("n8.json", "n8_timed.json", "mgsampler"), ("n8.json", "n8_timed.json", "sosampler"),
        ("n8.json", "n8_timed.json", "sos-compressed"), ("n8.json", None, "semi_optimal_max"),
        ("n8.json", None, "semi_optimal_label"), ("n8.json", None, "oracle"), ("n8.json", None, "dense"))


def cell(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def main() -> None:
    reports = {path.name: json.loads(path.read_text()) for path in HERE.glob("*.json")}
    first = reports["n8.json"]
    model = first["classifier"].get("model", {})
    print(f"Classifier: {model.get('spec', '?')} ({len(model.get('classes', []))} classes, {model.get('size')} px, "
          f"fingerprint {model.get('fingerprint')}); {first['config']['videos']} test videos, T={first['config']['T']}; "
          f"one run each (deterministic samplers; repeats {first['config']['repeats']}).\n")
    print("| policy | N | top-1 | mAP | in-burst | GMACs / video | s / video | pipeline top-1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for untimed, timed, name in ROWS:
        if untimed not in reports or name not in reports[untimed]["policies"]:
            continue
        row, report = reports[untimed]["policies"][name], reports[untimed]
        cost = report.get("cost", {}).get(name, {})
        gmacs = cost.get("sampler_gmacs", 0) + cost.get("classifier_gmacs", 0) if cost else None
        extra = reports.get(timed, {}).get("policies", {}).get(name, {}) if timed else {}
        print(f"| {name} | {row['frames']:.0f} | {cell(row['top1'])} | {cell(row['mAP'])} | {cell(row['in_burst'])} | "
              f"{cell(gmacs, 2)} | {cell(extra.get('seconds_per_video'))} | {cell(extra.get('pipeline_top1'))} |")


if __name__ == "__main__":
    sys.exit(main())
