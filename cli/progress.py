"""Progress for the CLI, on stderr: rich bars on a terminal, a plain line every ``every_s`` seconds elsewhere.

Output sent to a log (``make serve > log``, a container, systemd) gets lines such as
``Embedding: 120/400 (30 %), 12 s`` instead of nothing for a minute.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

Advance = Callable[[str, int, int], None]


@contextmanager
def progress_bars(labels: Mapping[str, str], *, quiet: bool = False, every_s: float = 10.0) -> Iterator[Advance]:
    """Yield ``advance(stage, step, total)``: bars on a terminal, periodic lines otherwise, nothing with ``quiet``."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield (lambda stage, step, total: None) if quiet else progress_lines(labels, every_s)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bars:
        tasks: dict[str, TaskID] = {}

        def advance(stage: str, step: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(labels.get(stage, stage), total=total)
            bars.update(tasks[stage], advance=step)

        yield advance


def progress_lines(labels: Mapping[str, str], every_s: float, out: Callable[[str], None] | None = None) -> Advance:
    """``advance`` that writes ``Label: done/total (n %), s`` when a stage starts, every ``every_s`` seconds and
    when it ends."""
    write = out or (lambda line: print(line, file=sys.stderr, flush=True))
    done: dict[str, int] = {}
    last: dict[str, float] = {}
    started = time.monotonic()

    def advance(stage: str, step: int, total: int) -> None:
        now = time.monotonic()
        first = stage not in done
        done[stage] = done.get(stage, 0) + step
        if first or done[stage] >= total or now - last.get(stage, 0.0) >= every_s:
            last[stage] = now
            share = 100 * done[stage] // total if total else 100
            write(f"{labels.get(stage, stage)}: {done[stage]}/{total} ({share} %), {now - started:.0f} s")

    return advance
