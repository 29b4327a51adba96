"""User feedback (thumbs up/down with an optional comment), stored durably in SQLite, up to a size cap."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kysy.errors import StorageError, StorageFullError

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT
);
"""


@dataclass(frozen=True)
class Feedback:
    """One stored piece of feedback; ``created`` is an ISO 8601 UTC timestamp."""

    id: int
    created: str
    question: str
    answer: str
    rating: str
    comment: str | None

    def to_json(self) -> dict[str, object]:
        """The admin API's representation."""
        return asdict(self)


@dataclass(frozen=True)
class FeedbackPage:
    """One page of the admin listing: entries newest first and the cursor of the next page (None at the end)."""

    entries: tuple[Feedback, ...]
    next_before: int | None


class FeedbackStore:
    """Append-only feedback table; every write is committed (synchronous=FULL) before it returns.

    The database grows to at most ``max_bytes``; beyond that ``add`` raises ``StorageFullError``
    (the API answers 507) until an operator archives or removes old feedback.
    """

    def __init__(self, path: Path, *, max_bytes: int | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._ready = False

    def size_bytes(self) -> int:
        """The database's size on disk now (0 before the first entry)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def full(self) -> bool:
        """Whether the database has reached its size cap."""
        return self.max_bytes is not None and self.size_bytes() >= self.max_bytes

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
            db.execute("PRAGMA synchronous=FULL")
            if not self._ready:
                db.executescript(_SCHEMA)
                self._ready = True
            return db
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the feedback store {self.path}: {exc}") from exc

    def add(self, question: str, answer: str, rating: str, comment: str | None = None) -> int:
        """Store one piece of feedback and return its id.

        Raises:
            StorageFullError: the database has reached its size cap.
            StorageError: the data directory cannot be written.
        """
        created = datetime.now(UTC).isoformat(timespec="seconds")
        if self.full:
            logger.warning("feedback refused: %s has reached its cap of %s bytes", self.path, self.max_bytes)
            raise StorageFullError(
                "the feedback store is full; the administrator has been told. Thank you all the same"
            )
        with self._lock:
            db = self._connect()
            try:
                with db:
                    cursor = db.execute(
                        "INSERT INTO feedback (created, question, answer, rating, comment) VALUES (?,?,?,?,?)",
                        (created, question, answer, rating, comment),
                    )
                return int(cursor.lastrowid or 0)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot write feedback to {self.path}: {exc}") from exc
            finally:
                db.close()

    def recent(self, limit: int = 1000) -> list[Feedback]:
        """The newest ``limit`` entries, newest first (none when nothing was stored yet)."""
        return list(self.page(limit=limit).entries)

    def page(self, *, before: int | None = None, limit: int = 100, max_bytes: int | None = None) -> FeedbackPage:
        """Up to ``limit`` entries older than id ``before``, newest first, together at most ``max_bytes``
        of JSON (always at least one entry when any is left)."""
        if not self.path.exists():
            return FeedbackPage((), None)
        with self._lock:
            db = self._connect()
            try:
                cursor = db.execute(
                    "SELECT id, created, question, answer, rating, comment FROM feedback WHERE id < ? "
                    "ORDER BY id DESC LIMIT ?",
                    (before if before is not None else 2**62, limit + 1),
                )
                entries, more = _take(cursor, limit, max_bytes)
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read feedback from {self.path}: {exc}") from exc
            finally:
                db.close()
        return FeedbackPage(tuple(entries), entries[-1].id if more and entries else None)


def _take(cursor: sqlite3.Cursor, limit: int, max_bytes: int | None) -> tuple[list[Feedback], bool]:
    """Rows as entries until ``limit`` or ``max_bytes`` of JSON; also whether rows were left over."""
    entries: list[Feedback] = []
    size = 0
    for row in cursor:
        entry = Feedback(*row)
        size += len(json.dumps(entry.to_json(), ensure_ascii=False).encode())
        if len(entries) == limit or (entries and max_bytes is not None and size > max_bytes):
            return entries, True
        entries.append(entry)
    return entries, False
