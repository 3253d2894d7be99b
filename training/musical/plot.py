"""The PNG of a musical evaluation: one panel per feature, the KDE of each set over the reference's (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.musical.compare import GRID_POINTS, bandwidth, distances, kde

COLOURS = {"reference": "black", "model": "tab:blue", "ngram": "tab:orange", "real": "tab:green"}


def panel_samples(values: dict[str, np.ndarray], feature: str) -> dict[str, np.ndarray]:
    """What a panel draws for each set: the values, or for a histogram feature the distances to the reference."""
    reference = values["reference"][feature]
    if reference.ndim == 1:
        return {name: table[feature] for name, table in values.items()}
    return {name: distances(reference) if name == "reference" else distances(table[feature], reference)
            for name, table in values.items()}


def save_png(report: dict, path: str | Path, title: str = "") -> None:
    """Draw the KDE of every feature for every set of ``report`` (from compare_sets) into ``path``."""
    import matplotlib  # lazy: only --musical draws; matplotlib takes half a second to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: after choosing the Agg backend (no display needed)

    features = report["features"]
    columns = 4
    rows = -(-len(features) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.6 * rows))
    for axis, feature in zip(axes.ravel(), features, strict=False):
        samples = panel_samples(report["values"], feature)
        pooled = float(np.std(np.concatenate(list(samples.values()))))
        widths = {name: bandwidth(s, pooled) for name, s in samples.items()}
        low = min(s.min() for s in samples.values()) - 3 * max(widths.values())
        high = max(s.max() for s in samples.values()) + 3 * max(widths.values())
        grid = np.linspace(low, high, GRID_POINTS)
        for name, sample in samples.items():
            oa = "" if name == "reference" else f" OA {report['rows'][name][feature]['oa']:.2f}"
            axis.plot(grid, kde(sample, grid, widths[name]), color=COLOURS.get(name), label=f"{name}{oa}",
                      linewidth=2 if name == "reference" else 1.2)
        is_histogram = report["values"]["reference"][feature].ndim > 1
        axis.set_title(f"{feature} (distance)" if is_histogram else feature, fontsize=10)
        axis.set_yticks([])
        axis.legend(fontsize=7, frameon=False)
    for axis in axes.ravel()[len(features):]:
        axis.axis("off")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
