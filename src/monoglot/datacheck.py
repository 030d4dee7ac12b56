"""``monoglot data RECIPE [--fetch]``: a table of what a recipe reads and whether it is here, and
the download of its hub datasets (and hub teacher) into the cache."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import BadInput
from .sources import CACHED, HUB, MISSING, PRESENT, Need, recipe_needs

STYLE = {PRESENT: "green", CACHED: "green", HUB: "yellow", MISSING: "bold red"}


def needs_table(needs: list[Need], title: str) -> Table:
    """A rich table with one row per :class:`~monoglot.sources.Need`."""
    table = Table(title=title, title_justify="left")
    for col in ("need", "name in the recipe", "read from", "status", "note"):
        table.add_column(col, overflow="fold")
    for n in needs:
        table.add_row(n.kind, escape(n.name), escape(n.source), f"[{STYLE[n.status]}]{n.status}[/]", escape(n.note))
    return table


def fetch_needs(needs: list[Need], progress: bool = True) -> list[Need]:
    """Download every hub dataset (:func:`monoglot.hub.fetch`; of a capped hub corpus only the
    capped part, :func:`monoglot.corpus.fetch_corpus`) and hub teacher
    (:func:`monoglot.teachers.loader.hub_snapshot`: the files a run loads) among ``needs``,
    with a progress bar; return the needs that were fetched.

    Raises:
        BadInput: a download fails (one line naming the dataset or model).
    """
    from . import hub
    from .corpus import fetch_corpus
    from .progress import bar

    todo = [n for n in needs if n.fetch is not None]
    with bar("fetch", total=len(todo), enabled=progress and bool(todo)) as advance:
        for n in todo:
            if n.corpus is not None:  # a hub corpus: only the part its caps read
                c = n.corpus
                fetch_corpus(c.source, c.text_column, c.max_documents, c.max_words)
            elif isinstance(n.fetch, hub.HubName):
                hub.fetch(n.fetch)
            else:  # the files a run loads from a hub model (one-line errors)
                from .teachers.loader import hub_snapshot

                hub_snapshot(n.fetch, trust_remote_code=False)
            advance(1, done=n.name)
    return todo


def check_recipe_data(recipe_path: str | Path, data: str | Path | None = None, fetch: bool = False,
                      console: Console | None = None) -> list[Need]:
    """Print what the recipe reads (after fetching the hub items if ``fetch``) and return it.

    Raises:
        BadInput: a bad recipe; a download fails; something the recipe reads is missing (after
            printing the table; the message counts the missing rows and says where to get them).
    """
    from .paths import data_root
    from .recipe import load_recipe

    recipe = load_recipe(recipe_path)
    root = data_root(data, must_exist=False)
    needs = recipe_needs(recipe, root)
    if fetch:
        fetch_needs(needs)
        needs = recipe_needs(recipe, root)
    console = console or Console()
    console.print(needs_table(needs, f"{recipe_path}: data root {root}" + ("" if root.is_dir() else " (missing)")))
    missing = [n for n in needs if n.status == MISSING]
    if missing:
        raise BadInput(f"{len(missing)} of {len(needs)} things {recipe_path} reads are missing ({', '.join(n.name for n in missing[:3])}"
                       f"{' ...' if len(missing) > 3 else ''}); set MONOGLOT_DATA to the folder that holds corpora/ and tasks/, "
                       "or use their hub alternatives (see the note column)")
    return needs
