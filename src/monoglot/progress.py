"""Progress display (rich) shared by the stages."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextlib.contextmanager
def counter(description: str, unit: str = "items", enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A spinner with a running count for work of unknown length; yields ``update(n_done)``."""
    if not enabled:
        yield lambda n: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} " + unit),
                  TimeElapsedColumn(), console=console, transient=True) as p:
        task = p.add_task(description, total=None)
        yield lambda n: p.update(task, completed=n)


@contextlib.contextmanager
def bar(description: str, total: int, enabled: bool = True, transient: bool = False) -> Iterator[Callable[..., None]]:
    """A progress bar with ETA; yields ``advance(n=1, **fields)``; fields appear after the bar.
    ``transient``: erase it when done (many short runs, e.g. fine-tuning per seed)."""
    if not enabled:
        yield lambda n=1, **kw: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console, transient=transient) as p:
        task = p.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields: object) -> None:
            info = "  ".join(f"{k} {v}" for k, v in fields.items())
            p.update(task, advance=n, info=info)

        yield advance
