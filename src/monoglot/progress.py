"""Progress display (rich) shared by the stages.

On a terminal the bars redraw in place. Where stderr is not a terminal (``nohup monoglot run ... >
log 2>&1``, CI) rich shows a bar only once it has finished, so a long stage would print nothing for
an hour; there each bar also prints a plain line every ``LOG_EVERY_S`` seconds: count, percent,
the bar's fields (loss, validation losses), elapsed time and ETA.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
LOG_EVERY_S = 60.0  # seconds between plain progress lines where stderr is not a terminal


def _clock(seconds: float | None) -> str:
    """``h:mm:ss`` as rich's time columns, ``-:--:--`` when unknown."""
    return "-:--:--" if seconds is None else str(datetime.timedelta(seconds=int(seconds)))


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
    ``transient``: erase it when done (many short runs, e.g. fine-tuning per seed). Where stderr is
    not a terminal, ``advance`` also prints a plain line at most every ``LOG_EVERY_S`` seconds, e.g.
    ``  distill: 300/3,600 (8%)  loss 1.2345  elapsed 0:06:33  ETA 1:12:03``."""
    if not enabled:
        yield lambda n=1, **kw: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console, transient=transient) as p:
        task = p.add_task(description, total=total, info="")
        plain = not console.is_terminal
        last = time.monotonic()

        def advance(n: int = 1, **fields: object) -> None:
            nonlocal last
            info = "  ".join(f"{k} {v}" for k, v in fields.items())
            p.update(task, advance=n, info=info)
            now = time.monotonic()
            if plain and now - last >= LOG_EVERY_S:
                last = now
                t = p.tasks[0]
                share = f" ({100 * t.completed / total:.0f}%)" if total else ""
                parts = [f"{description}: {t.completed:,.0f}/{total:,}{share}", info,
                         f"elapsed {_clock(t.elapsed)}", f"ETA {_clock(t.time_remaining)}"]
                console.print("  " + "  ".join(x for x in parts if x), highlight=False, soft_wrap=True)

        yield advance
