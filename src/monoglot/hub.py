"""Datasets named ``hf:DATASET[:CONFIG][:SPLIT]``: the Hugging Face hub, its cache, or a local folder.

Where a name is read from, first match wins:

1. monoglot's hub cache, ``<cache>/hub/<DATASET>/<CONFIG>/`` (written by :func:`fetch`, i.e.
   ``monoglot data RECIPE --fetch``): read with :func:`datasets.load_from_disk`, memory-mapped,
   so it works offline; for a corpus read with caps, the capped part alone
   (:func:`corpus_copy_path`, written by :func:`monoglot.corpus.fetch_corpus`), so a capped hub corpus is never
   downloaded whole;
2. a local folder as DATASET: one written by ``save_to_disk``, or a folder of data files
   (parquet, JSON lines, CSV ...) that :func:`datasets.load_dataset` reads; CONFIG then names a
   sub-folder (the layout of the hub's parquet export, ``CONFIG/SPLIT/0000.parquet``);
3. the hub, with :func:`datasets.load_dataset` (``streaming=True`` for corpora: rows are read as
   they are needed, the dataset is never downloaded whole). A dataset that only has a loading
   script (``datasets`` >= 4 runs none) is read from the hub's parquet export
   (revision ``refs/convert/parquet``, sub-folder CONFIG), which the hub made for most of them.

``datasets`` is imported only here and only when such a name is used. With ``HF_HUB_OFFLINE=1``
a dataset that is in none of these places fails at once with one line (no network retries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadInput, first_line
from .paths import cache_dir

PREFIX = "hf:"
PARQUET_EXPORT = "refs/convert/parquet"  # the hub's parquet conversion of a dataset repository
_SCRIPT_ERROR = "Dataset scripts are no longer supported"


@dataclass(frozen=True)
class HubName:
    """A parsed ``hf:DATASET[:CONFIG][:SPLIT]`` (``config``/``split`` None when not given)."""

    dataset: str
    config: str | None = None
    split: str | None = None

    def __str__(self) -> str:
        parts = [self.dataset, self.config or "", self.split or ""]
        while parts[-1] == "":
            parts.pop()
        return PREFIX + ":".join(parts)

    @property
    def local_folder(self) -> Path | None:
        """DATASET as an existing local folder, else None (a hub id)."""
        p = Path(self.dataset).expanduser()
        return p if p.is_dir() else None

    @property
    def cache_path(self) -> Path:
        """Where :func:`fetch` stores this dataset (all its splits) in monoglot's cache."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "--", self.dataset.strip("/"))
        return cache_dir() / "hub" / safe / (self.config or "default")

    @property
    def cached(self) -> bool:
        """True if :func:`fetch` stored this dataset in monoglot's cache."""
        return (self.cache_path / "dataset_dict.json").is_file()


def is_hub(name: object) -> bool:
    """True for a name of the form ``hf:...``."""
    return str(name).startswith(PREFIX)


def parse(name: str, allow_split: bool = True) -> HubName:
    """Parse ``hf:DATASET[:CONFIG][:SPLIT]`` (without SPLIT if not ``allow_split``).

    Raises:
        BadInput: no DATASET, or more parts than allowed.
    """
    parts = str(name)[len(PREFIX):].split(":")
    form = "hf:DATASET[:CONFIG][:SPLIT]" if allow_split else "hf:DATASET[:CONFIG]"
    if not parts[0] or len(parts) > (3 if allow_split else 2):
        raise BadInput(f"{name!r} is not of the form {form}; write e.g. hf:wikimedia/wikipedia:20231101.sw")
    return HubName(parts[0], (parts[1] or None) if len(parts) > 1 else None, (parts[2] or None) if len(parts) > 2 else None)


def _datasets():
    try:
        import datasets
    except ImportError as e:
        raise BadInput("hf: datasets need the Hugging Face 'datasets' library; pip install 'monoglot[hf]'") from e
    return datasets


def _cannot_load(h: HubName, e: BaseException) -> BadInput:
    why = first_line(e)
    if isinstance(e, ConnectionError) or "offline" in why.lower():
        fix = (f"the hub is out of reach and {h.cache_path} holds no copy; run 'monoglot data RECIPE --fetch' "
               "while online, or name a local file")
    else:
        fix = "check the dataset id and config on huggingface.co, or name a local file"
    return BadInput(f"cannot load {h}: {why}; {fix}")


def load(h: HubName, streaming: bool = False) -> Any:
    """All splits of ``h`` as a ``DatasetDict`` (``IterableDatasetDict`` if ``streaming`` and read
    from the hub or a folder of data files); ``h.split`` is ignored here (see :func:`load_split`).

    Raises:
        BadInput: ``datasets`` missing; the dataset or config cannot be loaded (one line naming
            ``hf:...``, the library's reason and the fix).
    """
    datasets = _datasets()
    if h.cached:
        return datasets.load_from_disk(str(h.cache_path))
    folder = h.local_folder
    try:
        if folder is not None:
            if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
                loaded = datasets.load_from_disk(str(folder))
                return loaded if hasattr(loaded, "keys") else datasets.DatasetDict({"train": loaded})
            sub = folder / h.config if h.config else None
            if h.config and not (sub and sub.is_dir()):
                raise BadInput(f"cannot load {h}: the folder {folder} has no sub-folder {h.config!r}; "
                               "name an existing one or leave CONFIG out")
            return datasets.load_dataset(str(folder), data_dir=h.config, streaming=streaming)
        try:
            return datasets.load_dataset(h.dataset, h.config, streaming=streaming)
        except RuntimeError as e:
            if _SCRIPT_ERROR not in str(e):
                raise
            # a script-only dataset: its parquet export holds one folder per config
            return datasets.load_dataset(h.dataset, data_dir=h.config, revision=PARQUET_EXPORT, streaming=streaming)
    except BadInput:
        raise
    except Exception as e:  # network, unknown id/config/revision, bad files ...: one line for the user
        raise _cannot_load(h, e) from e


def load_split(h: HubName, streaming: bool = True, default: str = "train") -> Any:
    """One split of ``h``: ``h.split``, else ``default`` if present, else the only split.

    Raises:
        BadInput: as :func:`load`; the split does not exist (names the splits there are).
    """
    splits = load(h, streaming=streaming)
    names = list(splits.keys())
    want = h.split or (default if default in names else (names[0] if len(names) == 1 else None))
    if want not in names:
        raise BadInput(f"{h} has no split {want or default!r} (it has {', '.join(names)}); "
                       f"name one as {PREFIX}{h.dataset}:{h.config or 'CONFIG'}:SPLIT")
    return splits[want]


def fetch(h: HubName) -> Path:
    """Download every split of ``h`` (whole, not streamed) and store it in monoglot's cache, so
    that later runs read it offline; return the cache folder. Written atomically (a temporary
    folder renamed when complete); a cached dataset is left as it is.

    Raises:
        BadInput: as :func:`load`.
    """
    if h.cached or h.local_folder is not None:
        return h.cache_path if h.cached else h.local_folder
    return store(load(h, streaming=False), h.cache_path)


def store(dataset: Any, path: Path) -> Path:
    """``dataset.save_to_disk`` into ``path`` atomically: written to ``PATH.tmp``, then renamed
    over any older copy; return ``path``."""
    import shutil

    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_to_disk(str(tmp))
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def load_saved(path: str | Path) -> Any:
    """A dataset written by ``save_to_disk`` (e.g. by :func:`monoglot.corpus.fetch_corpus`), memory-mapped."""
    return _datasets().load_from_disk(str(path))


def save_texts(path: Path, column: str, texts: list[str]) -> Path:
    """Write ``texts`` as a one-column dataset at ``path`` (atomically, :func:`store`), for :func:`load_saved`."""
    return store(_datasets().Dataset.from_dict({column: texts}), path)


def corpus_copy_path(h: HubName, text_column: str, max_documents: int | None, max_words: int | None) -> Path:
    """Where :func:`monoglot.corpus.fetch_corpus` keeps the capped part of a hub corpus (one per split, column and caps)."""
    base = h.cache_path
    return base.with_name(f"{base.name}--{h.split or 'split'}--{text_column}--docs{max_documents}-words{max_words}")
