"""One settings-hash cache for everything a run writes.

An output is fresh when it records the hash of the settings (and of its parents' hashes,
:func:`monoglot.artifacts.settings_hash`) that made it: a stage's model directory in its
``monoglot.json``, a result file (an evaluation, a deployment row, a full-budget score) in its own
JSON under ``"settings_hash"``. Changing one setting changes the hash, so that output and
everything made from it are redone, and a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .artifacts import read_meta
from .files import write_json_atomic

KEY = "settings_hash"


def _read_result(path: Path) -> dict[str, Any] | None:
    """The JSON object in the result file ``path``; None when absent, unreadable or not an object."""
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) else None


def recorded(path: str | Path) -> str | None:
    """The settings hash ``path`` records: a model directory's (``monoglot.json``) or a result
    file's; None when there is none (absent, unreadable, or written without one)."""
    path = Path(path)
    if path.is_dir():
        return read_meta(path).get(KEY)
    return (_read_result(path) or {}).get(KEY)


def lookup(path: str | Path, key: str) -> dict[str, Any] | None:
    """The result stored in the JSON file ``path`` if it was made with settings hash ``key``, else
    None (absent, unreadable, or made with other settings)."""
    result = _read_result(Path(path))
    return result if result is not None and result.get(KEY) == key else None


def store(path: str | Path, key: str, result: dict[str, Any]) -> dict[str, Any]:
    """Record ``key`` in ``result`` and write it to ``path`` atomically; return ``result``."""
    result[KEY] = key
    write_json_atomic(Path(path), result)
    return result


def mark(model_dir: str | Path, key: str) -> None:
    """Record ``key`` in the ``monoglot.json`` of a finished model directory."""
    meta = read_meta(model_dir)
    meta[KEY] = key
    write_json_atomic(Path(model_dir) / "monoglot.json", meta)
