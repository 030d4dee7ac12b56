"""What both peer-tool scripts share: offline environment, one JSON line on stdout, corpus reading.

Standalone (no monoglot import): the scripts run in the peers' own environments. Import this
module before anything that may print, so that ``emit`` writes to the real stdout even while the
tools' chatter is redirected to stderr.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from pathlib import Path
from typing import Callable

EXIT_OFFLINE = 3

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_REAL_STDOUT = sys.stdout


def emit(obj: dict) -> None:
    """Write ``obj`` as one JSON line to the real stdout."""
    _REAL_STDOUT.write(json.dumps(obj, ensure_ascii=False) + "\n")
    _REAL_STDOUT.flush()


def failer(tool: str) -> Callable[..., None]:
    """``fail(msg, code=1)`` for ``tool``: emit ``{"tool", "error"}`` and exit with ``code``."""
    def fail(msg: str, code: int = 1) -> None:
        emit({"tool": tool, "error": msg})
        sys.exit(code)
    return fail


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_documents(paths: list[Path], text_column: str, fail: Callable[..., None]) -> list[str]:
    """Non-empty, stripped documents: lines of .txt, one column of .tsv (header row), a field of .jsonl.

    A .tsv without ``text_column``, or no document at all, calls ``fail`` with a one-line message.
    """
    docs: list[str] = []
    for path in paths:
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
        with _open_text(path) as f:
            if name.endswith(".tsv"):
                csv.field_size_limit(2**31 - 1)
                rows = csv.reader(f, delimiter="\t")
                header = next(rows, None)
                if header is None or text_column not in header:
                    fail(f"{path}: no column {text_column!r} in header {header!r} (use --text-column)")
                col = header.index(text_column)
                it = (row[col] if col < len(row) else "" for row in rows)
            elif name.endswith(".jsonl"):
                it = (json.loads(line).get(text_column, "") for line in f if line.strip())
            else:
                it = iter(f)
            for doc in it:
                doc = doc.strip()
                if doc:
                    docs.append(doc)
    if not docs:
        fail("corpus has no non-empty documents")
    return docs
