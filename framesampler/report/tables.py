"""Tables of evaluation and experiment results, as text and markdown."""
from __future__ import annotations


def format_table(report: dict) -> str:
    """A readable table of a report from ``run``."""
    config = report["config"]
    lines = [f"{config['regime']} regime, T={config['T']}, N={config['N']}, {config['videos']} test videos, "
             f"classifier: {report['classifier']['head']} head, {report['classifier']['consensus']} consensus, "
             f"oracle: {config['oracle']}; mean ± std over {config['repeats']} run(s)",
             f"{'policy':<20}{'top-1':>15}{'mAP':>15}{'fidelity':>15}{'in-burst':>15}{'frames':>8}"
             + (f"{'GMACs sampler':>15}{'classifier':>12}" if "cost" in report else "")
             + (f"{'s/video':>10}{'GMACs':>8}" if "timed" in report else "")]

    def cell(row: dict, metric: str) -> str:
        return "-" if row.get(metric) is None else f"{row[metric]:.3f} ± {row[metric + '_std']:.3f}"

    for name, row in report["policies"].items():
        cost = report.get("cost", {}).get(name)
        lines.append(f"{name:<20}{cell(row, 'top1'):>15}{cell(row, 'mAP'):>15}{cell(row, 'fidelity'):>15}"
                     f"{cell(row, 'in_burst'):>15}{row['frames']:>8.1f}"
                     + (f"{cost['sampler_gmacs']:>15.3f}{cost['classifier_gmacs']:>12.3f}" if cost else "")
                     + (f"{row['seconds_per_video']:>10.3f}{row['gmacs']:>8.2f}" if "seconds_per_video" in row else "")
                     + (f"  [{row['reading']}]" if "reading" in row else ""))
    return "\n".join(lines)


def training_note(training: dict) -> str:
    """How the learned samplers of a results file were trained: the recipe and any value overridden."""
    overrides = ", ".join(f"{k} {v}" for k, v in training.items() if k != "recipe" and v is not None)
    return f"{training.get('recipe', 'short')} recipe" + (f" ({overrides})" if overrides else "")


def markdown(results: dict) -> str:
    """The results as markdown tables (mean ± std over seeds)."""
    config = results["config"]
    length = f", L={config['length']}" if config["regime"] == "untrimmed" else ""
    lines = [f"Seeds: {config['seeds']}; data: {config['features']} ({config['regime']}{length}, vocab {config['vocab']}); "
             f"classifier: {config.get('classifier', 'frame')}; training: {training_note(config.get('training', {}))}"
             + (f"; left out: {', '.join(config['exclude'])}" if config.get("exclude") else ""), ""]
    for section, tables in results.items():
        if section in ("config", "cost"):
            continue
        for nt, rows in tables.items():
            timed = any("seconds_per_video" in row for row in rows.values())
            lines += [f"### {section}: N/T = {nt}", "", "| sampler | recipe | top-1 | mAP | fidelity | in-burst | frames | GMACs |"
                      + (" s/video | pipeline top-1 |" if timed else ""), "|" + " --- |" * (10 if timed else 8)]
            for name, row in rows.items():
                cells = ["-" if row.get(m) is None else f"{row[m]:.3f} ± {row[m + '_std']:.3f}"
                         for m in ("top1", "mAP", "fidelity", "in_burst")]
                gmacs = f"{row['gmacs']:.2f}" if "gmacs" in row else "-"
                shown = f"{name} [{row['reading']}]" if "reading" in row else name
                lines.append(f"| {shown} | {row.get('recipe', '-')} | {' | '.join(cells)} | {row['frames']:.2f} | {gmacs} |" + (
                    f" {row['seconds_per_video']:.3f} | {row['pipeline_top1']:.3f} |" if "seconds_per_video" in row
                    else " - | - |" if timed else ""))
            lines.append("")
    if "cost" in results:
        cost = results["cost"]
        lines += ["### cost (GMACs per video)", "", f"classifier per frame: {cost['classifier_gmacs_per_frame']:.2f} G; "
                  f"sampler per frame: {cost['sampler_mmacs_per_frame']:.2f} M. {cost['note']}", "",
                  "| N/T | sampler | classifier (N frames) | dense (T frames) | sampler / classifier |", "| --- | --- | --- | --- | --- |"]
        for nt, row in cost["per_video"].items():
            lines.append(f"| {nt} | {row['sampler_gmacs']:.4f} | {row['classifier_gmacs']:.1f} | {row['dense_gmacs']:.1f} | "
                         f"{row['sampler_over_classifier']:.2e} |")
    return "\n".join(lines) + "\n"
