"""The server's assistants, one per index generation, each kept open while a request uses it.

A request takes a ``Lease`` on the current assistant and answers from that snapshot to the end,
also while a reindex commits a new generation. ``AssistantPool.refresh`` opens the new generation
beside the old one, warms it (``Assistant.warm``: its first request is as fast as any) and swaps it in
atomically; the old snapshot is closed after its last lease is returned. A newer generation committed
by another process (Chroma server mode) is noticed within ``CHECK_INTERVAL_S`` and opened in the
background, never on a request's time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from assistant.service import Assistant, Components
from ingest.embed import embedder_key
from kysy.errors import IndexMismatchError, IndexNotBuiltError, KysyError
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# How often (seconds) requests may look for a generation committed by another process.
CHECK_INTERVAL_S = 2.0

# Said to clients without the index's path, which is the operator's business (the server logs it).
NO_INDEX = "no index yet: run `kysy ingest corpus` first"


def check_embedder(assistant: Assistant) -> None:
    """Refuse an index whose vectors another embedder made: every answer from it would be silently wrong.

    Raises:
        IndexMismatchError: naming both embedders and the way out.
    """
    built = assistant.snapshot.meta.get("embedder")
    configured = embedder_key(assistant.embedder)
    if built and built != configured:
        raise IndexMismatchError(
            f"the index was built with the embedder {built} but KYSY_EMBEDDER gives {configured}: "
            f"run `kysy ingest` to rebuild it with {configured}, or set KYSY_EMBEDDER back"
        )


def _warm(assistant: Assistant) -> None:
    """Warm a generation before it is served (``Assistant.warm``): its first request is as fast as any. Warming
    only saves time: a generation it fails on (the engine's models missing, say) is served all the same, and
    each question meets the error and reports it."""
    try:
        assistant.warm()
    except KysyError as exc:
        logger.warning("warming index generation %d failed; it is served all the same: %s",
                       assistant.snapshot.generation, exc)


class _Entry:
    """One generation's assistant and how many leases are out on it."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.leases = 0
        self.retired = False


class Lease:
    """A hold on one generation's assistant; ``release`` is idempotent."""

    def __init__(self, pool: AssistantPool, entry: _Entry) -> None:
        self._pool = pool
        self._entry = entry
        self._held = True

    @property
    def assistant(self) -> Assistant:
        """The assistant this lease keeps open."""
        return self._entry.assistant

    def release(self) -> None:
        """Give the hold back (only the first call counts); closes a retired generation's last hold."""
        if self._held:
            self._held = False
            self._pool._release(self._entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class AssistantPool:
    """The current generation's assistant, swapped atomically when a newer generation is committed."""

    def __init__(self, settings: Settings, opener: Callable[[Components | None], Assistant] | None = None) -> None:
        self.settings = settings
        self._open = opener or (lambda parts: Assistant(settings, parts, follow_index=False))
        self._current: _Entry | None = None
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._checked = time.monotonic()
        self.closed_generations: deque[int] = deque(maxlen=100)  # the latest, for operators and tests

    @property
    def loaded(self) -> Assistant | None:
        """The current assistant if one is open, else None (never blocks; use a lease to work with it)."""
        entry = self._current
        return entry.assistant if entry is not None else None

    def acquire(self) -> Lease:
        """A lease on the current assistant, opening the index on first use (blocking: call from a worker thread).

        Raises:
            IndexNotBuiltError: there is no index yet.
        """
        if self._current is None:
            self.refresh()
        with self._lock:
            entry = self._current
            if entry is None:
                raise IndexNotBuiltError(NO_INDEX)
            entry.leases += 1
            lease = Lease(self, entry)
            check = time.monotonic() - self._checked >= CHECK_INTERVAL_S
            if check:
                self._checked = time.monotonic()
        if check:
            threading.Thread(target=self._refresh_quietly, name="kysy-index-check", daemon=True).start()
        return lease

    async def lease(self) -> Lease:
        """``acquire`` without blocking the event loop when the index has to be opened."""
        if self._current is not None:
            return self.acquire()  # never blocks once an index is open
        lease: Lease = await run_in_threadpool(self.acquire)
        return lease

    def refresh(self) -> int:
        """Open the generation on disk if it is newer than the current one and swap it in; returns the generation now served.

        Raises:
            IndexNotBuiltError: there is no index yet.
        """
        with self._refresh_lock:
            current = self._current
            if current is not None:
                with Lease(self, self._hold(current)):
                    on_disk = current.assistant.snapshot.current_generation()
                if on_disk == current.assistant.snapshot.generation:
                    return on_disk
            if not self.settings.index_path.exists():
                raise IndexNotBuiltError(NO_INDEX)
            fresh = _Entry(self._open(current.assistant.components if current else None))
            try:
                check_embedder(fresh.assistant)
                _warm(fresh.assistant)
            except Exception:
                fresh.assistant.snapshot.close()
                raise
            with self._lock:
                old, self._current = self._current, fresh
                closing = old is not None and self._retire(old)
            generation = fresh.assistant.snapshot.generation
            logger.info("index generation %d in service", generation)
            if closing and old is not None:
                self._close(old)
            return generation

    def close(self) -> None:
        """Retire the current assistant (closed now, or after its last lease)."""
        with self._lock:
            old, self._current = self._current, None
            closing = old is not None and self._retire(old)
        if closing and old is not None:
            self._close(old)

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception:  # a check in the background must never take the service down; the next one retries
            logger.exception("checking for a new index generation failed")

    def _hold(self, entry: _Entry) -> _Entry:
        with self._lock:
            entry.leases += 1
        return entry

    def _retire(self, entry: _Entry) -> bool:
        """Mark ``entry`` retired (under the lock); True when nothing holds it any more."""
        entry.retired = True
        return entry.leases == 0

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.leases -= 1
            closing = entry.retired and entry.leases == 0
        if closing:
            self._close(entry)

    def _close(self, entry: _Entry) -> None:
        generation = entry.assistant.snapshot.generation
        entry.assistant.snapshot.close()
        self.closed_generations.append(generation)
        logger.info("index generation %d closed after its last request", generation)
