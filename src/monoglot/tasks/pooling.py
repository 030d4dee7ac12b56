"""Sequence classifiers that read the encoder's mean-pooled sentence embedding.

transformers' BERT and XLM-R sequence classifiers read the first token of the last layer ([CLS],
``<s>``): BERT through its pooler (dense, tanh) and a linear layer, XLM-R through a dense-tanh-linear
head. An embedding model such as multilingual-e5 is trained on the mean over its tokens instead
(Wang et al. 2024, "Multilingual E5 Text Embeddings", section 2; sentence-transformers' ``Pooling``),
and monoglot's students are distilled on that mean (:mod:`monoglot.distill.objective`), so their
first token carries no sentence meaning of its own and the head must learn it during fine-tuning.

``classifier_pooling = "mean"`` replaces the first token of the last layer's output by the masked
mean of all real tokens (special tokens included, as sentence-transformers' mean pooling does)
before the head reads it, so every first-token head classifies the mean-pooled embedding; token
classification is untouched. The setting is stored in the task model's ``config.json`` under
transformers' own name for it (ModernBERT's ``classifier_pooling``: ``"cls"`` or ``"mean"``), and
:func:`apply_classifier_pooling` restores it whenever a saved task model is loaded (task
distillation, ONNX export).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch

Pooling = Literal["cls", "mean"]
FAMILIES = ("bert", "roberta", "xlm-roberta")
"""Model types whose sequence classifiers read the first token (and that monoglot fine-tunes)."""


def default_pooling(model_dir: str | Path) -> Pooling:
    """``"mean"`` for a directory whose sentence-transformers ``1_Pooling/config.json`` pools by
    mean (an embedding model: e5 and every encoder monoglot derives from it), else ``"cls"``
    (BERT's and XLM-R's own heads; also hub ids, which are not read here)."""
    f = Path(model_dir, "1_Pooling", "config.json")
    try:
        return "mean" if json.loads(f.read_text()).get("pooling_mode_mean_tokens") else "cls"
    except (OSError, ValueError, AttributeError):
        return "cls"


def resolve_pooling(requested: str, model_dir: str | Path, config) -> Pooling:
    """The pooling a sequence head of ``config``'s model gets for ``requested`` (``"auto"``,
    ``"cls"`` or ``"mean"``): ``"auto"`` is :func:`default_pooling`, kept at ``"cls"`` for a model
    family outside :data:`FAMILIES`.

    Raises:
        BadInput: ``"mean"`` asked for a model family outside :data:`FAMILIES`.
    """
    from ..errors import BadInput

    pooling = default_pooling(model_dir) if requested == "auto" else requested
    if pooling == "mean" and config.model_type not in FAMILIES:
        if requested == "mean":
            raise BadInput(f"pooling = 'mean' needs a BERT or XLM-R model, not model_type {config.model_type!r}; "
                           f"use pooling = 'cls'")
        return "cls"
    return pooling


def use_mean_pooling(model) -> None:
    """Make ``model`` (a BERT or XLM-R ``*ForSequenceClassification``) classify the masked mean of its
    last layer ``(batch, seq, H) -> (batch, H)`` instead of the first token, by two hooks on its
    encoder (so it survives ``save_pretrained`` only through :func:`apply_classifier_pooling`).
    Sets ``model.config.classifier_pooling = "mean"``. Idempotent."""
    from ..embeddings import mean_pool

    if getattr(model, "_monoglot_mean_pooling", False):
        return
    base, mask = model.base_model, {}

    def keep_mask(module, args, kwargs):
        mask["m"] = kwargs.get("attention_mask", args[1] if len(args) > 1 else None)

    def first_token_is_mean(module, args, output):
        hidden = output[0]
        m = mask.get("m")
        m = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device) if m is None else m
        pooled = mean_pool(hidden, m).unsqueeze(1)
        hidden = torch.cat([pooled, hidden[:, 1:]], dim=1)
        if isinstance(output, tuple):
            return (hidden, *output[1:])
        output["last_hidden_state"] = hidden
        return output

    base.register_forward_pre_hook(keep_mask, with_kwargs=True)
    base.encoder.register_forward_hook(first_token_is_mean)
    model.config.classifier_pooling = "mean"
    model._monoglot_mean_pooling = True


def apply_classifier_pooling(model):
    """Restore a saved task model's ``config.classifier_pooling`` (see the module docstring) on a
    BERT or XLM-R sequence classifier; other models are returned unchanged. Returns ``model``."""
    config = model.config
    if (getattr(config, "classifier_pooling", "cls") == "mean" and config.model_type in FAMILIES
            and type(model).__name__.endswith("ForSequenceClassification")):
        use_mean_pooling(model)
    return model
