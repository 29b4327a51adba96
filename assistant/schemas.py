"""Request and response models of the HTTP API, apart from the storage types in ``kysy.models``.

``answer_to_json`` is the one serializer of an ``Answer``: ``POST /api/chat``, the SSE ``done``
event and ``kysy ask --json`` all print exactly its output.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from assistant.inputs import not_blank, valid_text
from assistant.links import Links
from kysy.models import Answer, Citation, ScoredChunk, Turn, web_address

MAX_COMMENT_CHARS = 2000
MAX_FEEDBACK_QUESTION_CHARS = 10_000
MAX_FEEDBACK_ANSWER_CHARS = 20_000

CleanText = Annotated[str, AfterValidator(valid_text)]
"""User text as every route takes it: valid Unicode (422 otherwise); the assistant normalises it."""


class HistoryTurn(BaseModel):
    """One earlier message of the conversation, as the client sends it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: CleanText = Field(description="At most KYSY_MAX_HISTORY_MESSAGE_CHARS characters (413 beyond).")

    def to_turn(self) -> Turn:
        """The storage type the assistant takes."""
        return Turn(role=self.role, content=self.content)


class ChatRequest(BaseModel):
    """``POST /api/chat`` body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: CleanText = Field(
        min_length=1, description="The question; at most KYSY_MAX_QUESTION_CHARS characters (413 beyond)."
    )
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first: at most KYSY_MAX_HISTORY_TURNS turns and KYSY_MAX_HISTORY_CHARS "
        "characters in all (413 beyond).",
    )
    include_retrieved: bool = Field(default=False, description="Also return the retrieved passages.")
    debug: bool = Field(
        default=False,
        description="Also return the scoring and decision details in `meta`: each quoted item's score and "
        "reason, the answerability signals.",
    )
    top_k: int | None = Field(default=None, ge=1, le=20, description="How many passages to answer from.")

    _question_not_blank = field_validator("question")(not_blank)


class CitationOut(BaseModel):
    """A numbered source; ``n`` matches ``[n]`` in the answer text."""

    n: int
    file: str
    title: str
    page: int | None
    label: str | None = Field(description='How the source is cited: "sivu 3", "dia 3" or "kohta: <heading>".')
    year: int | None = None
    quote: str
    url: str | None = Field(description="Absolute http(s) address: the page or slide, or the quoted passage.")
    language: str = Field("fi", description='The language of the quoted passage, which the quote is in: "fi", "sv" '
                                            'or "en" (Finnish when unsure).')


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
    """``GET /api/config``: the limits a chat client keeps its requests within, and whether the admin is on."""

    max_question_chars: int
    max_history_turns: int = Field(description="Earlier messages (user and assistant) sent with a question.")
    max_history_message_chars: int = Field(description="Each earlier message is cut to this many characters.")
    # No secret: without a token every /api/admin/... path answers 404 admin_disabled to anyone who asks.
    admin: bool = Field(description="Whether the admin page and API are on (KYSY_ADMIN_TOKEN is set).")


class ErrorBody(BaseModel):
    """Every error response: a stable code and a human-readable message."""

    error: str
    message: str


class FeedbackRequest(BaseModel):
    """``POST /api/feedback`` body."""

    model_config = ConfigDict(extra="forbid", strict=True)

    question: CleanText = Field(min_length=1, max_length=MAX_FEEDBACK_QUESTION_CHARS)
    answer: CleanText = Field(default="", max_length=MAX_FEEDBACK_ANSWER_CHARS)
    rating: Literal["up", "down"]
    comment: CleanText | None = Field(default=None, max_length=MAX_COMMENT_CHARS)

    _question_not_blank = field_validator("question")(not_blank)


class FeedbackCreated(BaseModel):
    """``POST /api/feedback`` response."""

    id: int


def document_file_url(doc_id: str, page: int | None, base: str = "") -> str:
    """The link to a document as this API serves it (absolute under ``base``), opening at ``page`` when it has pages."""
    url = f"{base}/api/documents/{doc_id}/file"
    return f"{url}#page={page}" if page is not None else url


def citation_json(citation: Citation, links: Links | None = None, language: str = "fi") -> dict[str, object]:
    """A citation as the API returns it: with ``links``, its absolute address and its label."""
    url = links.url(citation) if links else web_address(citation.url)
    return CitationOut(
        n=citation.n,
        file=citation.file,
        title=citation.title,
        page=citation.page,
        label=links.label(citation, language) if links else None,
        year=links.year(citation) if links else None,
        quote=citation.quote,
        url=url or citation.url,
        language=citation.language,
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


# What ``meta`` always says: what was searched and how long it took. The rest (the refusal's scores and
# reasoning, why a question was taken as a follow-up, a generator's checks) only with ``debug``. A "not found"
# answer's ``suggestions`` are the nearest topics it names, for a client to offer as questions; ``fallback``
# says why a generative answer is the extractive one instead (the model failed, or its text did not hold);
# ``period`` which years a follow-up asking later or earlier was answered from (``assistant/timeline.py``).
PUBLIC_META = ("ms", "query", "standalone_query", "followup", "query_fi", "refusal", "suggestions", "fallback",
               "period")


def answer_to_json(
    answer: Answer, *, include_retrieved: bool = False, links: Links | None = None, debug: bool = False
) -> dict[str, object]:
    """The ``POST /api/chat`` response object of ``answer``."""
    body: dict[str, object] = {
        "answer": answer.text,
        "status": answer.status,
        "not_found": answer.not_found,
        "language": answer.language,
        "citations": [citation_json(c, links, answer.language) for c in answer.citations],
    }
    if include_retrieved:
        body["retrieved"] = [retrieved_json(hit) for hit in answer.retrieved]
    body["mode"] = answer.mode
    meta = dict(answer.meta) if debug else {k: v for k, v in answer.meta.items() if k in PUBLIC_META}
    body["meta"] = _json_safe(meta)
    return body
