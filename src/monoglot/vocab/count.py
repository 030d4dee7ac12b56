"""Count how often each vocabulary piece occurs in a corpus, with batched fast tokenization."""

from __future__ import annotations

from typing import Iterable

import numpy as np


def count_pieces(tokenizer, texts: Iterable[str], batch_size: int = 2000,
                 progress=None) -> tuple[np.ndarray, set[str], int]:
    """Tokenise ``texts`` (no special tokens) and count piece occurrences.

    Tokenisation runs in the Rust fast tokenizer's thread pool (``encode_batch``).

    Args:
        tokenizer: a Hugging Face fast tokenizer.
        texts: the corpus, as an iterable of strings (streamed; never held whole).
        batch_size: texts per ``encode_batch`` call.
        progress: optional callable ``progress(n_texts_done)``.

    Returns:
        ``(counts, chars, n_texts)``: ``counts`` is an int64 array of shape ``(len(tokenizer),)``
        with the occurrences of each piece id; ``chars`` is the set of characters seen in the
        text; ``n_texts`` is the number of texts read.
    """
    backend = tokenizer.backend_tokenizer
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    chars: set[str] = set()
    batch: list[str] = []
    n = 0

    def flush() -> None:
        encs = backend.encode_batch(batch, add_special_tokens=False)
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64)
        if ids.size:
            counts[: len(counts)] += np.bincount(ids, minlength=len(counts))[: len(counts)]
        for t in batch:
            chars.update(t)
        batch.clear()

    for t in texts:
        batch.append(t)
        n += 1
        if len(batch) >= batch_size:
            flush()
            if progress:
                progress(n)
    if batch:
        flush()
        if progress:
            progress(n)
    return counts, chars, n
