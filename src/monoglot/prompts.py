"""The prompts of embedding models: which text a model expects before a query or a passage.

A model directory records its prompts in ``monoglot.json`` (``prompts``); a student inherits them
from its parent chain. Source: the multilingual-e5 model card (Wang et al. 2024, "Multilingual E5
Text Embeddings") and MTEB's model wrappers (``mteb/models/e5_models.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
"""The prompts of the multilingual-e5 family (its model card: "query: " for classification,
clustering and symmetric tasks; "passage: " for documents in retrieval)."""

_KNOWN_HUB_PROMPTS = ("intfloat/multilingual-e5-", "intfloat/e5-")


def model_prompts(model: str | Path, _depth: int = 0) -> dict[str, str]:
    """The prompts of a model: ``{"query": ..., "passage": ...}``, or ``{}`` for a model without.

    Reads ``prompts`` from ``monoglot.json``; a directory without that key inherits its parent's
    (following ``parent`` through local model directories); the embedded teacher ``e5-small`` and
    hub ids of the multilingual-e5 family have the e5 prompts.
    """
    spec = str(model)
    if spec == "e5-small" or spec.startswith(_KNOWN_HUB_PROMPTS):
        return dict(E5_PROMPTS)
    meta_path = Path(spec, "monoglot.json")
    if _depth > 16 or not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if "prompts" in meta:
        return dict(meta["prompts"] or {})
    if meta.get("stage") == "teacher" and (meta.get("settings") or {}).get("name") == "e5-small":
        return dict(E5_PROMPTS)
    parent = meta.get("parent")
    return model_prompts(parent, _depth + 1) if parent else {}
