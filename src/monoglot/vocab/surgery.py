"""Tokenizer surgery: rewrite a fast tokenizer's ``tokenizer.json`` to a subset of its pieces.

New ids are the ranks of the kept old ids (order preserved), so special tokens at the front keep
their ids and every id is contiguous. Supported model types: Unigram (SentencePiece, XLM-R/e5) and
WordPiece (BERT/mBERT).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import BadInput


def _remap_post_processor(pp: dict[str, Any] | None, new_id: dict[int, int]) -> None:
    if not pp:
        return
    kind = pp.get("type")
    if kind == "Sequence":
        for p in pp.get("processors", []):
            _remap_post_processor(p, new_id)
    elif kind == "TemplateProcessing":
        for spec in pp.get("special_tokens", {}).values():
            spec["ids"] = [new_id[i] for i in spec["ids"]]
    elif kind in ("RobertaProcessing", "BertProcessing"):
        for key in ("sep", "cls"):
            tok, i = pp[key]
            pp[key] = [tok, new_id[i]]


def trim_tokenizer_json(tj: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    """Return a copy of ``tj`` (a parsed ``tokenizer.json``) restricted to the ids in ``keep``.

    Args:
        tj: the parsed tokenizer.json.
        keep: sorted old ids to keep, shape ``(n,)``; must include every added/special token.

    Raises:
        BadInput: for a tokenizer model type that cannot be rewritten (e.g. BPE, for now), or
            when ``keep`` lacks a special token.
    """
    tj = copy.deepcopy(tj)
    model = tj["model"]
    new_id = {int(old): new for new, old in enumerate(keep.tolist())}
    for at in tj.get("added_tokens", []):
        if at["id"] not in new_id:
            raise BadInput(f"the selection drops the special token {at['content']!r}; special tokens must be kept")
        at["id"] = new_id[at["id"]]
    kind = model.get("type")
    if kind == "Unigram":
        vocab = model["vocab"]
        model["vocab"] = [vocab[i] for i in keep.tolist() if i < len(vocab)]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    elif kind == "WordPiece":
        model["vocab"] = {tok: new_id[i] for tok, i in model["vocab"].items() if i in new_id}
    else:
        raise BadInput(f"cannot trim a {kind} tokenizer yet (supported: Unigram, WordPiece); use --min-count 1 with a supported model")
    _remap_post_processor(tj.get("post_processor"), new_id)
    return tj
