"""The index database's integrity: damage found before it is read, and a damaged file moved aside for a rebuild.

A disk fault or a partial copy can leave ``index.sqlite`` damaged; SQLite then fails on whichever page a
query reaches ("database disk image is malformed"). ``check_index`` runs SQLite's quick check when a
server starts and before an ingest writes, so the damage is reported once, in the product's words,
instead of as a failure somewhere later.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

from kysy.errors import IndexDamagedError, StorageError

logger = logging.getLogger(__name__)

# The SQLite result codes of a damaged file (their extended codes start with these names too).
_DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` says the database file is damaged (not busy, locked or read-only)."""
    return str(getattr(exc, "sqlite_errorname", "")).startswith(_DAMAGE)


def damaged(path: Path, reason: object) -> IndexDamagedError:
    """The error for a damaged index at ``path``, with what rebuilds it."""
    return IndexDamagedError(
        f"the index {path} is damaged ({reason}); `kysy ingest --rebuild <documents>` rebuilds it"
    )


def check_index(path: Path) -> None:
    """SQLite's quick check of the index at ``path`` (nothing to check when there is no index yet).

    Raises:
        IndexDamagedError: the file is damaged.
        StorageError: the file cannot be opened.
    """
    if not path.exists():
        return
    try:
        db = sqlite3.connect(path, timeout=30)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(1)").fetchall()]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise damaged(path, exc) from None
        raise StorageError(f"cannot open the index {path}: {exc}") from exc
    if problems != ["ok"]:
        # The first problem's last line ("Page 118: btreeInitPage() returns error code 11"): one line for the user.
        raise damaged(path, problems[0].splitlines()[-1] if problems else "no answer to SQLite's quick check")


def move_aside(path: Path) -> Path:
    """Rename a damaged index (and its write-ahead log) to ``<name>.broken-<timestamp>``, kept for inspection.

    Raises:
        StorageError: the file cannot be renamed.
    """
    target = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        os.replace(path, target)
        for suffix in ("-wal", "-shm"):
            sidecar = Path(f"{path}{suffix}")
            if sidecar.exists():
                os.replace(sidecar, Path(f"{target}{suffix}"))
    except OSError as exc:
        raise StorageError(f"cannot move the damaged index {path} aside: {exc}") from exc
    logger.warning("moved the damaged index %s aside to %s", path, target)
    return target
