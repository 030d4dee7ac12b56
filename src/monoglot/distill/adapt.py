"""The adapt stage: teacher adaptation by continued MLM.

Gurgurov et al. 2025 (sec. 3.1, step 0) adapt the teacher to the target language by continued
MLM before distilling; Cruz & Aji 2025 distil from such a conditioned teacher. A headless teacher
such as e5-small first gets an MLM head trained on its frozen body (:mod:`.mlm`), which also makes
logit distillation possible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ..artifacts import check_new_output, read_meta
from .settings import AdaptSettings, DistillSettings, LossWeights


def adapt_teacher(teacher_spec: str | Path, corpora: Sequence[str | Path], out: str | Path,
                  adapt: AdaptSettings | None = None, *, settings: DistillSettings | None = None,
                  eval_texts: Iterable[str] | None = None, overwrite: bool = False, resume: bool = False,
                  progress: bool = True) -> Path:
    """Teacher adaptation: train an MLM head on the frozen body (if the teacher has none), then
    continue MLM training of the whole teacher on the target text.

    Args:
        adapt: ``head_steps`` of head-only training (skipped when the teacher has an MLM head),
            ``mlm_steps`` of continued MLM of the whole model (0: keep the body as it is), and the
            training settings of both phases (default :class:`AdaptSettings`).
        settings: the training settings of both phases instead of ``adapt.distill_settings()``
            (batch size, lr, seq_len, seed, validation, ...; the loss is set here).

    Returns:
        ``out``: a ``*ForMaskedLM`` model directory with the teacher's tokenizer.

    Raises:
        BadInput: as :func:`~monoglot.distill.loop.distill`; both step counts 0.
    """
    from ..errors import BadInput
    from ..teachers import resolve_model
    from ..teachers.loader import load_saved_architecture
    from .loop import distill
    from .objective import mlm_head

    check_new_output(out, overwrite)
    out = Path(out)
    adapt = adapt or AdaptSettings()
    head_steps, mlm_steps = adapt.head_steps, adapt.mlm_steps
    base = (settings or adapt.distill_settings()).model_copy(update={"loss": LossWeights(hidden=0, attention=0, mlm=1)})
    has_head = mlm_head(load_saved_architecture(resolve_model(teacher_spec))) is not None
    phases = ([] if has_head or head_steps == 0 else [("mlm_head", head_steps)]) + ([("all", mlm_steps)] if mlm_steps else [])
    if not phases:
        raise BadInput("nothing to do: the teacher already has an MLM head and mlm_steps is 0; give --mlm-steps")

    src = teacher_spec
    for i, (trainable, steps) in enumerate(phases):
        dst = out if i == len(phases) - 1 else out.with_name(f"{out.name}.head")
        s = base.model_copy(update={"trainable": trainable, "steps": steps})
        meta = read_meta(dst)
        if resume and dst != out and meta.get("parent") == str(src) and meta.get("settings", {}).get("steps") == steps \
                and {k: meta["settings"].get(k) for k in s.model_dump()} == s.model_dump():
            src = dst  # the head phase of an interrupted adaptation is complete
            continue
        src = distill(None, src, corpora, dst, s, eval_texts=eval_texts, overwrite=True, resume=resume, progress=progress)
    if len(phases) == 2:
        import shutil

        shutil.rmtree(out.with_name(f"{out.name}.head"), ignore_errors=True)
    return out
