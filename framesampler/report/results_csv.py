"""Results as CSV, a row per policy, like timm's results files (``evaluate --csv``, ``experiments --csv``)."""
from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from framesampler.storage import atomic_file

METRICS = ("top1", "top1_std", "mAP", "mAP_std", "fidelity", "fidelity_std", "frames")


def evaluation_rows(report: dict) -> list[dict]:
    """One row per policy of an ``evaluate`` report: the budget, the metrics (mean and std over repeats), and
    the cost columns (GMACs, seconds per video) the report has."""
    config, cost = report["config"], report.get("cost", {})
    rows = []
    for policy, row in report["policies"].items():
        extra = {k: v for k, v in {**cost.get(policy, {}), **row}.items() if k not in METRICS}
        rows.append({"policy": policy, "regime": config.get("regime"), "T": config.get("T"), "N": config.get("N"),
                     "videos": config.get("videos"), **{m: row.get(m) for m in METRICS}, **extra})
    return rows


def experiment_rows(results: dict) -> list[dict]:
    """One row per (table, N/T, sampler) of an ``experiments`` result, with the table's name and its N and T."""
    rows = []
    for section, tables in results.items():
        if section in ("config", "cost"):
            continue
        for nt, policies in tables.items():
            n, _, t = nt.partition("/")
            for policy, row in policies.items():
                rows.append({"table": section, "policy": policy, "N": int(n), "T": int(t), **{m: row.get(m) for m in METRICS},
                             **{k: v for k, v in row.items() if k not in METRICS}})
    return rows


def write_csv(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Write ``rows`` (columns in order of first appearance; empty cells for missing values) atomically."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_file(path) as partial:
        with open(partial, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return Path(path)
