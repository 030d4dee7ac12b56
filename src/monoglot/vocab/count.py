"""Count how often each vocabulary piece occurs in one or more corpora, with batched fast tokenization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np


@dataclass
class PieceCounts:
    """Occurrence statistics of every vocabulary piece.

    Attributes:
        per_corpus: ``(C, V)`` int64, occurrences of each piece id in each corpus.
        doc_freq: ``(V,)`` int64, number of documents (corpus segments) containing each piece.
        chars: every character seen in the text.
        documents: ``(C,)`` documents read per corpus.
    """

    per_corpus: np.ndarray
    doc_freq: np.ndarray
    chars: set[str] = field(default_factory=set)
    documents: list[int] = field(default_factory=list)

    @property
    def total(self) -> np.ndarray:
        """``(V,)`` occurrences over all corpora."""
        return self.per_corpus.sum(0)

    def relative(self) -> np.ndarray:
        """``(C, V)`` relative frequency of each piece within each corpus (rows sum to 1)."""
        n = self.per_corpus.sum(1, keepdims=True)
        return self.per_corpus / np.maximum(n, 1)


def count_pieces(tokenizer, corpora: Sequence[Iterable[str]], batch_size: int = 4000,
                 progress: Callable[[int], None] | None = None) -> PieceCounts:
    """Tokenise every corpus (no special tokens) and count piece occurrences and document frequency.

    Tokenisation runs in the Rust fast tokenizer's thread pool (``encode_batch``); counting is
    vectorised with numpy (``bincount`` over the batch's ids, and over the unique
    (document, id) pairs for document frequency).

    Args:
        tokenizer: a Hugging Face fast tokenizer.
        corpora: one iterable of documents (strings) per corpus, streamed, never held whole.
        batch_size: documents per ``encode_batch`` call.
        progress: optional callable ``progress(n_documents_done)``.

    Returns:
        :class:`PieceCounts` with ``V = len(tokenizer)``.
    """
    backend = tokenizer.backend_tokenizer
    V = len(tokenizer)
    per_corpus = np.zeros((len(corpora), V), dtype=np.int64)
    doc_freq = np.zeros(V, dtype=np.int64)
    chars: set[str] = set()
    documents = []
    done = 0
    for c, texts in enumerate(corpora):
        batch: list[str] = []
        n = 0

        def flush() -> None:
            encs = backend.encode_batch(batch, add_special_tokens=False)
            lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
            ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
            ids = np.minimum(ids, V - 1)  # ids past the tokenizer's length cannot occur; guard anyway
            if ids.size:
                per_corpus[c] += np.bincount(ids, minlength=V)
                doc = np.repeat(np.arange(len(encs), dtype=np.int64), lengths)
                pairs = np.unique(doc * V + ids)
                doc_freq[:] += np.bincount(pairs % V, minlength=V)
            chars.update("".join(batch))
            batch.clear()

        for t in texts:
            batch.append(t)
            n += 1
            if len(batch) >= batch_size:
                flush()
                if progress:
                    progress(done + n)
        if batch:
            flush()
        done += n
        documents.append(n)
        if progress:
            progress(done)
    return PieceCounts(per_corpus, doc_freq, chars, documents)
