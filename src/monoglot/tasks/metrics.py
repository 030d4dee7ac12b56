"""Task metrics: plain functions on lists of labels (strings)."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import f1_score


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
