"""The run report: size, speed and task scores of the teacher, the trimmed teacher and the student.

Throughput is measured here, in one process, with the same thread count and batch for every
model, so the ratios are comparable.
"""

from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .artifacts import read_meta
from .cards import model_card
from .cpu import cpu_info
from .files import write_json_atomic, write_text_atomic
from .measure import BUSY_CORES_WARN, count_parameters, cpu_throughput, weights_bytes
from .plots import pareto_plots
from .progress import console
from .recipe import Recipe
from .tasks.metrics import SCORE_PROTOCOL
from .tasks.metrics import format_score

METRIC_LABELS = {"accuracy": "acc", "macro_f1": "macro-F1", "upos_accuracy": "UPOS acc", "entity_f1": "entity F1",
                 "f1": "bitext F1"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {"monoglot": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "python": platform.python_version()}


def _task_columns(results: dict[str, dict[str, dict]]) -> list[tuple[str, str]]:
    cols: list[tuple[str, str]] = []
    for per_task in results.values():
        for task, res in per_task.items():
            if res["kind"] == "bitext":
                names = ["f1"]
            elif res["kind"] != "token":
                names = ["accuracy", "macro_f1"]
            else:  # NER: entity F1; POS: UPOS accuracy
                names = [next((m for m in ("entity_f1", "upos_accuracy") if m in res["metrics"]), "accuracy")]
            for m in names:
                if (task, m) not in cols:
                    cols.append((task, m))
        break
    return cols


MEASURED_KEYS = ("path", "settings_hash", "parameters", "bytes", "throughput")


def measure_models(models: dict[str, str | Path], recipe: Recipe) -> dict[str, dict[str, Any]]:
    """Parameters, bytes on disk and CPU throughput of each model, measured side by side.

    Returns:
        ``{label: {"path", "settings_hash", "parameters", "bytes", "throughput"}}``; ``throughput``
        as :func:`monoglot.measure.model_throughput` (or :func:`monoglot.deploy.onnx_throughput`
        for a directory holding ``model.onnx``) returns it, ``other_busy_cores`` included.
    """
    ms = recipe.measure
    rows: dict[str, dict[str, Any]] = {}
    for label, path in models.items():
        console.print(f"measuring {label}")
        h = read_meta(path).get("settings_hash")  # None for a hub id or a directory monoglot did not write
        if (Path(path) / "model.onnx").is_file():  # a deployment row: onnxruntime, same batch and threads
            from . import deploy

            source = rows[label.split(" (ONNX")[0]]
            rows[label] = {"path": str(path), "settings_hash": h, "parameters": source["parameters"],
                           "bytes": deploy.weights_bytes(path),
                           "throughput": deploy.onnx_throughput(path, ms.batch_size, ms.seq_len, ms.batches, ms.threads)}
            continue
        thr = cpu_throughput(path, ms.batch_size, ms.seq_len, ms.batches, ms.threads)
        rows[label] = {"path": str(path), "settings_hash": h, "parameters": count_parameters(path),
                       "bytes": weights_bytes(path), "throughput": thr}
    return rows


def earlier_measurements(run_dir: str | Path, models: dict[str, str | Path],
                         recipe: Recipe) -> tuple[dict[str, dict[str, Any]], str] | None:
    """The measurements of ``run_dir``'s earlier ``report.json`` when they can stand for new ones.

    They can when the same models (labels, directories and settings hashes, in the same order)
    were measured with the same ``[measure]`` settings on the same CPU and library versions, and
    no model's timing shared the machine (:data:`~monoglot.measure.BUSY_CORES_WARN`). Rerunning a
    finished recipe (e.g. ``benchmarks/quality.py`` beside another job) then keeps the idle
    machine's ratios instead of timing the models again under load.

    Returns:
        ``(rows, measured_at)`` as :func:`measure_models` returns the rows, or ``None``.
    """
    try:
        old = json.loads(Path(run_dir, "report.json").read_text())
    except (OSError, ValueError):
        return None
    rows = old.get("models") or {}
    if (old.get("recipe", {}).get("measure") != recipe.measure.model_dump() or old.get("cpu") != cpu_info()
            or old.get("versions") != _versions() or list(rows) != list(models) or not old.get("measured_at")):
        return None
    for label, path in models.items():
        r = rows[label]
        h = read_meta(path).get("settings_hash")  # None for a hub id or a directory monoglot did not write
        busy = (r.get("throughput") or {}).get("other_busy_cores")
        if r.get("path") != str(path) or r.get("settings_hash") != h or busy is None or busy > BUSY_CORES_WARN:
            return None
    return {label: {k: rows[label].get(k) for k in MEASURED_KEYS} for label in models}, old["measured_at"]


def busy_warnings(rows: dict[str, dict[str, Any]]) -> list[str]:
    """One warning per model whose timing shared the machine with other processes."""
    out = []
    for label, r in rows.items():
        busy = r["throughput"].get("other_busy_cores")
        if busy is not None and busy > BUSY_CORES_WARN:
            out.append(f"other processes kept {busy:.1f} cores busy while {label} was timed: its throughput and "
                       f"the speed-ups are not reliable; rerun `monoglot report RUN_DIR` on an idle machine")
    return out


def _on_cpu(cpu: dict | None) -> str:
    """`` on <CPU model> (flags)`` for the throughput sentence; empty for reports written before it was recorded."""
    if not cpu:
        return ""
    return f" on {cpu['model']} ({', '.join(cpu['flags']) or 'no AVX2'})"


def build_report(run_dir: str | Path, recipe: Recipe, models: dict[str, str | Path],
                 results: dict[str, dict[str, dict]], note: str = "", remeasure: bool = True) -> Path:
    """Measure ``models`` and write ``report.json`` and ``report.md`` into ``run_dir``.

    ``models`` maps a label to a model directory, the first being the reference (the teacher);
    ``results`` maps a label and a task to a :func:`monoglot.tasks.evaluate` or
    :func:`monoglot.tasks.probe.probe_model` result; ``note`` (e.g. how default tasks were chosen)
    is printed under the report's title. With ``remeasure=False`` the earlier report's
    measurements are kept where :func:`earlier_measurements` allows, else every model is measured.
    """
    run_dir = Path(run_dir)
    earlier = None if remeasure else earlier_measurements(run_dir, models, recipe)
    if earlier:
        console.print(f"throughput: the measurements of {earlier[1]} (same models, settings and CPU; idle machine)")
    rows, measured_at = earlier or (measure_models(models, recipe), _now())
    ref = next(iter(rows.values()))
    ref_params, ref_speed = ref["parameters"]["total"], ref["throughput"]["sequences_per_second"]
    cols = _task_columns(results)
    ref_label = next(iter(rows))
    for label, row in rows.items():
        res = results.get(label, {})
        row["compression_ratio"] = ref_params / row["parameters"]["total"]
        row["fewer_parameters"] = 1 - row["parameters"]["total"] / ref_params
        row["speedup"] = row["throughput"]["sequences_per_second"] / ref_speed
        row["scores"] = {f"{t}/{m}": res.get(t, {}).get("metrics", {}).get(m) for t, m in cols}
        row["std"] = {f"{t}/{m}": (res.get(t, {}).get("std") or {}).get(m) for t, m in cols}
        row["majority_baseline"] = {t: res.get(t, {}).get("majority_baseline") for t, _ in cols}
        row["stage"] = read_meta(row["path"]).get("stage")
        primary = {t: r["metrics"][r["metric"]] for t, r in res.items()}
        ref_primary = {t: r["metrics"][r["metric"]] for t, r in results.get(ref_label, {}).items()}
        row["primary"] = primary
        row["relative_to_teacher"] = {t: v / ref_primary[t] for t, v in primary.items() if ref_primary.get(t)}
        row["average_score"] = sum(primary.values()) / len(primary) if primary else None
        kept = list(row["relative_to_teacher"].values())
        row["average_kept"] = sum(kept) / len(kept) if kept else None
    shrink = read_meta(Path(models["student"]).parent / "student-init").get("stats", {}) if "student" in models else {}
    trim = read_meta(models["trimmed teacher"]).get("stats", {}) if "trimmed teacher" in models else {}
    report = {"recipe": recipe.model_dump(), "versions": _versions(), "cpu": cpu_info(), "measured_at": measured_at,
              "warnings": busy_warnings(rows), "models": rows,
              "trim": {k: v for k, v in trim.items() if k not in ("corpus",)},
              "shrink": {k: shrink[k] for k in ("steps", "choices") if k in shrink},
              "evaluation": results, "note": note, "distill": {k: v for k, v in read_meta(models.get("student", "")).get("stats", {}).items() if k != "history"} if "student" in models else {}}
    report["plots"] = [p.name for p in pareto_plots(rows, run_dir)]
    for label, row in rows.items():  # model cards for the directories this run wrote
        if Path(row["path"]).resolve().is_relative_to(run_dir.resolve()) and "(ONNX" not in label:
            model_card(row["path"], name=f"{recipe.name}-{label.replace(' ', '-')}", languages=recipe.languages,
                       base_model=recipe.teacher, license=recipe.license, row=row, results=results.get(label, {}))
    write_json_atomic(run_dir / "report.json", report)
    write_text_atomic(run_dir / "report.md", render_markdown(report, cols))
    console.print(f"[bold green]report[/] {run_dir / 'report.md'}")
    return run_dir


def render_markdown(report: dict[str, Any], cols: list[tuple[str, str]]) -> str:
    """The human-readable report: one table of size, speed and scores, then settings and versions."""
    ms = report["recipe"]["measure"]
    first = next(iter(report["models"].values()))
    head = ["model", "params", "embedding", "encoder", "MB", "fewer params", "compression", "seq/s", "speed-up"]
    head += [f"{t} {METRIC_LABELS.get(m, m)}" for t, m in cols] + ["average kept vs teacher"]
    how = SCORE_PROTOCOL.get(report["recipe"].get("evaluate", {}).get("method", "finetune"), SCORE_PROTOCOL["finetune"])
    lines = [f"# monoglot report: {report['recipe']['name']}", ""]
    if report.get("note"):
        lines += [f"Tasks: {report['note']}.", ""]
    lines += [f"Teacher `{report['recipe']['teacher']}`. Throughput: batch {ms['batch_size']} x {ms['seq_len']} tokens, "
              f"{first['throughput']['threads']} CPU threads{_on_cpu(report.get('cpu'))}, same run for every model"
              + (f" ({report['measured_at']})" if report.get("measured_at") else "") + f". Scores: {how}", ""]
    lines += [f"Warning: {w}." for w in report.get("warnings", [])] + ([""] if report.get("warnings") else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, r in report["models"].items():
        p = r["parameters"]
        cells = [label, f"{p['total'] / 1e6:.2f}M", f"{p['embedding'] / 1e6:.2f}M", f"{p['encoder'] / 1e6:.2f}M",
                 f"{r['bytes'] / 1e6:.1f}", f"{100 * r['fewer_parameters']:.1f}%", f"{r['compression_ratio']:.1f}x",
                 f"{r['throughput']['sequences_per_second']:.1f}", f"{r['speedup']:.1f}x"]
        cells += [_score(r, f"{t}/{m}") for t, m in cols]
        cells.append("–" if r.get("average_kept") is None else f"{100 * r['average_kept']:.1f}%")
        lines.append("| " + " | ".join(cells) + " |")
    lines += task_tables(report, cols)
    if report.get("plots"):
        lines += ["", "## Pareto fronts", "", "Average primary score over the tasks against size and speed.", ""]
        lines += [f"![{p}]({p})" for p in report["plots"]]
    base = first.get("majority_baseline", {})
    if base:
        lines += ["", "Majority-class baseline (test accuracy): " + ", ".join(f"{t} {100 * v:.1f}" for t, v in base.items() if v is not None)]
    d = report.get("distill") or {}
    if d:
        lines += ["", f"Distillation: {d.get('tokens', 0):,} tokens in {d.get('seconds', 0):.0f} s "
                  f"({d.get('tokens_per_second', 0):,.0f} tokens/s); validation loss "
                  + ", ".join(f"{lang} {v:.4f} -> {d.get('val_loss_after', {}).get(lang, float('nan')):.4f}"
                              for lang, v in d.get("val_loss_before", {}).items())
                  + "; corpus segments dropped by decontamination: "
                  f"{d.get('corpus', {}).get('dropped_contaminated', 0):,}."]
    lines += trim_markdown(report.get("trim") or {})
    lines += shrink_markdown(report.get("shrink") or {})
    lines += ["", "## Versions", "", ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
              "", "## Recipe", "", "```json", __import__("json").dumps(report["recipe"], indent=2), "```", ""]
    return "\n".join(lines)


def _score(row: dict[str, Any], key: str) -> str:
    return format_score(row["scores"].get(key), (row.get("std") or {}).get(key))


def task_tables(report: dict[str, Any], cols: list[tuple[str, str]]) -> list[str]:
    """One table per task: every model's primary score (mean ± std over seeds), its ratio to the
    teacher's and its relative drop, with parameters, bytes and CPU throughput."""
    lines = []
    ev = report.get("evaluation", {})
    for task in dict.fromkeys(t for t, _ in cols):
        metric = next((r[task]["metric"] for r in ev.values() if task in r), None)
        if metric is None:
            continue
        kind = "zero-shot from " + task.split("->")[0] if "->" in task else "in-language"
        lines += ["", f"### {task} ({kind}; {METRIC_LABELS.get(metric, metric)} on test)", "",
                  "| model | score | kept vs teacher | drop vs teacher | params | MB | seq/s |", "|---|---|---|---|---|---|---|"]
        base = next((r[task].get("majority", {}).get(metric) for r in ev.values() if task in r), None)
        if base is None and metric == "accuracy":
            base = next((r[task].get("majority_baseline") for r in ev.values() if task in r), None)
        if base is not None:
            lines.append(f"| {'chance' if metric == 'f1' else 'majority class'} | {format_score(base, None)} | – | – | – | – | – |")
        for label, r in report["models"].items():
            if task not in ev.get(label, {}):
                continue
            rel = r["relative_to_teacher"].get(task)
            rel_s = "–" if rel is None else f"{100 * rel:.1f}%"
            drop = "–" if rel is None else f"{100 * (1 - rel) + 0.0:.1f}%"  # negative: better than the teacher
            res = ev[label][task]
            score = format_score(res["metrics"][metric], (res.get("std") or {}).get(metric))
            lines.append(f"| {label} | {score} | {rel_s} | {drop} | "
                         f"{r['parameters']['total'] / 1e6:.2f}M | {r['bytes'] / 1e6:.1f} | {r['throughput']['sequences_per_second']:.1f} |")
    return lines


def trim_markdown(trim: dict[str, Any]) -> list[str]:
    """Report lines for vocabulary trimming: pieces, coverage, parameters and bytes before/after, the coverage plot."""
    if not trim.get("pieces_kept"):
        return []
    pb, pa = trim["parameters_before"]["total"], trim["parameters_after"]["total"]
    lines = ["", "## Vocabulary trimming", "",
             f"Kept {trim['pieces_kept']:,} of {trim['pieces_before']:,} pieces, covering {100 * trim['coverage']:.2f}% of the "
             f"corpus' {trim['token_occurrences']:,} token occurrences (unknown-token rate {100 * trim['unk_rate']:.2f}%); "
             f"parameters {pb / 1e6:.2f}M -> {pa / 1e6:.2f}M, bytes {trim['bytes_before'] / 1e6:.1f} MB -> "
             f"{trim['bytes_after'] / 1e6:.1f} MB; counting and trimming took {trim['seconds_counting_and_trimming']:.1f} s."]
    seg = trim.get("segmentation_sample")
    if seg:
        lines[-1] += (f" On a sample of {seg['words']:,} words, {seg['words_changed']:,} changed segmentation and "
                      f"{seg['words_unknown']:,} became unknown.")
    for w in trim.get("warnings", []):
        lines += ["", f"Warning: {w}"]
    curve = trim.get("coverage_curve") or {}
    if curve:
        lines += ["", "| vocabulary size | " + " | ".join(f"{int(k):,}" for k in curve) + " |",
                  "|---|" + "---|" * len(curve), "| coverage | " + " | ".join(f"{100 * v:.2f}%" for v in curve.values()) + " |"]
    lines += ["", "![coverage against vocabulary size](trimmed/coverage.png)"]
    return lines


def shrink_markdown(shrink: dict[str, Any]) -> list[str]:
    """Report lines for the shrink stage: parameters and CPU throughput after each step, and the strategies."""
    steps = shrink.get("steps") or []
    if not steps:
        return []
    ch = shrink.get("choices", {})
    lines = ["", "## Shrink steps", "", "Student initialisation before distillation; each step adds to the previous. "
             "Strategies: " + ", ".join(f"{k} {ch[k]['strategy']}" for k in ("layers", "heads", "ffn", "hidden") if k in ch) + ".", "",
             "| step | layers-hidden-heads-FFN | params | seq/s |", "|---|---|---|---|"]
    for r in steps:
        sps = r.get("sequences_per_second")
        lines.append(f"| {r['step']} | {'-'.join(str(x) for x in r['shape'])} | {r['parameters'] / 1e6:.2f}M | "
                     f"{'–' if sps is None else f'{sps:.1f}'} |")
    return lines
