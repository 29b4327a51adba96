"""The one data model that flows through Kysy: file -> Document -> Chunk -> ScoredChunk -> Answer.

All types are frozen dataclasses; derive new values with ``dataclasses.replace``.
Ids are deterministic (document path + position + content hash), so re-ingesting is idempotent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def content_hash(text: str | bytes) -> str:
    """Return the hex SHA-256 of ``text`` (UTF-8 encoded when a string)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def web_address(url: str | None) -> str | None:
    """``url`` (stripped) when it is an absolute http(s) address with a host, else None: no ``javascript:``,
    ``data:`` or ``file:`` link ever reaches a user, and a setting that must name a site names one."""
    if not url:
        return None
    try:
        parsed = urlsplit(url.strip())
        host = parsed.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    if parsed.scheme.lower() not in ("http", "https") or not host:
        return None
    return url.strip()


@dataclass(frozen=True)
class Page:
    """One citation unit of a document: a PDF page, a slide, or the whole of an unpaged text.

    ``text`` is normalised and Markdown-like: ``#`` headings, ``- `` list items,
    blank lines between blocks, so the chunker sees the structure whatever the format was.
    """

    number: int | None
    text: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A loaded source file with its metadata and its pages."""

    id: str
    file: str
    title: str
    url: str | None
    kind: str
    text: str
    pages: tuple[Page, ...]
    content_hash: str
    year: int | None = None
    publisher: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: never spans two pages or slides.

    ``start``/``end`` are character offsets into the page's text; ``heading`` is the
    heading path joined with `` > ``.
    """

    id: str
    doc_id: str
    file: str
    title: str
    text: str
    page: int | None
    heading: str
    start: int
    end: int
    content_hash: str
    ord: int = 0

    @property
    def embed_text(self) -> str:
        """The text that is embedded: title and heading path first, so short bullets keep context."""
        context = " > ".join(part for part in (self.title, self.heading) if part)
        return f"{context}\n{self.text}" if context else self.text


@dataclass(frozen=True)
class Sentence:
    """A quotable unit of a chunk (a sentence, a list item or a heading), precomputed at ingest."""

    chunk_id: str
    ord: int
    text: str
    start: int
    end: int
    is_list_item: bool = False
    heading: str = ""
    is_heading: bool = False


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk found by a retriever, with its score, 1-based rank and the retriever's name."""

    chunk: Chunk
    score: float
    rank: int
    retriever: str
    scores: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: ``n`` is 1-based and matches ``[n]`` in the text."""

    n: int
    chunk_id: str
    doc_id: str
    file: str
    title: str
    page: int | None
    quote: str
    url: str | None
    language: str = "fi"  # the quoted passage's language ("fi", "sv" or "en"): the quote is in it
    quotes: tuple[str, ...] = ()  # every item the answer quotes from the passage, as shown (``quote``: its best)


@dataclass(frozen=True)
class Answer:
    """What the assistant says, where it comes from, and what it looked at.

    ``status`` is "answered", "partial" (the topic is in the materials but the fact asked is not: the
    text says so, then quotes the closest passages; ``not_found`` is true) or "not_found".
    """

    text: str
    citations: tuple[Citation, ...]
    retrieved: tuple[ScoredChunk, ...]
    not_found: bool
    language: str = "fi"
    mode: str = "extractive"
    meta: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    status: str = ""  # "answered" | "partial" | "not_found"; "" derives it from ``not_found``

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "not_found" if self.not_found else "answered")


@dataclass(frozen=True)
class Turn:
    """One earlier message of a conversation."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class DocumentInfo:
    """What the index remembers of an ingested file (no page texts)."""

    id: str
    file: str
    title: str
    url: str | None
    kind: str
    content_hash: str
    pages: int
    year: int | None = None
    publisher: str | None = None
