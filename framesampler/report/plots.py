"""Plots of experiment results (matplotlib, Agg backend, imported on use)."""
from __future__ import annotations

from pathlib import Path


def plot_top1_vs_nt(large: dict, path: Path) -> None:
    """Figure 4: top-1 against N/T for each sampler, with the seed spread as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(large)
    figure, axis = plt.subplots(figsize=(6, 4))
    for name in large[labels[0]]:
        axis.errorbar(labels, [large[nt][name]["top1"] for nt in labels], yerr=[large[nt][name]["top1_std"] for nt in labels],
                      marker="o", capsize=3, label=name)
    axis.set_xlabel("N/T")
    axis.set_ylabel("top-1")
    axis.set_title("Untrimmed UCF101 features: top-1 against N/T")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_top1_vs_cost(section: dict, cost: str, path: Path) -> None:
    """Top-1 against a cost per video (``"seconds_per_video"`` or ``"gmacs"``) for each sampler of a timed
    section ({"N/T": {sampler: row}}): one line per sampler through its budgets, each point labelled by the
    frames it classified, the seed spread as vertical error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(name for rows in section.values() for name in rows))
    colours, markers = plt.get_cmap("tab20"), "os^vDP*Xhp<>d"  # 20 listed colours: an int picks one
    figure, axis = plt.subplots(figsize=(8, 5.5))
    for i, name in enumerate(names):
        rows = [rows[name] for rows in section.values() if name in rows and cost in rows[name]]
        if not rows:
            continue
        colour = colours((2 * i) % 20 + (2 * i) // 20)
        axis.errorbar([row[cost] for row in rows], [row["top1"] for row in rows], yerr=[row["top1_std"] for row in rows],
                      marker=markers[i % len(markers)], color=colour, capsize=3, label=name)
        for row in rows:
            axis.annotate(f"{round(row['frames'], 1):g}", (row[cost], row["top1"]), textcoords="offset points", xytext=(4, 4),
                          fontsize=7, color=colour)
    axis.set_xscale("log")
    axis.set_xlabel({"seconds_per_video": "seconds per video (wall, decoding included; log scale)",
                     "gmacs": "GMACs per video (sampler + classifier; log scale)"}.get(cost, cost))
    axis.set_ylabel("top-1")
    axis.set_title("Constructed untrimmed UCF101 videos: top-1 against cost (points: frames classified)")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
