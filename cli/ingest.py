"""``kysy ingest``: progress bars, the summary and the exit status."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.table import Table

from cli.progress import progress_bars
from ingest.lock import INGEST, store_owner_lock
from ingest.pipeline import IngestReport, ingest_paths
from kysy.settings import Settings

_STAGES = {"parse": "Reading files", "embed": "Embedding passages and sentences"}


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``docker stop``, a supervisor stopping the job) raised where the ingest is, as Ctrl-C
    raises ``KeyboardInterrupt``: the run stops as cleanly (nothing committed, the lock and the parse worker
    let go) and says the same, instead of the process ending bare. ``kysy`` exits with ``exit_status``, what a
    shell reports for a process that SIGTERM ended."""

    exit_status = 128 + signal.SIGTERM


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (the CLI's)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_ingest(settings: Settings, paths: list[Path], *, rebuild: bool, as_json: bool) -> int:
    """Run ingestion; exit status 0 = all landed, 2 = some files failed, 1 = fatal (raised).

    Files left out on purpose (an unsupported type) are listed as skipped and do not change the status.
    A server using the data directory's embedded vector store refuses the run (``store_owner_lock``).
    SIGTERM stops it as Ctrl-C does (``Terminated``).
    """
    with (
        sigterm_as_interrupt(),
        store_owner_lock(settings, INGEST),
        progress_bars(_STAGES, quiet=as_json, every_s=settings.progress_log_s) as progress,
    ):
        report = ingest_paths(settings, paths, rebuild=rebuild, progress=progress)
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        _print_summary(Console(), report)
    return 2 if report.failed else 0


def _print_summary(console: Console, report: IngestReport) -> None:
    table = Table(show_header=False, box=None)
    for label, files in (
        ("added", report.added),
        ("updated", report.updated),
        ("unchanged", report.unchanged),
        ("removed", report.removed),
    ):
        table.add_row(label, str(len(files)), ", ".join(files[:6]) + (" ..." if len(files) > 6 else ""))
    table.add_row("skipped", str(len(report.skipped)), "")
    table.add_row("failed", str(len(report.failed)), "")
    console.print(table)
    for skip in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {skip.file}: {skip.reason}", highlight=False)
    for failure in report.failed:
        console.print(f"[red]failed[/red] {failure.file}: {failure.error}", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]note[/yellow] {warning}", highlight=False)
    if report.reembedded:
        console.print(f"embedded again {report.reembedded} chunks the vector store lacked", highlight=False)
    console.print(f"{report.chunks} chunks in the index, {report.seconds:.1f} s")
    sys.stdout.flush()
