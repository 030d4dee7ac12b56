"""Single files: atomic writes (a temporary sibling, then a rename, so a reader never sees half a
file), and file names made from free text."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    os.replace(tmp, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write text to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def slug(text: str) -> str:
    """``text`` (a label, model path, hub id or task spec) as a file name: each run of characters
    other than letters, digits, ``_``, ``.`` and ``-`` becomes ``-``, and leading or trailing
    ``-`` and ``.`` are dropped: ``student from random init`` -> ``student-from-random-init``,
    ``out/welsh/trimmed`` -> ``out-welsh-trimmed``; "model" if nothing is left."""
    return re.sub(r"[^\w.-]+", "-", str(text)).strip("-.") or "model"
