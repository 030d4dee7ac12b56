"""Labeled evaluation tasks: a registry of task families, and :func:`load_task`.

A task name is one of:

- ``FAMILY:LANG`` (``sib200:swh_Latn``, ``masakhaner2:swa``, ``ud:UD_English-EWT``), resolved to
  the folder ``<data root>/tasks/<family>/<lang>/`` that holds one file per split, in the family's
  native format (:data:`FAMILIES`);
- ``hf:DATASET[:CONFIG]``: a Hugging Face dataset (needs ``pip install monoglot[hf]``);
- a folder of user files ``train.EXT``, ``dev.EXT`` (or ``validation.EXT``), ``test.EXT``, each
  read by its extension (:data:`monoglot.tasks.formats.FORMATS`).

The test split is required; train and dev are optional (MasakhaNEWS ships no train split, UD
English-EWT here neither), but fine-tuning needs them. To add a family, register a :class:`Family`
in :data:`FAMILIES` with a parser from :mod:`monoglot.tasks.formats`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..errors import BadInput
from ..hub import is_hub
from .. import paths
from .formats import (FORMATS, Example, SeqExample, TokExample, format_of, read_conllu, read_file, read_table,
                      read_token_tag)
from .metrics import is_bio

__all__ = ["FAMILIES", "Family", "SPLITS", "TaskData", "load_task", "task_dir", "task_sentences",
           "Example", "SeqExample", "TokExample"]

SPLITS = ("train", "dev", "test")
DEV_NAMES = ("dev", "validation", "valid")  # accepted file stems for the dev split of a user folder


def primary_metric(kind: str, labels: list[str]) -> str:
    """The metric that picks the best epoch and headlines a result: ``"macro_f1"`` (sequence
    tasks), ``"entity_f1"`` (token tasks whose tags are all BIO: ``O``, ``B-X``, ``I-X``) or
    ``"accuracy"`` (other token tasks, e.g. UPOS)."""
    if kind == "sequence":
        return "macro_f1"
    return "entity_f1" if is_bio(labels) else "accuracy"


@dataclass
class TaskData:
    """One labeled task, all its splits in memory.

    Attributes:
        name: the task name as given (``FAMILY:LANG``, ``hf:...`` or a folder).
        kind: ``"sequence"`` (one label per text) or ``"token"`` (one tag per word).
        labels: the label set in a fixed order (``labels.txt`` order or the dataset's own label
            names, else sorted train labels, else sorted labels of all splits when there is no
            train split); index ``i`` is class id ``i``.
        splits: ``{"train"|"dev"|"test": [example, ...]}`` for the splits present (always
            ``test``); a sequence example is ``(text, label)``, a token example is
            ``(tokens, tags)``.
        metric: the primary metric, a key of :func:`monoglot.tasks.finetune.score`'s result;
            default :func:`primary_metric` of ``kind`` and ``labels``.
    """

    name: str
    kind: str
    labels: list[str]
    splits: dict[str, list[Example]]
    metric: str = ""

    def __post_init__(self) -> None:
        if not self.metric:
            self.metric = primary_metric(self.kind, self.labels)


@dataclass(frozen=True)
class Family:
    """How to find and parse one task family.

    Attributes:
        kind: ``"sequence"`` or ``"token"``.
        files: glob of one split's file inside ``<family>/<lang>/``, ``{split}`` standing for
            ``train``/``dev``/``test`` (``"{split}.tsv"``, ``"*-ud-{split}.conllu"``).
        read_split: ``read_split(path, allowed) -> list[Example]``; raises :class:`BadInput`
            naming ``file:line`` for malformed content or for a label outside ``allowed``
            (``None``: any label).
        metric: the primary metric, or ``None`` for :func:`primary_metric`'s choice.
    """

    kind: str
    files: str
    read_split: Callable[[Path, "set[str] | None"], list[Example]]
    metric: str | None = None


FAMILIES: dict[str, Family] = {
    # SIB-200 (FLORES-200 sentences): TSV index_id, category, text; labels.txt.
    "sib200": Family("sequence", "{split}.tsv", partial(read_table, text_col="text", label_col="category")),
    # MasakhaPOS: token UPOS lines.
    "masakhapos": Family("token", "{split}.txt", read_token_tag, "accuracy"),
    # MasakhaNER 2.0: token BIO-tag lines (PER ORG LOC DATE).
    "masakhaner2": Family("token", "{split}.txt", read_token_tag, "entity_f1"),
    # MasakhaNEWS: TSV category, headline, text, url with quoted multi-line fields; headline + text
    # classified; labels.txt; dev and test only.
    "masakhanews": Family("sequence", "{split}.tsv",
                          partial(read_table, text_col=("headline", "text"), label_col="category")),
    # AfriSenti: TSV tweet, label (positive/neutral/negative).
    "afrisenti": Family("sequence", "{split}.tsv", partial(read_table, text_col="tweet", label_col="label")),
    # Universal Dependencies treebanks (LANG is the treebank folder, e.g. UD_English-EWT): UPOS.
    "ud": Family("token", "*-ud-{split}.conllu", read_conllu, "accuracy"),
}


def _labels_of(kind: str, examples: list[Example]) -> list[str]:
    if kind == "sequence":
        return sorted({label for _, label in examples})
    return sorted({tag for _, tags in examples for tag in tags})


def _bad_name(name: str) -> BadInput:
    return BadInput(f"task {name!r} is not FAMILY:LANG, hf:DATASET[:CONFIG] or an existing folder; "
                    f"write e.g. sib200:swh_Latn, masakhapos:swa or a folder holding train/dev/test files")


def task_dir(name: str, data_root: str | Path | None = None) -> tuple[Family, Path]:
    """Resolve ``FAMILY:LANG`` to its family and folder.

    Raises:
        BadInput: a malformed name, an unknown family, or a missing folder.
    """
    family_name, sep, lang = name.partition(":")
    if not sep or not lang or not family_name:
        raise _bad_name(name)
    if family_name not in FAMILIES:
        raise BadInput(f"unknown task family {family_name!r} in {name!r}; choose one of "
                       f"{', '.join(sorted(FAMILIES))}, hf:DATASET or a folder")
    from .hf import hub_equivalent

    alt = hub_equivalent(name)
    try:
        folder = paths.data_root(data_root) / "tasks" / family_name / lang
    except BadInput as e:  # no data root at all
        raise BadInput(f"{e}" + (f"; or read task {name} from the hub as {alt}" if alt else "")) from None
    if not folder.is_dir():
        raise BadInput(f"task folder {folder} does not exist; check the language code in {name!r} or the data root"
                       + (f", or read the task from the hub as {alt}" if alt else ""))
    return FAMILIES[family_name], folder


def _family_files(name: str, family: Family, folder: Path) -> dict[str, Path]:
    files = {}
    for split in SPLITS:
        found = sorted(folder.glob(family.files.format(split=split)))
        if len(found) > 1:
            raise BadInput(f"task {name}: several {split} files in {folder} ({', '.join(p.name for p in found)}); keep one")
        if found:
            files[split] = found[0]
    if "test" not in files:
        raise BadInput(f"task {name}: split file {folder / family.files.format(split='test')} does not exist; "
                       f"every task needs a test split (train and dev are optional)")
    return files


def _split_of(path: Path) -> str | None:
    """``train``/``dev``/``test`` if ``path``'s name before its extension is a split name or ends
    with ``-NAME``/``_NAME`` (``en_ewt-ud-train.conllu``); an unknown extension counts whole
    (``train.xlsx``, ``test.txt.gz``), so that a split file in it is reported, not ignored."""
    stem = (path.stem if path.suffix.lower() in FORMATS else path.name.split(".")[0]).lower()
    for split, names in (("train", ("train",)), ("dev", DEV_NAMES), ("test", ("test",))):
        if any(stem == n or stem.endswith(("-" + n, "_" + n)) for n in names):
            return split
    return None


def _folder_files(folder: Path) -> dict[str, Path]:
    by_split: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        split = _split_of(path) if path.is_file() else None
        if split:
            by_split.setdefault(split, []).append(path)
    files = {}
    for split, found in by_split.items():
        if len(found) > 1:
            raise BadInput(f"{folder}: several {split} files ({', '.join(p.name for p in found)}); keep one")
        format_of(found[0])  # an unknown extension fails here, naming the file
        files[split] = found[0]
    fixed = [(files[s], format_of(files[s]).kind) for s in SPLITS if s in files and format_of(files[s]).kind]
    for path, kind in fixed[1:]:  # fail before parsing (.jsonl's kind is checked after it)
        if kind != fixed[0][1]:
            raise _kind_mismatch(path, kind, *fixed[0])
    if "test" not in files:
        raise BadInput(f"{folder}: no test file; name it test.EXT with EXT one of {', '.join(FORMATS)} "
                       f"(train.EXT and dev.EXT are optional)")
    return files


def _kind_mismatch(path: Path, kind: str, first: Path, first_kind: str) -> BadInput:
    return BadInput(f"{path}: holds {kind} examples but {first} holds {first_kind} examples; "
                    f"use one kind of task (and one file format) in every split")


def _empty_split(name: str, path: Path) -> BadInput:
    with open(path, encoding="utf-8", errors="replace") as f:
        n = sum(1 for _ in f)
    lines = f"lines 1-{n} hold only blanks, comments or a header" if n else "the file is empty"
    return BadInput(f"task {name}: split file {path} holds no examples ({lines}); fill it or check its format")


def _read_splits(name: str, files: dict[str, Path], read: Callable[[Path, "set[str] | None"], tuple[str, list]],
                 labels: list[str] | None, metric: str | None) -> TaskData:
    """Read the split ``files`` (train first) with ``read(path, allowed) -> (kind, examples)``;
    dev/test labels must be among ``labels`` (given) or the train labels."""
    allowed = set(labels) if labels is not None else None
    splits: dict[str, list[Example]] = {}
    kind = first = None
    for split in SPLITS:
        if split not in files:
            continue
        split_kind, examples = read(files[split], allowed)
        if not examples:
            raise _empty_split(name, files[split])
        if kind is None:
            kind, first = split_kind, files[split]
        elif split_kind != kind:
            raise _kind_mismatch(files[split], split_kind, first, kind)
        splits[split] = examples
        if split == "train" and labels is None:
            labels = _labels_of(kind, examples)
            allowed = set(labels)
    if labels is None:  # no train split and no labels file: every label seen
        labels = _labels_of(kind, [x for examples in splits.values() for x in examples])
    return TaskData(name=name, kind=kind, labels=labels, splits=splits, metric=metric or "")


def _labels_file(folder: Path) -> list[str] | None:
    path = folder / "labels.txt"
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_task(name: str, data_root: str | Path | None = None, *, text_col: str = "text",
              label_col: str = "label") -> TaskData:
    """Read every split of task ``name`` that exists (``test`` always).

    Args:
        name: ``FAMILY:LANG`` (``<data root>/tasks/FAMILY/LANG/``), ``hf:DATASET[:CONFIG]``,
            ``SRC->TGT`` (zero-shot cross-lingual transfer, see :func:`zero_shot`), or a
            folder of user files ``train.EXT``/``dev.EXT``/``test.EXT`` (also ``*-train.EXT`` etc.)
            with EXT one of ``.conllu .conll .txt .tsv .csv .jsonl``.
        data_root: where ``FAMILY:LANG`` is resolved (default :func:`monoglot.paths.data_root`).
        text_col, label_col: the text and label columns of ``.tsv``/``.csv``/``.jsonl`` user files
            and of Hugging Face datasets (families know their own columns).

    Labels come from ``labels.txt`` (one per line) in the task folder if present, else from the
    train split (sorted). Dev and test labels must be among them.

    Raises:
        BadInput: an unknown family, a missing folder or test file, a malformed ``SRC->TGT``
            (an empty side, two arrows), a file of unknown format, an
            empty split, a malformed line, or a dev/test label that train lacks (messages name
            ``file:line``); for ``hf:``, a missing ``datasets`` library or an unloadable dataset.
    """
    if "->" in name:
        src, _, tgt = name.partition("->")
        if not src.strip() or not tgt.strip() or "->" in tgt:
            raise BadInput(f"task {name!r}: zero-shot transfer is SRC->TGT, one task on each side, "
                           "e.g. sib200:eng_Latn->sib200:swh_Latn")
        return zero_shot(load_task(src.strip(), data_root, text_col=text_col, label_col=label_col),
                         load_task(tgt.strip(), data_root, text_col=text_col, label_col=label_col))
    if is_hub(name):
        from .hf import read_hf

        kind, labels, splits = read_hf(name, text_col, label_col)
        return TaskData(name=name, kind=kind, labels=labels, splits=splits)
    family_name, sep, _ = name.partition(":")
    if not (sep and family_name in FAMILIES) and Path(name).is_dir():
        folder = Path(name)
        return _read_splits(name, _folder_files(folder), partial(read_file, text_col=text_col, label_col=label_col),
                            _labels_file(folder), None)
    family, folder = task_dir(name, data_root)
    return _read_splits(name, _family_files(name, family, folder),
                        lambda path, allowed: (family.kind, family.read_split(path, allowed)),
                        _labels_file(folder), family.metric)


def zero_shot(source: TaskData, target: TaskData) -> TaskData:
    """Zero-shot cross-lingual transfer (BiStil, Ansell et al. 2023, sec. 4): train and select on
    the source task's train and dev splits, test on the target task's test split, with the source's
    label set (the target's metric).

    Raises:
        BadInput: different task kinds; the source lacks train or dev; a target test label that the
            source lacks.
    """
    name = f"{source.name}->{target.name}"
    if source.kind != target.kind:
        raise BadInput(f"{name}: a {source.kind} task cannot transfer to a {target.kind} task; pair tasks of one kind")
    missing = [s for s in ("train", "dev") if s not in source.splits]
    if missing:
        raise BadInput(f"{name}: the source task {source.name} has no {' or '.join(missing)} split; choose a source with train and dev")
    if target.kind == "sequence":
        gold = {y for _, y in target.splits["test"]}
    else:
        gold = {t for _, tags in target.splits["test"] for t in tags}
    extra = sorted(gold - set(source.labels))
    if extra:
        raise BadInput(f"{name}: the target test split has labels the source never trains on: {', '.join(extra[:5])}; pair tasks with one label set")
    return TaskData(name=name, kind=source.kind, labels=list(source.labels),
                    splits={"train": source.splits["train"], "dev": source.splits["dev"], "test": target.splits["test"]},
                    metric=target.metric)


def task_sentences(name: str, data_root: str | Path | None = None) -> list[str]:
    """Every sentence of every split of task ``name`` as plain text (token tasks: tokens joined by
    single spaces), e.g. to decontaminate a distillation corpus.

    Raises:
        BadInput: as :func:`load_task`.
    """
    return task_texts(load_task(name, data_root))


def task_texts(task: TaskData) -> list[str]:
    """Every sentence of every split of a loaded ``task`` as plain text (token tasks: tokens joined
    by single spaces), in split order (train, dev, test)."""
    return [x if task.kind == "sequence" else " ".join(x) for split in SPLITS for x, _ in task.splits.get(split, [])]


def train_split_of(task: TaskData) -> str:
    """The split a probe trains on: ``train``, else ``dev`` (MasakhaNEWS ships no Swahili train
    split here; mteb's AfriSenti transform makes the same substitution for languages without one).

    Raises:
        BadInput: neither split exists.
    """
    for split in ("train", "dev"):
        if split in task.splits:
            return split
    raise BadInput(f"task {task.name} has no train or dev split; a probe needs labelled examples to fit on "
                   f"(supply train.EXT next to test.EXT)")
