"""Count how often each vocabulary piece occurs in one or more corpora.

Hugging Face tokenizers run normalizer -> pre-tokenizer -> model, and the model segments each
pre-tokenized word on its own. So the pieces of a corpus are the sum, over its distinct
pre-tokenized words, of (occurrences of the word) x (the word's pieces): each distinct word is
segmented once (the corpora of a language have far fewer distinct words than words). The words
come from the tokenizer's own normalizer (run in Rust) and a pre-tokenizer that is exactly
reproduced:

- ``Metaspace`` (XLM-R, e5, Unigram/SentencePiece models): spaces become ``▁``, one ``▁`` is
  prepended, and the text is cut before every ``▁`` (tokenizers' ``SplitDelimiterBehavior::MergedWithNext``);
- whitespace-splitting pre-tokenizers (``BertPreTokenizer``, ``Whitespace``, ``WhitespaceSplit``,
  and sequences of these with ``Punctuation``/``Digits``): these never join text across a space, so
  the normalized text is cut at spaces and each distinct chunk is pre-tokenized and segmented once.

Every other pre-tokenizer (e.g. byte-level BPE's ``ByteLevel``, whose words carry the preceding space,
or a regex ``Split``), BPE with dropout, a tokenizer with truncation or padding enabled, and every
segment containing the text of an added/special token, is counted exactly the old way: the whole
segment is encoded with ``encode_batch``. The counts are identical either way (tested on every
tokenizer family).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np


@dataclass
class PieceCounts:
    """Occurrence statistics of every vocabulary piece.

    Attributes:
        per_corpus: ``(C, V)`` int64, occurrences of each piece id in each corpus.
        doc_freq: ``(V,)`` int64, number of documents (corpus segments) containing each piece, or
            ``None`` when not computed (``count_pieces(..., doc_freq=False)``).
        chars: every character seen in the text.
        documents: ``(C,)`` documents read per corpus.
    """

    per_corpus: np.ndarray
    doc_freq: np.ndarray | None
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


_SPACE_SPLITTERS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}
_LOCAL_SPLITTERS = _SPACE_SPLITTERS | {"Punctuation", "Digits"}


def word_mode(backend) -> str | None:
    """How words can be counted for a ``tokenizers.Tokenizer``: ``"metaspace"``, ``"spaces"``, or
    ``None`` (encode whole segments). See the module docstring."""
    if getattr(backend.model, "dropout", None) or backend.truncation or backend.padding or backend.pre_tokenizer is None:
        return None
    pre = json.loads(backend.pre_tokenizer.__getstate__())
    kind = pre.get("type")
    if kind == "Metaspace" and pre.get("split") is True and pre.get("prepend_scheme") in ("always", "first"):
        return "metaspace"
    members = pre.get("pretokenizers", []) if kind == "Sequence" else [pre]
    types = {m.get("type") for m in members}
    if types and types <= _LOCAL_SPLITTERS and types & _SPACE_SPLITTERS:
        return "spaces"
    return None


class _Words:
    """Cuts normalized text into words and segments distinct words with the tokenizer's own model.

    ``metaspace``: a word ``w`` stands for the pre-token ``"▁" + w`` (the model alone segments it);
    ``spaces``: a word is a space-free chunk (the pre-tokenizer, then the model, segment it).
    Both share the backend's model and pre-tokenizer objects (no copy) and have no added tokens.
    """

    def __init__(self, backend, mode: str, V: int):
        from tokenizers import Tokenizer

        self.mode, self.V = mode, V
        self.normalize = backend.normalizer.normalize_str if backend.normalizer is not None else (lambda s: s)
        self.rep = json.loads(backend.pre_tokenizer.__getstate__()).get("replacement", "\u2581")
        self.chunk_tok = Tokenizer(backend.model)
        if mode == "spaces":
            self.chunk_tok.pre_tokenizer = backend.pre_tokenizer
        contents = {t.content for t in backend.get_added_tokens_decoder().values() if t.content}
        contents |= {self.normalize(c) for c in contents} - {""}
        self.added = re.compile("|".join(map(re.escape, sorted(contents, key=len, reverse=True)))) if contents else None

    def split(self, text: str) -> list[str] | None:
        """The words of one segment, or ``None`` if it contains an added token's text (encode it whole)."""
        s = self.normalize(text)
        if self.added is not None and (self.added.search(text) or self.added.search(s)):
            return None
        if self.mode == "spaces":
            return s.split(" ")  # empty chunks segment into no pieces
        s = s.replace(" ", self.rep)
        parts = s.split(self.rep)
        return parts[1:] if s.startswith(self.rep) else parts

    def segment(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(offsets (W+1,), flat piece ids)``: word i's pieces are ``flat[offsets[i]:offsets[i+1]]``."""
        texts = [self.rep + w for w in words] if self.mode == "metaspace" else words
        encs = self.chunk_tok.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        flat = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        return np.concatenate([[0], np.cumsum(lengths)]), np.minimum(flat, self.V - 1)


def _expand(offsets: np.ndarray, flat: np.ndarray, word_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The piece ids of the words ``word_ids`` concatenated, and for each piece its position in ``word_ids``."""
    starts, lengths = offsets[word_ids], offsets[word_ids + 1] - offsets[word_ids]
    owner = np.repeat(np.arange(len(word_ids)), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return flat[np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))], owner


def count_pieces(tokenizer, corpora: Sequence[Iterable[str]], batch_size: int = 4000,
                 progress: Callable[[int], None] | None = None, doc_freq: bool = True,
                 by_word: bool = True) -> PieceCounts:
    """Count piece occurrences (and document frequency) of every corpus, tokenised without special tokens.

    Each distinct pre-tokenized word is segmented once and its pieces multiplied by its
    occurrences (see the module docstring for when, and why the counts are exact); other segments
    are encoded in the Rust tokenizer's thread pool (``encode_batch``). Counting is vectorised
    with numpy (``bincount``; document frequency over the unique (document, piece) pairs).

    Args:
        tokenizer: a Hugging Face fast tokenizer.
        corpora: one iterable of documents (strings) per corpus, streamed, never held whole.
        batch_size: documents per batch.
        progress: optional callable ``progress(n_documents_done)``.
        doc_freq: also count the documents containing each piece (else ``PieceCounts.doc_freq`` is
            ``None``); it needs each segment's words, so it is slower.
        by_word: count distinct words (``False``: encode every segment whole; the tests' reference).

    Returns:
        :class:`PieceCounts` with ``V = len(tokenizer)``.
    """
    backend = tokenizer.backend_tokenizer
    V = len(tokenizer)
    mode = word_mode(backend) if by_word else None
    words = _Words(backend, mode, V) if mode else None
    per_corpus = np.zeros((len(corpora), V), dtype=np.int64)
    df = np.zeros(V, dtype=np.int64) if doc_freq else None
    word_counts = [Counter() for _ in corpora]
    index: dict[str, int] = {}  # doc_freq: word -> id, in order of first occurrence
    seg = [np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)]  # doc_freq: offsets, flat pieces of index's words
    chars: set[str] = set()
    documents = []
    done = 0

    def add_encoded(c: int, texts: list[str]) -> None:
        encs = backend.encode_batch(texts, add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        ids = np.fromiter((i for e in encs for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        ids = np.minimum(ids, V - 1)  # ids past the tokenizer's length cannot occur; guard anyway
        if ids.size:
            per_corpus[c] += np.bincount(ids, minlength=V)
            if df is not None:
                doc = np.repeat(np.arange(len(encs), dtype=np.int64), lengths)
                df[:] += np.bincount(np.unique(doc * V + ids) % V, minlength=V)

    def add_doc_freq(split: list[list[str]]) -> None:
        flat_words = [w for ws in split for w in ws]
        new = [w for w in dict.fromkeys(flat_words) if w not in index]
        if new:
            base = len(index)
            index.update((w, base + k) for k, w in enumerate(new))
            offsets, flat = words.segment(new)
            seg[0] = np.concatenate([seg[0], seg[0][-1] + offsets[1:]])
            seg[1] = np.concatenate([seg[1], flat])
        ids = np.fromiter(map(index.__getitem__, flat_words), dtype=np.int64, count=len(flat_words))
        doc = np.repeat(np.arange(len(split), dtype=np.int64), [len(ws) for ws in split])
        pairs = np.unique(doc * len(index) + ids)
        pieces, owner = _expand(seg[0], seg[1], pairs % len(index))
        df[:] += np.bincount(np.unique((pairs // len(index))[owner] * V + pieces) % V, minlength=V)

    def add_by_word(c: int, texts: list[str]) -> None:
        split = [words.split(t) for t in texts]
        whole = [t for t, ws in zip(texts, split) if ws is None]
        if whole:
            add_encoded(c, whole)
            split = [ws for ws in split if ws is not None]
        word_counts[c].update(itertools.chain.from_iterable(split))
        if df is not None and split:
            add_doc_freq(split)

    for c, texts in enumerate(corpora):
        batch: list[str] = []
        n = 0

        def flush() -> None:
            (add_by_word if mode else add_encoded)(c, batch)
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
    if mode:
        if df is not None:  # every word is already segmented
            distinct, (offsets, flat) = list(index), seg
        else:
            distinct = list(dict.fromkeys(w for wc in word_counts for w in wc))
            offsets, flat = words.segment(distinct)
        for c, wc in enumerate(word_counts):
            if wc:
                n_occ = np.fromiter((wc.get(w, 0) for w in distinct), dtype=np.int64, count=len(distinct))
                pieces, owner = _expand(offsets, flat, np.arange(len(distinct)))
                per_corpus[c] += np.bincount(pieces, weights=n_occ[owner], minlength=V).astype(np.int64)
    return PieceCounts(per_corpus, df, chars, documents)
