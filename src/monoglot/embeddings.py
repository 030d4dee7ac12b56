"""Sentence embeddings of a model directory: the teacher's prompts, mean pooling, L2 normalisation.

This is the one definition of "the model's sentence embedding" in monoglot. The frozen-feature
probes (MTEB's protocol), the sentence-transformers export and the embedding distillation losses all
use it, so that their numbers agree:

- the model's prompt is prepended (e5: ``"query: "`` for queries and classification, ``"passage: "``
  for documents; none for models without prompts). A model directory records its prompts in
  ``monoglot.json`` (``prompts``); a student inherits them from its parent chain;
- the last hidden state is mean-pooled over real (non-padding) tokens;
- the result is L2-normalised.

Source: the pooling and prompts of intfloat/multilingual-e5 (Wang et al. 2024, "Multilingual E5 Text
Embeddings", model card) and MTEB's model wrappers (``mteb/models/e5_models.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from .prompts import model_prompts


def mean_pool(hidden, attention_mask):
    """Mean of ``hidden`` ``(batch, seq, H)`` over the real tokens of ``attention_mask`` ``(batch, seq)``.

    Returns ``(batch, H)`` in ``hidden``'s dtype. Differentiable (used by embedding distillation).
    """
    m = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


def encode(model, tokenizer, texts: Iterable[str], *, prompt: str = "", batch_size: int = 32,
           max_length: int = 512, normalize: bool = True, progress: bool = False) -> np.ndarray:
    """Sentence embeddings of ``texts`` with an in-memory encoder.

    Args:
        model: a transformers encoder (its ``base_model`` is used; heads are ignored).
        tokenizer: its fast tokenizer.
        texts: the sentences; ``prompt`` is prepended to each.
        batch_size: sentences per forward pass (sorted by length to limit padding).
        max_length: tokens per sentence at most (longer ones are truncated).
        normalize: L2-normalise each embedding.

    Returns:
        ``(len(texts), H)`` float32 array, in the order of ``texts``.
    """
    import torch

    texts = [prompt + t for t in texts]
    base = model.base_model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), base.config.hidden_size), dtype=np.float32)
    from .progress import bar

    with torch.inference_mode(), bar("embedding", len(texts), enabled=progress) as advance:
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt")
            enc.pop("token_type_ids", None)
            hidden = base(**enc).last_hidden_state
            emb = mean_pool(hidden.float(), enc["attention_mask"])
            if normalize:
                emb = torch.nn.functional.normalize(emb, dim=-1)
            out[idx] = emb.numpy()
            advance(len(idx))
    return out


def encode_dir(model_dir: str | Path, texts: Iterable[str], *, kind: str = "query", batch_size: int = 32,
               max_length: int = 512, progress: bool = False) -> np.ndarray:
    """Sentence embeddings of ``texts`` with the model in ``model_dir``, with its ``kind`` prompt
    (``"query"`` or ``"passage"``; none if the model has no prompts). See :func:`encode`.

    Raises:
        BadInput: the model cannot be loaded (see :func:`monoglot.teachers.load_encoder`).
    """
    from .teachers import load_encoder, load_tokenizer

    prompt = model_prompts(model_dir).get(kind, "")
    return encode(load_encoder(model_dir), load_tokenizer(model_dir), texts, prompt=prompt,
                  batch_size=batch_size, max_length=max_length, progress=progress)
