"""The shrink stage: teacher directory in, student directory out, with a record of every choice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from ..artifacts import PROJECTION_FILE, atomic_dir, check_new_output, corpus_files, portable_path, save_tokenizer, write_meta
from ..measure import count_parameters, model_parameters, model_throughput
from ..progress import console
from ..teachers import load_tokenizer, resolve_model
from ..teachers.loader import load_saved_architecture
from .plan import ShrinkSettings, plan_shrink
from .slicing import ShrinkPlan, full_plan, layers_only_plan, shrink_model


def step_plans(config, plan: ShrinkPlan) -> list[tuple[str, ShrinkPlan]]:
    """The cumulative steps from the teacher to ``plan``: layers, then FFN, then heads and hidden size.

    A step that changes nothing is left out; the last step is ``plan`` itself.
    """
    steps = [("teacher", full_plan(config))]
    layers_only = layers_only_plan(config, plan.layers)
    if len(plan.layers) < config.num_hidden_layers:
        steps.append(("layers", layers_only))
    if len(plan.ffn[0]) < config.intermediate_size:
        steps.append(("+ FFN", replace(layers_only, ffn=plan.ffn)))
    if plan.hidden_size < config.hidden_size or len(plan.heads[0]) < config.num_attention_heads:
        steps.append(("+ heads and hidden", plan))
    return steps


def measure_steps(model, plan: ShrinkPlan, measure: dict | None) -> list[dict]:
    """Parameters and (unless ``measure`` is None) CPU throughput of each step of :func:`step_plans`.

    ``measure`` holds :func:`~monoglot.measure.model_throughput` arguments (batch_size, seq_len,
    batches, threads). Returns ``[{"step", "shape", "parameters", "sequences_per_second"?}]``.
    """
    rows = []
    for name, p in step_plans(model.config, plan):
        m = model if name == "teacher" else shrink_model(model, p)
        row = {"step": name, "shape": p.shape(), "parameters": model_parameters(m.base_model)}
        if measure is not None:
            row["sequences_per_second"] = round(model_throughput(m, **measure)["sequences_per_second"], 2)
        rows.append(row)
    return rows


def save_projection(plan: ShrinkPlan, hidden_size: int, out: Path, kind: str) -> None:
    """Save the ``(H, H')`` map from the teacher's hidden space to the student's (the basis, or a
    column selection of the kept dimensions) as ``hidden_projection.safetensors``, when ``H' < H``;
    ``kind`` (the hidden strategy: ``pca``, ``svd``, ...) goes into the file's metadata.

    Distillation starts its learned projection from it, or uses it as the fixed PCA projection.
    """
    import torch
    from safetensors.torch import save_file


    if plan.hidden_size == hidden_size:
        return
    if plan.basis is not None:
        P = plan.basis
    else:
        P = torch.zeros(hidden_size, plan.hidden_size)
        P[torch.as_tensor(plan.hidden), torch.arange(plan.hidden_size)] = 1.0
    save_file({"projection": P.float().contiguous()}, str(Path(out) / PROJECTION_FILE), metadata={"kind": kind})


def shrink_to_dir(model_spec: str | Path, out: str | Path, settings: ShrinkSettings | None = None, *,
                  corpora: Sequence[str | Path] = (), text_column: str = "text", eval_texts: Iterable[str] | None = None,
                  measure: dict | None = None, overwrite: bool = False, progress: bool = True, **overrides) -> Path:
    """Shrink ``model_spec`` and write the student (with the teacher's tokenizer) to ``out``.

    ``overrides`` set :class:`ShrinkSettings` fields (e.g. ``layers=4, hidden=256``). ``corpora``
    is the target text the importance strategies read. ``monoglot.json`` records what was kept and
    removed and the scores behind it, and a table of parameters (and, with ``measure``, CPU
    throughput) per step.

    Raises:
        BadInput: see :func:`~monoglot.shrink.plan.plan_shrink`; an existing ``out``.
    """
    s = (settings or ShrinkSettings()).model_copy(update=overrides)
    path = resolve_model(model_spec)
    check_new_output(out, overwrite)
    model = load_saved_architecture(path)
    tok = load_tokenizer(path)
    say = (lambda msg: console.print(f"  shrink: {msg}")) if progress else None
    plan, record = plan_shrink(model, s, tok, corpora, text_column=text_column, eval_texts=eval_texts, progress=say)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        student = shrink_model(model, plan)
        student.save_pretrained(tmp)
        save_tokenizer(tok, tmp)
        save_projection(plan, model.config.hidden_size, tmp, s.hidden_strategy)
        cfg = model.config
        stats = {"teacher_shape": [cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.intermediate_size],
                 "student_shape": plan.shape(), "layers_kept": plan.layers, "heads_kept": plan.heads,
                 "parameters_before": count_parameters(path), "parameters_after": count_parameters(tmp),
                 "steps": measure_steps(model, plan, measure), "choices": record}
        write_meta(tmp, "shrink", str(model_spec), {**s.model_dump(), "corpora": [portable_path(c) for c in corpora]}, stats,
                   corpus_files=corpus_files(corpora))
    return Path(out)
