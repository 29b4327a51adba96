"""Operations: ``/healthz``, ``/readyz``, feedback, and the admin routes (only when an admin token is set)."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AppState, app_state
from assistant.http_errors import ApiError, error_response
from assistant.schemas import FeedbackCreated, FeedbackRequest
from ingest.pipeline import ingest_paths
from kysy.errors import KysyError

logger = logging.getLogger(__name__)

router = APIRouter()
admin_router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always fast: touches nothing but the event loop."""
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and questions can be answered")
async def readyz(request: Request) -> JSONResponse:
    """200 with the chunk count and generation when the index is loaded, else 503."""
    try:
        assistant = await app_state(request).assistants.ready()
    except KysyError as exc:
        return error_response(503, exc.code, str(exc))
    snapshot = assistant.snapshot
    return JSONResponse({
        "status": "ready",
        "chunks": len(snapshot.chunks),
        "documents": len(snapshot.documents),
        "generation": snapshot.generation,
    })


@router.post("/api/feedback", status_code=201, response_model=FeedbackCreated, summary="Rate an answer")
async def post_feedback(body: FeedbackRequest, request: Request) -> FeedbackCreated:
    """Store a thumbs up/down (and an optional comment) with a timestamp."""
    store = app_state(request).feedback
    new_id = await run_in_threadpool(store.add, body.question, body.answer, body.rating, body.comment)
    return FeedbackCreated(id=new_id)


def require_admin(request: Request) -> None:
    """Dependency: a ``Authorization: Bearer <KYSY_ADMIN_TOKEN>`` header (compared in constant time).

    Raises:
        ApiError: 401 when the token is missing or wrong.
    """
    token = app_state(request).settings.admin_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ApiError(401, "unauthorized", "a valid admin token is required", {"WWW-Authenticate": "Bearer"})


def _reindex(state: AppState) -> dict[str, object]:
    report = ingest_paths(state.settings, [state.settings.corpus_dir])
    body = report.to_json()
    holder = state.assistants
    assistant = holder.loaded
    if assistant is not None:
        assistant.reload_if_changed(force=True)
    else:
        assistant = holder.get()
    body["generation"] = assistant.snapshot.generation
    return body


@admin_router.post("/reindex", dependencies=[Depends(require_admin)], summary="Ingest the corpus directory again")
async def reindex(request: Request) -> dict[str, object]:
    """Bring the index up to date with ``KYSY_CORPUS_DIR`` and switch to it; 409 while an ingest runs."""
    state = app_state(request)
    if not state.reindex_lock.acquire(blocking=False):
        raise ApiError(409, "index_locked", "a reindex is already running; wait for it to finish")
    try:
        return await run_in_threadpool(_reindex, state)
    finally:
        state.reindex_lock.release()


@admin_router.get("/feedback", dependencies=[Depends(require_admin)], summary="Stored feedback, newest first")
async def list_feedback(request: Request, limit: int = 1000) -> list[dict[str, object]]:
    """The newest ``limit`` pieces of feedback."""
    if not 1 <= limit <= 100_000:
        raise ApiError(422, "invalid_request", f"limit must be 1..100000, got {limit}")
    entries = await run_in_threadpool(app_state(request).feedback.recent, limit)
    return [entry.to_json() for entry in entries]
