"""Pareto plots of a run: average task score against parameters and against CPU throughput."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pareto_front(points: list[tuple[float, float]], smaller_x_better: bool) -> list[int]:
    """Indices of the points no other point beats on both axes (higher y is better; x is cost
    when ``smaller_x_better``, else benefit), sorted by x."""
    order = sorted(range(len(points)), key=lambda i: points[i][0], reverse=not smaller_x_better)
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


def pareto_plots(models: dict[str, dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``pareto_parameters.png`` and ``pareto_throughput.png`` into ``out_dir``.

    ``models[label]`` needs ``average_score`` (a fraction, or None to leave the model out),
    ``parameters.total`` and ``throughput.sequences_per_second``. Returns the files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [k for k, r in models.items() if r.get("average_score") is not None]
    if not labels:
        return []
    written = []
    for name, xkey, xlabel, cost in (("pareto_parameters.png", lambda r: r["parameters"]["total"] / 1e6, "parameters (millions, log scale)", True),
                                     ("pareto_throughput.png", lambda r: r["throughput"]["sequences_per_second"], "CPU throughput (sequences/s, log scale)", False)):
        pts = [(xkey(models[k]), 100 * models[k]["average_score"]) for k in labels]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], zorder=3)
        for k, (x, y) in zip(labels, pts):
            ax.annotate(k, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        front = pareto_front(pts, cost)
        ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="gray", zorder=2, label="Pareto front")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("average task score (%)")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = Path(out_dir) / name
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
