"""Model directories: atomic save and the ``monoglot.json`` provenance file.

A monoglot model directory is a plain Hugging Face directory (``config.json``,
``model.safetensors``, tokenizer files) plus ``monoglot.json``, which records which stage made it,
from which parent, with which settings, and its measured stats. A directory exists only when
complete: everything is written into a hidden temporary sibling and renamed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from . import __version__
from .errors import BadInput
from .hub import is_hub

META = "monoglot.json"
PROJECTION_FILE = "hidden_projection.safetensors"  # shrink's fixed basis (teacher hidden -> student hidden), read by distill


def check_new_output(out: str | Path, overwrite: bool = False) -> Path:
    """Validate an output path before any compute is spent.

    Raises:
        BadInput: if ``out`` exists and ``overwrite`` is false, or if its folder cannot be written
            (read-only, under /proc, below a file).
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise BadInput(f"output {out} already exists; choose another --out or delete it first")
    check_writable(out)
    return out


def check_writable(out: str | Path) -> None:
    """Check that ``out`` can be created: its nearest existing ancestor is a folder we may write in.

    The check writes (and removes at once) an empty hidden folder there, which is the only test
    that also holds for root, read-only file systems and /proc.

    Raises:
        BadInput: naming ``out`` and the reason.
    """
    out = Path(out).absolute()
    base = out.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise BadInput(f"cannot write output {out}: {base} is a file, not a folder; choose another --out")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".monoglot-write-test-", dir=base))
    except OSError as e:
        raise BadInput(f"cannot write output {out}: cannot create a folder in {base} ({e.strerror}); choose another --out") from None


def check_replaceable(out: str | Path, stage: str) -> None:
    """Check that ``out`` is absent or a directory that monoglot wrote for ``stage``.

    ``monoglot run`` replaces stale stage outputs; this makes sure it never replaces anything else
    (a user's folder, another stage's model). Ownership is a ``monoglot.json`` whose ``stage`` is
    ``stage``.

    Raises:
        BadInput: ``out`` exists and is not such a directory.
    """
    out = Path(out)
    if not out.exists():
        return
    try:
        found = read_meta(out).get("stage") if out.is_dir() else None
    except (ValueError, OSError, AttributeError):
        found = None
    if found != stage:
        raise BadInput(f"{out} exists and is not a '{stage}' output monoglot wrote (its monoglot.json says "
                       f"{found!r}); monoglot replaces only its own outputs: move it away or choose another --out")


def umask() -> int:
    """The process's file-creation mask (e.g. ``0o022``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_modes(root: str | Path) -> None:
    """Give ``root`` and everything in it the modes of a plain ``mkdir`` / ``open``: folders
    ``0o777 & ~umask``, files ``0o666 & ~umask`` (0755 / 0644 under umask 022).

    ``tempfile.mkdtemp`` makes 0700 folders and safetensors writes 0600 files, which another user
    or a serving process could not read.
    """
    mask = umask()
    os.chmod(root, 0o777 & ~mask)
    for d, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(d, name), 0o777 & ~mask)
        for name in files:
            f = os.path.join(d, name)
            if not os.path.islink(f):
                os.chmod(f, 0o666 & ~mask)


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)-")


def _warn(message: str) -> None:
    from .progress import console

    console.print(f"warning: {message}", markup=False, highlight=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale_temporaries(out: str | Path) -> list[Path]:
    """Remove the temporary siblings of ``out`` (``.OUT.tmp-PID-*``, ``.OUT.old-PID-*``) left by a
    monoglot process that no longer runs (killed by SIGKILL, a power cut, ...).

    A temporary whose process still runs is kept. Returns the temporaries of ``out`` that are not
    ours to remove (no PID in the name, e.g. made by an older version), so the caller can name them.
    """
    out = Path(out)
    if not out.parent.is_dir():
        return []
    left = []
    for p in out.parent.glob(f".{glob.escape(out.name)}.*"):
        m = _TEMP.match(p.name)
        if m is None or m["name"] != out.name:
            if p.name.startswith((f".{out.name}.tmp-", f".{out.name}.old-")):
                left.append(p)
            continue
        if _pid_alive(int(m["pid"])):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        _warn(f"removed {p}, the unfinished output of an earlier run that was killed")
    return left


@contextlib.contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that is renamed to ``out`` when the block succeeds.

    The temporary directory is the hidden sibling ``.OUT.tmp-PID-XXXX``. On an exception (and on
    SIGINT / SIGTERM, which the CLI turns into exceptions) it is removed and ``out`` is untouched;
    one left by a killed process (SIGKILL) is removed by the next run (:func:`clean_stale_temporaries`).
    The finished directory gets the modes of a plain ``mkdir`` (:func:`plain_modes`).

    Raises:
        BadInput: if ``out`` exists and ``overwrite`` is false, or its folder cannot be written.
    """
    out = check_new_output(out, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for p in clean_stale_temporaries(out):
            _warn(f"{p} looks like the unfinished output of an older monoglot; delete it if no run is using it")
    except OSError as e:
        raise BadInput(f"cannot write output {out}: {e.strerror}; choose another --out") from None
    # the name is chosen before the folder exists, so that a signal arriving just after mkdir still
    # finds it in the cleanup below (tempfile.mkdtemp would leave it behind in that instant)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        try:
            tmp.mkdir(mode=0o700)
        except OSError as e:
            raise BadInput(f"cannot write output {out}: {e.strerror}; choose another --out") from None
        yield tmp
        plain_modes(tmp)
        if out.exists():  # overwrite=True
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
            os.replace(out, old / out.name)
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


def save_tokenizer(tokenizer, out_dir: str | Path) -> None:
    """``save_pretrained`` a fast tokenizer so that any transformers version loads it.

    transformers 5 writes ``tokenizer_class: TokenizersBackend``, which transformers 4 lacks; we
    record ``PreTrainedTokenizerFast`` (known to both), which loads ``tokenizer.json`` as it is.
    ``auto_map`` is left out, as in model configs (:func:`monoglot.teachers.loader.drop_auto_map`).
    """
    tokenizer.save_pretrained(out_dir)
    cfg_path = Path(out_dir, "tokenizer_config.json")
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg.pop("auto_map", None)  # pointers to remote code the output does not hold (monoglot never runs it)
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def portable_path(path: str | Path) -> str:
    """How ``monoglot.json`` names an input file: relative to the data root when it lies under it
    (``corpora/swa/bible_suv.tsv``), else its file name; never the builder's absolute path.
    A hub corpus (``hf:...``) is named as given."""
    from .paths import data_root

    if is_hub(path):
        return str(path)

    p = Path(path).resolve()
    try:
        return p.relative_to(data_root(must_exist=False)).as_posix()
    except ValueError:
        return p.name


_hashes: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks; cached per path, size and mtime."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _hashes:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _hashes[key] = h.hexdigest()
    return _hashes[key]


def corpus_files(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Provenance of input corpora for ``monoglot.json``: ``[{"file", "bytes", "sha256"}]`` with
    :func:`portable_path` names, so that a shared model directory identifies its corpora by content.
    A hub corpus (``hf:...``, possibly a :class:`~monoglot.corpus.CorpusRef` with caps) is recorded
    as ``{"hub": NAME}``: its name and caps identify it."""
    out = []
    for p in paths:
        source = str(getattr(p, "source", p))
        if is_hub(source):
            out.append({"hub": str(p)})
        else:
            out.append({"file": portable_path(source), "bytes": Path(source).stat().st_size, "sha256": file_sha256(source)})
    return out


def settings_hash(*parts: object) -> str:
    """A short, stable hash of JSON-serialisable settings (stage caching, checkpoint fingerprints)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
