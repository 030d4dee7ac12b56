"""Where monoglot finds real data and keeps its cache.

- Data root: ``$MONOGLOT_DATA`` if set, else ``../shared/data`` relative to the current directory,
  else ``../shared/data`` relative to the source checkout.
- Cache: ``$MONOGLOT_CACHE`` if set, else ``$XDG_CACHE_HOME/monoglot`` or ``~/.cache/monoglot``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import BadInput


def data_root(explicit: str | Path | None = None, must_exist: bool = True) -> Path:
    """Return the data root directory.

    Raises:
        BadInput: if ``must_exist`` and the directory does not exist.
    """
    if explicit:
        root = Path(explicit)
    elif os.environ.get("MONOGLOT_DATA"):
        root = Path(os.environ["MONOGLOT_DATA"])
    else:
        root = Path.cwd() / ".." / "shared" / "data"
        if not root.is_dir():
            root = Path(__file__).resolve().parents[3] / "shared" / "data"
    root = root.resolve()
    if must_exist and not root.is_dir():
        raise BadInput(f"data root {root} does not exist; set MONOGLOT_DATA to the folder that holds corpora/ and tasks/")
    return root


def cache_dir() -> Path:
    """Return (and create) monoglot's cache directory."""
    if os.environ.get("MONOGLOT_CACHE"):
        root = Path(os.environ["MONOGLOT_CACHE"])
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "monoglot"
    root.mkdir(parents=True, exist_ok=True)
    return root
