"""``monoglot embed``: sentence embeddings of a text file, written as ``.npy`` or ``.safetensors``.

The embeddings are monoglot's definition (:func:`monoglot.embeddings.encode_dir`: the model's
prompt for ``kind``, mean pooling, L2 normalisation), the same as ``SentenceTransformer(dir)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import BadInput

KINDS = ("query", "passage")
SUFFIXES = (".npy", ".safetensors")


def read_lines(path: str | Path) -> list[str]:
    """The texts of a UTF-8 text file, one per line (every line, so row i is line i+1).

    Raises:
        BadInput: missing file, not UTF-8, or no line.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"text file {p} does not exist; pass a UTF-8 .txt file with one text per line")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise BadInput(f"{p} is not UTF-8 text (byte {e.start}); convert it to UTF-8, one text per line") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start a new one
    if not lines:
        raise BadInput(f"{p} is empty; pass a file with one text per line")
    return [line.rstrip("\r") for line in lines]


def check_output(out: str | Path, overwrite: bool = False) -> Path:
    """Validate the output path before any compute is spent.

    Raises:
        BadInput: a suffix other than ``.npy``/``.safetensors``, or an existing file without ``overwrite``.
    """
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise BadInput(f"--out {out} must end in .npy or .safetensors")
    if out.exists() and not overwrite:
        raise BadInput(f"output {out} already exists; choose another --out or pass --overwrite")
    return out


def write_embeddings(out: Path, emb: np.ndarray, metadata: dict[str, str]) -> None:
    """Write ``emb`` ``(n, H)`` float32 to ``out`` (``.npy``, or ``.safetensors`` with the tensor
    ``embeddings`` and string ``metadata``) through a temporary file and a rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}{out.suffix}")
    try:
        if out.suffix == ".npy":
            np.save(tmp, emb)
        else:
            from safetensors.numpy import save_file

            save_file({"embeddings": np.ascontiguousarray(emb)}, str(tmp), metadata=metadata)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def embed_file(model: str | Path, file: str | Path, out: str | Path, *, kind: str = "query", batch_size: int = 32,
               max_length: int = 512, overwrite: bool = False, progress: bool = True) -> np.ndarray:
    """Embed every line of ``file`` with ``model`` and write the ``(lines, H)`` float32 array to ``out``.

    Args:
        model: a model directory, hub id or ``e5-small``.
        file: UTF-8 text, one text per line.
        out: ``.npy`` or ``.safetensors`` (tensor ``embeddings``; metadata: model, kind, prompt).
        kind: ``query`` (classification, clustering, queries) or ``passage`` (documents to retrieve).
        batch_size: texts per forward pass; max_length: tokens per text at most.

    Returns:
        the embeddings, L2-normalised.

    Raises:
        BadInput: bad ``kind``, ``batch_size`` or ``out``, unreadable ``file``, a model that cannot load.
    """
    from .embeddings import encode_dir
    from .prompts import model_prompts
    from .teachers import resolve_model

    if kind not in KINDS:
        raise BadInput(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    if batch_size < 1 or max_length < 1:
        raise BadInput("--batch-size and --max-length must be at least 1")
    out = check_output(out, overwrite)
    texts = read_lines(file)
    path = resolve_model(model)
    emb = encode_dir(path, texts, kind=kind, batch_size=batch_size, max_length=max_length, progress=progress)
    prompt = model_prompts(path).get(kind, "")
    write_embeddings(out, emb, {"model": str(model), "kind": kind, "prompt": prompt, "normalized": "true"})
    return emb
