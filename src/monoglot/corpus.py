"""Unlabeled target-language text: streaming readers, sentence splitting, decontamination, chunking.

The pipeline is a chain of generators, so a corpus is never held in memory as a whole
(only one document, i.e. one line, at a time)::

    stats = CorpusStats()
    docs = iter_documents("corpus.txt", stats=stats)
    segments = Decontaminator(eval_sentences).filter(iter_segments(docs, stats=stats), stats)
    for chunk in iter_token_chunks(tokenizer, segments, seq_len=128):
        ...

Supported files (each optionally gzip-compressed, ``.gz``):

- ``.txt``: one document per line (lines may be several MB long);
- ``.tsv``: tab-separated with a header row; the documents are one named column;
- ``.jsonl``: one JSON object per line; the documents are one named field;

and Hugging Face datasets named ``hf:DATASET[:CONFIG][:SPLIT]`` (:mod:`monoglot.hub`: streamed
from the hub, or read from monoglot's hub cache or a local dataset folder), whose documents are
one named column. A :class:`CorpusRef` carries a corpus with its own text column and caps
(``max_documents``, ``max_words``) through every stage that takes a path.

Bytes are decoded as UTF-8 with ``errors="replace"``: invalid bytes never crash a run, they
become U+FFFD and are counted in :attr:`CorpusStats.invalid_utf8` so the caller can warn.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from .errors import BadInput
from .hub import is_hub

SUPPORTED_SUFFIXES = (".txt", ".tsv", ".jsonl", ".txt.gz", ".tsv.gz", ".jsonl.gz")

_REPLACEMENT = "\ufffd"
_REPLACEMENT_BYTES = _REPLACEMENT.encode("utf-8")
# A sentence ends at . ! or ? (optionally followed by one closing quote or bracket) then whitespace.
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’»)\]]))\s+")
_WORD = re.compile(r"\w+")
_CSV_FIELD_LIMIT = 2**31 - 1  # characters; documents in a TSV cell may be several MB


class CorpusRef(str):
    """A corpus (a local path or ``hf:`` name) with its reading options, as a ``str``.

    Every stage takes corpora as paths or strings, prints them and hashes ``str(corpus)`` into
    its settings; so a :class:`CorpusRef` is a string, whose value is the source followed by the
    options that are set, e.g. ``"hf:wikimedia/wikipedia:20231101.sw [max_words=2000000]"``:
    changing a cap changes the hash, and the stage re-runs. :func:`iter_documents` reads
    ``source`` with these options.

    Attributes:
        source: a file path or ``hf:DATASET[:CONFIG][:SPLIT]``.
        text_column: the TSV column / JSONL field / dataset column of the text (None: the
            caller's ``text_column``).
        max_documents: stop after this many non-empty documents (None: no cap).
        max_words: stop after the document that brings the words read to this many (None: no cap).
    """

    source: str
    text_column: str | None
    max_documents: int | None
    max_words: int | None

    def __new__(cls, source: str | Path, text_column: str | None = None, max_documents: int | None = None,
                max_words: int | None = None) -> "CorpusRef":
        for name, cap in (("max_documents", max_documents), ("max_words", max_words)):
            if cap is not None and cap < 1:
                raise BadInput(f"{name} must be at least 1, got {cap}; pass a positive number or no cap")
        opts = [f"{k}={v}" for k, v in (("text_column", text_column), ("max_documents", max_documents),
                                         ("max_words", max_words)) if v is not None]
        self = super().__new__(cls, str(source) + (f" [{', '.join(opts)}]" if opts else ""))
        self.source, self.text_column = str(source), text_column
        self.max_documents, self.max_words = max_documents, max_words
        return self

    def __getnewargs__(self):  # pickling (e.g. to other processes) keeps the options
        return (self.source, self.text_column, self.max_documents, self.max_words)


@dataclass
class CorpusStats:
    """Counters filled in as the corpus streams through the pipeline (all counts, no units).

    Attributes:
        documents: non-empty documents read (lines of a .txt, rows of a .tsv/.jsonl).
        characters: Unicode characters in those documents (after stripping surrounding whitespace).
        words: whitespace-separated words in those documents.
        invalid_utf8: U+FFFD characters produced by decoding invalid UTF-8 bytes anywhere in the
            file (U+FFFD already present in the file as valid UTF-8 is not counted).
        sentences: segments yielded by :func:`iter_segments`.
        dropped_contaminated: segments dropped by :meth:`Decontaminator.filter`.
    """

    documents: int = 0
    characters: int = 0
    words: int = 0
    invalid_utf8: int = 0
    sentences: int = 0
    dropped_contaminated: int = 0

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict (JSON-serialisable)."""
        return asdict(self)


# --------------------------------------------------------------------------- reading


def _format_of(path: Path) -> tuple[str, bool]:
    """Return (format, gzipped) for ``path``, e.g. ("tsv", True) for ``x.tsv.gz``."""
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[: -len(".gz")]
    for fmt in ("txt", "tsv", "jsonl"):
        if name.endswith("." + fmt):
            return fmt, gzipped
    raise BadInput(
        f"corpus {path} has an unsupported file type; use one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


def _open_binary(path: Path, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


MAX_INVALID_SHARE = 0.01  # a file with more invalid UTF-8 than this share of its characters is not text
_MIN_INVALID = 100  # ... and at least this many invalid characters (a few stray bytes are tolerated)
_JUDGE_AFTER = 1_000_000  # characters read before the share is judged (and at the end of the file)


def _not_text(path: Path, bad: int, chars: int) -> BadInput:
    return BadInput(f"corpus {path} is not text: {bad:,} of the {chars:,} characters read ({100 * bad / chars:.0f}%) "
                    "are invalid UTF-8; pass a UTF-8 text file (.txt/.tsv/.jsonl, optionally .gz)")


def _decoded_lines(path: Path, gzipped: bool, stats: CorpusStats | None) -> Iterator[str]:
    """Yield the file's lines (newline kept) decoded as UTF-8, counting replaced bytes in stats.

    Decoding line by line is exact: the byte 0x0A never occurs inside a multi-byte UTF-8 sequence.

    Raises:
        BadInput: more than :data:`MAX_INVALID_SHARE` of the characters (and at least 100) are
            invalid UTF-8, judged after the first million characters and at the end: a binary file.
    """
    bad = chars = 0
    with _open_binary(path, gzipped) as f:
        first = True
        for raw in f:
            line = raw.decode("utf-8", errors="replace")
            chars += len(line)
            if _REPLACEMENT in line:
                n = line.count(_REPLACEMENT) - raw.count(_REPLACEMENT_BYTES)
                bad += n
                if stats is not None:
                    stats.invalid_utf8 += n
            if chars >= _JUDGE_AFTER and bad >= _MIN_INVALID and bad > MAX_INVALID_SHARE * chars:
                raise _not_text(path, bad, chars)
            if first:
                line = line.removeprefix("\ufeff")  # byte-order mark
                first = False
            yield line
    if bad >= _MIN_INVALID and bad > MAX_INVALID_SHARE * chars:
        raise _not_text(path, bad, chars)


def _tsv_rows(path: Path, gzipped: bool, stats: CorpusStats | None) -> Iterator[list[str]]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        yield from csv.reader(_decoded_lines(path, gzipped, stats), delimiter="\t")
    except csv.Error as e:
        raise BadInput(f"corpus {path} is not valid TSV ({e}); fix the file or convert it to .txt") from e


def _tsv_column_index(path: Path, gzipped: bool, text_column: str) -> int:
    """Read only the header of a TSV and return the index of ``text_column``."""
    rows = _tsv_rows(path, gzipped, None)
    try:
        header = next(rows, None)
    finally:
        rows.close()
    if not header:
        raise BadInput(f"corpus {path} is empty; a .tsv corpus needs a header row naming its columns")
    if text_column not in header:
        raise BadInput(
            f"corpus {path} has no column {text_column!r}; its columns are {', '.join(header)}; "
            "pass the right --text-column"
        )
    return header.index(text_column)


def _raw_documents(path: Path, fmt: str, gzipped: bool, text_column: str,
                   stats: CorpusStats | None) -> Iterator[str]:
    """Yield the raw (unstripped, possibly empty) documents of one file."""
    if fmt == "txt":
        yield from _decoded_lines(path, gzipped, stats)
    elif fmt == "tsv":
        col = _tsv_column_index(path, gzipped, text_column)
        rows = _tsv_rows(path, gzipped, stats)
        next(rows, None)  # header
        for row in rows:
            if col < len(row):  # short rows have no text
                yield row[col]
    else:  # jsonl
        for lineno, line in enumerate(_decoded_lines(path, gzipped, stats), start=1):
            if not line.strip():
                continue
            try:
                obj: Any = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadInput(f"corpus {path} line {lineno} is not valid JSON ({e.msg}); fix or remove that line") from e
            if not isinstance(obj, dict) or text_column not in obj:
                keys = ", ".join(obj) if isinstance(obj, dict) else type(obj).__name__
                raise BadInput(
                    f"corpus {path} line {lineno} has no field {text_column!r} (it has: {keys}); "
                    "pass the right field with --text-column"
                )
            value = obj[text_column]
            if value is None:
                continue
            if not isinstance(value, str):
                raise BadInput(
                    f"corpus {path} line {lineno}: field {text_column!r} is a {type(value).__name__}, "
                    "not a string; store the text as a JSON string"
                )
            yield value


def iter_documents(path: str | Path, text_column: str = "text", stats: CorpusStats | None = None,
                   max_documents: int | None = None, max_words: int | None = None) -> Iterator[str]:
    """Stream the non-empty documents of a corpus, stripped of surrounding whitespace.

    Args:
        path: a ``.txt``, ``.tsv`` or ``.jsonl`` file, optionally ``.gz``-compressed; or
            ``hf:DATASET[:CONFIG][:SPLIT]`` (split ``train`` unless named; see :mod:`monoglot.hub`);
            or a :class:`CorpusRef`, whose own options win over the arguments below.
        text_column: the TSV column / JSONL field / dataset column holding the text (ignored
            for ``.txt``).
        stats: if given, ``documents``, ``characters``, ``words`` and ``invalid_utf8`` are
            incremented as documents are yielded.
        max_documents, max_words: caps (see :class:`CorpusRef`); None: read everything.

    Memory: one line (one document) at a time; a hub dataset is streamed row by row.

    Raises:
        BadInput: at call time if the file does not exist or is a folder, its suffix is
            unsupported, (TSV) the header lacks ``text_column``, or (hub) the dataset cannot be
            opened or lacks the column; while iterating if a JSONL line is invalid or lacks the
            field, the file is not text (invalid UTF-8, see :func:`_decoded_lines`), or the corpus
            turns out to hold no non-empty document.
    """
    if isinstance(path, CorpusRef):
        text_column = path.text_column or text_column
        max_documents = path.max_documents if path.max_documents is not None else max_documents
        max_words = path.max_words if path.max_words is not None else max_words
        path = path.source
    if is_hub(path):
        raw, where = _hub_documents(str(path), text_column, max_documents, max_words), f" in column {text_column!r}"
        return _iter_documents(raw, str(path), where, stats, max_documents, max_words)
    path = Path(path)
    if path.is_dir():
        raise BadInput(f"corpus {path} is a folder, not a file; pass the corpus file(s) in it (formats: {', '.join(SUPPORTED_SUFFIXES)})")
    if not path.is_file():
        raise BadInput(f"corpus {path} does not exist; check the path (formats: {', '.join(SUPPORTED_SUFFIXES)}, "
                       "or hf:DATASET[:CONFIG][:SPLIT])")
    fmt, gzipped = _format_of(path)
    if fmt == "tsv":
        _tsv_column_index(path, gzipped, text_column)  # fail early on a bad header
    where = "" if fmt == "txt" else f" in {fmt.upper()} column/field {text_column!r}"
    return _iter_documents(_raw_documents(path, fmt, gzipped, text_column, stats), str(path), where, stats,
                           max_documents, max_words)


def _hub_documents(name: str, text_column: str, max_documents: int | None, max_words: int | None) -> Iterator[str]:
    """Open (at call time) one split of a hub dataset (its capped copy in the cache if
    :func:`fetch_corpus` stored one) and return an iterator over its text column."""
    from . import hub

    h = hub.parse(name)
    copy = hub.corpus_copy_path(h, text_column, max_documents, max_words)
    if (copy / "state.json").is_file():
        split = hub.load_saved(copy)
    else:
        split = hub.load_split(h, streaming=True)
    columns = split.column_names
    if columns is None:  # a streamed dataset whose files declare no schema: look at the first row
        columns = list(next(iter(split), {}))
    if text_column not in columns:
        raise BadInput(f"corpus {name} has no column {text_column!r}; its columns are {', '.join(columns)}; "
                       "pass the right text column")
    return _column_values(name, split.select_columns([text_column]), text_column)


def _column_values(name: str, split: Any, text_column: str) -> Iterator[str]:
    for i, row in enumerate(split):
        value = row[text_column]
        if value is None:
            continue
        if not isinstance(value, str):
            raise BadInput(f"corpus {name} row {i}: column {text_column!r} holds a {type(value).__name__}, "
                           "not text; pass a text column")
        yield value


def _iter_documents(raw: Iterator[str], name: str, where: str, stats: CorpusStats | None,
                    max_documents: int | None, max_words: int | None) -> Iterator[str]:
    n = words = 0
    for doc in raw:
        if (max_documents is not None and n >= max_documents) or (max_words is not None and words >= max_words):
            break
        doc = doc.strip()
        if not doc:
            continue
        n += 1
        w = len(doc.split())
        words += w
        if stats is not None:
            stats.documents += 1
            stats.characters += len(doc)
            stats.words += w
        yield doc
    if n == 0:
        raise BadInput(f"corpus {name} has no non-empty document{where}; give a corpus with text in it")


# --------------------------------------------------------------------------- segmenting


def iter_segments(docs: Iterable[str], max_words: int = 64,
                  stats: CorpusStats | None = None) -> Iterator[str]:
    """Split documents into sentences of at most ``max_words`` words, lazily.

    A sentence ends at ``.``, ``!`` or ``?`` (optionally followed by one closing quote or bracket)
    followed by whitespace. A sentence longer than ``max_words`` words is cut into consecutive
    pieces of ``max_words`` words (the last one shorter). Whitespace inside a segment is
    normalised to single spaces; empty segments are skipped. ``stats.sentences`` counts the
    segments yielded.

    Raises:
        BadInput: if ``max_words`` < 1.
    """
    if max_words < 1:
        raise BadInput(f"max_words must be at least 1, got {max_words}; pass a positive number of words")
    for doc in docs:
        start = 0
        for m in _SENTENCE_BREAK.finditer(doc):
            yield from _cut(doc[start:m.start()], max_words, stats)
            start = m.end()
        yield from _cut(doc[start:], max_words, stats)


def _cut(sentence: str, max_words: int, stats: CorpusStats | None) -> Iterator[str]:
    words = sentence.split()
    for i in range(0, len(words), max_words):
        if stats is not None:
            stats.sentences += 1
        yield " ".join(words[i:i + max_words])


# --------------------------------------------------------------------------- decontamination


def normalize_words(text: str) -> list[str]:
    """Lowercase ``text`` and return its words: maximal runs of word characters (``\\w+``).

    Punctuation and whitespace only separate words, so "Mungu, akasema" == "mungu akasema".
    """
    return _WORD.findall(text.lower())


class Decontaminator:
    """Drop corpus text that shares an ``n``-word span with any evaluation sentence.

    Both sides are normalised with :func:`normalize_words`. Each evaluation sentence of at least
    ``n`` words contributes all its ``n``-word spans. An evaluation sentence of 4 to ``n-1`` words
    contributes itself as one span: corpus text containing that exact word sequence is
    contaminated (a short test sentence copied verbatim is still a leak). Evaluation sentences of
    fewer than 4 words are ignored: such short sequences ("alisema kwamba yeye") occur by chance
    everywhere and would drop clean text.

    Spans are stored as Python hashes of word tuples (one int each); a false positive needs a
    64-bit hash collision. Spans are checked per segment, so a span crossing a segment boundary
    is not seen.

    Raises:
        BadInput: if ``n`` < 4.
    """

    MIN_SHORT_WORDS = 4

    def __init__(self, eval_texts: Iterable[str], n: int = 8):
        if n < self.MIN_SHORT_WORDS:
            raise BadInput(f"decontamination span n must be at least {self.MIN_SHORT_WORDS} words, got {n}; raise n")
        self.n = n
        # span length -> set of hashes of word tuples of that length
        self._spans: dict[int, set[int]] = {}
        for text in eval_texts:
            words = normalize_words(text)
            k = min(len(words), n)
            if k < self.MIN_SHORT_WORDS:
                continue
            self._spans.setdefault(k, set()).update(map(hash, _ngrams(words, k)))
        self._lengths = sorted(self._spans, reverse=True)  # n first: the common case

    @property
    def num_spans(self) -> int:
        """Number of distinct evaluation spans (all lengths)."""
        return sum(len(s) for s in self._spans.values())

    def is_contaminated(self, text: str) -> bool:
        """True if ``text`` contains any evaluation span (see the class docstring)."""
        words = normalize_words(text)
        for k in self._lengths:
            if len(words) >= k and not self._spans[k].isdisjoint(map(hash, _ngrams(words, k))):
                return True
        return False

    def filter(self, segments: Iterable[str], stats: CorpusStats | None = None) -> Iterator[str]:
        """Yield the clean segments; count dropped ones in ``stats.dropped_contaminated``."""
        for seg in segments:
            if self.is_contaminated(seg):
                if stats is not None:
                    stats.dropped_contaminated += 1
            else:
                yield seg


def _ngrams(words: list[str], k: int) -> Iterator[tuple[str, ...]]:
    """All consecutive k-word tuples of ``words`` (none if there are fewer than k words)."""
    return zip(*(words[i:] for i in range(k)))


# --------------------------------------------------------------------------- chunking


def iter_token_chunks(tokenizer: Any, segments: Iterable[str], seq_len: int = 128,
                      batch_texts: int = 256) -> Iterator[list[int]]:
    """Tokenise segments and yield training sequences of exactly ``seq_len`` token ids.

    Segments are tokenised ``batch_texts`` at a time with a Hugging Face (fast) tokenizer without
    special tokens, their ids concatenated into one stream, and the stream cut into pieces of
    ``seq_len - 2`` ids, each wrapped as ``[cls] + piece + [sep]`` (``tokenizer.cls_token_id`` /
    ``sep_token_id``, falling back to ``bos_token_id`` / ``eos_token_id``). A final piece shorter
    than ``seq_len - 2`` ids is dropped. Memory: one batch of segments plus one chunk.

    Raises:
        BadInput: if ``seq_len`` < 3, ``batch_texts`` < 1, or the tokenizer has neither cls/bos
            nor sep/eos token.
    """
    if seq_len < 3:
        raise BadInput(f"seq_len must be at least 3 tokens (cls, content, sep), got {seq_len}; raise seq_len")
    if batch_texts < 1:
        raise BadInput(f"batch_texts must be at least 1, got {batch_texts}; pass a positive batch size")
    cls_id = _first_id(tokenizer, "cls_token_id", "bos_token_id")
    sep_id = _first_id(tokenizer, "sep_token_id", "eos_token_id")
    content = seq_len - 2
    buffer: list[int] = []
    batch: list[str] = []

    def drain() -> Iterator[list[int]]:
        nonlocal buffer
        encoded = tokenizer(batch, add_special_tokens=False, return_attention_mask=False)["input_ids"]
        for ids in encoded:
            buffer.extend(ids)
        full = len(buffer) - len(buffer) % content
        for i in range(0, full, content):
            yield [cls_id, *buffer[i:i + content], sep_id]
        buffer = buffer[full:]
        batch.clear()

    for seg in segments:
        batch.append(seg)
        if len(batch) >= batch_texts:
            yield from drain()
    if batch:
        yield from drain()


def _first_id(tokenizer: Any, *names: str) -> int:
    for name in names:
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    raise BadInput(f"tokenizer has no {' or '.join(n.removesuffix('_id') for n in names)}; use a tokenizer that defines it")


def fetch_corpus(name: str, text_column: str, max_documents: int | None, max_words: int | None) -> Path:
    """Store the documents a capped hub corpus yields (streamed, see :func:`iter_documents`) in
    monoglot's cache, one ``text_column`` column; return the folder. Without caps, the whole
    dataset is fetched (:func:`monoglot.hub.fetch`). Atomic; a stored copy is left as it is.

    Raises:
        BadInput: as :func:`iter_documents`.
    """
    from . import hub

    h = hub.parse(name)
    if max_documents is None and max_words is None:
        return hub.fetch(h)
    out = hub.corpus_copy_path(h, text_column, max_documents, max_words)
    if (out / "state.json").is_file():
        return out
    texts = list(iter_documents(name, text_column, max_documents=max_documents, max_words=max_words))
    return hub.save_texts(out, text_column, texts)
