"""Selection policies: which vocabulary pieces to keep."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import BadInput


class VocabPolicy(BaseModel):
    """Which pieces to keep (all conditions compose).

    - ``min_count``: keep pieces seen at least this many times in the corpus (default 1: every
      piece that occurs, which makes trimming exact on the whole corpus).
    - ``top_n``: then keep at most the ``top_n`` most frequent of those (ties broken by id).
    - Always kept: special tokens, every single-character piece (with or without the word-start
      marker) of each character seen in the corpus, so that no word of that script becomes
      unknown, and ``keep_tokens``.
    """

    model_config = ConfigDict(extra="forbid")
    min_count: int = Field(1, ge=1)
    top_n: int | None = Field(None, ge=1)
    keep_chars: bool = True
    keep_tokens: list[str] = Field(default_factory=list)


_WORD_START = ("▁", "Ġ", "##")


def select_vocab(counts: np.ndarray, tokenizer, policy: VocabPolicy, chars: set[str] = frozenset()) -> np.ndarray:
    """Return the sorted old ids to keep, shape ``(n_kept,)`` int64.

    Raises:
        BadInput: ``top_n`` at least the vocabulary size, or a selection with no piece from the corpus.
    """
    vocab_size = len(tokenizer)
    if policy.top_n is not None and policy.top_n >= vocab_size:
        raise BadInput(f"top_n={policy.top_n} is not smaller than the vocabulary ({vocab_size} pieces); choose a smaller top_n or omit it")
    freq = np.flatnonzero(counts >= policy.min_count)
    if policy.top_n is not None and len(freq) > policy.top_n:
        order = np.lexsort((freq, -counts[freq]))  # by count desc, then id
        freq = freq[order[: policy.top_n]]
    if len(freq) == 0:
        raise BadInput(f"no vocabulary piece occurs at least {policy.min_count} times in the corpus; lower min_count or give more text")
    keep = set(freq.tolist())
    keep.update(tokenizer.all_special_ids)
    vocab = tokenizer.get_vocab()
    if policy.keep_chars:
        for c in chars:
            for prefix in ("",) + _WORD_START:
                i = vocab.get(prefix + c)
                if i is not None:
                    keep.add(i)
    for t in policy.keep_tokens:
        if t not in vocab:
            raise BadInput(f"keep_tokens: {t!r} is not in the tokenizer's vocabulary; remove it from the list")
        keep.add(vocab[t])
    return np.array(sorted(keep), dtype=np.int64)
