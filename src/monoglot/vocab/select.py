"""Selection policies: which vocabulary pieces to keep.

Every threshold given must hold (they compose by intersection), then ``coverage`` and ``top_n``
cap the size, then the always-keep set is added:
- ``min_count``: occurrences over all corpora (Gurgurov et al. 2025, sec. 3.4);
- ``min_doc_freq``: documents containing the piece (Gurgurov et al. 2025, sec. 3.4);
- ``min_rel_freq``: relative frequency reached in ANY of the corpora, so a bilingual
  source + target selection keeps what either language needs (BiStil, Ansell et al. 2023, sec. 3.1);
- ``coverage``: the smallest set of most frequent pieces covering this fraction of all token
  occurrences;
- ``top_n``: at most the N most frequent;
- always kept: special tokens, every single-character piece of each character seen (so no word
  of that script becomes unknown), ``keep_tokens``.
``pieces_file`` instead keeps exactly the pieces listed in a file (plus the special tokens).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import BadInput
from .count import PieceCounts
from .settings import VocabPolicy


_WORD_START = ("▁", "Ġ", "##")


def by_frequency(counts: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``ids`` ordered by count descending, ties by id."""
    return ids[np.lexsort((ids, -counts[ids]))]


def coverage_curve(counts: np.ndarray) -> np.ndarray:
    """``(V,)`` coverage of the token occurrences by the k most frequent pieces, k = 1..V."""
    c = np.sort(counts)[::-1].cumsum()
    return c / max(int(c[-1]), 1) if len(c) else c


def read_pieces_file(path: str | Path) -> list[str]:
    """Pieces listed in ``path``: a JSON list of strings, or text with one piece per line.

    Raises:
        BadInput: missing file or a JSON file that is not a list of strings.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"pieces file {p} does not exist; pass a .txt (one piece per line) or .json list")
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".json":
        pieces = json.loads(text)
        if not isinstance(pieces, list) or not all(isinstance(x, str) for x in pieces):
            raise BadInput(f"pieces file {p} must hold a JSON list of strings")
        return pieces
    return [line for line in text.split("\n") if line]


def select_vocab(counts: PieceCounts | np.ndarray, tokenizer, policy: VocabPolicy) -> np.ndarray:
    """Return the sorted old ids to keep, shape ``(n_kept,)`` int64.

    Args:
        counts: :class:`PieceCounts` (or a plain ``(V,)`` count array for a single corpus).
        tokenizer: the source fast tokenizer.
        policy: the selection.

    Raises:
        BadInput: ``top_n`` at least the vocabulary size, a selection with no piece from the
            corpus, a ``keep_tokens`` or ``pieces_file`` entry not in the vocabulary.
    """
    if isinstance(counts, np.ndarray):
        counts = PieceCounts(counts[None, :], (counts > 0).astype(np.int64))
    vocab = tokenizer.get_vocab()
    vocab_size = len(tokenizer)
    keep: set[int] = set(tokenizer.all_special_ids)
    if policy.pieces_file:
        missing = []
        for piece in read_pieces_file(policy.pieces_file):
            if piece in vocab:
                keep.add(vocab[piece])
            else:
                missing.append(piece)
        if missing:
            raise BadInput(f"{len(missing)} pieces of {policy.pieces_file} are not in the tokenizer's vocabulary "
                           f"(first: {missing[0]!r}); the list must come from the same tokenizer")
        return np.array(sorted(keep), dtype=np.int64)
    if policy.top_n is not None and policy.top_n >= vocab_size:
        raise BadInput(f"top_n={policy.top_n} is not smaller than the vocabulary ({vocab_size} pieces); choose a smaller top_n or omit it")
    total = counts.total
    ok = total >= policy.min_count
    if policy.min_doc_freq is not None:
        ok &= counts.doc_freq >= policy.min_doc_freq
    if policy.min_rel_freq is not None:
        ok &= (counts.relative() >= policy.min_rel_freq).any(0)
    chosen = by_frequency(total, np.flatnonzero(ok))
    if policy.coverage is not None and len(chosen):
        reached = total[chosen].cumsum() / max(int(total.sum()), 1)
        chosen = chosen[: int(np.searchsorted(reached, policy.coverage - 1e-12)) + 1]
    if policy.top_n is not None:
        chosen = chosen[: policy.top_n]
    if len(chosen) == 0:
        raise BadInput("the policy selects no piece of the corpus (min_count / min_doc_freq / min_rel_freq too strict, "
                       "or empty text); relax a threshold or give more text")
    keep.update(chosen.tolist())
    if policy.keep_chars:
        for c in counts.chars:
            for prefix in ("",) + _WORD_START:
                i = vocab.get(prefix + c)
                if i is not None:
                    keep.add(i)
    for t in policy.keep_tokens:
        if t not in vocab:
            raise BadInput(f"keep_tokens: {t!r} is not in the tokenizer's vocabulary; remove it from the list")
        keep.add(vocab[t])
    return np.array(sorted(keep), dtype=np.int64)
