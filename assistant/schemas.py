"""Request and response models of the HTTP API, apart from the storage types in ``kysy.models``.

``answer_to_json`` is the one serializer of an ``Answer``: ``POST /api/chat``, the SSE ``done``
event and ``kysy ask --json`` all print exactly its output.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kysy.models import Answer, Citation, ScoredChunk, Turn

MAX_COMMENT_CHARS = 2000


class HistoryTurn(BaseModel):
    """One earlier message of the conversation, as the client sends it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str

    def to_turn(self) -> Turn:
        """The storage type the assistant takes."""
        return Turn(role=self.role, content=self.content)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class ChatRequest(BaseModel):
    """``POST /api/chat`` body."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="The question; at most KYSY_MAX_QUESTION_CHARS characters.")
    history: list[HistoryTurn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    include_retrieved: bool = Field(default=False, description="Also return the retrieved passages.")
    debug: bool = Field(default=False, description="Add each quoted item's score and reason to meta.")
    top_k: int | None = Field(default=None, ge=1, le=20, description="How many passages to answer from.")

    _question_not_blank = field_validator("question")(_not_blank)


class CitationOut(BaseModel):
    """A numbered source; ``n`` matches ``[n]`` in the answer text."""

    n: int
    file: str
    title: str
    page: int | None
    quote: str
    url: str


class RetrievedOut(BaseModel):
    """A passage the retrievers found, with its score."""

    file: str
    page: int | None
    text: str
    score: float
    retriever: str


class ChatResponse(BaseModel):
    """``POST /api/chat`` response (``retrieved`` only when asked for)."""

    answer: str
    status: Literal["answered", "partial", "not_found"] = Field(
        description="answered; partial: the topic is in the materials but the fact asked is not "
        "(the closest quotes follow); not_found"
    )
    not_found: bool = Field(description="True for partial and not_found (kept for older clients).")
    language: str
    citations: list[CitationOut]
    retrieved: list[RetrievedOut] | None = None
    mode: str
    meta: dict[str, object]


class ClientConfig(BaseModel):
    """``GET /api/config``: the limits a chat client keeps its requests within."""

    max_question_chars: int
    max_history_turns: int = Field(description="Earlier messages (user and assistant) sent with a question.")
    max_history_message_chars: int = Field(description="Each earlier message is cut to this many characters.")


class ErrorBody(BaseModel):
    """Every error response: a stable code and a human-readable message."""

    error: str
    message: str


class FeedbackRequest(BaseModel):
    """``POST /api/feedback`` body."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=20_000)
    answer: str = Field(default="", max_length=50_000)
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)

    _question_not_blank = field_validator("question")(_not_blank)


class FeedbackCreated(BaseModel):
    """``POST /api/feedback`` response."""

    id: int


def document_file_url(doc_id: str, page: int | None) -> str:
    """The link to a document as this API serves it, opening at ``page`` when it has pages."""
    url = f"/api/documents/{doc_id}/file"
    return f"{url}#page={page}" if page is not None else url


def citation_url(citation: Citation) -> str:
    """The document's web address when known, else its link in this API."""
    return citation.url or document_file_url(citation.doc_id, citation.page)


def citation_json(citation: Citation) -> dict[str, object]:
    """A citation as the API returns it."""
    return CitationOut(
        n=citation.n,
        file=citation.file,
        title=citation.title,
        page=citation.page,
        quote=citation.quote,
        url=citation_url(citation),
    ).model_dump()


def retrieved_json(hit: ScoredChunk) -> dict[str, object]:
    """A retrieved passage as the API returns it."""
    return RetrievedOut(
        file=hit.chunk.file, page=hit.chunk.page, text=hit.chunk.text, score=float(hit.score), retriever=hit.retriever
    ).model_dump()


def _json_safe(meta: dict[str, object]) -> dict[str, object]:
    """Meta values as plain JSON (anything exotic becomes its string form)."""
    result: dict[str, object] = json.loads(json.dumps(meta, default=str))
    return result


def answer_to_json(answer: Answer, *, include_retrieved: bool = False) -> dict[str, object]:
    """The ``POST /api/chat`` response object of ``answer``."""
    body: dict[str, object] = {
        "answer": answer.text,
        "status": answer.status,
        "not_found": answer.not_found,
        "language": answer.language,
        "citations": [citation_json(c) for c in answer.citations],
    }
    if include_retrieved:
        body["retrieved"] = [retrieved_json(hit) for hit in answer.retrieved]
    body["mode"] = answer.mode
    body["meta"] = _json_safe(dict(answer.meta))
    return body
