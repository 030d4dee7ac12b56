"""Model directories: atomic save and the ``monoglot.json`` provenance file.

A monoglot model directory is a plain Hugging Face directory (``config.json``,
``model.safetensors``, tokenizer files) plus ``monoglot.json``, which records which stage made it,
from which parent, with which settings, and its measured stats. A directory exists only when
complete: everything is written into a hidden temporary sibling and renamed at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .errors import BadInput

META = "monoglot.json"


def check_new_output(out: str | Path, overwrite: bool = False) -> Path:
    """Validate an output path before any compute is spent.

    Raises:
        BadInput: if ``out`` exists and ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise BadInput(f"output {out} already exists; choose another --out or delete it first")
    return out


@contextlib.contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that is renamed to ``out`` when the block succeeds.

    On an exception the temporary directory is removed and ``out`` is untouched.

    Raises:
        BadInput: if ``out`` exists and ``overwrite`` is false.
    """
    out = check_new_output(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():  # overwrite=True
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_meta(model_dir: str | Path, stage: str, parent: str | None, settings: dict[str, Any],
               stats: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """Write ``monoglot.json`` into ``model_dir`` and return its content.

    ``parent`` is the model directory or hub id the stage read; ``settings`` are the stage's
    options; ``stats`` are its measurements (counts, bytes, seconds, ...). An encoder stage's output
    from an embedding teacher also gets the sentence-transformers files (:mod:`monoglot.st_format`).
    """
    meta = {
        "monoglot_version": __version__,
        "stage": stage,
        "parent": parent,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": settings,
        "stats": stats or {},
        **extra,
    }
    Path(model_dir, META).write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n")
    from .st_format import EMBEDDING_STAGES, write_sentence_transformers

    if stage in EMBEDDING_STAGES:  # an encoder from an embedding teacher also loads with SentenceTransformer(dir)
        write_sentence_transformers(model_dir)
    return meta


def read_meta(model_dir: str | Path) -> dict[str, Any]:
    """Return ``monoglot.json`` of ``model_dir``, or ``{}`` when it has none (e.g. a hub model)."""
    p = Path(model_dir, META)
    if not p.is_file():
        return {}
    return json.loads(p.read_text())


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


def save_tokenizer(tokenizer, out_dir: str | Path) -> None:
    """``save_pretrained`` a fast tokenizer so that any transformers version loads it.

    transformers 5 writes ``tokenizer_class: TokenizersBackend``, which transformers 4 lacks; we
    record ``PreTrainedTokenizerFast`` (known to both), which loads ``tokenizer.json`` as it is.
    """
    tokenizer.save_pretrained(out_dir)
    cfg_path = Path(out_dir, "tokenizer_config.json")
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def settings_hash(*parts: object) -> str:
    """A short, stable hash of JSON-serialisable settings (stage caching, checkpoint fingerprints)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
