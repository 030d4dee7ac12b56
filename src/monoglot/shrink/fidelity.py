"""How much of the teacher's behaviour a shrunk student keeps, before any distillation."""

from __future__ import annotations

import torch

from .importance import final_states
from .slicing import ShrinkPlan


def hidden_state_error(teacher, student, plan: ShrinkPlan, batches: list[torch.Tensor]) -> float:
    """Relative MSE of the student's last hidden states against the teacher's, in the student's basis.

    The teacher's states ``(batch, seq, H)`` are mapped to the student's hidden space (the kept
    dimensions, or the projection ``P``) and compared with the student's ``(batch, seq, H')``:
    ``sum ||s - t P||^2 / sum ||t P||^2`` over ``batches`` (unitless; 0 = identical).
    """
    num = den = 0.0
    for t, s in zip(final_states(teacher, batches), final_states(student, batches)):
        t = t @ plan.basis if plan.basis is not None else t[..., plan.hidden]
        num += float((s - t).pow(2).sum())
        den += float(t.pow(2).sum())
    return num / max(den, 1e-12)
