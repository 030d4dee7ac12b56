"""Tokenizer surgery: rewrite a fast tokenizer's ``tokenizer.json`` to a subset of its pieces.

New ids are the ranks of the kept old ids (order preserved), so special tokens at the front keep
their ids and every id is contiguous. Supported model types: Unigram (SentencePiece, XLM-R/e5),
WordPiece (BERT/mBERT) and BPE (byte-level RoBERTa/GPT-2 style, and character BPE).

BPE needs more than the pieces a text ends up with: a piece is built by merges through
intermediate pieces, so :func:`complete_selection` adds every piece on the merge path of a kept
piece, and the base alphabet (every single-character piece; for byte-level BPE, the 256 bytes,
so no input ever becomes unknown). Merges are kept when both parts and the result are kept. On a
text whose original segmentation uses only kept pieces, every merge applied originally is still
there and no new merge can apply, so the segmentation is unchanged.
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


def _merge_pairs(model: dict[str, Any]) -> list[tuple[str, str]]:
    return [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]


def _merged(a: str, b: str, model: dict[str, Any]) -> str:
    prefix = model.get("continuing_subword_prefix") or ""
    return a + (b[len(prefix):] if prefix and b.startswith(prefix) else b)


def complete_selection(tj: dict[str, Any], keep: np.ndarray) -> np.ndarray:
    """Add what a tokenizer needs to reproduce the kept pieces; identity except for BPE.

    For BPE: every piece on the merge path of a kept piece, and the base alphabet.

    Args:
        tj: the parsed tokenizer.json.
        keep: sorted old ids, ``(n,)`` int64.

    Returns:
        sorted old ids, ``(n',)`` int64, ``n' >= n``.
    """
    model = tj["model"]
    if model.get("type") != "BPE":
        return keep
    vocab: dict[str, int] = model["vocab"]
    id_to_tok = {i: t for t, i in vocab.items()}
    parts: dict[str, tuple[str, str]] = {}
    for a, b in _merge_pairs(model):
        parts.setdefault(_merged(a, b, model), (a, b))
    out = set(int(i) for i in keep.tolist())
    out.update(i for t, i in vocab.items() if len(t) == 1)
    stack = [id_to_tok[i] for i in list(out) if i in id_to_tok]
    while stack:
        for p in parts.get(stack.pop(), ()):
            i = vocab.get(p)
            if i is not None and i not in out:
                out.add(i)
                stack.append(p)
    return np.array(sorted(out), dtype=np.int64)


def trim_tokenizer_json(tj: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    """Return a copy of ``tj`` (a parsed ``tokenizer.json``) restricted to the ids in ``keep``.

    Args:
        tj: the parsed tokenizer.json.
        keep: sorted old ids to keep, shape ``(n,)``; must include every added/special token.

    Raises:
        BadInput: for a tokenizer model type that cannot be rewritten (e.g. WordLevel), or
            when ``keep`` lacks a special token.
    """
    source = tj["model"]  # its vocabulary and merges are read, never copied whole (250k entries)
    tj = copy.deepcopy({k: v for k, v in tj.items() if k != "model"})
    model = tj["model"] = copy.deepcopy({k: v for k, v in source.items() if k not in ("vocab", "merges")})
    new_id = {int(old): new for new, old in enumerate(keep.tolist())}
    for at in tj.get("added_tokens", []):
        if at["id"] not in new_id:
            raise BadInput(f"the selection drops the special token {at['content']!r}; special tokens must be kept")
        at["id"] = new_id[at["id"]]
    kind = model.get("type")
    if kind == "Unigram":
        vocab = source["vocab"]
        model["vocab"] = [list(vocab[i]) for i in keep.tolist() if i < len(vocab)]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    elif kind == "WordPiece":
        model["vocab"] = {tok: new_id[i] for tok, i in source["vocab"].items() if i in new_id}
    elif kind == "BPE":
        model["vocab"] = {tok: new_id[i] for tok, i in source["vocab"].items() if i in new_id}
        kept = model["vocab"]
        as_str = bool(source.get("merges")) and isinstance(source["merges"][0], str)
        model["merges"] = [f"{a} {b}" if as_str else [a, b] for a, b in _merge_pairs(source)
                           if a in kept and b in kept and _merged(a, b, model) in kept]
    else:
        raise BadInput(f"cannot trim a {kind} tokenizer (supported: Unigram, WordPiece, BPE); "
                       "convert the model's tokenizer to one of these")
    _remap_post_processor(tj.get("post_processor"), new_id)
    return tj
