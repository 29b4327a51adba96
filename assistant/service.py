"""The assistant as one object: question (+ history) -> retrieve -> decide -> cited answer.

The HTTP API, the CLI and the evaluation runner all go through ``Assistant``; it owns the index
snapshot and reloads it when an ingest has committed a newer generation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from assistant.answer import extractive_answer
from assistant.followup import FollowupResolver, Resolution
from assistant.inputs import prepare_question
from assistant.messages import not_found_text
from assistant.query import Query
from assistant.refusal import assess, injection_question
from assistant.rerank import make_reranker
from assistant.retrieve import Retriever, check_top_k
from ingest.analyze import Analyzer, make_analyzer
from ingest.embed import Embedder, make_embedder
from ingest.language import detect_language
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.models import Answer, ScoredChunk, Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# How often (seconds) a request may look for a newer index generation on disk.
_RELOAD_CHECK_S = 2.0


@dataclass(frozen=True)
class Components:
    """What answering needs besides the index snapshot; loaded once and shared by every generation's assistant."""

    embedder: Embedder
    analyzer: Analyzer
    vectors: VectorStore
    generator: Any
    reranker: Any

    @classmethod
    def load(cls, settings: Settings) -> Components:
        """Load the embedder, analyzer, vector store, optional language model and reranker."""
        embedder = make_embedder(settings.embedder, threads=settings.embed_thread_count)
        return cls(
            embedder=embedder,
            analyzer=make_analyzer(settings.analyzer),
            vectors=VectorStore(settings, embedder),
            generator=_make_generator(settings),
            reranker=make_reranker(settings.reranker),
        )


class Assistant:
    """Answers questions over one index; thread-safe for concurrent requests.

    By default it follows the index: a request swaps in a newer generation when an ingest has
    committed one. With ``follow_index=False`` it stays on the snapshot it opened (the server's
    ``AssistantPool`` then opens a new assistant per generation and closes the old one after its
    last request).
    """

    def __init__(self, settings: Settings, components: Components | None = None, *, follow_index: bool = True) -> None:
        self.settings = settings
        self.components = components or Components.load(settings)
        self.embedder = self.components.embedder
        self.analyzer = self.components.analyzer
        self.vectors = self.components.vectors
        self.follow_index = follow_index
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self.retriever = self._open_retriever()
        self.generator = self.components.generator
        self.reranker = self.components.reranker

    def _rerank(self, question: str, retrieved: list[ScoredChunk]) -> list[ScoredChunk]:
        return self.reranker.rerank(question, retrieved) if self.reranker is not None else retrieved

    def _open_retriever(self) -> Retriever:
        snapshot = Snapshot(self.settings.index_path)
        return Retriever(snapshot, self.vectors, self.embedder, self.analyzer, self.settings)

    @property
    def snapshot(self) -> Snapshot:
        """The index snapshot answers are drawn from."""
        return self.retriever.snapshot

    def reload_if_changed(self, *, force: bool = False) -> bool:
        """Swap in a newer index generation if an ingest committed one; returns True when it did.

        Only for an assistant that follows the index (a single user, e.g. the CLI): the old snapshot
        is closed at once. The server pins one assistant per generation instead (``assistant/pool.py``).
        """
        if not self.follow_index:
            return False
        now = time.monotonic()
        if not force and now - self._checked < _RELOAD_CHECK_S:
            return False
        with self._lock:
            self._checked = now
            if self.snapshot.current_generation() == self.snapshot.generation:
                return False
            old = self.retriever
            self.retriever = self._open_retriever()
            logger.info("index reloaded: generation %d", self.snapshot.generation)
        old.snapshot.close()
        return True

    def ask(self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None) -> Answer:
        """Answer ``question`` (a follow-up when ``history`` is given), with numbered citations."""
        return self.respond(question, history, top_k=top_k)

    def respond(
        self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None, streaming: bool = False
    ) -> Answer:
        """``ask``, reading the model's reply as a stream when ``streaming`` (generative mode only)."""
        question, history = prepare_question(question, history, self.settings)
        self.reload_if_changed()
        started = time.perf_counter()
        retriever = self.retriever
        top_k = check_top_k(top_k or self.settings.top_k)
        language = detect_language(question)
        genuine = injection_question(question)
        if genuine == "":
            answer = Answer(not_found_text(language), (), (), True, language)
            return replace(answer, meta={"query": "", "refusal": "injection", "ms": _ms(started)})
        asked = genuine or question
        resolution = self.resolve(asked, history, language)
        standalone = resolution.standalone
        query = retriever.prepare(standalone, language)
        retrieved = self._rerank(standalone, retriever.hybrid(query, max(top_k, self.settings.candidates)))
        decision = assess(query, retrieved, retriever.snapshot, self.analyzer)
        if decision.not_found:
            answer = Answer(
                text=not_found_text(language, decision.suggestions),
                citations=(),
                retrieved=tuple(retrieved[:top_k]),
                not_found=True,
                language=language,
            )
        else:
            answer = self._answer(asked, standalone, query, retrieved[:top_k], language, streaming)
        meta = {
            **answer.meta,
            "query": standalone,
            "standalone_query": standalone,
            "followup": resolution.followup,
            "followup_reason": resolution.reason,
            "refusal": decision.reason,
            "ms": _ms(started),
        }
        if query.finnish:
            meta["query_fi"] = query.finnish  # the glossary's Finnish words for a Swedish or English question
        return replace(answer, meta=meta)

    def resolve(self, question: str, history: Sequence[Turn], language: str | None = None) -> Resolution:
        """Whether ``question`` leans on ``history``, and the question to search (``assistant/followup.py``)."""
        retriever = self.retriever
        resolver = FollowupResolver(retriever.queries, retriever.snapshot.keyword, self.analyzer, self.settings)
        return resolver.resolve(question, history, language, generator=self.generator)

    def _answer(
        self, question: str, standalone: str, query: Query, retrieved: list[ScoredChunk], language: str, streaming: bool
    ) -> Answer:
        extractive = extractive_answer(
            standalone, query, retrieved, self.retriever.snapshot, self.analyzer, language=language, settings=self.settings
        )
        if self.generator is None:
            return extractive
        return self.generator.answer(
            standalone, retrieved, language, fallback=extractive, assistant=self, streaming=streaming
        )

    def stream(self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None) -> Iterator[str | Answer]:
        """Yield the answer text in pieces, then the complete ``Answer``."""
        if self.generator is not None:
            yield from self.generator.stream(self, question, history, top_k=top_k)
            return
        answer = self.ask(question, history, top_k=top_k)
        yield from _pieces(answer.text)
        yield answer


def _pieces(text: str) -> Iterator[str]:
    """Split text into word-sized pieces (with their whitespace) for streaming."""
    start = 0
    for i, char in enumerate(text):
        if char in " \n" and i > start:
            yield text[start : i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _make_generator(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.llm_base_url:
        return None
    from assistant.generate import Generator

    return Generator(settings)
