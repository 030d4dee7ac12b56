"""How many tokens one sequence of a model may hold, read from its config's position table."""

from __future__ import annotations

from typing import Any

ROBERTA_LIKE = frozenset({"roberta", "xlm-roberta", "camembert", "xlm-roberta-xl"})
"""Model types whose position ids start after the padding index (XLM-R: 514 positions, 512 usable)."""


def max_sequence_length(config: Any) -> int:
    """The most tokens (special tokens included) one sequence may have: ``max_position_embeddings``
    (512 when absent), less the padding offset of RoBERTa-style models (XLM-R: 514 - 2 = 512).

    ``config`` is a transformers config or the dict of a ``config.json``.
    """
    get = config.get if isinstance(config, dict) else (lambda key, default=None: getattr(config, key, default))
    n = get("max_position_embeddings") or 512
    if get("model_type", "") in ROBERTA_LIKE:
        n -= (get("pad_token_id") or 0) + 1  # positions start after the padding index
    return int(n)
