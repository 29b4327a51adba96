"""The assistant as one object: question (+ history) -> follow-up resolution -> the answer engine.

The pipeline reads top to bottom: the question is resolved against the conversation
(``followup.py``), prepared (``query.py``), retrieved (``retrieve.py``), understood (``intent.py``)
and its evidence gathered (``evidence.py``): ``Assistant.look``. The answer engine (``engine.py``)
then scores, judges, selects and renders; in generative mode the model writes from the same
retrieved sources. The HTTP API, the CLI and the evaluation runner all go through ``Assistant``;
it owns the index snapshot and reloads it when an ingest has committed a newer generation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from assistant.engine import AnswerEngine
from assistant.evidence import (
    Candidate,
    Evidence,
    Looked,
    Part,
    gather,
    named_chunks,
    named_sources,
    part_sources,
)
from assistant.followup import FollowupResolver, Resolution, asks_for_more
from assistant.generate import Sources
from assistant.inputs import preamble, prepare_question
from assistant.intent import FACT_KINDS, part_readings, understand
from assistant.messages import (
    lead_line,
    no_more_text,
    not_found_text,
    period_line,
    period_refusal,
    smalltalk_text,
)
from assistant.refusal import injection_question
from assistant.rerank import make_reranker
from assistant.retrieve import Retriever, check_top_k, in_documents, within_depth
from assistant.smalltalk import smalltalk_kind, smalltalk_language
from assistant.timeline import LATER, Period, beyond, edge_documents, quoted_documents, time_direction
from ingest.analyze import Analyzer, make_analyzer
from ingest.embed import Embedder, embedder_key, make_embedder
from ingest.language import detect_language
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.errors import IndexMismatchError
from kysy.models import Answer, ScoredChunk, Turn
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# How often (seconds) a request may look for a newer index generation on disk.
_RELOAD_CHECK_S = 2.0
# What ``Assistant.warm`` asks: any question runs every stage of answering.
WARM_UP_QUESTION = "Miten kunnat ja hyvinvointialueet tekevät yhteistyötä?"


def check_embedder(snapshot: Snapshot, embedder: Embedder) -> None:
    """Refuse an index whose vectors another embedder made: every answer from it would be silently wrong
    ("not found" for what the materials say), from the server, the CLI and the LangChain retriever alike.

    Raises:
        IndexMismatchError: naming both embedders and the way out.
    """
    built = snapshot.meta.get("embedder")
    configured = embedder_key(embedder)
    if built and built != configured:
        raise IndexMismatchError(
            f"the index was built with the embedder {built} but KYSY_EMBEDDER gives {configured}: "
            f"run `kysy ingest` to rebuild it with {configured}, or set KYSY_EMBEDDER back"
        )


class SharedEngine:
    """The answer engine with its learned models, built on first use and then shared by every generation's
    assistant (its models do not depend on the index). Built lazily: ``Assistant.look`` needs none, so training
    gathers evidence before any model exists."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: AnswerEngine | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether the engine has been built."""
        return self._engine is not None

    def get(self) -> AnswerEngine:
        """The engine, built now if it is not yet.

        Raises:
            ConfigError: a model file is missing or does not fit the features (run ``make train``).
        """
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = AnswerEngine(self._settings)
        return self._engine


@dataclass(frozen=True)
class Components:
    """What answering needs besides the index snapshot; loaded once and shared by every generation's assistant."""

    embedder: Embedder
    analyzer: Analyzer
    vectors: VectorStore
    generator: Any
    reranker: Any
    engine: SharedEngine

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
            engine=SharedEngine(settings),
        )


class Assistant:
    """Answers questions over one index; thread-safe for concurrent requests.

    By default it follows the index: a request swaps in a newer generation when an ingest has
    committed one. With ``follow_index=False`` it stays on the snapshot it opened (the server's
    ``AssistantPool`` then opens a new assistant per generation and closes the old one after its
    last request). Opening an index that another embedder built raises ``IndexMismatchError``
    (``check_embedder``), and so does a newer generation of one.
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
        self._engine: AnswerEngine | None = None

    def _rerank(self, question: str, retrieved: list[ScoredChunk]) -> list[ScoredChunk]:
        return self.reranker.rerank(question, retrieved) if self.reranker is not None else retrieved

    def _open_retriever(self) -> Retriever:
        snapshot = Snapshot(self.settings.index_path)
        try:
            check_embedder(snapshot, self.embedder)
        except IndexMismatchError:
            snapshot.close()
            raise
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

    def use_engine(self, engine: AnswerEngine) -> None:
        """Answer with ``engine`` from now on (the evaluation swaps in the models of each fold)."""
        self._engine = engine

    @property
    def engine(self) -> AnswerEngine:
        """The answer engine with its learned models (``use_engine``'s, else the components' shared one, built
        on first use: ``look`` needs none).

        Raises:
            ConfigError: a model file is missing or does not fit the features (run ``make train``).
        """
        return self._engine or self.components.engine.get()

    def warm(self) -> None:
        """Answer one question as any is answered, but never by the language model, so that the first real
        question pays neither for loading the engine's models nor for this snapshot's and the embedder's first use.

        Raises:
            ConfigError: a model file is missing or does not fit the features (run ``make train``).
        """
        self.respond(WARM_UP_QUESTION, generate=False)

    def look(
        self, standalone: str, language: str | None = None, *, top_k: int | None = None, retriever: Retriever | None = None,
        documents: frozenset[str] | None = None,
    ) -> Looked:
        """Prepare, retrieve and gather the evidence of a standalone question: every stage before scoring.

        The answer engine, the evaluation and the training of its models all start from this. With
        ``documents`` (ids), only those documents' passages are read: the fused ranking is taken
        ``within_depth`` deep and the others' passages left out (``in_documents``).
        """
        retriever = retriever or self.retriever
        top_k = check_top_k(top_k or self.settings.top_k)
        query = retriever.prepare(standalone, language)
        depth = max(top_k, self.settings.candidates)
        if documents is None:
            hits = retriever.hybrid(query, depth)
        else:
            hits = in_documents(retriever.ranking(query, "hybrid", within_depth(depth)), documents)[:depth]
        retrieved = self._rerank(standalone, hits)
        extra = named_sources(query, retrieved, top_k, retriever.snapshot, self.analyzer,
                              self.settings.named_source_chunks, self.settings.named_source_documents)
        if extra:  # the named documents' best passages join the gathered chunks, right after the first top_k
            retrieved = _moved_up(retrieved, top_k, extra)
        gathered = top_k + len(extra)
        intent = understand(standalone, query, self.analyzer)
        part_queries = [(part, retriever.prepare(reading, query.language))
                        for part, reading in zip(intent.parts, part_readings(intent.parts), strict=True)]
        per_part = self.settings.part_source_chunks
        own = part_sources([retriever.hybrid(part_query, top_k) for _, part_query in part_queries] if per_part else [],
                           retrieved, gathered, per_part)
        if own:  # each part's own best passages join the gathered chunks, after the whole question's
            retrieved = _moved_up(retrieved, gathered, own)
            gathered += len(own)
        named = named_chunks(query, retrieved, gathered, retriever.snapshot, self.settings.named_chunks)
        if named:  # a name the question mentions is read where the materials say it
            retrieved = _moved_up(retrieved, gathered, named)
            gathered += len(named)
        pool = retrieved[:gathered]
        evidence = gather(query, intent, pool, retriever.snapshot, self.analyzer)
        parts = []
        # the same candidates, read against each part of the question (a part that points back with its noun)
        for part, part_query in part_queries:
            part_intent = understand(part, part_query, self.analyzer)
            parts.append(Part(part_intent, gather(part_query, part_intent, pool, retriever.snapshot, self.analyzer)))
        return Looked(query, tuple(retrieved), intent, evidence, len(pool), tuple(parts))

    def ranking(self, standalone: str, depth: int, language: str | None = None,
                documents: frozenset[str] | None = None) -> list[ScoredChunk]:
        """The sources of a standalone question in the order an answer lists them, ``depth`` deep: the chunks
        read by their best item (``AnswerEngine.ranking``), then the fused order; with ``documents``, only
        theirs (as ``look`` reads them)."""
        retriever = self.retriever
        looked = self.look(standalone, language, retriever=retriever, documents=documents)
        ranked = self.engine.ranking(looked)
        if depth > len(ranked):
            seen = {hit.chunk.id for hit in ranked}
            fused = retriever.ranking(looked.query, "hybrid", depth if documents is None else within_depth(depth))
            deeper = [hit for hit in in_documents(fused, documents) if hit.chunk.id not in seen]
            ranked += [replace(hit, rank=rank) for rank, hit in enumerate(deeper, start=len(ranked) + 1)]
        return ranked[:depth]

    def ask(
        self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None, debug: bool = False
    ) -> Answer:
        """Answer ``question`` (a follow-up when ``history`` is given), with numbered citations.

        ``debug`` adds each quoted item's score and the reason it was quoted, and the answerability
        signals, to ``meta``.
        """
        return self.respond(question, history, top_k=top_k, debug=debug)

    def respond(
        self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None, streaming: bool = False,
        debug: bool = False, generate: bool = True,
    ) -> Answer:
        """``ask``, reading the model's reply as a stream when ``streaming`` (generative mode only); with
        ``generate`` off, the extractive answer even when a language model is set."""
        earlier = history  # whole: what "kerro lisää" must not quote again is past the search budget's cut
        question, history = prepare_question(question, history, self.settings)
        self.reload_if_changed()
        started = time.perf_counter()
        retriever = self.retriever
        top_k = check_top_k(top_k or self.settings.top_k)
        language = detect_language(question, glossed=retriever.queries.glossary.languages_of)
        genuine = injection_question(question)
        if genuine == "":
            return _refused(not_found_text(language), language, "injection", started)
        asked = genuine or question
        kind = smalltalk_kind(asked, bool(history))
        if kind is not None:
            language = smalltalk_language(asked) or language
            documents = sorted(retriever.snapshot.documents.values(), key=lambda d: (-(d.year or 0), d.title))
            return _refused(smalltalk_text(kind, language, [d.title for d in documents]), language, "smalltalk", started)
        resolution = self.resolve(asked, history, language)
        # a follow-up only by the previous topic's passage ("Vad gör välfärdsområdena nu ...?") asks of no period
        period = self.period(asked, earlier, language, retriever) if resolution.followup and not resolution.by_topic \
            else None
        looked = self.look(resolution.standalone, language, top_k=top_k, retriever=retriever,
                           documents=None if period is None else period.documents)
        said = _said_before(asked, earlier) if resolution.followup else ""
        looked = self.narrowed(looked, said, period, earlier, retriever)
        answer = self.engine.answer(looked, retriever.snapshot, self.analyzer, language, debug=debug)
        if said and answer.status == "not_found":
            answer = replace(answer, text=no_more_text(language), meta={**answer.meta, "refusal": "no_more"})
        answer = _within(period, answer, language)  # "Entä mitä sen jälkeen on tapahtunut?"

        def read_again(standalone: str) -> tuple[Looked, Answer]:
            """Another reading of the question, looked up and answered as the first one was."""
            again = self.look(standalone, language, top_k=top_k, retriever=retriever)
            return again, self.engine.answer(again, retriever.snapshot, self.analyzer, language, debug=debug)

        if resolution.by_topic and _repeats(answer, earlier):
            # Read on the previous topic, the question only got the previous answer's first quote again: a
            # question of its own on the same material ("Which regions are in the pilots?" after "Who funds the
            # project?"), answered as asked unless the materials have nothing for it alone.
            looked_alone, alone = read_again(asked)
            if alone.status != "not_found":
                reason = "stands alone: read as a follow-up it repeated the previous answer's first quote; "
                resolution = replace(resolution, standalone=asked, followup=False, by_topic=False,
                                     reason=reason + resolution.reason)
                looked, answer = looked_alone, alone
        opening, rest = preamble(asked) if answer.status == "not_found" else ("", asked)
        if opening:
            # An opening that asks nothing ("Hei! Olen kunnan hyte-koordinaattori ja valmistelen esitystä.")
            # is read as the turn before the question: carried over only when the question leans on it.
            again = self.resolve(rest, [*history, Turn("user", opening)], language)
            looked_again, second = read_again(again.standalone)
            if second.status != "not_found":
                resolution, looked, answer = again, looked_again, replace(second, meta={**second.meta, "opening": opening})
        standalone = resolution.standalone
        if generate and self.generator is not None and answer.status == "answered":
            sources = Sources(retriever.snapshot, self.analyzer, self.embedder)
            answer = self.generator.answer(
                standalone, answer.retrieved, language, fallback=answer, sources=sources, streaming=streaming
            )
        meta = {
            **answer.meta,
            "status": answer.status,
            "query": standalone,
            "standalone_query": standalone,
            "followup": resolution.followup,
            "followup_reason": resolution.reason,
            "ms": _ms(started),
        }
        if looked.query.finnish:
            meta["query_fi"] = looked.query.finnish  # the glossary's Finnish words for a Swedish or English question
        return replace(answer, meta=meta)

    def period(self, question: str, history: Sequence[Turn], language: str, retriever: Retriever) -> Period | None:
        """For a follow-up that asks what came later or earlier than the previous answer ("Entä mitä sen jälkeen
        on tapahtunut?": ``assistant/timeline.py``), the documents of a later (earlier, the newest) year than the
        source it quoted first; for a request to go on after such a follow-up ("kerro lisää"), that follow-up's;
        None for any other question, or when no year is known of what was quoted."""
        asked = [i for i, turn in enumerate(history) if turn.role == "user" and turn.content.strip()]
        if asks_for_more(question):  # goes on in the period of the follow-up it goes on from
            return self.period(history[asked[-1]].content, history[:asked[-1]], language, retriever) if asked else None
        direction = time_direction(question)
        if not direction:
            return None
        snapshot = retriever.snapshot
        last = next((turn.content for turn in reversed(history) if turn.role == "assistant"), "")
        shown = quoted_documents(last, snapshot, retriever.queries)
        if not shown and asked:  # not quoted word for word: the previous question answered again, as it was
            previous = self.respond(history[asked[-1]].content, history[:asked[-1]], generate=False)
            shown = (tuple(dict.fromkeys(citation.doc_id for citation in previous.citations))
                     or edge_documents(previous.meta, snapshot.documents))
        return beyond(direction, shown, snapshot.documents)

    def narrowed(self, looked: Looked, said: str, period: Period | None, history: Sequence[Turn],
                 retriever: Retriever) -> Looked:
        """``looked`` for a request to go on ("kerro lisää") without what the conversation ``said`` already, and for
        a follow-up asking of ``period`` with its items on the previous topic only (``on_topic``)."""
        if said:
            return _unsaid(looked, said)
        return self.on_topic(looked, history, retriever) if period is not None else looked

    def on_topic(self, looked: Looked, history: Sequence[Turn], retriever: Retriever) -> Looked:
        """``looked`` with only the candidate items that hold, in their own words or their heading, one of the
        previous topic's words: from other years' documents, a follow-up asking later or earlier ("Entä sen
        jälkeen?") is answered on the topic it follows, not by whatever passage of them came first ("EU-vaaleissa
        määritellään ..."); with none left it is not answered."""
        asked = [turn.content for turn in history if turn.role == "user" and turn.content.strip()]
        if not asked:
            return looked
        resolver = FollowupResolver(retriever.queries, retriever.snapshot.keyword, self.analyzer, self.settings)
        holds_topic = resolver.on_topic(resolver.topic_of(asked))
        return _keeping(looked, lambda candidate: holds_topic(f"{candidate.place.heading}\n{candidate.text}"))

    def resolve(self, question: str, history: Sequence[Turn], language: str | None = None) -> Resolution:
        """Whether ``question`` leans on ``history``, and the question to search (``assistant/followup.py``)."""
        retriever = self.retriever
        resolver = FollowupResolver(retriever.queries, retriever.snapshot.keyword, self.analyzer, self.settings)
        return resolver.resolve(question, history, language, generator=self.generator)

    def stream(
        self, question: str, history: Sequence[Turn] = (), *, top_k: int | None = None, debug: bool = False
    ) -> Iterator[str | Answer]:
        """Yield the answer text in pieces, then the complete ``Answer``.

        A model's reply is collected whole first: nothing reaches the user before the citation, link
        and leak checks of ``assistant/generate.py`` have run on the whole answer.
        """
        answer = self.respond(question, history, top_k=top_k, streaming=self.generator is not None, debug=debug)
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


def _repeats(answer: Answer, history: Sequence[Turn]) -> bool:
    """Whether ``answer``'s first quote is in the last answer of ``history`` already."""
    last = next((turn.content for turn in reversed(history) if turn.role == "assistant"), "")
    if answer.status == "not_found" or not answer.citations or not last:
        return False
    return " ".join(answer.citations[0].quote.split()) in " ".join(last.split())


def _said_before(question: str, history: Sequence[Turn]) -> str:
    """What the conversation has quoted, whitespace-collapsed, when ``question`` only asks to go on ("kerro
    lisää"): every earlier answer, so that going on never quotes again what an earlier topic's answer gave;
    else ""."""
    if not asks_for_more(question):
        return ""
    return " ".join(" ".join(turn.content for turn in history if turn.role == "assistant").split())


def _unsaid(looked: Looked, said: str) -> Looked:
    """``looked`` without the candidate items that ``said`` (the earlier answers) quoted already, asking no one
    fact: "kerro lisää" after "Mikä on Etelä-Karjalan väestöpohja?" asks what else the materials say, not the
    number the previous answer gave, so no answer to it is partial for lacking a number."""
    asking = replace(looked, intent=replace(looked.intent, kinds=looked.intent.kinds - FACT_KINDS))
    return _keeping(asking, lambda candidate: " ".join(candidate.text.split()) not in said)


def _keeping(looked: Looked, keep: Callable[[Candidate], bool]) -> Looked:
    """``looked`` with only the candidate items that ``keep`` takes, in the whole question's evidence and in each
    part's."""
    def kept(evidence: Evidence) -> Evidence:
        return replace(evidence, candidates=tuple(c for c in evidence.candidates if keep(c)))

    return replace(looked, evidence=kept(looked.evidence),
                   parts=tuple(replace(part, evidence=kept(part.evidence)) for part in looked.parts))


def _within(period: Period | None, answer: Answer, language: str) -> Answer:
    """An answer from the documents of ``period`` that says which years its quotes are from, or that says the
    materials hold nothing later (earlier) on the topic (without "not found" topics: those would be the other
    years', which were not searched); ``answer`` itself without a period. A partial answer is no answer here:
    its closest quotes come from another year than the fact asked for. A request to go on that found nothing
    more keeps its own reply."""
    if period is None:
        return answer
    meta = {**answer.meta, "period": period.meta()}
    if answer.status != "answered" and meta.get("refusal") != "no_more":
        text = period_refusal(language, period.direction, period.year, len(period.documents), period.newest)
        meta = {key: value for key, value in meta.items() if key != "suggestions"}
        meta["refusal"] = "no_later" if period.direction == LATER else "no_earlier"
        return Answer(text, (), answer.retrieved, True, language, meta=meta, status="not_found")
    lead = lead_line(language) + "\n"
    if answer.text.startswith(lead):
        opening = period_line(language, period.direction, period.year, period.newest)
        answer = replace(answer, text=opening + "\n" + answer.text[len(lead):])
    return replace(answer, meta=meta)


def _refused(text: str, language: str, refusal: str, started: float) -> Answer:
    """A message refused before anything is searched (``refusal``: "injection" or "smalltalk"), with ``text``."""
    answer = Answer(text, (), (), True, language)
    return replace(answer, meta={"query": "", "status": "not_found", "refusal": refusal, "ms": _ms(started)})


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _make_generator(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.llm_base_url:
        return None
    from assistant.generate import Generator

    return Generator(settings)


def _moved_up(retrieved: Sequence[ScoredChunk], at: int, chunks: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """``retrieved`` with ``chunks`` (some of its own, past ``at``) moved to just after its first ``at``,
    ranked anew from 1."""
    ids = {hit.chunk.id for hit in chunks}
    moved = [*retrieved[:at], *chunks, *(hit for hit in retrieved[at:] if hit.chunk.id not in ids)]
    return [replace(hit, rank=rank) for rank, hit in enumerate(moved, start=1)]
