"""Training batches: deterministic, resumable token streams, bilingual mixing, MLM masking.

Every process draws the same global batch and takes its own slice of it, so a run on W processes
sees exactly the sequences (and masks) of a run on one process, and a resumed run continues with
the batch it would have seen (the position is a count of batches per language).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import torch

from ..errors import BadInput


def corpus_segments(corpora: Sequence[str | Path], text_column: str, eval_texts: list[str] | None,
                    stats=None) -> Iterator[str]:
    """The segments (sentences) of ``corpora`` in order, lazily, less those sharing a span with
    ``eval_texts`` (see :class:`monoglot.corpus.Decontaminator`); counted in ``stats`` if given."""
    from ..corpus import Decontaminator, iter_documents, iter_segments

    segs = (s for c in corpora for s in iter_segments(iter_documents(c, text_column=text_column, stats=stats), stats=stats))
    return Decontaminator(eval_texts).filter(segs, stats=stats) if eval_texts is not None else segs


def token_chunks(tokenizer, corpora: Sequence[str | Path], seq_len: int, text_column: str,
                 eval_texts: list[str] | None, stats) -> Iterator[list[int]]:
    """Chunks of ``seq_len`` token ids (special tokens included) from the decontaminated segments of ``corpora``."""
    from ..corpus import iter_token_chunks

    return iter_token_chunks(tokenizer, corpus_segments(corpora, text_column, eval_texts, stats), seq_len=seq_len)


def passages(segments: Iterable[str], words: int) -> Iterator[str]:
    """Consecutive ``segments`` joined with spaces into passages of at least ``words`` words
    (the last one may be shorter), lazily.

    A passage gives the sentence losses the teacher's embedding of a longer text: MTEB embeds
    MasakhaNEWS articles of up to 512 tokens, and the sentence losses otherwise see sentences of
    about 30 tokens.

    Raises:
        BadInput: if ``words`` < 1.
    """
    if words < 1:
        raise BadInput(f"passage_words must be at least 1, got {words}; pass a positive number of words")
    buf: list[str] = []
    n = 0
    for seg in segments:
        buf.append(seg)
        n += len(seg.split())
        if n >= words:
            yield " ".join(buf)
            buf, n = [], 0
    if buf:
        yield " ".join(buf)


def target_texts(corpora: Sequence[str | Path], text_column: str, eval_texts: list[str] | None, count: int,
                 passage_share: float = 0.0, passage_words: int = 64) -> list[str]:
    """At most ``count`` decontaminated texts of the target ``corpora`` for the sentence losses:
    ``round(count * passage_share)`` of them :func:`passages` of ``passage_words`` words, the rest
    segments (sentences). Segments come first and passages are joined from the segments after
    them, so no text is in both. Fewer when the corpora run out."""
    segs = corpus_segments(corpora, text_column, eval_texts)
    n_passages = round(count * passage_share)
    texts = list(itertools.islice(segs, count - n_passages))
    return texts + list(itertools.islice(passages(segs, passage_words), n_passages))


def monolingual_sentences(corpora: Sequence[str | Path], source_corpora: Sequence[str | Path] | None, count: int,
                          source_ratio: float, text_column: str, eval_texts: list[str] | None,
                          passage_share: float = 0.0, passage_words: int = 64) -> list[tuple[None, str]]:
    """The sentences of the sentence losses without parallel text, as ``(None, sentence)`` pairs.

    At most ``count`` decontaminated texts of ``corpora`` (the target language; a
    ``passage_share`` of them passages, see :func:`target_texts`) and, with
    ``source_corpora``, about ``count * source_ratio / (1 - source_ratio)`` of the source corpora
    (one sentence in four at ratio 0.25, as the token chunks). The source sentences keep the
    student's source-language embeddings near the teacher's, the other side of the teacher's
    cross-lingual alignment (bitext mining, zero-shot transfer); without them only the target
    side is distilled at the sentence level. :class:`SentenceStream` shuffles the list, so a batch
    mixes the languages and its in-batch negatives cross them.
    """
    def read(cs: Sequence[str | Path], n: int) -> list[str]:
        return list(itertools.islice(corpus_segments(cs, text_column, eval_texts), n))

    target = target_texts(corpora, text_column, eval_texts, count, passage_share, passage_words)
    source = read(source_corpora, round(len(target) * source_ratio / (1 - source_ratio))) if source_corpora and 0 < source_ratio < 1 else []
    return [(None, g) for g in target + source]


@dataclass
class Stream:
    """Endless global batches ``(batch_size, seq_len)`` of one language, cycling over its corpus.

    The first ``reserved`` chunks are the validation slice and never trained on.
    ``position`` counts the batches taken (saved in checkpoints).
    """

    make_chunks: Callable[[], Iterator[list[int]]]
    batch_size: int
    reserved: int
    name: str
    position: int = 0
    _it: Iterator[torch.Tensor] | None = field(default=None, repr=False)

    def _batches(self) -> Iterator[torch.Tensor]:
        while True:
            it = itertools.islice(self.make_chunks(), self.reserved, None)
            n = 0
            while len(batch := list(itertools.islice(it, self.batch_size))) == self.batch_size:
                n += 1
                yield torch.tensor(batch)
            if n == 0:
                raise BadInput(f"the {self.name} corpus is too small for one training batch of {self.batch_size} sequences after the validation slice; give more text or lower batch_size/val_batches")

    def peek(self) -> torch.Tensor:
        """The first training batch, without moving the position.

        Raises:
            BadInput: no training batch is left after the validation slice.
        """
        return next(self._batches())

    def next(self) -> torch.Tensor:
        """The next training batch ``(batch_size, seq_len)`` of token ids; advances ``position``
        (a resumed stream first skips the ``position`` batches already taken)."""
        if self._it is None:
            self._it = self._batches()
            for _ in range(self.position):
                next(self._it)
        self.position += 1
        return next(self._it)


def validation_slice(make_chunks: Callable[[], Iterator[list[int]]], batches: int, batch_size: int,
                     seq_len: int, name: str) -> list[torch.Tensor]:
    """The first ``batches * batch_size`` chunks as batches ``(batch_size, seq_len)``.

    Raises:
        BadInput: the corpus gives fewer chunks.
    """
    want = batches * batch_size
    val = list(itertools.islice(make_chunks(), want))
    if len(val) < want:
        raise BadInput(f"the {name} corpus gives only {len(val)} sequences of {seq_len} tokens, fewer than the {want} validation sequences; give more text or lower val_batches/batch_size")
    return [torch.tensor(val[i:i + batch_size]) for i in range(0, want, batch_size)]


class Mixer:
    """Alternates batches between languages (BiStil, Ansell et al. 2023, sec. 3.2).

    With ``source_ratio`` r, step ``i`` takes a source batch when ``floor((i+1) r) > floor(i r)``;
    r = 0.5 alternates one to one, so each language gets the same number of batches however
    different the corpus sizes (the smaller corpus is cycled over more often).
    """

    def __init__(self, target: Stream, source: Stream | None = None, source_ratio: float = 0.5):
        self.target, self.source, self.ratio = target, source, source_ratio

    def language(self, step: int) -> str:
        """``"source"`` or ``"target"``: the language of global step ``step`` (0-based)."""
        if self.source is None:
            return "target"
        return "source" if int((step + 1) * self.ratio) > int(step * self.ratio) else "target"

    def next(self, step: int) -> tuple[str, torch.Tensor]:
        """``(language, batch)``: step ``step``'s language and that stream's next batch ``(batch_size, seq_len)``."""
        lang = self.language(step)
        return lang, (self.source if lang == "source" else self.target).next()

    def state(self) -> dict[str, int]:
        """Batches taken per language (``{"target": n[, "source": m]}``), saved in checkpoints."""
        return {"target": self.target.position, **({"source": self.source.position} if self.source else {})}

    def load_state(self, state: dict[str, int]) -> None:
        """Restore :meth:`state`'s positions, so a resumed run continues with the batches it would have seen."""
        self.target.position = state["target"]
        if self.source is not None:
            self.source.position = state.get("source", 0)


@dataclass
class Masked:
    """A masked batch: ``input_ids`` ``(B, N)``, ``positions`` ``(M,)`` flat indices into ``B*N``
    of the masked tokens, ``labels`` ``(M,)`` their original ids."""

    input_ids: torch.Tensor
    positions: torch.Tensor
    labels: torch.Tensor


def mask_tokens(ids: torch.Tensor, generator: torch.Generator, mask_id: int, vocab_size: int,
                special_ids: Iterable[int], prob: float = 0.15) -> Masked:
    """BERT masking (Devlin et al. 2019, sec. 3.1): each non-special token is chosen with
    probability ``prob``; a chosen token becomes ``mask_id`` (80%), a random id (10%), or stays (10%).

    Args:
        ids: ``(B, N)`` token ids.
        generator: a seeded CPU generator (the caller seeds it per step, so masks are reproducible
            on any number of processes and after a resume).
    """
    special = torch.tensor(sorted(set(special_ids)), dtype=ids.dtype)
    u = torch.rand(ids.shape, generator=generator)
    chosen = (u < prob) & ~torch.isin(ids, special)
    r = torch.rand(ids.shape, generator=generator)
    rand_ids = torch.randint(vocab_size, ids.shape, generator=generator, dtype=ids.dtype)
    out = ids.clone()
    out[chosen & (r < 0.8)] = mask_id
    swap = chosen & (r >= 0.8) & (r < 0.9)
    out[swap] = rand_ids[swap]
    pos = chosen.flatten().nonzero().squeeze(1)
    return Masked(out, pos, ids.flatten()[pos])


def shard(batch: Masked | torch.Tensor, start: int, stop: int):
    """Rows ``start:stop`` of a global batch (a :class:`Masked` keeps only its positions in those rows, re-based)."""
    if isinstance(batch, torch.Tensor):
        return batch[start:stop]
    n = batch.input_ids.shape[1]
    keep = (batch.positions >= start * n) & (batch.positions < stop * n)
    return Masked(batch.input_ids[start:stop], batch.positions[keep] - start * n, batch.labels[keep])


@dataclass
class Sentences:
    """A batch of sentence pairs for the sentence-embedding losses, tokenised with the teacher's
    prompt and padded: ``tgt_ids``/``tgt_mask`` ``(B, N_t)`` the target-language sentences,
    ``src_ids``/``src_mask`` ``(B, N_s)`` their source-language translations, or None without
    parallel text (then the target sentence is its own source). ``same`` ``(B,)`` bool: rows whose
    source is the target sentence itself (``monolingual_share``), whose source side need not be
    run: its embedding is the target's."""

    tgt_ids: torch.Tensor
    tgt_mask: torch.Tensor
    src_ids: torch.Tensor | None = None
    src_mask: torch.Tensor | None = None
    same: torch.Tensor | None = None

    def tokens(self) -> int:
        """Real (non-padding) tokens that are run, both languages (a ``same`` row's source is not)."""
        n = int(self.tgt_mask.sum())
        if self.src_mask is not None:
            n += int(self.src_mask[self._source_rows()].sum())
        return n

    def _source_rows(self) -> torch.Tensor:
        """``(R,)`` the rows whose source is run: every row, less the ``same`` ones."""
        rows = torch.arange(len(self.src_ids), device=self.src_ids.device)
        return rows[~self.same] if self.same is not None else rows

    def distinct_sources(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(rows, ids, mask)``: the rows whose source differs from the target ``(R,)``, and their
        source sentences ``(R, N)``, padding trimmed to the longest of them."""
        rows = self._source_rows()
        mask = self.src_mask[rows]
        n = int(mask.sum(1).max()) if len(rows) else 0
        return rows, self.src_ids[rows, :n], mask[:, :n]

    def rows(self, start: int, stop: int) -> "Sentences":
        """Sentences ``start:stop`` (one process's / micro-batch's share of a global batch)."""
        cut = (lambda t: t[start:stop] if t is not None else None)
        return Sentences(cut(self.tgt_ids), cut(self.tgt_mask), cut(self.src_ids), cut(self.src_mask), cut(self.same))

    def to(self, device) -> "Sentences":
        """The same sentences with every tensor on ``device``."""
        mv = (lambda t: t.to(device) if t is not None else None)
        return Sentences(mv(self.tgt_ids), mv(self.tgt_mask), mv(self.src_ids), mv(self.src_mask), mv(self.same))


def _length_grouped(indices: list[int], length: Callable[[int], int], batch_size: int, group: int,
                    gen: torch.Generator) -> list[int]:
    """``indices`` reordered in blocks of ``group * batch_size``, sorted by ``length`` (longest
    first) within a block, whose batches then come in a random order (``gen``)."""
    out = []
    for b in range(0, len(indices), group * batch_size):
        block = sorted(indices[b:b + group * batch_size], key=length, reverse=True)
        batches = [block[k:k + batch_size] for k in range(0, len(block), batch_size)]
        out += [i for k in torch.randperm(len(batches), generator=gen).tolist() for i in batches[k]]
    return out


def _pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(r) for r in rows)
    ids = torch.full((len(rows), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), 1
    return ids, mask


class SentenceStream:
    """Endless global batches of :class:`Sentences`, cycling over a fixed, shuffled list of pairs.

    The pairs are shuffled once with ``seed``; the first ``reserved`` are the validation slice and
    never trained on. Batch ``i`` is a pure function of ``i`` (``position`` counts batches taken,
    saved in checkpoints), so a resumed run continues with the batch it would have seen.

    With ``group_by_length``, the training pairs (not the validation slice) are ordered as
    transformers' ``LengthGroupedSampler`` does: blocks of :data:`GROUP_BATCHES` batches, sorted by
    length within a block, the block's batches in shuffled order. A batch then holds sentences of
    similar length, and the padding that every forward pass computes falls from about 2.1x the real
    tokens to 1.2x (64 pairs of the demo's Bibles and web text).

    Args:
        tokenizer: the (shared) tokenizer; ``prompt`` is prepended to every sentence.
        pairs: ``(source, target)`` sentence pairs; ``source is None`` for monolingual sentences.
        max_len: tokens per sentence at most (special tokens included).

    Raises:
        BadInput: fewer pairs than the validation slice plus one batch.
    """

    GROUP_BATCHES = 50

    def __init__(self, tokenizer, pairs: Sequence[tuple[str | None, str]], batch_size: int, reserved: int,
                 max_len: int, prompt: str, seed: int, group_by_length: bool = False):
        need = reserved + batch_size
        if len(pairs) < need:
            raise BadInput(f"the sentence losses have {len(pairs)} sentences, fewer than the {reserved} validation sentences plus one batch of {batch_size}; give more text or lower val_batches/batch_size")
        gen = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(pairs), generator=gen).tolist()
        pairs = [pairs[i] for i in order]
        enc = (lambda texts: tokenizer([prompt + t for t in texts], truncation=True, max_length=max_len)["input_ids"])
        self.tgt = enc([t for _, t in pairs])
        self.src = enc([s for s, _ in pairs]) if pairs[0][0] is not None else None
        if group_by_length:
            order = list(range(reserved)) + _length_grouped(
                list(range(reserved, len(pairs))), lambda i: len(self.tgt[i]) + (len(self.src[i]) if self.src else 0),
                batch_size, self.GROUP_BATCHES, gen)
            self.tgt = [self.tgt[i] for i in order]
            self.src = [self.src[i] for i in order] if self.src is not None else None
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.batch_size, self.reserved, self.position = batch_size, reserved, 0

    def __len__(self) -> int:
        return len(self.tgt)

    def batch(self, idx: Sequence[int]) -> Sentences:
        """Pairs ``idx`` (positions in the stream's order) padded to their longest: ``(len(idx), N)``
        target ids and mask, and the source's (``same`` marks a source equal to its target)."""
        tgt = _pad([self.tgt[i] for i in idx], self.pad_id)
        if self.src is None:
            return Sentences(*tgt)
        same = torch.tensor([self.src[i] == self.tgt[i] for i in idx])
        return Sentences(*tgt, *_pad([self.src[i] for i in idx], self.pad_id), same)

    def validation(self, batches: int) -> list[Sentences]:
        """The held-out slice as ``batches`` batches."""
        return [self.batch(range(b * self.batch_size, (b + 1) * self.batch_size)) for b in range(batches)]

    def next(self) -> Sentences:
        """The next training batch of ``batch_size`` pairs (cycling over the pairs after the
        validation slice); advances ``position``."""
        n = len(self) - self.reserved
        start = self.position * self.batch_size
        self.position += 1
        return self.batch([self.reserved + (start + k) % n for k in range(self.batch_size)])
