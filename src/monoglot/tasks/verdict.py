"""One verdict per (model, task): learning rate chosen on dev, several seeds, mean and standard deviation.

Model selection uses the DEV split only (for zero-shot transfer, the source language's dev). With
``lr_selection = "first-seed"`` the learning rate is chosen with the first seed, then every seed
runs with it; with ``"seed-mean"`` every seed runs at every rate and the rate with the best mean dev
score wins (on a 99-sentence dev set such as SIB-200's one seed's dev score is noisy). Test scores
are reported as mean and (population) standard deviation over the seeds at the chosen rate.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

from .finetune import FinetuneSettings, evaluate_task
from .readers import TaskData, load_task

TASK_RESULT = "task-result.json"
"""Written beside a saved task model (``save_to``): the run's result, its task and settings."""


def evaluate(model_dir: str | Path, task: str | TaskData, settings: FinetuneSettings | None = None,
             data_root: str | Path | None = None, progress: bool = True, teacher: Any = None,
             transfer: list[str] | None = None, save_to: str | Path | None = None) -> dict[str, Any]:
    """Fine-tune and test ``model_dir`` on ``task`` over ``settings.seeds`` seeds (and
    ``settings.lr_grid``, chosen on dev as ``settings.lr_selection`` says).

    ``save_to``: a new directory for the task model of the first seed at the chosen rate (a task
    teacher for task distillation), with its run's result as ``task-result.json``; written under
    a temporary name and renamed when complete.

    Returns:
        the chosen rate's first run's :func:`~monoglot.tasks.finetune.evaluate_task` result with
        ``metrics`` replaced by the mean over seeds, plus ``std`` (per metric), ``runs`` (each
        seed's test and dev metrics), ``lr`` (the learning rate used), ``lr_selection``,
        ``lr_search`` (``{lr: dev score}``: the first seed's, or the mean over seeds) and, with
        ``"seed-mean"``, ``lr_search_runs`` (``{lr: runs}``, every seed at every rate).
        ``train_seconds`` sums every run, the other rates' included.

    Raises:
        BadInput: as :func:`~monoglot.tasks.finetune.evaluate_task`.
    """
    settings = settings or FinetuneSettings()
    task = load_task(task, data_root) if isinstance(task, str) else task
    grid = settings.lr_grid or [settings.lr]
    seeds = [settings.seed + i for i in range(settings.seeds)]
    if isinstance(teacher, (str, Path)):  # loaded once: every run reuses its soft labels (task_distill)
        from .task_distill import load_task_teacher

        teacher = load_task_teacher(teacher)

    stage = Path(save_to).with_name(f".{Path(save_to).name}.runs") if save_to is not None else None  # each rate's first seed's model
    if stage is not None:
        shutil.rmtree(stage, ignore_errors=True)  # a killed run's

    def run(lr: float, seed: int) -> dict:
        keep = stage / str(lr) if stage is not None and seed == seeds[0] else None
        return evaluate_task(model_dir, task, settings.model_copy(update={"lr": lr, "seed": seed}), progress=progress, teacher=teacher,
                             transfer=transfer, save_to=keep)

    def dev(r: dict) -> float:
        return r["dev_metrics"][task.metric]

    searched = seeds if settings.lr_selection == "seed-mean" else seeds[:1]  # the seeds every rate runs with
    tried = {lr: [run(lr, s) for s in searched] for lr in grid}
    search = {lr: statistics.fmean(dev(r) for r in rs) for lr, rs in tried.items()}
    lr = max(grid, key=search.__getitem__)  # ties: the first rate of the grid
    runs = tried[lr] + [run(lr, s) for s in seeds[len(searched):]]
    keys = list(runs[0]["metrics"])
    out = dict(runs[0])
    out["metrics"] = {k: statistics.fmean(r["metrics"][k] for r in runs) for k in keys}
    out["std"] = {k: statistics.pstdev([r["metrics"][k] for r in runs]) for k in keys}
    out["runs"] = _summaries(runs, seeds)
    out["lr"] = lr
    out["lr_selection"] = settings.lr_selection
    out["lr_search"] = {str(k): v for k, v in search.items()}
    if settings.lr_selection == "seed-mean":
        out["lr_search_runs"] = {str(k): _summaries(rs, seeds) for k, rs in tried.items()}
    others = [r for k, rs in tried.items() if k != lr for r in rs]
    out["train_seconds"] = round(sum(r["train_seconds"] for r in runs + others), 2)
    if stage is not None:
        (stage / str(lr) / TASK_RESULT).write_text(json.dumps(runs[0], indent=2) + "\n")
        (stage / str(lr)).rename(save_to)
        shutil.rmtree(stage)
    return out


def _summaries(runs: list[dict], seeds: list[int]) -> list[dict]:
    """Each run's seed, test metrics and dev metrics (the rest of a run's record is the same for all)."""
    return [{"seed": s, "metrics": r["metrics"], "dev_metrics": r["dev_metrics"]} for s, r in zip(seeds, runs)]
