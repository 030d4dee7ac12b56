"""Parameter-efficient task methods: LT-SFT (sparse fine-tuning) and LoRA.

- LT-SFT: Ansell et al. 2022, "Composable Sparse Fine-Tuning for Cross-Lingual Transfer" (sec. 3),
  used by BiStil (Ansell et al. 2023, sec. 3.3) as its task phase: fine-tune fully, keep the K body
  weights that moved most (``|theta_1 - theta_0|``), reset everything to ``theta_0``, and fine-tune
  again with only those K weights free. K = round(density x trainable body weights), exactly.
- LoRA (Hu et al. 2022) on a frozen body via the maintained ``peft`` library, as Gurgurov et al.
  2025 (sec. 4) evaluate adapters on their compressed models.
"""

from __future__ import annotations

from typing import Any, Callable

import torch


def _body(model) -> list[tuple[str, torch.nn.Parameter]]:
    """The encoder's trainable weights; BERT's pooler belongs to the classification head (it is
    new when the checkpoint has none, as e5-small), so it trains densely."""
    return [(n, p) for n, p in model.base_model.named_parameters() if p.requires_grad and not n.startswith("pooler.")]


def top_k_masks(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    """Boolean masks selecting exactly the ``k`` entries with the largest ``|after - before|`` over
    all tensors together (ties broken by ``torch.topk``'s order)."""
    names = list(before)
    diffs = torch.cat([(after[n] - before[n]).abs().flatten() for n in names])
    keep = torch.zeros(diffs.numel(), dtype=torch.bool)
    keep[torch.topk(diffs, k).indices] = True
    out, start = {}, 0
    for n in names:
        size = before[n].numel()
        out[n] = keep[start:start + size].view_as(before[n])
        start += size
    return out


def lt_sft(model, run_fit: Callable[..., dict[str, Any]], density: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Lottery-ticket sparse fine-tuning of ``model`` (modified in place).

    Args:
        model: a task model; its ``base_model`` parameters that require grad form the body; the
            rest (the classification head) trains densely in both phases and is reset in between.
        run_fit: ``run_fit(model, after_step=None) -> fit result`` (see :func:`.finetune.fit`).
        density: fraction of the body's trainable weights left free in phase 2, in (0, 1].

    Returns:
        ``(phase-2 fit result, {"density", "kept", "body_weights", "phase1_dev"})``; after phase 2
        exactly ``kept`` body weights may differ from ``theta_0``.
    """
    body = _body(model)
    body_ids = {id(p) for _, p in body}
    head = [(n, p) for n, p in model.named_parameters() if p.requires_grad and id(p) not in body_ids]
    theta0 = {n: p.detach().clone() for n, p in body}
    head0 = {n: p.detach().clone() for n, p in head}
    phase1 = run_fit(model)
    n_body = sum(t.numel() for t in theta0.values())
    k = max(1, round(density * n_body))
    masks = top_k_masks(theta0, {n: p.detach() for n, p in body}, k)
    with torch.no_grad():
        for n, p in body:
            p.copy_(theta0[n])
        for n, p in head:
            p.copy_(head0[n])

    def restore() -> None:
        with torch.no_grad():
            for n, p in body:
                p.copy_(torch.where(masks[n], p, theta0[n]))

    phase2 = run_fit(model, after_step=restore)
    restore()  # the best epoch's weights were loaded back after the last step
    return phase2, {"density": density, "kept": k, "body_weights": n_body, "phase1_dev": phase1["dev_metrics"]}


def with_lora(model, settings) -> Any:
    """Wrap ``model`` with LoRA adapters (rank ``settings.lora_rank``) on the attention query and
    value projections; the body is frozen, the classification head trains. Merge with
    ``merge_and_unload()`` after training for a plain model.

    Raises:
        BadInput: ``peft`` is not installed.
    """
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as e:  # pragma: no cover - peft is a dependency
        from ..errors import BadInput

        raise BadInput("LoRA needs the peft package; pip install peft") from e
    kind = TaskType.TOKEN_CLS if "TokenClassification" in type(model).__name__ else TaskType.SEQ_CLS
    cfg = LoraConfig(task_type=kind, r=settings.lora_rank, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                     target_modules=["query", "value"])
    return get_peft_model(model, cfg)
