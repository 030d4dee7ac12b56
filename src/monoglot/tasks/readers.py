"""Labeled evaluation tasks: a registry of task families and their file readers.

A task name is ``FAMILY:LANG`` (``sib200:swh_Latn``, ``masakhapos:swa``), resolved to the folder
``<data root>/tasks/<family>/<lang>/`` that holds one file per split. To add a family, write a
``read_split(path, allowed) -> list[Example]`` function and register a :class:`Family` in
:data:`FAMILIES` (see the two entries at the bottom of this file).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ..errors import BadInput
from .. import paths

SeqExample = tuple[str, str]  # (text, label)
TokExample = tuple[list[str], list[str]]  # (tokens, tags), same length
Example = Union[SeqExample, TokExample]
SPLITS = ("train", "dev", "test")


@dataclass
class TaskData:
    """One labeled task, all splits in memory.

    Attributes:
        name: ``FAMILY:LANG``.
        kind: ``"sequence"`` (one label per text) or ``"token"`` (one tag per word).
        labels: the label set in a fixed order (``labels.txt`` order, else sorted train labels);
            index ``i`` is class id ``i``.
        splits: ``{"train"|"dev"|"test": [example, ...]}``; a sequence example is
            ``(text, label)``, a token example is ``(tokens, tags)``.
    """

    name: str
    kind: str
    labels: list[str]
    splits: dict[str, list[Example]]


@dataclass(frozen=True)
class Family:
    """How to find and parse one task family.

    ``read_split(path, allowed)`` parses one split file and raises :class:`BadInput` naming
    ``file:line`` for malformed content or for a label outside ``allowed`` (``None``: any label).
    """

    kind: str
    ext: str
    read_split: Callable[[Path, "set[str] | None"], list[Example]]


def _where(path: Path, line: int) -> str:
    return f"{path}:{line}"


def _check_label(label: str, allowed: set[str] | None, path: Path, line: int) -> None:
    if allowed is not None and label not in allowed:
        raise BadInput(f"{_where(path, line)}: label {label!r} does not occur in the train split or labels.txt "
                       f"(known: {', '.join(sorted(allowed))}); fix the label or add it to the training data")


def read_tsv(path: Path, allowed: set[str] | None, text_col: str = "text", label_col: str = "category") -> list[SeqExample]:
    """Read a TSV with a header row into ``(text, label)`` pairs, using real CSV quoting.

    Raises:
        BadInput: a missing column, a row with the wrong number of fields, an empty text or
            label, or a label outside ``allowed``; the message names ``file:line``.
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None:
            return []
        missing = [c for c in (text_col, label_col) if c not in header]
        if missing:
            raise BadInput(f"{_where(path, 1)}: header lacks column(s) {', '.join(missing)} (got {header}); "
                           f"the first row must name the columns, tab-separated")
        ti, li = header.index(text_col), header.index(label_col)
        out = []
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                raise BadInput(f"{_where(path, line)}: expected {len(header)} tab-separated fields "
                               f"({' '.join(header)}), got {len(row)}; fix the row or its quoting")
            text, label = row[ti].strip(), row[li].strip()
            if not text or not label:
                raise BadInput(f"{_where(path, line)}: empty {text_col if not text else label_col}; fill it in or drop the row")
            _check_label(label, allowed, path, line)
            out.append((text, label))
    return out


def read_token_tag(path: Path, allowed: set[str] | None) -> list[TokExample]:
    """Read ``token TAG`` lines (blank line between sentences) into ``(tokens, tags)`` pairs.

    Raises:
        BadInput: a non-blank line that is not exactly ``token TAG``, or a tag outside
            ``allowed``; the message names ``file:line``.
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
                raise BadInput(f"{_where(path, line_no)}: expected 'token TAG', got {line.strip()!r}; "
                               f"fix the line (one token and its tag, separated by a space)")
            _check_label(parts[1], allowed, path, line_no)
            tokens.append(parts[0])
            tags.append(parts[1])
    if tokens:
        out.append((tokens, tags))
    return out


FAMILIES: dict[str, Family] = {
    "sib200": Family("sequence", ".tsv", read_tsv),
    "masakhapos": Family("token", ".txt", read_token_tag),
}


def _labels_of(kind: str, examples: list[Example]) -> list[str]:
    if kind == "sequence":
        return sorted({label for _, label in examples})
    return sorted({tag for _, tags in examples for tag in tags})


def task_dir(name: str, data_root: str | Path | None = None) -> tuple[Family, Path]:
    """Resolve ``FAMILY:LANG`` to its family and folder.

    Raises:
        BadInput: a malformed name, an unknown family, or a missing folder.
    """
    family_name, sep, lang = name.partition(":")
    if not sep or not lang or not family_name:
        raise BadInput(f"task {name!r} is not FAMILY:LANG; write e.g. sib200:swh_Latn or masakhapos:swa")
    if family_name not in FAMILIES:
        raise BadInput(f"unknown task family {family_name!r} in {name!r}; choose one of {', '.join(sorted(FAMILIES))}")
    folder = paths.data_root(data_root) / "tasks" / family_name / lang
    if not folder.is_dir():
        raise BadInput(f"task folder {folder} does not exist; check the language code in {name!r} or the data root")
    return FAMILIES[family_name], folder


def load_task(name: str, data_root: str | Path | None = None) -> TaskData:
    """Read every split of task ``name`` (``FAMILY:LANG``) from ``<data root>/tasks/FAMILY/LANG/``.

    Labels come from ``labels.txt`` (one per line) if present, else from the train split, sorted.
    Dev and test labels must be among them.

    Raises:
        BadInput: unknown family, missing folder or split file, an empty split, a malformed line,
            or a dev/test label that train lacks (messages name ``file:line``).
    """
    family, folder = task_dir(name, data_root)
    files = {s: folder / f"{s}{family.ext}" for s in SPLITS}
    for split, path in files.items():
        if not path.is_file():
            raise BadInput(f"task {name}: split file {path} does not exist; every task needs {', '.join(SPLITS)}")
    labels_file = folder / "labels.txt"
    labels = None
    if labels_file.is_file():
        labels = [line.strip() for line in labels_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    splits: dict[str, list[Example]] = {}
    for split in SPLITS:
        splits[split] = family.read_split(files[split], set(labels) if labels is not None else None)
        if not splits[split]:
            raise BadInput(f"task {name}: split file {files[split]} holds no examples; fill it or check its format")
        if labels is None:  # labels from train, read first
            labels = _labels_of(family.kind, splits[split])
    return TaskData(name=name, kind=family.kind, labels=labels, splits=splits)


def task_sentences(name: str, data_root: str | Path | None = None) -> list[str]:
    """Every sentence of every split of task ``name`` as plain text (token tasks: tokens joined by
    single spaces), e.g. to decontaminate a distillation corpus.

    Raises:
        BadInput: as :func:`load_task`.
    """
    task = load_task(name, data_root)
    out = []
    for split in SPLITS:
        for x, _ in task.splits[split]:
            out.append(x if task.kind == "sequence" else " ".join(x))
    return out
