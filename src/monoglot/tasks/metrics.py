"""Task metrics: plain functions on lists of labels (strings)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sklearn.metrics import f1_score

_BIO = re.compile(r"^(O|[BI]-.+)$")


def _check(gold: Sequence, pred: Sequence) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} items, pred has {len(pred)}")
    if not gold:
        raise ValueError("no items to score")


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Fraction of positions where ``pred == gold``, in [0, 1].

    Raises:
        ValueError: different lengths or empty input.
    """
    _check(gold, pred)
    return sum(g == p for g, p in zip(gold, pred)) / len(gold)


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels present in ``gold`` or ``pred`` (sklearn, zero_division=0).

    Raises:
        ValueError: different lengths or empty input.
    """
    _check(gold, pred)
    labels = sorted(set(gold) | set(pred))
    return float(f1_score(list(gold), list(pred), labels=labels, average="macro", zero_division=0))


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str | None]]) -> float:
    """Word-level accuracy over sentences (e.g. UPOS accuracy), in [0, 1].

    ``pred[i][j]`` may be ``None`` (a word the model never saw, e.g. truncated away): it counts
    as wrong.

    Raises:
        ValueError: different numbers of sentences or words, or no words at all.
    """
    _check(gold, pred)
    flat_gold, flat_pred = [], []
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: gold has {len(g)} words, pred has {len(p)}")
        flat_gold.extend(g)
        flat_pred.extend(p)
    return accuracy(flat_gold, flat_pred)


def is_bio(labels: Sequence[str]) -> bool:
    """Whether a tag set is BIO (IOB2) entity tagging: every tag ``O``, ``B-TYPE`` or ``I-TYPE``,
    with at least one ``B-`` tag."""
    return bool(labels) and all(_BIO.match(t) for t in labels) and any(t.startswith("B-") for t in labels)


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str | None]]) -> dict[str, float]:
    """Entity-level micro precision, recall and F1 over BIO-tagged sentences (seqeval, conlleval
    rules: an entity counts only if its type and both boundaries match; zero_division=0).

    ``pred[i][j]`` may be ``None`` (a word the model never saw): it counts as ``O``.

    Returns:
        ``{"precision", "recall", "f1"}``, each in [0, 1].

    Raises:
        ValueError: different numbers of sentences or words, or no sentences.
    """
    from seqeval.metrics import f1_score as entity_f1_score, precision_score, recall_score

    _check(gold, pred)
    g, p = [], []
    for i, (gs, ps) in enumerate(zip(gold, pred)):
        if len(gs) != len(ps):
            raise ValueError(f"sentence {i}: gold has {len(gs)} words, pred has {len(ps)}")
        g.append(list(gs))
        p.append([t if t is not None else "O" for t in ps])
    return {"precision": float(precision_score(g, p, zero_division=0)),
            "recall": float(recall_score(g, p, zero_division=0)),
            "f1": float(entity_f1_score(g, p, zero_division=0))}


def entity_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str | None]]) -> float:
    """Entity-level micro F1 over BIO-tagged sentences, in [0, 1]; see :func:`entity_scores`.

    Raises:
        ValueError: as :func:`entity_scores`.
    """
    return entity_scores(gold, pred)["f1"]


def format_score(v: float | None, std: float | None) -> str:
    """A score as a percentage with one decimal, ``± std`` when several seeds give one, ``–`` if absent."""
    if v is None:
        return "–"
    return f"{100 * v:.1f}" + (f" ± {100 * std:.1f}" if std else "")


SCORE_PROTOCOL = {
    "finetune": ("fine-tuned on train (for `SRC->TGT`, the source language's train: zero-shot), best epoch and "
                 "learning rate chosen on dev, reported on test."),
    "probe": ("frozen-encoder probes with MTEB's protocol (sentence tasks: the model's query prompt, mean pooling, "
              "logistic regression on 8 training examples per label, mean ± std of 10 draws, test accuracy and "
              "macro-F1; token tasks: logistic regression on each word's first sub-word; bitext: cosine nearest "
              "neighbour, F1 averaged over both directions); the encoder is not trained; for `SRC->TGT` the probe is "
              "fitted on the source language's train (zero-shot); reported on test."),
}
"""How scores were obtained, per ``[evaluate] method``: one sentence for the report and the model cards."""
