"""What a recipe reads, and from where: its corpora, tasks and teacher resolved to local files or
Hugging Face datasets (:mod:`monoglot.hub`), with errors that name what is missing and the hub
alternative; and the list of them that ``monoglot data RECIPE`` prints and fetches.

Local first: a corpus with both ``local`` and ``hub`` reads the local file where it exists; a
task ``FAMILY:LANG`` listed in ``[data] hub_tasks`` reads its hub dataset where the task's folder is
missing from the data root. Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import hub
from .corpus import CorpusRef
from .errors import BadInput
from .recipe import CorpusSource, Recipe

PRESENT, CACHED, HUB, MISSING = "present", "cached", "hub", "missing"


def wikipedia_hint(languages: list[str], source: bool = False) -> str:
    """A hub corpus to suggest (Wikipedia, 20231101 dump) in the recipe's first language, or for
    a source corpus in its last one."""
    lang = (languages[-1] if source else languages[0]) if languages else "LANG"
    return f"hf:wikimedia/wikipedia:20231101.{lang}"


def _local_path(path: str, root: Path) -> Path | None:
    """``path`` as given if it exists, else under ``root`` if it exists there, else None."""
    p = Path(path).expanduser()
    if p.exists():
        return p
    q = root / path
    return q if q.exists() else None


def resolve_corpus(entry: CorpusSource | str, root: Path, languages: list[str] = (), source: bool = False) -> CorpusRef:
    """The corpus a recipe entry reads: its local file where that exists, else its hub dataset.

    Raises:
        BadInput: the local file is missing and the entry names no hub dataset (one line naming
            the file, the data root and a hub corpus to use instead).
    """
    if isinstance(entry, str):
        entry = CorpusSource(**({"hub": entry} if hub.is_hub(entry) else {"local": entry}))
    opts = dict(text_column=entry.text_column, max_documents=entry.max_documents, max_words=entry.max_words)
    if entry.local:
        found = _local_path(entry.local, root)
        if found is not None:
            return CorpusRef(found, **opts)
    if entry.hub:
        hub.parse(entry.hub)  # a malformed name fails here, before any compute
        return CorpusRef(entry.hub, **opts)
    where = f"the data root {root} does not exist" if not root.is_dir() else f"not found, also not under the data root {root}"
    raise BadInput(f"corpus {entry.local}: {where}; set MONOGLOT_DATA, or read a hub corpus instead: "
                   f"{{ local = \"{entry.local}\", hub = \"{wikipedia_hint(list(languages), source)}\" }} in [data]")


def _local_task_folder(name: str, root: Path) -> Path | None:
    """The data-root folder of a ``FAMILY:LANG`` task name, None for other names."""
    from .tasks import FAMILIES

    family, sep, lang = name.partition(":")
    return root / "tasks" / family / lang if sep and lang and family in FAMILIES else None


def resolve_task(name: str, root: Path, hub_tasks: dict[str, str]) -> str:
    """``name`` with each side (of ``SRC->TGT``) whose local folder is missing replaced by its
    ``hub_tasks`` fallback; other names unchanged (their errors come from :func:`load_task`)."""
    sides = []
    for side in name.split("->"):
        side = side.strip()
        folder = _local_task_folder(side, root)
        if side in hub_tasks and folder is not None and not folder.is_dir():
            side = hub_tasks[side]
        sides.append(side)
    return "->".join(sides)


def resolve_tasks(recipe: Recipe, root: Path) -> Recipe:
    """``recipe`` with its evaluation tasks resolved by :func:`resolve_task` (the same object if
    nothing changes, so hashes of local runs stay as they were)."""
    if recipe.evaluate.tasks is None:  # the default tasks are those present under the data root
        return recipe
    tasks = [resolve_task(t, root, recipe.data.hub_tasks) for t in recipe.evaluate.tasks]
    if tasks == recipe.evaluate.tasks:
        return recipe
    return recipe.model_copy(update={"evaluate": recipe.evaluate.model_copy(update={"tasks": tasks})})


# --------------------------------------------------------------------------- listing


@dataclass
class Need:
    """One thing a recipe reads.

    Attributes:
        kind: ``corpus``, ``source corpus``, ``task`` or ``teacher``.
        name: as written in the recipe (a task side of ``SRC->TGT`` on its own row).
        source: what a run reads: a local path, an ``hf:`` name, or a model id.
        status: ``present`` (a local file or folder), ``cached`` (in monoglot's hub cache or the
            Hugging Face cache), ``hub`` (read from the hub at run time: needs the network, or
            ``--fetch`` first), or ``missing``.
        note: the hub alternative of something missing, or how it is read.
        fetch: a hub dataset or hub model that ``--fetch`` can download, else None.
        corpus: for a hub corpus, the corpus with its caps (``--fetch`` stores only the capped part).
    """

    kind: str
    name: str
    source: str
    status: str
    note: str = ""
    fetch: hub.HubName | str | None = None
    corpus: CorpusRef | None = None


def _hub_need(kind: str, name: str, hub_name: str, allow_split: bool, note: str = "") -> Need:
    h = hub.parse(hub_name.split(" [")[0], allow_split=allow_split)  # without a CorpusRef's options
    if h.local_folder is not None:
        return Need(kind, name, hub_name, PRESENT, note or "local dataset folder")
    if h.cached:
        return Need(kind, name, hub_name, CACHED, note or str(h.cache_path))
    if not note:
        note = "streamed from the hub" if kind.endswith("corpus") else "downloaded from the hub"
    return Need(kind, name, hub_name, HUB, note, fetch=h)


def _corpus_need(kind: str, entry: CorpusSource, root: Path, languages: list[str], text_column: str) -> Need:
    name = entry.local or entry.hub
    if entry.local:
        found = _local_path(entry.local, root)
        if found is not None:
            return Need(kind, name, str(found), PRESENT)
        if not entry.hub:
            hint = wikipedia_hint(languages, source=kind == "source corpus")
            return Need(kind, name, str(root / entry.local), MISSING, f"or hub = \"{hint}\"")
    ref = CorpusRef(entry.hub, entry.text_column, entry.max_documents, entry.max_words)
    capped = entry.max_documents is not None or entry.max_words is not None
    col = entry.text_column or text_column
    copy = hub.corpus_copy_path(hub.parse(entry.hub), col, entry.max_documents, entry.max_words)
    note = "local file missing: read from the hub" if entry.local else ""
    if capped and (copy / "state.json").is_file():
        return Need(kind, name, str(ref), CACHED, note or str(copy))
    need = _hub_need(kind, name, str(ref) if capped else entry.hub, True, note)
    if need.fetch is not None:
        need.corpus = CorpusRef(entry.hub, col, entry.max_documents, entry.max_words)
    return need


def _task_needs(task: str, root: Path, hub_tasks: dict[str, str]) -> list[Need]:
    from .tasks.hf import hub_equivalent

    if task.startswith("flores:"):  # bitext mining on SIB-200's Flores sentences: both languages' folders
        return [n for lang in task.split(":", 1)[1].split("-") for n in _task_needs(f"sib200:{lang}", root, hub_tasks)]
    if task.startswith("bitext:"):  # two line-aligned files
        return [Need("task", f, f, PRESENT if Path(f).is_file() else MISSING) for f in task.split(":", 1)[1].split(",")]
    out = []
    for side in (s.strip() for s in task.split("->")):
        folder = _local_task_folder(side, root)
        if hub.is_hub(side):
            out.append(_hub_need("task", side, side, False))
        elif folder is None:  # a user folder of split files
            out.append(Need("task", side, side, PRESENT if Path(side).is_dir() else MISSING))
        elif folder.is_dir():
            out.append(Need("task", side, str(folder), PRESENT))
        elif side in hub_tasks:
            out.append(_hub_need("task", side, hub_tasks[side], False, "local folder missing: read from the hub"))
        else:
            alt = hub_equivalent(side)
            out.append(Need("task", side, str(folder), MISSING, f"or {alt}" if alt else ""))
    return out


def _teacher_need(spec: str) -> Need:
    from .paths import cache_dir
    from .teachers import EMBEDDED

    if spec in EMBEDDED:
        out = cache_dir() / "teachers" / spec
        converted = (out / "config.json").is_file()
        return Need("teacher", spec, str(out), PRESENT, "bundled; " + ("converted" if converted else "converted on first use"))
    from .teachers.loader import looks_like_path

    if Path(spec).expanduser().exists() or looks_like_path(spec):
        return Need("teacher", spec, spec, PRESENT if Path(spec).expanduser().is_dir() else MISSING)
    from huggingface_hub import try_to_load_from_cache

    cached = isinstance(try_to_load_from_cache(spec, "config.json"), str)
    return Need("teacher", spec, spec, CACHED if cached else HUB, "Hugging Face cache" if cached else "model on the hub",
                fetch=None if cached else spec)


def recipe_needs(recipe: Recipe, root: Path) -> list[Need]:
    """Every corpus, task (both sides of ``SRC->TGT``, each once) and the teacher ``recipe`` reads,
    with where from and whether it is there. Touches no network.

    Raises:
        BadInput: a malformed ``hf:`` name.
    """
    langs = list(recipe.languages)
    col = recipe.data.text_column
    needs = [_corpus_need("corpus", c, root, langs, col) for c in recipe.data.corpora]
    needs += [_corpus_need("source corpus", c, root, langs, col) for c in recipe.data.source_corpora]
    seen: set[str] = set()
    tasks = recipe.evaluate.tasks
    if tasks is None:
        from .tasks.defaults import default_tasks

        tasks = default_tasks(recipe.languages, root)[0]
    for task in tasks:
        for need in _task_needs(task, root, recipe.data.hub_tasks):
            if need.name not in seen:
                seen.add(need.name)
                needs.append(need)
    return needs + [_teacher_need(recipe.teacher)]
