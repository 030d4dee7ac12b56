"""File-format parsers for labeled task data: one split file in, a list of examples out.

Every parser has the shape ``read(path, allowed, ...) -> list[Example]`` and raises
:class:`~monoglot.errors.BadInput` naming ``file:line`` for malformed content or for a label
outside ``allowed`` (``None``: any label). :func:`read_file` picks the parser by file extension
(:data:`FORMATS`) for user-supplied files.

Formats:

- ``.tsv`` / ``.csv``: a header row, then one example per row, real CSV quoting (a quoted field may
  hold tabs, commas, quotes and newlines); sequence classification.
- ``.conll`` / ``.txt``: ``token TAG`` per line, blank line between sentences; token tagging.
- ``.conllu``: CoNLL-U (parsed with the ``conllu`` library); the UPOS column, multiword-token
  ranges (``1-2``) and empty nodes (``1.1``) skipped; token tagging.
- ``.jsonl``: one JSON object per line, ``{"text", "label"}`` (sequence) or
  ``{"tokens", "tags"}`` (token).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Union

from ..errors import BadInput

SeqExample = tuple[str, str]  # (text, label)
TokExample = tuple[list[str], list[str]]  # (tokens, tags), same length
Example = Union[SeqExample, TokExample]


def where(path: Path | str, line: int) -> str:
    """``"file:line"`` for error messages."""
    return f"{path}:{line}"


def check_label(label: str, allowed: set[str] | None, at: str) -> None:
    """Raise :class:`BadInput` (located at ``at``, e.g. ``file:line``) if ``label`` is not in ``allowed``."""
    if allowed is not None and label not in allowed:
        raise BadInput(f"{at}: label {label!r} does not occur in the train split or labels.txt "
                       f"(known: {', '.join(sorted(allowed))}); fix the label or add it to the training data")


# ---------------------------------------------------------------- delimited tables (.tsv, .csv)

def read_table(path: Path, allowed: set[str] | None, text_col: str | tuple[str, ...] = "text",
               label_col: str = "label", delimiter: str = "\t") -> list[SeqExample]:
    """Read a delimited table with a header row into ``(text, label)`` pairs, with real CSV quoting.

    Args:
        path: the file (UTF-8).
        allowed: the label set, or ``None`` to accept any label.
        text_col: the text column, or several columns whose non-empty values are joined with a
            newline (e.g. MasakhaNEWS ``("headline", "text")``).
        label_col: the label column.
        delimiter: ``"\\t"`` (TSV) or ``","`` (CSV).

    Returns:
        One ``(text, label)`` per data row, text and label stripped; blank lines are skipped.

    Raises:
        BadInput: a missing column, a row with the wrong number of fields, an empty text or label,
            broken quoting, or a label outside ``allowed``; the message names ``file:line`` (a
            multi-line row's first line).
    """
    sep = "tab" if delimiter == "\t" else "comma" if delimiter == "," else repr(delimiter)
    text_cols = (text_col,) if isinstance(text_col, str) else tuple(text_col)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # news articles can exceed the 128 KiB default
    out: list[SeqExample] = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader, None)
            if header is None:
                return []
            missing = [c for c in (*text_cols, label_col) if c not in header]
            if missing:
                raise BadInput(f"{where(path, 1)}: header lacks column(s) {', '.join(missing)} (got {header}); "
                               f"the first row must name the columns, {sep}-separated")
            tis, li = [header.index(c) for c in text_cols], header.index(label_col)
            start = reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                if not row:
                    continue
                if len(row) != len(header):
                    raise BadInput(f"{where(path, line)}: expected {len(header)} {sep}-separated fields "
                                   f"({' '.join(header)}), got {len(row)}; fix the row or its quoting")
                text = "\n".join(t for t in (row[i].strip() for i in tis) if t)
                label = row[li].strip()
                if not text or not label:
                    raise BadInput(f"{where(path, line)}: empty {'/'.join(text_cols) if not text else label_col}; "
                                   f"fill it in or drop the row")
                check_label(label, allowed, where(path, line))
                out.append((text, label))
        except csv.Error as e:
            raise BadInput(f"{where(path, reader.line_num)}: {e}; fix the row's quoting") from e
    return out


# ---------------------------------------------------------------- token TAG lines (.conll, .txt)

def read_token_tag(path: Path, allowed: set[str] | None) -> list[TokExample]:
    """Read ``token TAG`` lines (space or tab, blank line between sentences) into ``(tokens, tags)``.

    Raises:
        BadInput: a non-blank line that is not exactly ``token TAG`` (e.g. a missing tag column),
            or a tag outside ``allowed``; the message names ``file:line``.
    """
    out: list[TokExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                if tokens:
                    out.append((tokens, tags))
                    tokens, tags = [], []
                continue
            if len(parts) != 2:
                raise BadInput(f"{where(path, line_no)}: expected 'token TAG', got {line.strip()!r}; "
                               f"fix the line (one token and its tag, separated by a space)")
            check_label(parts[1], allowed, where(path, line_no))
            tokens.append(parts[0])
            tags.append(parts[1])
    if tokens:
        out.append((tokens, tags))
    return out


# ---------------------------------------------------------------- CoNLL-U (.conllu)

_CONLLU_FIELDS = ("id", "form", "lemma", "upos")  # later columns are not needed: not parsed
_CONLLU_PARSERS = {"lemma": lambda cols, i: cols[i], "upos": lambda cols, i: cols[i]}


def _conllu_sentence(path: Path, block: list[tuple[int, str]], allowed: set[str] | None) -> TokExample | None:
    """One sentence block (``(line number, line)`` pairs) -> ``(forms, upos)``, or None if it has no words."""
    import conllu

    text = "\n".join(line for _, line in block)
    try:
        sentence = conllu.parse_token_and_metadata(text, fields=_CONLLU_FIELDS, field_parsers=_CONLLU_PARSERS)
    except conllu.exceptions.ParseException:
        for line_no, line in block:  # find the culprit line for the message
            if line.startswith("#"):
                continue
            try:
                conllu.parse_token_and_metadata(line, fields=_CONLLU_FIELDS, field_parsers=_CONLLU_PARSERS)
            except conllu.exceptions.ParseException as e:
                raise BadInput(f"{where(path, line_no)}: not a CoNLL-U token line ({e}); "
                               f"write 10 tab-separated columns ID FORM LEMMA UPOS ...") from e
        raise BadInput(f"{where(path, block[0][0])}: cannot parse this CoNLL-U sentence; check its token lines")
    token_lines = [line_no for line_no, line in block if not line.startswith("#")]
    forms: list[str] = []
    tags: list[str] = []
    for line_no, token in zip(token_lines, sentence):
        if not isinstance(token["id"], int):  # multiword-token range (1, '-', 2) or empty node (1, '.', 1)
            continue
        upos = token.get("upos")
        if not upos or upos == "_" or not token.get("form"):
            raise BadInput(f"{where(path, line_no)}: word {token['id']} has no UPOS tag (column 4); "
                           f"fill in the UPOS column")
        check_label(upos, allowed, where(path, line_no))
        forms.append(token["form"])
        tags.append(upos)
    return (forms, tags) if forms else None


def read_conllu(path: Path, allowed: set[str] | None) -> list[TokExample]:
    """Read a CoNLL-U file into ``(word forms, UPOS tags)`` per sentence, with the ``conllu`` library.

    Multiword-token ranges (``1-2 don't``) and empty nodes (``8.1``) are skipped: the words are
    the syntactic words (``do``, ``n't``), one UPOS tag each. Comment lines (``# text = ...``) are
    ignored.

    Raises:
        BadInput: a malformed token line, a word without a UPOS tag (``_`` or a missing column), or
            a tag outside ``allowed``; the message names ``file:line``.
    """
    out: list[TokExample] = []
    block: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if line:
                block.append((line_no, line))
                continue
            if block:
                sentence = _conllu_sentence(path, block, allowed)
                if sentence:
                    out.append(sentence)
                block = []
    if block:
        sentence = _conllu_sentence(path, block, allowed)
        if sentence:
            out.append(sentence)
    return out


# ---------------------------------------------------------------- JSON lines (.jsonl)

def read_jsonl(path: Path, allowed: set[str] | None, text_col: str = "text",
               label_col: str = "label") -> list[Example]:
    """Read one JSON object per line: ``{text_col: str, label_col: str}`` (a sequence example) or
    ``{"tokens": [str], "tags": [str]}`` (a token example). The first object decides which; every
    line must then be of the same kind. Non-string labels (e.g. ``0``) are turned into strings.

    Raises:
        BadInput: invalid JSON, a missing field, tokens and tags of different lengths, an empty
            text, a line of the other kind, or a label outside ``allowed``; the message names
            ``file:line``.
    """
    out: list[Example] = []
    token_kind: bool | None = None
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            at = where(path, line_no)
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadInput(f"{at}: not valid JSON ({e.msg}); write one JSON object per line") from e
            if not isinstance(obj, dict):
                raise BadInput(f"{at}: expected a JSON object, got {type(obj).__name__}; write one object per line")
            if token_kind is None:
                token_kind = "tokens" in obj
            wanted = ("tokens", "tags") if token_kind else (text_col, label_col)
            missing = [k for k in wanted if k not in obj]
            if missing:
                raise BadInput(f"{at}: object lacks field(s) {', '.join(missing)} (has {', '.join(obj) or 'none'}); "
                               f"every line needs {' and '.join(wanted)}, like the file's first line")
            if token_kind:
                tokens, tags = obj["tokens"], obj["tags"]
                if not isinstance(tokens, list) or not isinstance(tags, list) or len(tokens) != len(tags) or not tokens:
                    raise BadInput(f"{at}: tokens and tags must be non-empty lists of equal length; fix the line")
                tags = [str(t) for t in tags]
                for tag in tags:
                    check_label(tag, allowed, at)
                out.append(([str(t) for t in tokens], tags))
            else:
                text, label = str(obj[text_col]).strip(), str(obj[label_col]).strip()
                if not text or not label:
                    raise BadInput(f"{at}: empty {text_col if not text else label_col}; fill it in or drop the line")
                check_label(label, allowed, at)
                out.append((text, label))
    return out


# ---------------------------------------------------------------- by extension

@dataclass(frozen=True)
class Format:
    """A file format: ``kind`` is ``"sequence"``, ``"token"`` or ``None`` (decided by the content,
    .jsonl); ``read(path, allowed, text_col, label_col)`` parses one file."""

    kind: str | None
    read: Callable[..., list]


def _columns_ignored(reader):
    return lambda path, allowed, text_col, label_col: reader(path, allowed)


FORMATS: dict[str, Format] = {
    ".conllu": Format("token", _columns_ignored(read_conllu)),
    ".conll": Format("token", _columns_ignored(read_token_tag)),
    ".txt": Format("token", _columns_ignored(read_token_tag)),
    ".tsv": Format("sequence", partial(read_table, delimiter="\t")),
    ".csv": Format("sequence", partial(read_table, delimiter=",")),
    ".jsonl": Format(None, read_jsonl),
}


def format_of(path: Path) -> Format:
    """The :class:`Format` for ``path``'s extension (case-insensitive).

    Raises:
        BadInput: an unsupported extension; the message names the file and the supported ones.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(f"{path}: unknown task file format {path.suffix or '(no extension)'!r}; "
                       f"use one of {', '.join(FORMATS)}")
    return fmt


def example_kind(example: Example) -> str:
    """``"token"`` for a ``(tokens, tags)`` example, else ``"sequence"``."""
    return "token" if isinstance(example[0], list) else "sequence"


def read_file(path: str | Path, allowed: set[str] | None = None, text_col: str = "text",
              label_col: str = "label") -> tuple[str, list[Example]]:
    """Read one labeled file, choosing the parser by its extension (see :data:`FORMATS`).

    Args:
        path: a ``.conllu``, ``.conll``, ``.txt``, ``.tsv``, ``.csv`` or ``.jsonl`` file.
        allowed: the label set, or ``None`` to accept any label.
        text_col, label_col: the columns (``.tsv``/``.csv``) or fields (``.jsonl``) of a sequence
            task.

    Returns:
        ``(kind, examples)``; ``kind`` is ``"sequence"`` or ``"token"``.

    Raises:
        BadInput: an unsupported extension, or malformed content (naming ``file:line``).
    """
    path = Path(path)
    fmt = format_of(path)
    examples = fmt.read(path, allowed, text_col, label_col)
    kind = fmt.kind or (example_kind(examples[0]) if examples else "sequence")
    return kind, examples
