"""User feedback (thumbs up/down with an optional comment), stored durably in SQLite."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kysy.errors import StorageError

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


class FeedbackStore:
    """Append-only feedback table; every write is committed (synchronous=FULL) before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False

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
            StorageError: the data directory cannot be written.
        """
        created = datetime.now(UTC).isoformat(timespec="seconds")
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
        if not self.path.exists():
            return []
        with self._lock:
            db = self._connect()
            try:
                rows = db.execute(
                    "SELECT id, created, question, answer, rating, comment FROM feedback ORDER BY id DESC LIMIT ?",
                    (limit,),
                ).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"cannot read feedback from {self.path}: {exc}") from exc
            finally:
                db.close()
        return [Feedback(*row) for row in rows]
