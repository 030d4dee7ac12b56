"""Layer selection: which teacher layers a student copies (Cruz & Aji 2025; Gurgurov et al. 2025)."""

from __future__ import annotations

from ..errors import BadInput

LAYER_STRATEGIES = ("stride", "first", "last", "first-last")


def select_layers(n_teacher: int, n_student: int, strategy: str = "stride") -> list[int]:
    """Return the sorted teacher layer indices (0-based) that the student copies.

    - ``stride``: every k-th layer ending at the last, k = n_teacher / n_student
      (12 -> 4 gives [2, 5, 8, 11]); uneven ratios are spread evenly.
    - ``first`` / ``last``: the first / last ``n_student`` layers.
    - ``first-last``: the first ``ceil(n/2)`` and the last ``floor(n/2)`` layers.
    - a comma-separated list such as ``"0,3,7,11"``: exactly those layers.

    Raises:
        BadInput: unknown strategy, ``n_student`` out of ``1..n_teacher``, or a bad explicit list.
    """
    if "," in strategy or strategy.isdigit():
        try:
            idx = sorted(int(x) for x in strategy.split(","))
        except ValueError as e:
            raise BadInput(f"layer list {strategy!r} is not comma-separated integers, e.g. 0,4,8,11") from e
        if len(set(idx)) != len(idx) or idx[0] < 0 or idx[-1] >= n_teacher:
            raise BadInput(f"layer list {strategy!r} must name distinct layers in 0..{n_teacher - 1}")
        if len(idx) != n_student:
            raise BadInput(f"layer list {strategy!r} names {len(idx)} layers but --layers is {n_student}; make them agree")
        return idx
    if not 1 <= n_student <= n_teacher:
        raise BadInput(f"a student of {n_student} layers cannot be copied from a teacher of {n_teacher}; choose 1..{n_teacher}")
    if strategy == "stride":
        return [round((i + 1) * n_teacher / n_student) - 1 for i in range(n_student)]
    if strategy == "first":
        return list(range(n_student))
    if strategy == "last":
        return list(range(n_teacher - n_student, n_teacher))
    if strategy == "first-last":
        head = (n_student + 1) // 2
        return list(range(head)) + list(range(n_teacher - (n_student - head), n_teacher))
    raise BadInput(f"unknown layer strategy {strategy!r}; choose one of {', '.join(LAYER_STRATEGIES)} or a list like 0,4,8,11")
