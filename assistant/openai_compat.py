"""An OpenAI-compatible face: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The last user message is the question, earlier user/assistant messages are the history and
system messages are ignored (never echoed), so the conversation is carried exactly as by
``POST /api/chat`` with ``history``. The answer keeps its ``[n]`` markers and ends with a numbered
Markdown list of its sources (title, year, page or slide, absolute link), so a client that shows
only the message text shows them too (streamed as the last piece of text). The citations also
come as a top-level ``sources`` list, and ``kysy`` holds the answer object of ``POST /api/chat``;
a streamed answer's last chunk carries both. ``usage`` counts words and punctuation marks (Kysy
has no language-model tokenizer); a model other than ``kysy`` is OpenAI's ``model_not_found``.

The message is Markdown, so the quoted text is escaped as the source titles are: raw HTML (``<img ...>``)
and link syntax (``[klikkaa](javascript:...)``) in a document show as the text they are, the ``[n]`` markers
stay as they are. OpenAI clients send the whole conversation every time: beyond ``KYSY_MAX_HISTORY_TURNS``
earlier messages (or ``KYSY_MAX_HISTORY_CHARS`` of them) the oldest are left out, where ``POST /api/chat``
answers 413.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from assistant.app_state import AssistantDep, app_state, rate_limit
from assistant.http_errors import ApiError
from assistant.limits import Slot
from assistant.links import WORDS, Links, source_list
from assistant.openai_errors import OpenAIError, openai_error
from assistant.openapi import SSE_EVENT, error_responses
from assistant.pool import reaching_vectors
from assistant.routes_chat import StreamShutdown, answer_pieces, charge_for, check_request_size, links_for
from assistant.schemas import CleanText, answer_to_json, citation_json
from assistant.service import Assistant
from ingest.normalize import normalize_input
from kysy.errors import KysyError
from kysy.models import Answer, Turn

router = APIRouter(prefix="/v1", tags=["openai"])

MODEL_ID = "kysy"
_TOKEN = re.compile(r"\w+|[^\w\s]")
# Where an earlier answer's source list starts: it is not part of the conversation's words.
_SOURCES_START = re.compile(r"\n\n\*\*(?:" + "|".join(words[3] for words in WORDS.values()) + r")\*\*\n")
# A citation marker, kept as it is (unless a link's parenthesis or a reference follows it), or a character that
# would make HTML, a link or an image of quoted text. Neither spans whitespace, so a streamed answer is escaped
# piece by piece as the whole answer is.
_MARKDOWN_SPECIAL = re.compile(r"(\[\d+\](?![(\[:]))|([\\<>\[\]])")
_ESCAPED = re.compile(r"\\([\\<>\[\]])")


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: str
    text: CleanText | None = None


class ChatMessage(BaseModel):
    """One message; ``content`` is text or a list of ``{"type": "text", "text": ...}`` parts."""

    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: CleanText | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined; other parts ignored)."""
        if isinstance(self.content, str):
            return self.content
        parts = self.content or []
        return "".join(part.text or "" for part in parts if part.type == "text")


class CompletionRequest(BaseModel):
    """The fields of an OpenAI chat completion request that Kysy uses (others are accepted and ignored)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Turn]]:
    """The question (last user message) and the history (earlier user/assistant messages).

    Raises:
        ApiError: 422 when the last message is not a non-empty user message.
    """
    dialogue = [m for m in messages if m.role in ("user", "assistant")]
    if not dialogue or dialogue[-1].role != "user" or not normalize_input(dialogue[-1].text()):
        raise ApiError(422, "invalid_request", "the last message must be a non-empty user message (the question)")
    history = [Turn(role=m.role, content=_unescaped(without_sources(m.text())) if m.role == "assistant" else m.text())
               for m in dialogue[:-1]]
    return dialogue[-1].text(), history


def latest_history(history: list[Turn], max_turns: int, max_chars: int) -> list[Turn]:
    """The latest turns of ``history`` within ``max_turns`` and ``max_chars`` (the oldest are left out)."""
    kept = history[len(history) - max_turns:] if max_turns else []
    total = sum(len(turn.content) for turn in kept)
    while kept and total > max_chars:
        total -= len(kept.pop(0).content)
    return kept


def markdown_escaped(text: str) -> str:
    """Answer text as Markdown that shows it as written: ``\\``, ``<``, ``>``, ``[`` and ``]`` escaped (as in a
    source's title), the citation markers ``[n]`` kept."""
    return _MARKDOWN_SPECIAL.sub(lambda match: match.group(1) or "\\" + match.group(2), text)


def _unescaped(text: str) -> str:
    """An earlier answer as it was before ``markdown_escaped``."""
    return _ESCAPED.sub(r"\1", text)


def without_sources(text: str) -> str:
    """An earlier answer without the source list this route appended to it."""
    return _SOURCES_START.split(text, maxsplit=1)[0]


def model_not_found(model: str) -> JSONResponse:
    """OpenAI's answer to a model it does not have (so OpenAI clients raise their ``NotFoundError``)."""
    message = f"The model `{model}` does not exist; this service offers `{MODEL_ID}`."
    return JSONResponse(openai_error(404, "model_not_found", message, param="model"), status_code=404)


def usage(messages: list[ChatMessage], content: str) -> dict[str, int]:
    """Words and punctuation marks of the conversation and of the answer, as OpenAI's ``usage``."""
    prompt = sum(len(_TOKEN.findall(m.text())) for m in messages)
    completion = len(_TOKEN.findall(content))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def message_text(answer: Answer, links: Links) -> str:
    """The assistant message: the answer, then its numbered sources in Markdown."""
    sources = source_list(list(answer.citations), links, answer.language)
    text = markdown_escaped(answer.text)
    return f"{text}\n\n{sources}" if sources else text


def _completion(
    answer: Answer, links: Links, messages: list[ChatMessage], completion_id: str, created: int
) -> dict[str, object]:
    content = message_text(answer, links)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": usage(messages, content),
        "sources": [citation_json(c, links, answer.language) for c in answer.citations],
        "kysy": answer_to_json(answer, links=links),
    }


def _chunk(completion_id: str, created: int, delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _data(payload: dict[str, object] | str) -> ServerSentEvent:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return ServerSentEvent(data=text)


async def _chunks(
    assistant: Assistant, question: str, history: list[Turn], request: Request, slot: Slot,
    links: Links, messages: list[ChatMessage], shutdown: StreamShutdown,
) -> AsyncIterator[ServerSentEvent]:
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    started = time.perf_counter()
    try:
        yield _data(_chunk(completion_id, created, {"role": "assistant", "content": ""}))
        async for item in answer_pieces(assistant, question, history, None, request, shutdown=shutdown):
            if isinstance(item, Answer):
                sources = source_list(list(item.citations), links, item.language)
                if sources:
                    yield _data(_chunk(completion_id, created, {"content": f"\n\n{sources}"}))
                last = _chunk(completion_id, created, {}, "stop")
                last["usage"] = usage(messages, message_text(item, links))
                last["sources"] = [citation_json(c, links, item.language) for c in item.citations]
                last["kysy"] = answer_to_json(item, links=links)
                yield _data(last)
            else:
                yield _data(_chunk(completion_id, created, {"content": markdown_escaped(item)}))
        yield _data("[DONE]")
    except Exception as exc:
        code = exc.code if isinstance(exc, KysyError) else "internal_error"
        message = str(exc) if isinstance(exc, KysyError) else "the answer failed; try again later"
        yield _data(openai_error(500, code, message))
    finally:
        slot.release()
        charge_for(request, started)


_COMPLETION = {
    "description": "A `chat.completion` (JSON), or `chat.completion.chunk` Server-Sent Events ending in `[DONE]`",
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/event-stream": {"schema": SSE_EVENT},
    },
}


@router.post(
    "/chat/completions", dependencies=[Depends(rate_limit)], response_model=None,
    responses={
        200: _COMPLETION,
        404: {"model": OpenAIError, "description": "`model_not_found`: a model other than `kysy`."},
        **error_responses(413, 422, 429, 503),
    },
    summary="OpenAI-compatible chat completion",
)
async def chat_completions(
    body: CompletionRequest, request: Request, assistant: AssistantDep
) -> JSONResponse | EventSourceResponse:
    """Answer the last user message; ``stream: true`` gives ``chat.completion.chunk`` events and ``[DONE]``."""
    state = app_state(request)
    if body.model != MODEL_ID:
        return model_not_found(body.model)
    question, history = split_messages(body.messages)
    settings = state.settings
    history = latest_history(history, settings.max_history_turns, settings.max_history_chars)
    check_request_size(settings, question, history)
    state.assistants.require_vectors()  # as /api/chat: no wrong "not found" from a store without its vectors
    links = links_for(request, assistant)
    slot = state.gate.enter()
    if body.stream:
        shutdown = StreamShutdown.for_settings(state.settings)
        return EventSourceResponse(
            _chunks(assistant, question, history, request, slot, links, body.messages, shutdown),
            headers={"Cache-Control": "no-store"},
            sep="\n",
            background=BackgroundTask(slot.release),
            # as /api/chat: an answer not done within half the shutdown timeout ends with error shutting_down
            shutdown_event=shutdown.event,
            shutdown_grace_period=state.settings.shutdown_timeout_s,
        )
    started = time.perf_counter()
    try:
        with reaching_vectors(settings, len(assistant.snapshot.chunks)):  # a Chroma server down: 503, as /api/chat
            answer = await run_in_threadpool(assistant.ask, question, history)
    finally:
        slot.release()
        charge_for(request, started)
    return JSONResponse(_completion(answer, links, body.messages, f"chatcmpl-{uuid.uuid4().hex}", int(time.time())))


@router.get("/models", summary="The one model this service offers")
async def list_models() -> dict[str, object]:
    """OpenAI-style model list with the single model ``kysy``."""
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "kysy"}],
    }
