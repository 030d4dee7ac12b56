"""Plots: a run's Pareto plots (average task score against parameters and against CPU throughput)
and distillation curves (probe retention against training tokens and time)."""

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


def retention_plot(results: list[dict[str, Any]], path: str | Path, time: bool = True) -> Path:
    """Write mean probe retention against training tokens (left) and, with ``time``, against
    distillation seconds (right, the cost on one machine: mixes differ in what a token costs), one
    line per mix.

    ``results[i]`` needs ``mix`` (the line's label), ``tokens``, ``mean_retention`` (a fraction of
    the teacher) and, with ``time``, ``seconds``. Returns ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("tokens", 1e6, "training tokens (millions, log scale)")]
    if time:
        panels.append(("seconds", 60, "distillation time (minutes, log scale)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), sharey=True, squeeze=False)
    axes = axes[0]
    plain = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
    for ax, (key, scale, label) in zip(axes, panels):
        for i, mix in enumerate(dict.fromkeys(r["mix"] for r in results)):
            rs = sorted((r for r in results if r["mix"] == mix), key=lambda r: r[key])
            ax.plot([r[key] / scale for r in rs], [100 * r["mean_retention"] for r in rs], marker="os^D"[i // 10 % 4],
                    color=plt.cm.tab10(i % 10), label=mix)
        ax.axhline(95, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean probe retention vs teacher (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3)
    fig.tight_layout(rect=(0, 0.05 + 0.035 * ((len(labels) + 2) // 3), 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
