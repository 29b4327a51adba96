"""Operations: ``/healthz``, ``/readyz``, feedback, and the admin routes (only when an admin token is set)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sse_starlette.sse import AppStatus
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AppState, app_state, client_address, rate_limit
from assistant.http_errors import ApiError, error_response
from assistant.jobs import Job, JobSlot, audit
from assistant.openapi import error_responses
from assistant.schemas import FeedbackCreated, FeedbackRequest
from kysy.errors import KysyError, VectorsMissingError, VectorsUnreachableError
from kysy.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter()
admin_router = APIRouter(prefix="/api/admin", tags=["admin"])
# Without an admin token the admin routes do not exist; this says why to a caller (the admin page) that asks.
disabled_router = APIRouter(prefix="/api/admin")

JOB_PATH = "/api/admin/reindex"


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
    committed is opened first), else 503 with the reason: also ``vectors_missing`` when the vector store holds
    fewer vectors than the index has chunks (a backup restored without ``chroma/``, a Chroma server started again
    on an empty directory), where answers would find nothing, and ``vectors_unreachable`` when the Chroma server
    cannot be reached. The vector count is also the verdict ``/api/chat`` reads (``AssistantPool.check_vectors``)."""
    pool = app_state(request).assistants
    try:
        await run_in_threadpool(pool.refresh)
        lease = await pool.lease()
    except KysyError as exc:
        return error_response(503, exc.code, str(exc))
    with lease:
        snapshot = lease.assistant.snapshot
        try:
            await run_in_threadpool(pool.check_vectors, lease.assistant)
        except (VectorsMissingError, VectorsUnreachableError) as exc:
            return error_response(503, exc.code, str(exc))
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


@dataclass
class AuditNote:
    """How an audited request ended when not plainly ``done``: e.g. the job it started."""

    outcome: str = "done"


@contextmanager
def audited(request: Request, action: str, file: str = "-") -> Iterator[AuditNote]:
    """Log one audit line when the change ``action`` on ``file`` ends: ``done`` (or the note's outcome, such
    as the job it started; the job logs its own line when it ends), or the error code that refused or
    failed it; with the client address, never the token."""
    outcome = "failed internal_error"
    note = AuditNote()
    try:
        yield note
        outcome = note.outcome
    except ApiError as exc:
        outcome = f"refused {exc.status} {exc.code}"
        raise
    except KysyError as exc:
        outcome = f"failed {exc.code}"
        raise
    finally:
        audit(action, file, outcome, client_address(request))


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


@contextmanager
def job_slot(state: AppState) -> Iterator[JobSlot]:
    """The slot for the next index job, held while the corpus is changed for it.

    Raises:
        ApiError: 409 ``index_locked`` while a job runs; 409 ``several_workers`` when the server runs several
            processes on the embedded vector store, which keeps its state in each process: the others would go
            on answering from a store they no longer understand.
    """
    settings = state.settings
    if settings.workers > 1 and not settings.chroma_url:
        raise ApiError(409, "several_workers", (
            f"this server runs {settings.workers} processes (KYSY_WORKERS) on the embedded vector store, which "
            "cannot see each other's changes: stop it, run `kysy ingest`, and start it again, or keep the "
            "vectors in a Chroma server (KYSY_CHROMA_URL)"
        ))
    slot = state.jobs.claim()
    if slot is None:
        raise ApiError(409, "index_locked", (
            "a reindex is running; follow it at GET /api/admin/reindex and try again when it has finished"
        ))
    with slot:
        yield slot


WAIT = Query(default=False, description="Answer when the job has ended, with its result, instead of at once (202).")
# How often a request waiting for a job looks whether its client has left or the server is stopping.
WAIT_CHECK_S = 0.5


def server_stopping() -> bool:
    """Whether the server has been told to stop (SIGTERM, Ctrl-C). uvicorn's signal handler sets ``should_exit``
    on its server; sse-starlette, which replaces that handler to end its streams, sets its ``AppStatus``."""
    if AppStatus.should_exit:
        return True
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return bool(getattr(server, "should_exit", False))


async def wait_for_job(state: AppState, job: Job, request: Request) -> Job:
    """The job once it has ended. The waiting stops (the job goes on) when the client leaves, so that nothing
    holds a request for a client that is gone, or when the server starts to stop, so that its graceful shutdown
    need not wait out (and then cancel) a request waiting for a job.

    Raises:
        ApiError: 503 ``shutting_down`` when the server started to stop before the job ended.
    """
    ended = asyncio.ensure_future(state.jobs.wait(job.id))
    try:
        while not (await asyncio.wait({ended}, timeout=WAIT_CHECK_S))[0]:
            if server_stopping():
                raise ApiError(503, "shutting_down", (
                    f"the server is shutting down before job {job.id} ended; a job cut off leaves the index as it "
                    "was, and the document list shows what a reindex has still to apply"
                ))
            if await request.is_disconnected():
                logger.info("the client waiting for job %d left; the job goes on", job.id)
                return job
        return ended.result()
    finally:
        ended.cancel()


async def job_response(state: AppState, job: Job, wait: bool, request: Request, status: int = 200) -> JSONResponse:
    """202 with the job just started; with ``wait``, the job's result (``status``) once it has ended, or its
    error as the synchronous route gave it (a cancel: 409 ``reindex_cancelled``; the server stopping first: 503
    ``shutting_down``)."""
    ended = await wait_for_job(state, job, request) if wait else job
    if ended.running:  # not asked to wait, or the client left
        return JSONResponse(ended.to_json(), status_code=202, headers={"Location": JOB_PATH})
    if ended.error is not None:
        raise ended.error
    return JSONResponse(ended.result, status_code=status)


@admin_router.post(
    "/reindex", dependencies=[Depends(require_admin)], status_code=202,
    summary="Ingest the corpus directory again, as a job (202), or with `wait=true` to the end",
    responses={200: {"description": "With `wait=true`: the ingest report and the generation now served"},
               **error_responses(401, 409, 429, 500)},
)
async def reindex(request: Request, wait: bool = WAIT) -> JSONResponse:
    """Bring the index up to date with ``KYSY_CORPUS_DIR`` and switch to it; 409 while a job runs.

    The ingest runs at a lower priority than answering; questions asked meanwhile are answered
    from the previous generation, which is closed after its last answer.
    """
    state = app_state(request)
    with audited(request, "reindex") as note:
        corpus_dir(state.settings)
        with job_slot(state) as slot:
            job = slot.start("reindex", None, client_address(request))
        note.outcome = f"accepted, job {job.id}"
    return await job_response(state, job, wait, request)


@admin_router.get(
    "/reindex", dependencies=[Depends(require_admin)], summary="The running or last index job: its progress and outcome",
    responses={204: {"description": "No job has run since the server started"}, **error_responses(401, 429)},
)
async def reindex_status(request: Request) -> Response:
    """What started the job, when, its stage and each stage's done/total, and at the end its ``result`` (the
    ingest report) or ``error``; ``state`` is running, cancelling, done, failed or cancelled."""
    job = app_state(request).jobs.current
    return Response(status_code=204) if job is None else JSONResponse(job.to_json())


@admin_router.delete(
    "/reindex", dependencies=[Depends(require_admin)], status_code=202,
    summary="Cancel the running index job at its next step; the index stays as it was (a change an upload or a "
    "delete made to the corpus before the job stays, pending, for the next reindex)",
    responses={200: {"description": "With `wait=true`: the job once it has ended"}, **error_responses(401, 404, 429)},
)
async def cancel_reindex(request: Request, wait: bool = WAIT) -> JSONResponse:
    """Ask the running job to stop (after the file being read, or the embedding batch being computed); 404
    ``job_not_running`` when none runs. A job past its last step (writing the index) ends done."""
    state = app_state(request)
    with audited(request, "cancel") as note:
        job = state.jobs.cancel()
        if job is None:
            raise ApiError(404, "job_not_running", "no index job is running")
        note.outcome = f"accepted, job {job.id}"
    if not wait:
        return JSONResponse(job.to_json(), status_code=202, headers={"Location": JOB_PATH})
    return JSONResponse((await wait_for_job(state, job, request)).to_json())


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
