"""The locks of a data directory, both refusing at once instead of waiting.

``writer_lock``: one ingest at a time. ``store_owner_lock``: with the embedded Chroma store, one process
at a time may use the data directory: a server for its lifetime, or a CLI ingest for its run. Chroma's
embedded store keeps its state in the process that opened it; a second process writing the same
directory leaves the first one answering from a store it no longer understands ("Error finding id").
Both are ``flock`` locks: the operating system drops them when the process dies, so a killed process
never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kysy.errors import IndexLockedError, StorageError
from kysy.settings import Settings

SERVE, INGEST = "kysy serve", "kysy ingest"


@contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on ``path`` for the duration of the block.

    Raises:
        IndexLockedError: another process holds the lock.
        StorageError: the lock file cannot be created.
    """
    def refusal(holder: str) -> str:
        return f"another ingest is running (lock {path} held by pid {holder}); wait for it to finish"

    with _exclusive(path, str(os.getpid()), refusal):
        yield


@contextmanager
def store_owner_lock(settings: Settings, role: str) -> Iterator[None]:
    """Own the data directory's embedded vector store as ``role`` (``SERVE`` or ``INGEST``) for the block.

    Nothing is locked with a Chroma server (``KYSY_CHROMA_URL``): the server serialises the writes, the
    index database commits atomically, and the API servers pick up each new generation by themselves.

    Raises:
        IndexLockedError: another server or ingest owns the store, with what to do instead.
        StorageError: the lock file cannot be created.
    """
    if settings.chroma_url:
        yield
        return
    data = settings.data_dir

    def refusal(holder: str) -> str:
        pid, _, other = holder.partition(" ")
        if other == SERVE and role == INGEST:
            advice = ("stop it and ingest again (make serve ingests what changed as it starts), or, if it was started "
                      "with KYSY_ADMIN_TOKEN set, re-index through its POST /api/admin/reindex")
        elif other == SERVE:
            advice = "stop it first, or keep the vectors in a Chroma server (KYSY_CHROMA_URL) for several servers"
        else:
            advice = "wait for it to finish"
        return f"{other or 'another process'} (pid {pid or 'unknown'}) is using {data} with the embedded vector store; {advice}"

    with _exclusive(settings.store_lock_path, f"{os.getpid()} {role}", refusal):
        yield


@contextmanager
def _exclusive(path: Path, mark: str, refusal: Callable[[str], str]) -> Iterator[None]:
    """Lock ``path`` and write ``mark`` (who holds it) into it; ``refusal(holder's mark)`` is the message
    when another process holds it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot create the lock file {path}: {exc}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise IndexLockedError(refusal(holder)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, mark.encode(), 0)
        yield
    finally:
        os.close(fd)
