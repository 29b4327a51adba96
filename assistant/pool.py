"""The server's assistants, one per index generation, each kept open while a request uses it.

A request takes a ``Lease`` on the current assistant and answers from that snapshot to the end,
also while a reindex commits a new generation. ``AssistantPool.refresh`` opens the new generation
beside the old one, warms it (``Assistant.warm``: its first request is as fast as any) and swaps it in
atomically; the old snapshot is closed after its last lease is returned. A newer generation committed
by another process (Chroma server mode) is noticed within ``CHECK_INTERVAL_S`` and opened in the
background, never on a request's time.

The pool also knows whether the vector store holds the index's vectors (``check_vectors``): counted when a
generation is opened, by ``/readyz`` and by the same background check, so that answering reads a verdict
instead of asking a Chroma server per question. A failure to reach the store, or its collection gone, is
said as ``/readyz`` says it (``store_failure``), never as a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
from starlette.concurrency import run_in_threadpool

from assistant.service import Assistant, Components
from ingest.vectors import VectorStore
from kysy.errors import IndexNotBuiltError, KysyError, VectorsMissingError, VectorsUnreachableError
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# How often (seconds) requests may look for a generation committed by another process.
CHECK_INTERVAL_S = 2.0

# Said to clients without the index's path, which is the operator's business (the server logs it).
NO_INDEX = "no index yet: run `kysy ingest corpus` first"


def missing_message(settings: Settings, stored: int, chunks: int) -> str:
    """What ``vectors_missing`` says: how many vectors the store lacks, and how to embed them again. ``kysy
    ingest`` runs beside the servers of a Chroma server; the embedded store belongs to the running server."""
    if settings.chroma_url:
        way = "POST /api/admin/reindex, or `kysy ingest <documents>` beside the running server, embeds them again"
    else:
        way = "POST /api/admin/reindex (or `kysy ingest <documents>` with the server stopped) embeds them again"
    return f"the vector store holds {stored} vectors for the index's {chunks} chunks; {way}"


def store_failure(exc: BaseException, settings: Settings, chunks: int) -> KysyError | None:
    """``exc`` as the Kysy error a client is told when it is the vector store failing, else None: a Chroma server
    that cannot be reached (the httpx error chromadb lets through) is ``VectorsUnreachableError``, its collection
    gone (the server started again on an empty directory) ``VectorsMissingError``, with ``chunks`` the index's
    chunk count. Other failures stay what they are."""
    from chromadb.errors import NotFoundError

    if isinstance(exc, NotFoundError):
        return VectorsMissingError(missing_message(settings, 0, chunks))
    if isinstance(exc, httpx.HTTPError):
        where = f"the Chroma server at {settings.chroma_url} (KYSY_CHROMA_URL)" if settings.chroma_url else "the vector store"
        return VectorsUnreachableError(f"cannot reach {where}: {exc}; questions are answered again once it is back")
    return None


def stored_nowhere(exc: VectorsMissingError) -> bool:
    """Whether ``exc`` says the store's collection is gone (not merely short of vectors)."""
    from chromadb.errors import NotFoundError

    return isinstance(exc.__cause__, NotFoundError)


@contextmanager
def reaching_vectors(settings: Settings, chunks: int) -> Iterator[None]:
    """Raise a vector store's failure inside as ``store_failure`` says it.

    Raises:
        VectorsUnreachableError: the Chroma server cannot be reached.
        VectorsMissingError: its collection is gone.
    """
    try:
        yield
    except Exception as exc:
        failure = store_failure(exc, settings, chunks)
        if failure is None:
            raise
        raise failure from exc


def _warm(assistant: Assistant) -> None:
    """Warm a generation before it is served (``Assistant.warm``): its first request is as fast as any. Warming
    only saves time: a generation it fails on (the engine's models missing, say) is served all the same, and
    each question meets the error and reports it."""
    try:
        with reaching_vectors(assistant.settings, len(assistant.snapshot.chunks)):
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
        # The last verdict of ``check_vectors`` that the store lacks vectors (None: it held them all, or could not
        # be asked), and whether the store's collection was gone: the next opening asks the store for it anew.
        self._missing: VectorsMissingError | None = None
        self._store_gone = False
        self._problem: str | None = None  # what the last check in the background logged
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

        The generation is opened again, on a collection asked for anew, when ``check_vectors`` found the
        vector store's collection gone (a Chroma server started again on an empty directory): the one the store
        has now is the one a ``kysy ingest`` beside the server fills.

        Raises:
            IndexNotBuiltError: there is no index yet; IndexMismatchError: another embedder built it (the message
                says what to do).
        """
        with self._refresh_lock:
            current = self._current
            if current is not None:
                with Lease(self, self._hold(current)):
                    on_disk = current.assistant.snapshot.current_generation()
                if on_disk == current.assistant.snapshot.generation and not self._store_gone:
                    return on_disk
            if not self.settings.index_path.exists():
                raise IndexNotBuiltError(NO_INDEX)
            parts = current.assistant.components if current else None
            with reaching_vectors(self.settings, len(current.assistant.snapshot.chunks) if current else 0):
                if parts is not None and self._store_gone:
                    parts = replace(parts, vectors=VectorStore(self.settings, parts.embedder))
                    self._store_gone = False
                fresh = _Entry(self._open(parts))
            try:
                _warm(fresh.assistant)
            except Exception:
                fresh.assistant.snapshot.close()
                raise
            self._check_quietly(fresh.assistant, opened=True)
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

    def check_vectors(self, assistant: Assistant) -> None:
        """Count the vector store's vectors against ``assistant``'s chunks (a round trip to a Chroma server) and
        keep the verdict for ``require_vectors``.

        Raises:
            VectorsMissingError: the store holds fewer vectors than the index has chunks, or lost its collection.
            VectorsUnreachableError: the store cannot be reached (the verdict kept is the last one reached).
        """
        chunks = len(assistant.snapshot.chunks)
        try:
            with reaching_vectors(self.settings, chunks):
                stored = assistant.vectors.count()
            if stored < chunks:
                raise VectorsMissingError(missing_message(self.settings, stored, chunks))
        except VectorsMissingError as exc:
            self._missing = exc
            self._store_gone = stored_nowhere(exc)
            raise
        self._missing = None

    def require_vectors(self) -> None:
        """Refuse to answer while the vector store lacks the index's vectors (the last ``check_vectors``):
        without them questions the materials answer would be refused. Reads the kept verdict: no round trip.

        Raises:
            VectorsMissingError: with ``/readyz``'s message.
        """
        missing = self._missing
        if missing is not None:
            raise missing

    def _check_quietly(self, assistant: Assistant, *, opened: bool = False) -> None:
        """``check_vectors``, logged: when a generation is ``opened`` and when the verdict changes (the check in
        the background runs every ``CHECK_INTERVAL_S`` while questions come; the log says a state once)."""
        before = self._problem
        try:
            self.check_vectors(assistant)
            self._problem = None
        except (VectorsMissingError, VectorsUnreachableError) as exc:
            self._problem = f"{exc.code}: {exc}"
        if self._problem is not None and (opened or self._problem != before):
            logger.warning("index generation %d: %s", assistant.snapshot.generation, self._problem)
        elif self._problem is None and before is not None:
            logger.info("index generation %d: the vector store holds the index's vectors again",
                        assistant.snapshot.generation)

    def _refresh_quietly(self) -> None:
        try:
            current = self._current
            self.refresh()
            with self._lock:
                if current is None or self._current is not current:  # a generation just opened was checked
                    return
                current.leases += 1
            with Lease(self, current):
                self._check_quietly(current.assistant)
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
