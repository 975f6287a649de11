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
