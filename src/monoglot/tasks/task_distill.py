"""Task distillation: a student task model learns from a task-tuned teacher.

Loss per batch (Hinton et al. 2015; TinyBERT's task-specific distillation, Jiao et al. 2020,
sec. 3.2; BiStil's task phase, Ansell et al. 2023, sec. 3.3):

    alpha * CE(gold) + (1 - alpha) * T^2 KL(softmax(t/T) || softmax(s/T))
    + w_h * hidden-state MSE over the layer map + w_a * last-layer attention KL

Soft labels are taken where gold labels are (every example; for token tasks the first sub-word of
each word), and on the transfer set's unlabeled sentences (:mod:`.transfer`), which have soft
labels only. Without the hidden-state and attention losses the teacher's logits are computed once
per distinct example and reused in later epochs and by later runs (seeds, rates) with the same
teacher object: the frozen teacher's forward pass, several times the student's training step, is
paid in the first epoch of the first run only. The hidden-state loss needs the student's hidden
size to equal the teacher's, or the fixed basis ``shrink`` saved with the student (then the
teacher's states are projected on it).
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..distill import losses as L
from ..errors import BadInput


_SOFT_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""A frozen task teacher -> {an example's token ids: its logits}: the soft labels, computed once per
teacher and example and shared by every run (seed, learning rate) that distils from that teacher."""


def load_task_teacher(path: str | Path):
    """Load a fine-tuned task model directory (written by ``evaluate_task(save_to=...)``) frozen, in
    eval mode, with the pooling it was trained with (:func:`.pooling.apply_classifier_pooling`)."""
    from ..teachers.loader import load_saved_architecture
    from .pooling import apply_classifier_pooling

    model = apply_classifier_pooling(load_saved_architecture(str(path)))
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def hidden_basis(teacher_hidden: int, student_hidden: int, student_dir: str | Path | None) -> torch.Tensor | None:
    """The basis the hidden-state loss projects the teacher's states on: None for equal hidden
    sizes, else the ``[teacher_hidden, student_hidden]`` basis ``shrink`` saved with the student
    (``hidden_projection.safetensors``, the one its distillation used).

    Raises:
        BadInput: the sizes differ and ``student_dir`` holds no saved basis.
    """
    from ..distill.objective import load_basis

    if teacher_hidden == student_hidden:
        return None
    basis = load_basis(student_dir)[0] if student_dir else None
    if basis is None:
        raise BadInput(f"the hidden-state task loss needs equal hidden sizes (teacher {teacher_hidden}, student {student_hidden}) or the "
                       f"student's hidden_projection.safetensors from shrink; pass --distill-hidden 0 (distill_hidden = 0 in settings)")
    return basis


def task_distillation_loss(teacher, student, settings, student_dir: str | Path | None = None) -> Callable:
    """``loss(model, batch) -> scalar`` for :func:`~monoglot.tasks.finetune.fit`.

    Raises:
        BadInput: the label counts of teacher and student differ; a hidden-state loss with different
            hidden sizes and no saved basis.
    """
    from ..artifacts import read_meta
    from ..distill.objective import copied_layers, default_layer_map

    if teacher.config.num_labels != student.config.num_labels:
        raise BadInput(f"the task teacher predicts {teacher.config.num_labels} labels, the student {student.config.num_labels}; fine-tune the teacher on the same task")
    T, a = settings.distill_temperature, settings.distill_alpha
    basis = hidden_basis(teacher.config.hidden_size, student.config.hidden_size, student_dir) if settings.distill_hidden > 0 else None
    Lt, Ls = teacher.config.num_hidden_layers, student.config.num_hidden_layers
    kept = copied_layers(read_meta(student_dir))[0] if student_dir else None
    layer_map = default_layer_map(Lt, Ls, kept)
    need_states = settings.distill_hidden > 0 or settings.distill_attention > 0
    seen = _SOFT_LABELS.setdefault(teacher, {})  # an example's token ids -> the teacher's logits for it

    def teacher_logits(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The frozen teacher's logits, [B, C] (sequence) or [B, L, C] (token; zeros on padding),
        computed once per distinct example (the teacher is frozen and in eval mode: no dropout) and
        then reused in every epoch and by every later run with the same teacher object, so only
        the first epoch of the first run pays the teacher's forward pass."""
        keys = [ids[i, mask[i].bool()].numpy().tobytes() for i in range(len(ids))]
        if not all(k in seen for k in keys):
            with torch.inference_mode():
                logits = teacher(input_ids=ids, attention_mask=mask).logits
            for i, k in enumerate(keys):  # outside inference mode: the clones are ordinary tensors
                seen[k] = logits[i, : int(mask[i].sum())].clone() if logits.dim() == 3 else logits[i].clone()
        rows = [seen[k] for k in keys]
        if rows[0].dim() == 1:
            return torch.stack(rows)
        padded = rows[0].new_zeros(len(rows), ids.shape[1], rows[0].shape[-1])  # right padding (collate)
        for i, r in enumerate(rows):
            padded[i, : len(r)] = r
        return padded

    def loss(model, b: dict) -> torch.Tensor:
        ids, mask, labels = b["input_ids"], b["attention_mask"], b["labels"]
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=need_states)
        if need_states:
            with torch.inference_mode():
                t_out = teacher(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            all_logits = t_out.logits
        else:
            all_logits = teacher_logits(ids, mask)
        gold = labels != -100  # [B] or [B, L]; transfer-set sentences have no gold label
        s_logits = out.logits[gold] if gold.dim() == 2 else out.logits  # soft labels: every example's (sequence),
        t_logits = all_logits[gold] if gold.dim() == 2 else all_logits  # each word's first sub-word (token)
        total = (1 - a) * L.logit_kl(s_logits, t_logits.clone(), T)
        if a > 0 and gold.any():  # the mean over gold-labelled examples (words), as the model's own loss
            total = total + a * F.cross_entropy(out.logits[gold], labels[gold])
        if settings.distill_hidden > 0:
            th = [t_out.hidden_states[i] @ basis if basis is not None else t_out.hidden_states[i] for i in layer_map]
            total = total + settings.distill_hidden * sum(L.hidden_mse(s, t, mask=mask) for s, t in zip(out.hidden_states, th)) / len(th)
        if settings.distill_attention > 0:
            s_layer, t_layer = model.base_model.encoder.layer[-1], teacher.base_model.encoder.layer[layer_map[-1] - 1]
            with torch.inference_mode():
                ta = L.attention_probs(t_layer, t_out.hidden_states[layer_map[-1] - 1], teacher.config.num_attention_heads,
                                       attention_mask=mask)
            sa = L.attention_probs(s_layer, out.hidden_states[-2], student.config.num_attention_heads, attention_mask=mask)
            if sa.shape[1] != ta.shape[1]:
                raise BadInput(f"attention distillation needs equal head counts (teacher {ta.shape[1]}, student {sa.shape[1]}); set distill_attention = 0")
            total = total + settings.distill_attention * L.attention_kl(sa, ta.clone(), mask)
        return total

    return loss
