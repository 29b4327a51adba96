"""``POST /api/chat``: a cited answer as JSON, or streamed as Server-Sent Events."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AssistantDep, app_state, client_address, rate_limit
from assistant.http_errors import ApiError
from assistant.limits import Slot
from assistant.links import Links, chunk_headings, public_base
from assistant.openapi import SSE_EVENT, error_responses
from assistant.pool import reaching_vectors, store_failure
from assistant.schemas import ChatRequest, ChatResponse, ClientConfig, answer_to_json
from assistant.service import Assistant
from kysy.errors import KysyError, ShuttingDownError
from kysy.models import Answer, Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter()

_END = object()
_ABANDONED = object()

_ERRORS = error_responses(413, 422, 429, 503)
_STREAM = {"text/event-stream": {"schema": SSE_EVENT}}


def check_request_size(settings: Settings, question: str, history: Sequence[Turn]) -> None:
    """Refuse a question or history longer than the settings allow (counted as sent).

    Raises:
        ApiError: 413 ``question_too_long`` or ``history_too_long``.
    """
    if len(question) > settings.max_question_chars:
        raise ApiError(
            413, "question_too_long",
            f"the question has {len(question)} characters; the limit is {settings.max_question_chars}",
        )
    if len(history) > settings.max_history_turns:
        raise ApiError(
            413, "history_too_long",
            f"the history has {len(history)} turns; the limit is {settings.max_history_turns}",
        )
    longest = max((len(turn.content) for turn in history), default=0)
    if longest > settings.max_history_message_chars:
        raise ApiError(
            413, "history_too_long",
            f"a history message has {longest} characters; the limit is {settings.max_history_message_chars}",
        )
    total = sum(len(turn.content) for turn in history)
    if total > settings.max_history_chars:
        raise ApiError(
            413, "history_too_long",
            f"the history has {total} characters in all; the limit is {settings.max_history_chars}",
        )


def links_for(request: Request, assistant: Assistant) -> Links:
    """Citation links and labels for this request: absolute under ``KYSY_PUBLIC_URL``, else under the
    address the request came to."""
    settings = app_state(request).settings
    snapshot = assistant.snapshot
    return Links(public_base(settings.public_url, str(request.base_url)), snapshot.documents,
                 chunk_headings(snapshot.chunk))


def charge_for(request: Request, started: float) -> None:
    """Charge the client for the work of its answer beyond its first token (``RateLimiter.charge``)."""
    app_state(request).limiter.charge(client_address(request), time.perf_counter() - started)


def wants_event_stream(request: Request) -> bool:
    """Whether the client asked for Server-Sent Events."""
    return "text/event-stream" in request.headers.get("accept", "")


@dataclass
class StreamShutdown:
    """A stream's view of the server stopping: sse-starlette sets ``event`` when uvicorn is told to stop
    (SIGTERM); the answer then has ``grace_s`` to finish, after which its stream ends with an ``error``
    event ``shutting_down`` instead of being cut off without a last event."""

    event: anyio.Event
    grace_s: float
    deadline: float | None = field(default=None)

    @classmethod
    def for_settings(cls, settings: Settings) -> StreamShutdown:
        """Half of ``KYSY_SHUTDOWN_TIMEOUT_S`` for the answer; the other half is for the last event to be sent
        and the connection closed before uvicorn cancels what is still running."""
        return cls(anyio.Event(), settings.shutdown_timeout_s / 2)

    async def expire(self, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` once the server is stopping and the grace has passed."""
        await self.event.wait()
        if self.deadline is None:
            self.deadline = anyio.current_time() + self.grace_s
        await anyio.sleep_until(self.deadline)
        scope.cancel()


async def _next_piece(pieces: Iterator[str | Answer], shutdown: StreamShutdown) -> object:
    """The next piece from a worker thread, or ``_ABANDONED`` when the shutdown grace ran out first (the
    thread is left to finish on its own; the process is ending)."""
    item: object = _ABANDONED
    failure: Exception | None = None
    async with anyio.create_task_group() as group:

        async def work() -> None:
            nonlocal item, failure
            try:
                item = await anyio.to_thread.run_sync(next, pieces, _END, abandon_on_cancel=True)
            except Exception as exc:  # raised as itself below, not inside an exception group
                failure = exc
            group.cancel_scope.cancel()

        group.start_soon(work)
        group.start_soon(shutdown.expire, group.cancel_scope)
    if failure is not None:
        raise failure
    return item


async def answer_pieces(
    assistant: Assistant, question: str, history: Sequence[Turn], top_k: int | None, request: Request,
    *, debug: bool = False, shutdown: StreamShutdown | None = None,
) -> AsyncIterator[str | Answer]:
    """``Assistant.stream`` run in worker threads; stops (and closes the work) when the client leaves.

    Raises:
        ShuttingDownError: the server is stopping and ``shutdown``'s grace ran out before the answer was done.
    """
    pieces: Iterator[str | Answer] = assistant.stream(question, history, top_k=top_k, debug=debug)
    running = False  # a worker thread may still be inside next(pieces): closing it then would fail
    try:
        while True:
            if await request.is_disconnected():
                logger.info("client left during an answer; stopping it")
                return
            if shutdown is None:
                item = await run_in_threadpool(next, pieces, _END)
            else:
                running = True
                item = await _next_piece(pieces, shutdown)
                running = item is _ABANDONED
                if running:
                    logger.warning("the server is stopping: ending an answer not done in %g s", shutdown.grace_s)
                    raise ShuttingDownError("the server is shutting down; ask again in a moment")
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(pieces, "close", None)
        if close is not None and not running:
            close()


def error_event(exc: Exception) -> ServerSentEvent:
    """The ``error`` event for a failure after the stream started."""
    if isinstance(exc, KysyError):
        body = {"error": exc.code, "message": str(exc)}
    else:
        logger.exception("answer stream failed")
        body = {"error": "internal_error", "message": "the answer failed; try again later"}
    return ServerSentEvent(data=json.dumps(body, ensure_ascii=False), event="error")


async def _chat_events(
    assistant: Assistant, body: ChatRequest, history: list[Turn], request: Request, slot: Slot, links: Links,
    shutdown: StreamShutdown,
) -> AsyncIterator[ServerSentEvent]:
    started = time.perf_counter()
    try:
        async for item in answer_pieces(
            assistant, body.question, history, body.top_k, request, debug=body.debug, shutdown=shutdown
        ):
            if isinstance(item, Answer):
                payload = answer_to_json(
                    item, include_retrieved=body.include_retrieved, links=links, debug=body.debug
                )
                yield ServerSentEvent(data=json.dumps(payload, ensure_ascii=False), event="done")
            else:
                yield ServerSentEvent(data=json.dumps({"text": item}, ensure_ascii=False), event="token")
    except Exception as exc:
        yield error_event(store_failure(exc, app_state(request).settings, len(assistant.snapshot.chunks)) or exc)
    finally:
        slot.release()
        charge_for(request, started)


@router.get(
    "/api/config", response_model=ClientConfig, summary="The limits a chat client keeps to, and whether the admin is on"
)
async def client_config(request: Request) -> JSONResponse:
    """What a client needs to build a valid request: the question and history limits; and for the admin page,
    whether the admin is on (so that it can say at once when it is not)."""
    settings = app_state(request).settings
    config = ClientConfig(
        max_question_chars=settings.max_question_chars,
        max_history_turns=settings.max_history_turns,
        max_history_message_chars=settings.max_history_message_chars,
        admin=bool(settings.admin_token),
    )
    return JSONResponse(config.model_dump(), headers={"Cache-Control": "public, max-age=300"})


@router.post(
    "/api/chat",
    response_model=ChatResponse,
    responses={**_ERRORS, 200: {"description": "The answer (JSON), or its Server-Sent Events", "content": _STREAM}},
    dependencies=[Depends(rate_limit)],
    summary="Ask a question; JSON, or Server-Sent Events with Accept: text/event-stream",
)
async def chat(
    body: ChatRequest, request: Request, assistant: AssistantDep
) -> JSONResponse | EventSourceResponse:
    """Answer ``body.question`` (a follow-up of ``body.history``) with numbered citations; 503 as ``/readyz``
    while the vector store lacks the index's vectors (an answer would be a wrong "not found") or cannot be
    reached when the answer needs it."""
    state = app_state(request)
    history = [turn.to_turn() for turn in body.history]
    check_request_size(state.settings, body.question, history)
    state.assistants.require_vectors()
    slot = state.gate.enter()
    if wants_event_stream(request):
        shutdown = StreamShutdown.for_settings(state.settings)
        return EventSourceResponse(
            _chat_events(assistant, body, history, request, slot, links_for(request, assistant), shutdown),
            headers={"Cache-Control": "no-store"},
            # Also frees the place when the stream never starts (the client left at once).
            background=BackgroundTask(slot.release),
            # The stream ends itself within the grace (StreamShutdown); only past the whole timeout is it cut.
            shutdown_event=shutdown.event,
            shutdown_grace_period=state.settings.shutdown_timeout_s,
        )
    started = time.perf_counter()
    try:
        with reaching_vectors(state.settings, len(assistant.snapshot.chunks)):
            answer = await run_in_threadpool(
                assistant.ask, body.question, history, top_k=body.top_k, debug=body.debug
            )
    finally:
        slot.release()
        charge_for(request, started)
    return JSONResponse(
        answer_to_json(
            answer, include_retrieved=body.include_retrieved, links=links_for(request, assistant), debug=body.debug
        ),
        headers={"Cache-Control": "no-store"},
    )
