"""One verdict per (model, task): learning rate chosen on dev, several seeds, mean and standard deviation.

Model selection uses the DEV split only (for zero-shot transfer, the source language's dev): the
learning rate is chosen with the first seed, then every seed runs with it; test scores are
reported as mean and (population) standard deviation over the seeds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from .finetune import FinetuneSettings, evaluate_task
from .readers import TaskData, load_task


def evaluate(model_dir: str | Path, task: str | TaskData, settings: FinetuneSettings | None = None,
             data_root: str | Path | None = None, progress: bool = True, teacher: Any = None) -> dict[str, Any]:
    """Fine-tune and test ``model_dir`` on ``task`` over ``settings.seeds`` seeds (and
    ``settings.lr_grid``, chosen on dev).

    Returns:
        the first run's :func:`~monoglot.tasks.finetune.evaluate_task` result with ``metrics``
        replaced by the mean over seeds, plus ``std`` (per metric), ``runs`` (each seed's test and
        dev metrics), ``lr`` (the learning rate used) and ``lr_search`` (``{lr: dev score}``).

    Raises:
        BadInput: as :func:`~monoglot.tasks.finetune.evaluate_task`.
    """
    settings = settings or FinetuneSettings()
    task = load_task(task, data_root) if isinstance(task, str) else task
    first: dict[float, dict] = {}
    for lr in settings.lr_grid or [settings.lr]:
        first[lr] = evaluate_task(model_dir, task, settings.model_copy(update={"lr": lr}), progress=progress, teacher=teacher)
    lr = max(first, key=lambda x: first[x]["dev_metrics"][task.metric])
    runs = [first[lr]] + [evaluate_task(model_dir, task, settings.model_copy(update={"lr": lr, "seed": settings.seed + i}),
                                        progress=progress, teacher=teacher) for i in range(1, settings.seeds)]
    keys = list(runs[0]["metrics"])
    out = dict(runs[0])
    out["metrics"] = {k: statistics.fmean(r["metrics"][k] for r in runs) for k in keys}
    out["std"] = {k: statistics.pstdev([r["metrics"][k] for r in runs]) for k in keys}
    out["runs"] = [{"seed": settings.seed + i, "metrics": r["metrics"], "dev_metrics": r["dev_metrics"]} for i, r in enumerate(runs)]
    out["lr"] = lr
    out["lr_search"] = {str(k): v["dev_metrics"][task.metric] for k, v in first.items()}
    out["train_seconds"] = round(sum(r["train_seconds"] for r in runs) + sum(v["train_seconds"] for k, v in first.items() if k != lr), 2)
    return out
