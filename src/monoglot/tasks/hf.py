"""Labeled tasks from Hugging Face datasets: ``hf:DATASET[:CONFIG]``.

Read through :mod:`monoglot.hub` (monoglot's hub cache, a local dataset folder, or the hub; a
script-only dataset from the hub's parquet export). Needs the optional ``datasets`` library
(``pip install monoglot[hf]``), imported only when such a task is named. Splits ``train``,
``validation`` (or ``dev``/``valid``) and ``test`` are read; a dataset is a sequence task if it has
the text and label columns, a token task if it has ``tokens`` and a tag column (``tags``,
``ner_tags``, ``upos`` or ``pos_tags``). Integer labels are mapped to the dataset's ``ClassLabel``
names, which then also fix the label order.

The task sets that monoglot also reads from the data root have their columns here
(:data:`KNOWN_COLUMNS`, from their dataset cards), so ``hf:Davlan/sib200:swh_Latn`` needs no
column names; :data:`HUB_EQUIVALENTS` names the hub id of each local task family.
"""

from __future__ import annotations

from ..errors import BadInput
from .formats import Example, check_label

SPLIT_NAMES = {"train": "train", "validation": "dev", "dev": "dev", "valid": "dev", "test": "test"}
TAG_COLUMNS = ("tags", "ner_tags", "upos", "pos_tags")

#: (text column, label column) of known sequence-task datasets, used when the caller names none.
KNOWN_COLUMNS = {
    "Davlan/sib200": ("text", "category"),                            # SIB-200: index_id, category, text
    "shmuhammad/AfriSenti-twitter-sentiment": ("tweet", "label"),     # AfriSenti: tweet, label (ClassLabel)
    "masakhane/masakhanews": ("headline_text", "label"),              # MasakhaNEWS: label, headline, text, headline_text, url
}

#: The hub dataset of each local task family: ``FAMILY:LANG`` -> ``hf:<id>:LANG``. MasakhaPOS
#: (masakhane/masakhapos) is missing: a script-only dataset without a parquet export, which
#: ``datasets`` >= 4 cannot read; UD treebanks likewise (universal_dependencies).
HUB_EQUIVALENTS = {
    "sib200": "Davlan/sib200",
    "masakhaner2": "masakhane/masakhaner2",
    "afrisenti": "shmuhammad/AfriSenti-twitter-sentiment",
    "masakhanews": "masakhane/masakhanews",
}


def hub_equivalent(name: str) -> str | None:
    """``hf:<id>:LANG`` for a local ``FAMILY:LANG`` task name with a hub equivalent, else None."""
    family, sep, lang = name.partition(":")
    return f"hf:{HUB_EQUIVALENTS[family]}:{lang}" if sep and lang and family in HUB_EQUIVALENTS else None


def _class_names(feature) -> list[str] | None:
    """The ``ClassLabel`` names of a column (or of a sequence column's items), else None."""
    names = getattr(feature, "names", None)
    if names is None:
        names = getattr(getattr(feature, "feature", None), "names", None)
    return list(names) if names else None


def _as_label(value, names: list[str] | None, at: str) -> str:
    if names is not None and isinstance(value, int):
        if not 0 <= value < len(names):
            raise BadInput(f"{at}: label id {value} is not one of the dataset's {len(names)} classes "
                           f"(-1 marks an unlabeled split); use a labeled split")
        return names[value]
    return str(value)


def read_hf(name: str, text_col: str = "text", label_col: str = "label") -> tuple[str, list[str] | None, dict[str, list[Example]]]:
    """Load ``hf:DATASET[:CONFIG]`` (see :mod:`monoglot.hub` for where from).

    ``text_col``/``label_col`` left at their defaults take the dataset's :data:`KNOWN_COLUMNS`.

    Returns:
        ``(kind, labels, splits)``: ``kind`` ``"sequence"`` or ``"token"``; ``labels`` the
        ClassLabel names, else the sorted train labels, else the sorted labels of all splits;
        ``splits`` ``{"train"|"dev"|"test": examples}`` for the splits present (``test`` always).

    Raises:
        BadInput: ``datasets`` is not installed (names ``pip install monoglot[hf]``), the dataset
            cannot be loaded, has no test split, lacks the needed columns, has an empty split, or a
            dev/test label that train lacks (messages name ``hf:DATASET split[row]``).
    """
    from .. import hub

    h = hub.parse(name, allow_split=False)
    spec = name[len("hf:"):]
    if (text_col, label_col) == ("text", "label") and h.dataset in KNOWN_COLUMNS:
        text_col, label_col = KNOWN_COLUMNS[h.dataset]
    loaded = hub.load(h, streaming=False)
    parts = {SPLIT_NAMES[s]: loaded[s] for s in loaded if s in SPLIT_NAMES}
    if "test" not in parts:
        raise BadInput(f"dataset {spec!r} has no test split (has {', '.join(loaded)}); every task needs one")

    first = parts.get("train", parts["test"])
    columns = list(first.column_names)
    if text_col in columns and label_col in columns:
        kind, x_col, y_col = "sequence", text_col, label_col
    elif "tokens" in columns and any(c in columns for c in TAG_COLUMNS):
        kind, x_col, y_col = "token", "tokens", next(c for c in TAG_COLUMNS if c in columns)
    else:
        raise BadInput(f"dataset {spec!r} has columns {', '.join(columns)}: neither {text_col}+{label_col} nor "
                       f"tokens+one of {', '.join(TAG_COLUMNS)}; pass the text and label column names")
    names = _class_names(first.features.get(y_col)) if hasattr(first, "features") else None
    labels = names
    allowed = set(names) if names else None
    splits: dict[str, list[Example]] = {}
    for split in ("train", "dev", "test"):
        if split not in parts:
            continue
        data = parts[split]
        missing = [c for c in (x_col, y_col) if c not in data.column_names]
        if missing:
            raise BadInput(f"dataset {spec!r} split {split} lacks column(s) {', '.join(missing)}; use a labeled split")
        examples: list[Example] = []
        for i, (x, y) in enumerate(zip(data[x_col], data[y_col])):
            at = f"hf:{spec} {split}[{i}]"
            if kind == "sequence":
                label = _as_label(y, names, at)
                check_label(label, allowed, at)
                examples.append((str(x), label))
            else:
                tags = [_as_label(t, names, at) for t in y]
                if len(tags) != len(x):
                    raise BadInput(f"{at}: {len(x)} tokens but {len(tags)} tags; fix the dataset row")
                for tag in tags:
                    check_label(tag, allowed, at)
                examples.append(([str(t) for t in x], tags))
        if not examples:
            raise BadInput(f"dataset {spec!r} split {split} holds no examples; use a dataset with labeled data")
        splits[split] = examples
        if split == "train" and labels is None:
            labels = sorted({e[1] for e in examples} if kind == "sequence" else {t for e in examples for t in e[1]})
            allowed = set(labels)
    if labels is None:
        every = [e for ex in splits.values() for e in ex]
        labels = sorted({e[1] for e in every} if kind == "sequence" else {t for e in every for t in e[1]})
    return kind, labels, splits
