"""Parallel text: sentence pairs (source, target) from two files, for cross-lingual distillation.

Three layouts, told apart by the files themselves:

- two verse tables (TSV with a header naming ``book``, ``chapter``, ``verse`` and a text column):
  joined on (book, chapter, verse);
- a verse table and a plain one-verse-per-line text without references (the shared data's
  ``eng/bible_web.txt`` against ``swa/bible_suv.tsv``): aligned by sentence length, testament by
  testament (:func:`align_bible`);
- any two line-aligned files with the same number of lines: line ``i`` with line ``i``.

Pairs that share an evaluation span on either side are dropped (:class:`monoglot.corpus.Decontaminator`),
like every training corpus.

Source of the length-based alignment: Gale & Church 1993, "A Program for Aligning Sentences in
Bilingual Corpora" (Computational Linguistics 19(1)), sec. 3-4: the cost of a match is
``-log P(match kind) - log P(delta | match)`` with ``delta = (l2 - c l1) / sqrt(l1 s2)``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import BadInput

VERSE_KEYS = ("book", "chapter", "verse")
NEW_TESTAMENT_BOOK = 40
"""Matthew is book 40 of the 66-book Protestant canon (books 1-39: the Old Testament)."""

# Gale & Church 1993, table 5: prior probability of each match kind (source verses, target lines).
_MOVES = {(1, 1): 0.89, (1, 0): 0.0099 / 2, (0, 1): 0.0099 / 2, (2, 1): 0.089 / 2, (1, 2): 0.089 / 2}
_MAX_LENGTH_COST = 20.0  # nats: the most an unmatched sentence's length can cost
_S2 = 6.8  # variance of the target length per source character (Gale & Church, sec. 4.2)


@dataclass
class ParallelStats:
    """What reading a parallel text did (counts of sentence pairs)."""

    layout: str = ""
    pairs_read: int = 0
    dropped_unaligned: int = 0
    dropped_length_ratio: int = 0
    dropped_contaminated: int = 0
    kept: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """The counts and notes as a plain dict (the distillation report's ``parallel_text``)."""
        return {k: v for k, v in self.__dict__.items()}


def _verse_table(path: Path, text_column: str) -> list[tuple[int, int, int, str]] | None:
    """Rows ``(book, chapter, verse, text)`` of a verse TSV, or None if ``path`` is not one.

    ``book`` is the leading number of the book code (``01O`` -> 1, ``40N`` -> 40)."""
    if path.suffix.lower() != ".tsv":
        return None
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [h.strip().lower() for h in next(rows, [])]
        if not all(k in header for k in VERSE_KEYS) or text_column not in header:
            return None
        ib, ic, iv, it = (header.index(k) for k in (*VERSE_KEYS, text_column))
        out = []
        for r in rows:
            if len(r) <= max(ib, ic, iv, it):
                continue
            digits = "".join(ch for ch in r[ib] if ch.isdigit())
            try:
                out.append((int(digits), int(r[ic]), int(r[iv]), r[it].strip()))
            except ValueError:
                raise BadInput(f"{path}: bad verse reference {r[ib]!r} {r[ic]!r} {r[iv]!r}; the book, chapter and verse columns must hold numbers (book codes such as 01O may carry letters)") from None
    return out


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").strip() for line in f]


def gale_church(src: list[int], tgt: list[int], band: int = 60) -> list[tuple[list[int], list[int]]]:
    """Length-based sentence alignment (Gale & Church 1993), banded around the diagonal.

    Both texts are aligned from their beginnings; target sentences after the last aligned one cost
    nothing (the target may continue with text the source lacks).

    Args:
        src: character lengths of the source sentences, in order.
        tgt: character lengths of the target sentences.
        band: how far (in sentences) the alignment may drift from the diagonal ``j = i``.

    Returns:
        the alignment beads in order: ``(source indices, target indices)``, each list 0 to 2 long
        (1-0 and 0-1 beads are unmatched sentences).

    Raises:
        ValueError: no alignment of all of ``src`` stays within the band.
    """
    from scipy.special import log_ndtr

    n, m, w = len(src), len(tgt), band
    ps = np.concatenate([[0.0], np.cumsum(src, dtype=np.float64)])  # ps[i]: length of src[:i]
    pt = np.concatenate([[0.0], np.cumsum(tgt, dtype=np.float64)])
    c = float(np.median(tgt[: max(1, min(n, m))])) / max(1.0, float(np.median(src)))  # target chars per source char

    def cost(a: np.ndarray, b: np.ndarray, prior: float, skip: bool = False) -> np.ndarray:
        mean = np.maximum((a + b / c) / 2, 1.0)
        z = (c * a - b) / np.sqrt(_S2 * mean)
        length = -(math.log(2) + log_ndtr(-np.abs(z)))  # -log 2(1 - Phi(|z|))
        # an unmatched sentence costs at most the cap: one far too long for any bead (a preface,
        # an appended glossary) is left out rather than merged with its neighbours
        return -math.log(prior) + (np.minimum(length, _MAX_LENGTH_COST) if skip else length)

    moves = list(_MOVES)
    skip_move = moves.index((0, 1))
    width = 2 * w + 1
    ks = np.arange(width)
    D = np.full((n + 1, width), np.inf)  # D[i, k]: best cost of src[:i] against tgt[:j], j = i + k - w
    B = np.zeros((n + 1, width), dtype=np.int8)  # the move that reached (i, k)
    for i in range(n + 1):
        j = i + ks - w
        valid = (j >= 0) & (j <= m)
        jc = np.clip(j, 0, m)
        row, arg = np.full(width, np.inf), np.zeros(width, dtype=np.int8)
        if i == 0:
            row[w] = 0.0
        for mi, (di, dj) in enumerate(moves):
            if di == 0 or i < di:
                continue
            kk = ks + di - dj  # the cell (i - di, j - dj) sits at band index k + di - dj in row i - di
            ok = valid & (kk >= 0) & (kk < width) & (j - dj >= 0)
            prev = np.where(ok, D[i - di, np.clip(kk, 0, width - 1)], np.inf)
            b = pt[jc] - pt[np.clip(jc - dj, 0, m)]
            new = prev + cost(np.full(width, ps[i] - ps[i - di]), b, _MOVES[(di, dj)], skip=dj == 0)
            better = new < row
            row[better], arg[better] = new[better], mi
        # 0-1 beads (an unmatched target sentence) chain along the row
        skip = np.where(valid & (j >= 1), cost(np.zeros(width), pt[jc] - pt[np.clip(jc - 1, 0, m)], _MOVES[(0, 1)], skip=True), np.inf)
        for k in range(1, width):
            if row[k - 1] + skip[k] < row[k]:
                row[k], arg[k] = row[k - 1] + skip[k], skip_move
        row[~valid] = np.inf
        D[i], B[i] = row, arg
    k = int(np.argmin(D[n]))
    if not np.isfinite(D[n, k]):
        raise ValueError(f"no alignment within a band of {band} sentences; the texts differ too much in sentence count ({n} vs {m})")
    beads, i = [], n
    while i > 0 or i + k - w > 0:
        di, dj = moves[B[i, k]]
        j = i + k - w
        beads.append((list(range(i - di, i)), list(range(j - dj, j))))
        i, k = i - di, k + di - dj
    return beads[::-1]


def align_bible(verses: list[tuple[int, int, int, str]], lines: list[str], band: int = 60,
                stats: ParallelStats | None = None) -> list[tuple[str, str]]:
    """Align a verse table with a one-verse-per-line text that has no references.

    The Old Testament (books 1-39) is aligned from the start of ``lines``, the New Testament
    (books 40-66) from its end (both lists reversed), each by sentence length (:func:`gale_church`);
    what lies before, between and after (a preface, the deuterocanonical books of an ecumenical
    edition, a glossary) stays unmatched. Only one-to-one beads are kept.

    Args:
        verses: ``(book, chapter, verse, text)`` rows in canonical order.
        lines: the other text, one verse per line.

    Returns:
        ``(line, verse text)`` pairs in canonical order.
    """
    out: list[tuple[str, str]] = []
    for testament, from_end in ((lambda b: b < NEW_TESTAMENT_BOOK, False), (lambda b: b >= NEW_TESTAMENT_BOOK, True)):
        vs = [v[3] for v in verses if testament(v[0])]
        if not vs:
            continue
        ls = lines[::-1] if from_end else lines
        vv = vs[::-1] if from_end else vs
        beads = gale_church([len(v) for v in vv], [len(x) for x in ls], band=band)
        pairs = [(ls[t[0]], vv[s[0]]) for s, t in beads if len(s) == 1 and len(t) == 1]
        if stats is not None:
            stats.dropped_unaligned += len(vs) - len(pairs)
        out += pairs[::-1] if from_end else pairs
    return out


def read_parallel(src: str | Path, tgt: str | Path, *, text_column: str = "text",
                  eval_texts: Iterable[str] | None = None, max_length_ratio: float = 3.0,
                  stats: ParallelStats | None = None) -> list[tuple[str, str]]:
    """Sentence pairs ``(source, target)`` from two files (see the module docstring for layouts).

    Args:
        src, tgt: the source-language file (e.g. English) and the target-language file.
        text_column: the text column of verse tables.
        eval_texts: evaluation sentences; pairs with an 8-word span of one on either side are dropped.
        max_length_ratio: pairs whose character lengths differ more than this factor (after the
            corpus-wide ratio) are dropped: misalignments and appended notes.
        stats: filled with counts.

    Raises:
        BadInput: a missing file; line-aligned files with different line counts; no pair left.
    """
    st = stats if stats is not None else ParallelStats()
    src, tgt = Path(src), Path(tgt)
    for p in (src, tgt):
        if not p.is_file():
            raise BadInput(f"parallel text file {p} does not exist; give two existing files, source first (e.g. eng/bible_web.txt,swa/bible_suv.tsv)")
    vs, vt = _verse_table(src, text_column), _verse_table(tgt, text_column)
    if vs is not None and vt is not None:
        st.layout = "verse tables joined on book, chapter, verse"
        t_by_key = {r[:3]: r[3] for r in vt}
        pairs = [(r[3], t_by_key[r[:3]]) for r in vs if r[:3] in t_by_key]
        st.dropped_unaligned = len(vs) - len(pairs)
    elif vs is not None or vt is not None:
        st.layout = "verse table and one verse per line, aligned by length per testament (Gale & Church 1993)"
        if vs is not None:  # the verse table is the source: swap roles back after aligning
            pairs = [(v, line) for line, v in align_bible(vs, _lines(tgt), stats=st)]
        else:
            pairs = align_bible(vt, _lines(src), stats=st)
    else:
        st.layout = "line-aligned"
        a, b = _lines(src), _lines(tgt)
        if len(a) != len(b):
            raise BadInput(f"parallel files {src} ({len(a)} lines) and {tgt} ({len(b)} lines) differ in line count; give line-aligned files (line i translates line i), or verse tables with book/chapter/verse columns")
        pairs = list(zip(a, b))
    pairs = [(a, b) for a, b in pairs if a and b]
    st.pairs_read = len(pairs)
    if pairs:
        ratio = sum(len(b) for _, b in pairs) / max(1, sum(len(a) for a, _ in pairs))
        kept = [(a, b) for a, b in pairs if 1 / max_length_ratio <= len(b) / (ratio * len(a)) <= max_length_ratio]
        st.dropped_length_ratio = len(pairs) - len(kept)
        pairs = kept
    if eval_texts is not None:
        from .corpus import Decontaminator

        d = Decontaminator(eval_texts)
        kept = [(a, b) for a, b in pairs if not (d.is_contaminated(a) or d.is_contaminated(b))]
        st.dropped_contaminated = len(pairs) - len(kept)
        pairs = kept
    st.kept = len(pairs)
    if not pairs:
        raise BadInput(f"no sentence pair left from {src} and {tgt} ({st.layout}); check that they translate each other")
    return pairs
