"""Progress bars for the CLI: one rich bar per stage, each with a known total, on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

Advance = Callable[[str, int, int], None]


@contextmanager
def progress_bars(labels: Mapping[str, str], *, quiet: bool = False) -> Iterator[Advance]:
    """Yield ``advance(stage, step, total)``; bars show only on a terminal and never with ``quiet``."""
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, step: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(labels.get(stage, stage), total=total)
            bars.update(tasks[stage], advance=step)

        yield advance
