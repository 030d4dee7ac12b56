"""Quality goal: the best student with at least 90% fewer parameters than e5-small keeps at least
95% of the teacher's score on average over the Swahili tasks, at at least 5x its CPU throughput.

Runs a recipe (default ``recipes/swahili.toml``: trim, adapt, shrink, distill, evaluate, report;
finished stages are reused) and prints, per task, the student's test score as a fraction of the
teacher's (in-language and zero-shot from English), the average over the tasks the teacher has
learned (a teacher at the majority-class baseline says nothing about the student), and the
throughput multiple measured side by side in the report's run.

``--budget full`` then fine-tunes every model of the run on every task that has train and dev
splits, with a budget in which every model can learn every task (:func:`full_budget`): all the
training data, the tasks' published epochs (SIB-200 20 epochs around lr 1e-5, Adelani et al. 2024;
MasakhaNER 2.0 and MasakhaPOS 20 epochs around 5e-5, Adelani et al. 2022, Dione et al. 2023) cut by
early stopping on dev, a learning rate chosen on dev for every model (teachers: among the recipe's
``teacher_lr_grid`` when it has one, as in the recipe's own evaluation, else the published rate; a
12-layer teacher costs about 7x a 4-layer student per epoch; small models: a grid above it), at
least 3 seeds (mean ± std), and the baselines: the majority class, the student before distillation
(student-init) and the same student shape distilled from random initialisation (Cruz & Aji 2025).
Sequence heads read each model's own pooling (``FinetuneSettings.pooling = "auto"``: the mean over
the tokens for e5 and every model monoglot derives from it, see :mod:`monoglot.tasks.pooling`).
It prints its wall time and the CPU model.

``--task-distill ALPHA,...`` adds a row per weight ALPHA of the gold labels: the student
fine-tuned with the same budget by task distillation (ALPHA x gold cross-entropy + (1 - ALPHA) x
the soft labels of the trimmed teacher fine-tuned on the task, as the teacher row is, with the
first seed; BiStil's task phase), the way a user would build a task model from the student.
``--transfer N`` adds N unlabeled sentences of the recipe's corpora to those rows' training sets
with the teacher's soft labels only (a transfer set, Hinton et al. 2015; TinyBERT's data
augmentation, Jiao et al. 2020, sec. 3.1).

Usage: python benchmarks/quality.py [--recipe recipes/swahili.toml] [--out out] [--data DATA_ROOT]
       [--budget demo|full] [--seeds 3] [--max-epochs N] [--max-train-examples N] [--no-random-init]
       [--models LABEL,...] [--tasks SPEC,...] [--lr-grid LR,...] [--lr-selection first-seed|seed-mean]
       [--task-distill ALPHA,... [--transfer N] [--task-distill-hidden W]] [--set KEY=VALUE ...]

A finished run is reused: e.g. the Welsh recipe's full budget on SIB-200 for the teacher and the
student only, ``--recipe recipes/welsh.toml --budget full --models teacher,student --tasks
sib200:cym_Latn --no-random-init``; ``--set distill.steps=2400 --set name=welsh-2400`` names the
run as ``monoglot run`` does.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

from monoglot.errors import BadInput
from monoglot.files import slug, write_json_atomic
from monoglot.pipeline import run_recipe
from monoglot.recipe import load_recipe
from monoglot.tasks.settings import parse_lr_grid

FULL_RECIPES = {
    # family: (published epochs, published learning rate, grid for the small models chosen on dev)
    "sib200": (20, 1e-5, [5e-5, 2e-4, 5e-4]),
    "masakhaner2": (20, 5e-5, [2e-4, 5e-4, 1e-3]),
    "masakhapos": (20, 5e-5, [2e-4, 5e-4, 1e-3]),
    "ud": (20, 5e-5, [2e-4, 5e-4, 1e-3]),
    "afrisenti": (20, 1e-5, [5e-5, 2e-4, 5e-4]),
}
"""Full-budget fine-tuning per task family; early stopping (patience 3 epochs on dev) cuts them.

Teachers fine-tune at the recipe's ``teacher_lr_grid``, else at the published rate. The small
models' grid sits above it: on the 400-step Swahili student the best rate was the top of the
earlier grids (SIB-200 dev macro-F1 5.8 / 27.1 / 60.1 at 1e-5 / 5e-5 / 2e-4; UPOS 82.9 / 89.6 /
90.1 at 5e-5 / 2e-4 / 5e-4), so the grids moved up one step. A step further did not win: on the
2,400-step students with mean-pooled heads, SIB-200 dev macro-F1 at 1e-3 was 60.1 against 68.6 at
5e-4 (Swahili) and 43.1 against 71.1 at 2e-4 (Welsh)."""
PATIENCE = 3


def task_distilled_label(alpha: float, transfer: int = 0, hidden: float = 0.0) -> str:
    """The row label of the student fine-tuned by task distillation (``--task-distill``) with
    gold-label weight ``alpha`` and, with ``--transfer N``, a transfer set of N sentences, with
    ``--task-distill-hidden W``, a hidden-state loss of weight W."""
    extras = ([f"transfer {transfer}"] if transfer else []) + ([f"hidden {hidden:g}"] if hidden else [])
    return f"task-distilled student (alpha {alpha:g}" + "".join(f", {e}" for e in extras) + ")"


def cpu_model() -> str:
    """lscpu's "Model name" (printed beside every timing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def random_init_student(run_dir: Path, recipe, data_root, seed: int = 0, progress: bool = True) -> Path:
    """The Cruz & Aji (2025) baseline: the student's shape (``student-init``'s config and tokenizer)
    with random weights, distilled with the recipe's distillation settings from the student's
    teacher. Cached in ``run_dir/student-from-random`` (by the student's settings hash)."""
    import torch

    from monoglot import cache
    from monoglot.artifacts import settings_hash
    from monoglot.distill import distill
    from monoglot.pipeline import evaluation_texts, recipe_tasks, resolve_corpus
    from monoglot.paths import data_root as resolve_root
    from monoglot.teachers.loader import load_saved_architecture, new_like

    root = resolve_root(data_root)
    out = run_dir / "student-from-random"
    h = settings_hash("random-init", cache.recorded(run_dir / "student"), seed)
    if cache.recorded(out) == h:
        return out
    init = run_dir / "random-init"
    shutil.rmtree(init, ignore_errors=True)
    shutil.copytree(run_dir / "student-init", init)  # tokenizer, monoglot.json (prompts), shrink basis
    model = load_saved_architecture(str(init))
    torch.manual_seed(seed)
    new_like(model, model.config).save_pretrained(init)
    parent = run_dir / ("assistant" if recipe.assistant else "adapted" if recipe.adapt else "trimmed")
    corpora = [resolve_corpus(c, root) for c in recipe.data.corpora]
    sources = [resolve_corpus(c, root) for c in recipe.data.source_corpora]
    distill(parent, init, corpora, out, recipe.distill.model_copy(update={"text_column": recipe.data.text_column}),
            source_corpora=sources, eval_texts=evaluation_texts(recipe_tasks(recipe, root)[0], root),
            overwrite=True, resume=True, progress=progress)
    cache.mark(out, h)
    return out


def _subset(wanted: list[str], have: list[str], option: str, what: str) -> list[str]:
    """``wanted`` if every name is in ``have``.

    Raises:
        SystemExit: a name that is not, with the names to choose from.
    """
    unknown = [w for w in wanted if w not in have]
    if unknown:
        raise SystemExit(f"error: {option} {', '.join(unknown)}: not {what}; choose from {', '.join(have)}")
    return wanted


def full_budget(run_dir: Path, recipe, data_root=None, *, seeds: int = 3, max_epochs: int | None = None,
                max_train_examples: int | None = None, random_init: bool = True, progress: bool = True,
                only_models: list[str] | None = None, only_tasks: list[str] | None = None,
                lr_grid: list[float] | None = None, lr_selection: str = "first-seed", task_distill: list[float] | None = None,
                transfer: int = 0, task_distill_hidden: float = 0.0) -> dict:
    """Fine-tune every model of ``run_dir`` on every fine-tunable task of ``recipe`` with the
    full budget (module docstring); results cached per (model, task) in ``run_dir/full-budget/``.

    ``max_epochs`` and ``max_train_examples`` cap the budget (for a smoke test only);
    ``only_models`` (labels, in this order) and ``only_tasks`` (recipe task specs) spend it on a subset.
    ``lr_grid`` replaces the small models' grid of :data:`FULL_RECIPES` for every task (teachers
    keep theirs); the rate is still chosen on dev, by the first seed's dev score or, with
    ``lr_selection="seed-mean"``, by the mean dev score of every seed at every rate
    (:mod:`monoglot.tasks.verdict`). ``task_distill`` (gold-label weights A) adds the rows
    ``task-distilled student (alpha A)``: the student fine-tuned with the same budget on the gold
    labels (weight A) and the soft labels (1 - A) of the trimmed teacher fine-tuned on the task
    (:func:`task_teacher`; BiStil's task phase, Ansell et al. 2023, sec. 3.3; TinyBERT's
    task-specific distillation, Jiao et al. 2020, sec. 3.2). ``transfer`` > 0 adds those sentences of
    the recipe's corpora to each task-distilled row's training set, soft labels only (the transfer
    set, :mod:`monoglot.tasks.transfer`; decontaminated against every task of the recipe): rows
    ``task-distilled student (alpha A, transfer N)``, sentence tasks only. ``task_distill_hidden``
    > 0 adds TinyBERT's hidden-state loss with that weight (each student layer against its teacher
    layer, in the basis the student was distilled in): rows ``..., hidden W)``.

    Raises:
        SystemExit: a label or task in ``only_models``/``only_tasks`` that the run does not have.

    Returns:
        ``{"models": {label: {task: monoglot.tasks.evaluate result}}, "seconds", "cpu"}``.
    """
    from monoglot import cache
    from monoglot.artifacts import settings_hash
    from monoglot.pipeline import recipe_tasks
    from monoglot.paths import data_root as resolve_root
    from monoglot.tasks import FinetuneSettings, evaluate, load_task
    from monoglot.tasks.bitext import is_bitext
    from monoglot.teachers import resolve_model

    t0 = time.perf_counter()
    root = resolve_root(data_root)
    models = {"teacher": Path(resolve_model(recipe.teacher)), "trimmed teacher": run_dir / "trimmed",
              "student-init": run_dir / "student-init", "student": run_dir / "student"}
    alphas = {task_distilled_label(a, transfer, task_distill_hidden): a for a in task_distill or []}
    models.update({label: run_dir / "student" for label in alphas})
    if random_init and (only_models is None or "student from random init" in only_models):
        models["student from random init"] = random_init_student(run_dir, recipe, root, progress=progress)
    if only_models is not None:
        models = {m: models[m] for m in _subset(only_models, list(models), "--models", "a model of the run")}
    kinds: dict[str, str] = {}  # fine-tunable task spec -> its kind (sequence or token)
    for spec in recipe_tasks(recipe, root)[0]:
        if is_bitext(spec) or spec.split("->")[0].split(":")[0] not in FULL_RECIPES:
            continue
        task = load_task(spec, root)
        if {"train", "dev"} <= set(task.splits):
            kinds[spec] = task.kind
    tasks = list(kinds)
    if only_tasks is not None:
        tasks = _subset(only_tasks, tasks, "--tasks", "a fine-tunable task of the recipe")
    out_dir = run_dir / "full-budget"
    sentences = transfer_set(recipe, root, transfer) if transfer and alphas else None
    results: dict = {}
    for label, path in models.items():
        for spec in tasks:
            epochs, published, grid = FULL_RECIPES[spec.split("->")[0].split(":")[0]]
            teacher_grid = list(recipe.evaluate.teacher_lr_grid or [published])  # base-size encoders: the recipe's rate, else the published one
            grid = teacher_grid if "teacher" in label else list(lr_grid or grid)
            s = FinetuneSettings(epochs=min(epochs, max_epochs or epochs), lr_grid=grid, lr=grid[0], seeds=seeds,
                                 lr_selection=lr_selection if len(grid) > 1 else "first-seed",  # one rate: the same runs, the same cache
                                 patience=PATIENCE, max_train_examples=max_train_examples,
                                 batch_size=recipe.evaluate.finetune.batch_size, max_length=recipe.evaluate.finetune.max_length,
                                 seed=recipe.evaluate.finetune.seed)
            teacher, extra = None, None
            if label in alphas and sentences and kinds[spec] != "sequence":
                continue  # a transfer set is unlabeled sentences: sentence tasks only
            if label in alphas:  # the task teacher fine-tunes as the teacher row does, with the first seed
                teacher = task_teacher(run_dir, spec, s.model_copy(update={"lr_grid": teacher_grid, "lr": teacher_grid[0], "seeds": 1,
                                                                           "lr_selection": "first-seed"}),
                                       root, progress=progress)
                s = s.model_copy(update={"distill_alpha": alphas[label], "distill_hidden": task_distill_hidden})
                extra = sentences
            key = settings_hash("full-budget", cache.recorded(path) or str(path), spec, s.model_dump(),
                                *([cache.recorded(teacher)] if teacher else []), *([extra] if extra else []))
            f = out_dir / f"{slug(label)}__{_spec_slug(spec)}.json"  # "student from random init" -> student-from-random-init__...
            res = cache.lookup(f, key)
            if res is None:
                print(f"fine-tuning {label} on {spec} ({s.epochs} epochs max, lr grid {grid}, {seeds} seeds)", flush=True)
                res = cache.store(f, key, evaluate(str(path), spec, s, data_root=root, progress=progress, teacher=teacher,
                                                      transfer=extra))
            results.setdefault(label, {})[spec] = res
    return {"models": results, "seconds": time.perf_counter() - t0, "cpu": cpu_model()}


def transfer_set(recipe, root: Path, count: int) -> list[str]:
    """``count`` sentences of the recipe's target-language corpora (a seeded sample, the recipe's
    distillation seed), decontaminated against every task of the recipe (every split, both sides
    of bitext): the transfer set of ``--transfer``."""
    from monoglot.pipeline import evaluation_texts, recipe_tasks
    from monoglot.sources import resolve_corpus
    from monoglot.tasks.transfer import transfer_sentences

    corpora = [resolve_corpus(c, root, recipe.languages) for c in recipe.data.corpora]
    return transfer_sentences(corpora, recipe.data.text_column, evaluation_texts(recipe_tasks(recipe, root)[0], root), count,
                              seed=recipe.distill.seed)


def _spec_slug(spec: str) -> str:
    """A task spec as a file name: ``sib200:swh_Latn`` -> ``sib200-swh_Latn``."""
    return spec.replace(":", "-").replace("/", "_")


def task_teacher(run_dir: Path, spec: str, settings, data_root, progress: bool = True) -> Path:
    """The trimmed teacher (it shares the student's tokenizer) fine-tuned on ``spec`` with
    ``settings`` (one seed; the rate of ``settings.lr_grid`` with the best dev score), saved as a
    task model in ``run_dir/task-teachers/``: the soft labels of task distillation. Cached by the
    trimmed teacher's settings hash, the task and the settings.

    Returns:
        the task model's directory (``config.classifier_pooling`` records its pooling).
    """
    from monoglot import cache
    from monoglot.artifacts import settings_hash
    from monoglot.tasks.verdict import evaluate

    trimmed = run_dir / "trimmed"
    out = run_dir / "task-teachers" / _spec_slug(spec)
    key = settings_hash("task-teacher", cache.recorded(trimmed) or str(trimmed), spec, settings.model_dump())
    if out.is_dir() and cache.recorded(out) == key:
        return out
    print(f"fine-tuning the task teacher (the trimmed teacher) on {spec} (lr grid {settings.lr_grid}, seed {settings.seed})", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    evaluate(trimmed, spec, settings, data_root=data_root, progress=progress, save_to=out)
    cache.mark(out, key)
    return out


def full_table(full: dict) -> str:
    """Markdown: per task, each model's primary test score (mean ± std over seeds), the majority
    class, and each model's score kept vs the teacher; then the average kept ("–": not run); below
    the table, for every rate chosen from a grid, the dev scores it was chosen on and each seed's
    test score."""
    models = full["models"]
    teacher = models.get("teacher", {})
    tasks = list(dict.fromkeys(t for per in models.values() for t in per))
    any_result = {t: next(per[t] for per in models.values() if t in per) for t in tasks}
    head = ["model"] + tasks + ["average kept vs teacher"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append("| majority class (test acc.) | " + " | ".join(f"{100 * any_result[t]['majority_baseline']:.1f}" for t in tasks) + " | – |")
    for label, per in models.items():
        cells, kept = [label], []
        for t in tasks:
            if t not in per:  # not run (a subset of the budget)
                cells.append("–")
                continue
            r = per[t]
            m = r["metric"]
            cell = f"{100 * r['metrics'][m]:.1f} ± {100 * r['std'][m]:.1f}"
            ref = teacher.get(t, {}).get("metrics", {}).get(m)
            if ref:
                kept.append(r["metrics"][m] / ref)
                cell += f" ({100 * r['metrics'][m] / ref:.0f}%)"
            cells.append(cell)
        cells.append(f"{100 * sum(kept) / len(kept):.1f}%" if kept else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for label, per in models.items():  # the rate each model chose on dev, and what it chose from
        for t, r in per.items():
            if len(r.get("lr_search", {})) > 1:
                how = "the mean dev score over the seeds" if r.get("lr_selection") == "seed-mean" else "the first seed's dev score"
                tried = ", ".join(f"{float(k):g}: {100 * v:.1f}" for k, v in r["lr_search"].items())
                lines.append(f"- {label}, {t}: lr {r['lr']:g}, chosen by {how} ({tried}); test per seed "
                             + " / ".join(f"{100 * x['metrics'][r['metric']]:.1f}" for x in r["runs"]))
    return "\n".join(lines)


def at_chance(result: dict) -> str | None:
    """Why the teacher's result says nothing about the task (then the ratio is left out), or None.

    A teacher no better than the majority-class baseline (test accuracy within 1 point of it; for
    probes, macro-F1 or the primary metric against the majority class's), or with an entity F1 of
    0, has not learned the task under the evaluation budget.
    """
    m = result["metrics"]
    base = result.get("majority")  # probes: the majority class's own metrics
    if base:  # balanced 8-shot probes can trail the majority class in accuracy yet learn: judge macro-F1
        key = "macro_f1" if "macro_f1" in base else result["metric"]
        return "teacher at the majority-class baseline" if m[key] <= base[key] + 0.01 else None
    if result["metric"] == "entity_f1" and m["entity_f1"] == 0:
        return "teacher entity F1 0"
    if m.get("accuracy") is not None and m["accuracy"] <= result["majority_baseline"] + 0.01:
        return "teacher at the majority-class baseline"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="recipes/swahili.toml")
    ap.add_argument("--out", default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--budget", choices=["demo", "full"], default="demo",
                    help="demo: the recipe's own evaluation; full: also fine-tune every model with the full budget")
    ap.add_argument("--seeds", type=int, default=3, help="full budget: seeds per (model, task), at least 3 for the verdict")
    ap.add_argument("--max-epochs", type=int, default=None, help="full budget: cap the published epochs (smoke tests only)")
    ap.add_argument("--max-train-examples", type=int, default=None, help="full budget: cap the train split (smoke tests only)")
    ap.add_argument("--no-random-init", action="store_true", help="full budget: skip the random-init student baseline")
    ap.add_argument("--models", default=None, help="full budget: comma-separated model labels, in this order (default: all)")
    ap.add_argument("--tasks", default=None, help="full budget: comma-separated task specs of the recipe (default: all fine-tunable)")
    ap.add_argument("--lr-grid", default=None, help="full budget: comma-separated learning rates for the small models, chosen on dev (default: per task family)")
    ap.add_argument("--lr-selection", choices=["first-seed", "seed-mean"], default="first-seed",
                    help="full budget: choose the rate by the first seed's dev score (the protocol so far) or by the "
                         "mean dev score of every seed at every rate (steadier on SIB-200's 99 dev sentences; len(grid)x the runs)")
    ap.add_argument("--task-distill", default=None, metavar="ALPHA,...",
                    help="full budget: also fine-tune the student by task distillation from the trimmed teacher tuned on each "
                         "task, one row per weight ALPHA of the gold labels (1 - ALPHA on the soft labels), e.g. 0.5,0; "
                         "BiStil's task phase")
    ap.add_argument("--transfer", type=int, default=0, metavar="N",
                    help="full budget, with --task-distill: also train each task-distilled row on N unlabeled sentences of the "
                         "recipe's corpora (decontaminated) with the task teacher's soft labels only: a transfer set "
                         "(TinyBERT's data augmentation); sentence tasks only")
    ap.add_argument("--task-distill-hidden", type=float, default=0.0, metavar="W",
                    help="full budget, with --task-distill: add the hidden-state loss with weight W (TinyBERT's task-specific "
                         "distillation; the teacher then runs in every step)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a recipe key as `monoglot run --set` does, e.g. --set distill.steps=2400 --set name=welsh-2400; repeatable")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args()
    t0 = time.perf_counter()
    try:
        recipe = load_recipe(args.recipe, args.set)
        lr_grid = parse_lr_grid(args.lr_grid) or None
    except BadInput as e:
        raise SystemExit(f"error: {e}") from None
    run_dir = run_recipe(recipe, args.out, args.data, progress=not args.quiet)
    if args.budget == "full":
        full = full_budget(run_dir, recipe, args.data, seeds=args.seeds, max_epochs=args.max_epochs,
                           max_train_examples=args.max_train_examples, random_init=not args.no_random_init,
                           progress=not args.quiet, only_models=args.models.split(",") if args.models else None,
                           only_tasks=args.tasks.split(",") if args.tasks else None, lr_grid=lr_grid,
                           lr_selection=args.lr_selection, task_distill=parse_lr_grid(args.task_distill) or None,
                           transfer=args.transfer, task_distill_hidden=args.task_distill_hidden)
        write_json_atomic(run_dir / "full-budget.json", full)  # this invocation's models and tasks; every cell is cached in full-budget/
        print("\n## Full-budget fine-tuning (primary metric on test, mean ± std over seeds; kept vs teacher)\n")
        print(full_table(full))
        print(f"\nfull budget: {full['seconds'] / 60:.1f} min; whole benchmark {(time.perf_counter() - t0) / 60:.1f} min "
              f"on {full['cpu']}, {__import__('torch').get_num_threads()} threads; seeds {args.seeds}, rate by {args.lr_selection}, "
              f"epochs {'published' if args.max_epochs is None else f'<= {args.max_epochs}'}, "
              f"train {'all' if args.max_train_examples is None else f'<= {args.max_train_examples}'} examples\n")
    report = json.loads((run_dir / "report.json").read_text())
    models = report["models"]
    teacher = next(iter(models))
    small = {k: r for k, r in models.items() if r["fewer_parameters"] >= 0.9 and r.get("average_score") is not None
             and not k.endswith("-init") and "teacher" not in k}  # baselines and teachers are not candidates
    if not small:
        print("no model with at least 90% fewer parameters than the teacher was evaluated")
        return
    best = max(small, key=lambda k: small[k]["average_score"])
    r = small[best]
    print(f"best student with >= 90% fewer parameters: {best} ({r['parameters']['total'] / 1e6:.2f}M, "
          f"{100 * r['fewer_parameters']:.1f}% fewer than {teacher})\n")
    ev = report["evaluation"][teacher]
    print("| task | mode | teacher | student | student / teacher | counted |\n|---|---|---|---|---|---|")
    rels = []
    for task, score in r["primary"].items():
        mode = "bitext" if task.startswith(("flores:", "bitext:")) else "zero-shot" if "->" in task else "in-language"
        t = models[teacher]["primary"][task]
        learned = at_chance(ev[task]) is None
        rel = r["relative_to_teacher"].get(task)
        if learned and rel is not None:
            rels.append(rel)
        print(f"| {task} | {mode} | {100 * t:.1f} | {100 * score:.1f} | {'–' if rel is None else f'{100 * rel:.1f}%'} | "
              f"{'yes' if learned else 'no: ' + at_chance(ev[task])} |")
    if not rels:
        print("\nthe teacher learned none of the tasks under this evaluation budget: no verdict")
        return
    avg = sum(rels) / len(rels)
    print(f"\naverage fraction of the teacher's score over the {len(rels)} tasks the teacher learned: {100 * avg:.1f}% "
          f"(goal >= 95%): {'met' if avg >= 0.95 else 'NOT met'}")
    print(f"CPU throughput: {r['speedup']:.1f}x the teacher's (goal >= 5x): {'met' if r['speedup'] >= 5 else 'NOT met'}"
          f" (measured {report.get('measured_at', 'before measurements were dated')})")
    for w in report.get("warnings", []):
        print(f"warning: {w}")


if __name__ == "__main__":
    main()
