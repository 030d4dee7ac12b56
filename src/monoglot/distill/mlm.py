"""MLM heads for headless encoders: attach one, and freeze everything but it.

A headless teacher such as e5-small needs an MLM head for continued MLM (:mod:`.adapt`) and for
logit distillation; on the trimmed vocabulary the tied decoder is small, so training one on the
frozen body is cheap.
"""

from __future__ import annotations

import torch


def with_mlm_head(encoder):
    """A ``*ForMaskedLM`` model whose body is ``encoder`` (weights copied) and whose head is new.

    The decoder is tied to the input embeddings (as in BERT and XLM-R), so the new parameters are
    the head's transform (``H x H`` dense, LayerNorm) and the output bias ``(V,)``.
    Returns ``encoder`` itself if it already has an MLM head.
    """
    from transformers import AutoModelForMaskedLM

    from .objective import mlm_head

    if mlm_head(encoder) is not None:
        return encoder
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(encoder.config)
    missing, unexpected = model.base_model.load_state_dict(encoder.state_dict(), strict=False)
    if unexpected or any(not k.startswith("pooler.") for k in missing):
        raise ValueError(f"the encoder's weights do not fit {type(model).__name__}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.tie_weights()
    return model


def freeze_all_but_head(model) -> list[torch.nn.Parameter]:
    """Freeze the body (and the tied decoder); return the MLM head's own parameters, left trainable."""
    from .objective import mlm_head

    body = {id(p) for p in model.base_model.parameters()}
    head = [p for p in mlm_head(model).parameters() if id(p) not in body]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in head:
        p.requires_grad_(True)
    return head
