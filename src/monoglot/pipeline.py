"""Run a recipe: stage order, caching by settings hash, resume.

Each stage writes one model directory under ``<out>/<recipe name>/``; its ``monoglot.json``
records the hash of its settings and of its parents'. A stage whose directory already holds the
same hash is skipped, so a killed run resumes where it stopped and loses nothing (outputs are
written atomically), and changing one setting re-runs that stage and everything after it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from . import cache
from .artifacts import check_replaceable, check_writable, read_meta, settings_hash
from .errors import BadInput
from .files import write_json_atomic
from .paths import data_root
from .progress import console
from .recipe import Recipe

log = logging.getLogger("monoglot")


def resolve_corpus(entry, root: Path, languages: list[str] = (), source: bool = False):
    """A recipe's corpus entry (a path, ``hf:...``, or a :class:`~monoglot.recipe.CorpusSource`)
    as the :class:`~monoglot.corpus.CorpusRef` the stages read: the local file where it exists
    (as given, else under the data root), else the entry's hub dataset.

    Raises:
        BadInput: neither exists (names the file, the data root and a hub alternative).
    """
    from .sources import resolve_corpus as resolve

    return resolve(entry, root, languages, source)


def _parallel_file(path: str, root: Path) -> Path:
    """A recipe's ``[data] parallel`` file: as given if it exists, else under the data root.

    Raises:
        BadInput: neither exists.
    """
    for p in (Path(path), root / path):
        if p.is_file():
            return p
    raise BadInput(f"parallel text file {path} exists neither as given nor under the data root {root}; fix [data] parallel")


def check_stage_dir(out: Path, stage: str, resumable: bool = False) -> None:
    """Check that ``run`` may replace ``out`` (and, for a training stage, its work directory
    ``OUT.work``): absent, or written by monoglot for ``stage``.

    Raises:
        BadInput: naming the folder that monoglot did not write.
    """
    check_replaceable(out, stage)
    if resumable:
        from .distill import work_dir

        work = work_dir(out)
        if work.exists() and not (work / "stage-hash").is_file():
            raise BadInput(f"{work} exists and is not a checkpoint folder 'monoglot run' wrote (no stage-hash); "
                           "monoglot replaces only its own outputs: move it away or choose another --out")


def _cached_stage(name: str, out: Path, h: str, run: Callable[[Path], object], resumable: bool = False, *,
                  stage: str) -> Path:
    meta = read_meta(out)
    if out.is_dir() and meta.get(cache.KEY) == h and meta.get("stage") == stage:
        console.print(f"[green]✓[/] {name}: up to date in {out}")
        return out
    check_stage_dir(out, stage, resumable)
    if resumable:  # checkpoints of a training stage resume only under the same settings
        from .distill import work_dir

        work, marker = work_dir(out), work_dir(out) / "stage-hash"
        if work.exists() and not (marker.is_file() and marker.read_text() == h):
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        marker.write_text(h)
    console.print(f"[bold]▶ {name}[/] -> {out}")
    run(out)
    cache.mark(out, h)
    return out


def evaluation_texts(tasks: list[str], root: Path) -> list[str]:
    """Every sentence of every split of the evaluation tasks, both sides of bitext tasks (for
    decontamination)."""
    from .tasks import task_sentences
    from .tasks.bitext import is_bitext, read_bitext

    out = []
    for t in tasks:
        out += [s for side in read_bitext(t, root) for s in side] if is_bitext(t) else task_sentences(t, root)
    return out


def recipe_tasks(recipe: Recipe, root: Path) -> tuple[list[str], str]:
    """The recipe's evaluation tasks and a note for the report: ``[evaluate] tasks`` as given, else
    :func:`monoglot.tasks.defaults.default_tasks` for the recipe's languages."""
    from .tasks.defaults import default_tasks

    if recipe.evaluate.tasks is not None:
        return list(recipe.evaluate.tasks), ""
    return default_tasks(recipe.languages, root)


def check_tasks(tasks: list[str], root: Path) -> None:
    """Read every task once so that a bad name or file fails before any compute.

    Raises:
        BadInput: as :func:`monoglot.tasks.load_task` or :func:`monoglot.tasks.bitext.read_bitext`.
    """
    from .tasks import load_task
    from .tasks.bitext import is_bitext, read_bitext

    for t in tasks:
        read_bitext(t, root) if is_bitext(t) else load_task(t, root)


def run_recipe(recipe: Recipe, out: str | Path | None = None, data: str | Path | None = None,
               progress: bool = True) -> Path:
    """Run every stage of ``recipe`` and write ``report.md`` / ``report.json``; return the run directory.

    Raises:
        BadInput: bad paths or settings, before any compute is spent where they can be checked.
    """
    from .distill import adapt_teacher, distill
    from .recipe import StepSection
    from .shrink import shrink_to_dir
    from .sources import resolve_tasks
    from .teachers import resolve_model
    from .vocab import trim_to_corpus

    # ---- every check before anything is written (a failed check leaves no half-made run folder)
    root = data_root(data, must_exist=False)  # a recipe on hub data needs none; local items say what is missing
    recipe = resolve_tasks(recipe, root)
    run_dir = Path(out or recipe.out) / recipe.name
    corpora = [resolve_corpus(c, root, recipe.languages) for c in recipe.data.corpora]
    sources = [resolve_corpus(c, root, recipe.languages, source=True) for c in recipe.data.source_corpora]
    tasks, note = recipe_tasks(recipe, root)
    if recipe.evaluate.deploy and not tasks:
        raise BadInput("recipe: [evaluate] deploy = true but there are no tasks to fine-tune; list tasks in [evaluate]")
    check_tasks(tasks, root)  # fail early on a bad task name or file
    parallel = tuple(_parallel_file(c, root) for c in recipe.data.parallel) or None
    teacher = resolve_model(recipe.teacher)
    _check_run_dir(run_dir, recipe)
    if note:
        console.print(note)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "recipe.json", recipe.model_dump())

    col = recipe.data.text_column
    h_trim = settings_hash("trim", recipe.teacher, [str(c) for c in corpora + sources], col, recipe.trim.model_dump())
    trimmed = _cached_stage("trim", run_dir / "trimmed", h_trim, lambda o: trim_to_corpus(
        teacher, corpora + sources, o, recipe.trim, text_column=col, overwrite=True, progress=progress), stage="trim")
    eval_texts = evaluation_texts(tasks, root)  # decontaminates importance scoring and distillation
    parent, h_parent = trimmed, h_trim
    if recipe.adapt is not None:
        a = recipe.adapt
        h_parent = settings_hash("adapt", h_trim, a.model_dump(), tasks)
        parent = _cached_stage("adapt", run_dir / "adapted", h_parent, lambda o: adapt_teacher(
            trimmed, corpora, o, a, settings=a.distill_settings(text_column=col), eval_texts=eval_texts,
            overwrite=True, resume=True, progress=progress), resumable=True, stage="adapt")
    steps = ([("assistant", recipe.assistant)] if recipe.assistant else []) + [("student", StepSection(shrink=recipe.shrink, distill=recipe.distill))]
    made = {}
    for name, step in steps:
        h_init = settings_hash("shrink", h_parent, step.shrink.model_dump(), tasks, recipe.measure.model_dump())
        init = _cached_stage(f"shrink ({name})", run_dir / f"{name}-init", h_init, lambda o: shrink_to_dir(
            parent, o, step.shrink, corpora=corpora, text_column=col, eval_texts=eval_texts,
            measure=recipe.measure.model_dump(), overwrite=True, progress=progress), stage="shrink")
        h_out = settings_hash("distill", h_init, step.distill.model_dump(), tasks, [str(c) for c in sources],
                              *([[str(p) for p in parallel]] if parallel else []))
        out_dir = _cached_stage(f"distill ({name})", run_dir / name, h_out, lambda o: distill(
            parent, init, corpora, o, step.distill.model_copy(update={"text_column": col}), source_corpora=sources,
            eval_texts=eval_texts, parallel=parallel, overwrite=True, resume=True, progress=progress), resumable=True, stage="distill")
        if name == "student":  # the baseline: the student before distillation
            made["student-init"] = (init, h_init)
        made[name] = (out_dir, h_out)
        parent, h_parent = out_dir, h_out

    models = {"teacher": (teacher, settings_hash("teacher", recipe.teacher)),
              "trimmed teacher": (trimmed, h_trim), **made}
    return finish_run(run_dir, recipe, models, root, progress)


def stage_dirs(run_dir: Path, recipe: Recipe) -> dict[Path, tuple[str, bool]]:
    """The directories ``run`` writes for ``recipe``: ``{path: (stage, resumable)}``."""
    dirs = {run_dir / "trimmed": ("trim", False)}
    if recipe.adapt is not None:
        dirs[run_dir / "adapted"] = ("adapt", True)
    for name in (["assistant"] if recipe.assistant else []) + ["student"]:
        dirs[run_dir / f"{name}-init"] = ("shrink", False)
        dirs[run_dir / name] = ("distill", True)
    return dirs


def _check_run_dir(run_dir: Path, recipe: Recipe) -> None:
    """Refuse a run folder holding anything monoglot did not write where the run will write.

    Raises:
        BadInput: a stage folder that is not monoglot's own output of that stage, or a
            ``recipe.json`` that is not a monoglot recipe.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise BadInput(f"{run_dir} is a file, not a run folder; choose another --out")
    check_writable(run_dir)
    f = run_dir / "recipe.json"
    if f.exists():
        try:
            Recipe.model_validate_json(f.read_text())
        except (ValueError, OSError):
            raise BadInput(f"{f} exists and is not a recipe monoglot wrote; monoglot replaces only its own outputs: "
                           "move it away or choose another --out") from None
    for d, (stage, resumable) in stage_dirs(run_dir, recipe).items():
        check_stage_dir(d, stage, resumable)


def finish_run(run_dir: Path, recipe: Recipe, models: dict[str, tuple[str | Path, str]], root: Path,
               progress: bool = True, remeasure: bool = False) -> Path:
    """Evaluate ``models`` ({label: (directory, settings hash)}, the teacher first), add the
    deployment rows if the recipe asks, and write the report; return ``run_dir``. The earlier
    report's throughput is kept unless ``remeasure`` (see :func:`monoglot.report.earlier_measurements`)."""
    from .report import build_report

    tasks, note = recipe_tasks(recipe, root)
    results = evaluate_models(models, recipe, run_dir / "eval", root, progress, tasks=tasks)
    paths = {k: v[0] for k, v in models.items()}
    if recipe.evaluate.deploy:
        label = list(models)[-1]
        rows = deploy_rows(label, models[label][0], results[label], recipe, run_dir / "deploy", root, progress)
        results.update(rows)
        paths.update({k: next(iter(per.values()))["onnx_dir"] for k, per in rows.items() if per})
    return build_report(run_dir, recipe, paths, results, note=note, remeasure=remeasure)


def evaluate_models(models: dict[str, tuple[str | Path, str]], recipe: Recipe, eval_dir: Path, root: Path,
                    progress: bool = True, tasks: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """Test every model on every task (``tasks``, default the recipe's) with the recipe's method:
    frozen-encoder probes (:func:`monoglot.tasks.probe.probe_model`) or fine-tuning
    (:func:`monoglot.tasks.evaluate`); each result is cached in ``eval_dir`` by settings hash.

    Returns:
        ``{model label: {task: result}}`` (metrics as fractions; mean and std over seeds or
        probe experiments).
    """
    from .tasks import evaluate

    tasks = recipe_tasks(recipe, root)[0] if tasks is None else tasks
    method = recipe.evaluate.method
    out: dict[str, dict[str, dict]] = {}
    for label, (path, h) in reversed(list(models.items())):  # the newest model first: its verdict matters most
        ft = recipe.evaluate.finetune
        if label in ("teacher", "trimmed teacher") and recipe.evaluate.teacher_lr_grid is not None:
            ft = ft.model_copy(update={"lr_grid": recipe.evaluate.teacher_lr_grid})
        keys, todo = {}, []
        for task in tasks:
            keys[task] = (settings_hash("probe", h, task, ft.seed) if method == "probe"
                          else settings_hash("evaluate", h, task, ft.model_dump()))
            hit = cache.lookup(_eval_file(eval_dir, label, task, method), keys[task])
            if hit is not None:
                out.setdefault(label, {})[task] = hit
                console.print(f"[green]✓[/] evaluate {label} on {task}: cached")
            else:
                todo.append(task)
        if todo and method == "probe":
            from .tasks.probe import probe_model

            console.print(f"[bold]▶ probe[/] {label} on {', '.join(todo)}")
            fresh = probe_model(str(path), todo, root, progress=progress, seed=ft.seed)
        else:
            fresh = {}
            for task in todo:
                console.print(f"[bold]▶ evaluate[/] {label} on {task}")
                fresh[task] = evaluate(str(path), task, ft, data_root=root, progress=progress)
        for task, res in fresh.items():
            out.setdefault(label, {})[task] = cache.store(_eval_file(eval_dir, label, task, method), keys[task], res)
    return {label: {t: out[label][t] for t in tasks if t in out[label]} for label in models if label in out}


def _eval_file(eval_dir: Path, label: str, task: str, method: str) -> Path:
    name = task.replace(":", "-").replace("/", "_").replace(",", "+")
    return eval_dir / f"{label.replace(' ', '-')}__{name}{'.probe' if method == 'probe' else ''}.json"


def deploy_rows(label: str, model_dir: str | Path, results: dict[str, dict], recipe: Recipe, out: Path, root: Path,
                progress: bool = True) -> dict[str, dict[str, dict]]:
    """The deployment rows of the report: ``model_dir`` fine-tuned on each task (first seed, the
    learning rate evaluation chose on dev), exported to ONNX and quantised to int8 (one scale per
    output channel), each scored on test with onnxruntime. Results are cached in ``out`` by settings hash.

    Returns:
        ``{"<label> (ONNX fp32)": {task: result}, "<label> (ONNX int8)": {...}}``; each result is
        the PyTorch result with ``metrics`` from onnxruntime, ``std`` empty, and ``onnx_dir``.
    """
    from .deploy import OnnxTaskModel, export_onnx, quantize_int8
    from .export import load_task_model, score_test_split
    from .tasks import evaluate_task, load_task

    rows: dict[str, dict[str, dict]] = {f"{label} (ONNX fp32)": {}, f"{label} (ONNX int8)": {}}
    ft = recipe.evaluate.finetune
    for task_name, res in results.items():
        key = settings_hash("deploy", res.get("settings_hash"), task_name, "int8 per channel")
        stem = task_name.replace(":", "-").replace(">", "").replace("/", "-")
        f = out / f"{stem}.json"
        cached = cache.lookup(f, key)
        if cached is not None:
            for k in rows:
                rows[k][task_name] = cached[k]
            continue
        console.print(f"[bold]▶ deploy[/] {label} on {task_name}: fine-tune, export to ONNX, int8")
        task = load_task(task_name, root)
        tuned = out / "models" / stem
        shutil.rmtree(tuned, ignore_errors=True)
        evaluate_task(str(model_dir), task, ft.model_copy(update={"lr": res.get("lr", ft.lr)}), progress=progress, save_to=tuned)
        model, tok = load_task_model(tuned)
        fp32 = export_onnx(model, tok, tuned.with_name(tuned.name + ".onnx"), overwrite=True)
        int8 = quantize_int8(fp32, tuned.with_name(tuned.name + ".int8.onnx"), per_channel=True, overwrite=True)
        entry = {}
        for k, d in zip(rows, (fp32, int8)):
            metrics = score_test_split(OnnxTaskModel(d, threads=recipe.measure.threads), tok, task,
                                       max_length=ft.max_length, batch_size=2 * ft.batch_size)
            entry[k] = {**res, "metrics": metrics, "std": {}, "onnx_dir": str(d), "runs": []}
            rows[k][task_name] = entry[k]
        cache.store(f, key, entry)
    return rows
