"""Bitext mining with MTEB's protocol: cosine nearest neighbour between two aligned sentence lists.

Specs:

- ``flores:SRC-TGT`` (``flores:eng_Latn-swh_Latn``): the FLORES-200 sentences behind SIB-200, every
  split of ``<data root>/tasks/sib200/<lang>/``, paired by ``index_id`` (1,004 pairs);
- ``bitext:FILE1,FILE2``: two UTF-8 files, line ``i`` of one translating line ``i`` of the other.

Follows mteb 1.12 ``mteb/evaluation/evaluators/BitextMiningEvaluator.py``: for each source
sentence the target with the highest cosine similarity is the prediction; ``f1`` is sklearn's
``f1_score(gold, pred, average="weighted")`` over sentence indices (as ``precision``/``recall``),
``accuracy`` the fraction mined correctly. MTEB scores each direction as its own subset
(``eng_Latn-swh_Latn``, ``swh_Latn-eng_Latn``); here both directions are in one result.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import paths
from ..errors import BadInput


def is_bitext(spec: str) -> bool:
    """Whether ``spec`` names a bitext-mining task (``flores:...`` or ``bitext:...``)."""
    return spec.startswith(("flores:", "bitext:"))


def _flores_side(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise BadInput(f"bitext: SIB-200 folder {folder} does not exist; check the FLORES-200 code (e.g. swh_Latn) or the data root")
    rows: dict[str, str] = {}
    for split in ("train", "dev", "test"):
        path = folder / f"{split}.tsv"
        if not path.is_file():
            raise BadInput(f"bitext: {path} does not exist; flores: pairs every split of SIB-200 (train, dev, test)")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter="\t")
            if not {"index_id", "text"} <= set(reader.fieldnames or []):
                raise BadInput(f"{path}:1: header lacks index_id or text; expected SIB-200's 'index_id category text'")
            for row in reader:
                rows[row["index_id"]] = row["text"].strip()
    return rows


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise BadInput(f"bitext: file {path} does not exist; give two line-aligned files, bitext:FILE1,FILE2")
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise BadInput(f"{path}:{i}: empty line; every line must hold one sentence aligned with the other file")
    return lines


def read_bitext(spec: str, data_root: str | Path | None = None) -> tuple[list[str], list[str]]:
    """The aligned sentence lists of a bitext spec (see the module docstring).

    Raises:
        BadInput: a malformed spec, a missing folder or file, an empty line, unequal lengths, or no
            pairs at all.
    """
    kind, _, rest = spec.partition(":")
    if kind == "flores":
        src, sep, tgt = rest.partition("-")
        if not (src and sep and tgt):
            raise BadInput(f"bitext spec {spec!r} is not flores:SRC-TGT; write e.g. flores:eng_Latn-swh_Latn")
        root = paths.data_root(data_root) / "tasks" / "sib200"
        a, b = _flores_side(root / src), _flores_side(root / tgt)
        ids = sorted(set(a) & set(b), key=lambda x: int(x) if x.isdigit() else x)
        left, right = [a[i] for i in ids], [b[i] for i in ids]
    elif kind == "bitext":
        files = rest.split(",")
        if len(files) != 2 or not all(files):
            raise BadInput(f"bitext spec {spec!r} is not bitext:FILE1,FILE2; name two line-aligned files")
        left, right = _lines(Path(files[0])), _lines(Path(files[1]))
        if len(left) != len(right):
            raise BadInput(f"bitext: {files[0]} has {len(left)} lines but {files[1]} has {len(right)}; "
                           f"the files must be line-aligned translations")
    else:
        raise BadInput(f"bitext spec {spec!r}: write flores:SRC-TGT or bitext:FILE1,FILE2")
    if not left:
        raise BadInput(f"bitext spec {spec!r}: no sentence pairs found")
    return left, right


def mining_scores(x_src: np.ndarray, x_tgt: np.ndarray) -> dict[str, float]:
    """MTEB's bitext-mining metrics for one direction: row ``i`` of ``x_src`` ``(n, H)`` translates
    row ``i`` of ``x_tgt`` ``(n, H)``; the prediction for ``i`` is the target row of highest cosine
    similarity (first on ties).

    Returns:
        ``{"f1", "precision", "recall", "accuracy"}``, fractions in [0, 1]; ``f1`` etc. are sklearn's
        ``average="weighted"`` over the gold indices (``zero_division=0``), as in MTEB.
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    a = x_src / np.linalg.norm(x_src, axis=1, keepdims=True).clip(1e-12)
    b = x_tgt / np.linalg.norm(x_tgt, axis=1, keepdims=True).clip(1e-12)
    pred = np.argmax(a @ b.T, axis=1)
    gold = np.arange(len(a))
    kw = {"zero_division": 0, "average": "weighted"}
    return {"f1": float(f1_score(gold, pred, **kw)), "precision": float(precision_score(gold, pred, **kw)),
            "recall": float(recall_score(gold, pred, **kw)), "accuracy": float(accuracy_score(gold, pred))}


def bitext_probe(embed: Callable[[list[str]], np.ndarray], spec: str, data_root: str | Path | None = None) -> dict[str, Any]:
    """Bitext mining of ``spec`` in both directions with sentence embeddings ``embed(texts) -> (n, H)``.

    Returns:
        ``{"metrics", "std", "metric": "f1", "kind": "bitext", "majority", "majority_baseline",
        "n_pairs"}``; ``metrics`` holds ``f1`` (mean of the two directions), ``f1_src2tgt``,
        ``f1_tgt2src``, ``accuracy`` (mean) and ``accuracy_src2tgt``, ``accuracy_tgt2src``
        (nearest-neighbour accuracy), fractions in [0, 1]; ``std`` is 0 (deterministic);
        ``majority`` is chance (1 / n_pairs).

    Raises:
        BadInput: as :func:`read_bitext`.
    """
    left, right = read_bitext(spec, data_root)
    x_l, x_r = embed(left), embed(right)
    fwd, bwd = mining_scores(x_l, x_r), mining_scores(x_r, x_l)
    metrics = {"f1": (fwd["f1"] + bwd["f1"]) / 2, "f1_src2tgt": fwd["f1"], "f1_tgt2src": bwd["f1"],
               "accuracy": (fwd["accuracy"] + bwd["accuracy"]) / 2,
               "accuracy_src2tgt": fwd["accuracy"], "accuracy_tgt2src": bwd["accuracy"]}
    chance = 1 / len(left)
    return {"metrics": metrics, "std": {k: 0.0 for k in metrics}, "metric": "f1", "kind": "bitext",
            "majority": {"f1": chance, "accuracy": chance}, "majority_baseline": chance, "n_pairs": len(left)}
