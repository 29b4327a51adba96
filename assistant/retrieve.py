"""Hybrid retrieval: dense (Chroma) + keyword (BM25 over Finnish lemmas), fused into one ranking.

Fusion is a weighted sum of normalised scores by default (dense similarity min-max scaled over the
candidates, BM25 divided by the best BM25 score); weighted reciprocal rank fusion is the alternative.
Score fusion keeps how confident each side is, which ranks short Finnish slide chunks better.
The hybrid ranking then adds the idf-weighted share of the question's content lemmas that each
candidate holds (``COVERAGE_WEIGHT``), so the chunk holding the whole question outranks one that
repeats a part of it.

Both sides return ``ScoredChunk``s with their own scores; the fused list keeps every side's score
in ``ScoredChunk.scores`` and says which retrievers found each chunk.

A ``Retriever`` is built from its parts: the chunks with their keyword index (an index ``Snapshot``,
or a ``ChunkIndex`` of any passages), a vector store and an embedder. The product and the BEIR
evaluation (``eval/beir.py``) search through the same object.

Dense search over an index of up to ``KYSY_DENSE_EXACT_MAX`` chunks compares the question with every
chunk vector of the snapshot (read once from the vector store). Chroma's HNSW graph is approximate,
and the part of it built from its write log at opening differs between processes: the same question
could get a different candidate list in another process, and so could ``make train``'s examples.
Exact search gives every process the same list; a larger index is searched through HNSW.

A chunk's vector averages everything it says, and a question usually asks about one sentence of it. So
the ``SENTENCE_RESCORE`` chunks nearest by their own vector are read again by their sentences' vectors
(each sentence embedded under its title and heading, as ingestion stores it): a chunk's dense score is
``KYSY_DENSE_SENTENCE_WEIGHT`` of its best sentence's similarity plus the rest of its own. Chosen on the
fitted question sets and squad2fi-qa's dev articles (dense recall@1 0.519 -> 0.618 and 0.558 -> 0.755).
Chunks without stored sentences (a ``ChunkIndex`` built without them) keep their own vector's similarity.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

import numpy as np

from assistant.query import SYNONYMS_PATH, Query, QueryBuilder, concept_weights, holds, load_synonyms
from assistant.query_cache import cache_queries
from assistant.translate import load_glossary
from ingest.analyze import Analyzer
from ingest.embed import Embedder
from ingest.keyword import KeywordIndex
from ingest.vectors import VectorStore
from kysy.errors import ConfigError
from kysy.models import Chunk, ScoredChunk
from kysy.settings import Settings

logger = logging.getLogger(__name__)

MAX_TOP_K = 50
# The deepest ranking an evaluation may ask for (``Retriever.ranking``).
MAX_DEPTH = 1000
# How much deeper than usual a ranking is read when only some documents' chunks count (a follow-up asking what
# came later or earlier: ``assistant/timeline.py``).
WITHIN_DEPTH = 4
# Weight of the question's idf-weighted lemma coverage of a chunk, added to the fused score.
COVERAGE_WEIGHT = 1.0
# How many of the chunks nearest by their own vector dense search reads again by their sentences' vectors.
SENTENCE_RESCORE = 100
# How many chunks' sentence vectors a retriever keeps between questions (about 14 kB each).
SENTENCE_CACHE = 4096


def within_depth(depth: int) -> int:
    """How deep a ranking is read when only some documents' chunks count (``in_documents``): ``WITHIN_DEPTH``
    times ``depth``, at most ``MAX_DEPTH``."""
    return min(MAX_DEPTH, depth * WITHIN_DEPTH)


def in_documents(hits: Sequence[ScoredChunk], documents: frozenset[str] | None,
                 files: frozenset[str] = frozenset()) -> list[ScoredChunk]:
    """``hits`` of ``documents`` (ids; or of ``files``, for chunks of another chunking) only, ranked anew from 1;
    all of them, as they are, without ``documents``."""
    if documents is None:
        return list(hits)
    kept = (hit for hit in hits if hit.chunk.doc_id in documents or hit.chunk.file in files)
    return [replace(hit, rank=rank) for rank, hit in enumerate(kept, start=1)]


def check_top_k(top_k: int) -> int:
    """Validate a result count where it enters."""
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be 1..{MAX_TOP_K}, got {top_k}")
    return top_k


class Chunks(Protocol):
    """What retrieval reads of an index: its chunks (row order of the keyword index) and that index."""

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every live chunk; row ``i`` of ``keyword`` is ``chunks[i]``."""
        ...

    @property
    def keyword(self) -> KeywordIndex:
        """The BM25 index over the chunks' lemmas."""
        ...

    @property
    def row_of(self) -> Mapping[str, int]:
        """Chunk id -> its row."""
        ...

    def chunk(self, chunk_id: str) -> Chunk | None:
        """The live chunk with this id, or None."""
        ...

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each chunk's sentence vectors as an (n, d) array; chunks without any are left out."""
        ...


@dataclass(frozen=True)
class ChunkIndex:
    """Chunks and their keyword index held in memory (the ``Chunks`` of passages outside an index), with
    their sentences' vectors where the caller has them (``sentences``: chunk id -> (n, d) array)."""

    chunks: tuple[Chunk, ...]
    keyword: KeywordIndex
    sentences: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    row_of: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_of", {chunk.id: row for row, chunk in enumerate(self.chunks)})

    def chunk(self, chunk_id: str) -> Chunk | None:
        """The chunk with this id, or None."""
        row = self.row_of.get(chunk_id)
        return None if row is None else self.chunks[row]

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The sentence vectors held for these chunks."""
        return {cid: self.sentences[cid] for cid in chunk_ids if cid in self.sentences}


ChunksT = TypeVar("ChunksT", bound=Chunks)


class Retriever(Generic[ChunksT]):
    """Dense, keyword and hybrid search, built from chunks with their keyword index, a vector store
    (None: keyword search only) and an embedder (its question vectors kept in a ``QueryCache``)."""

    def __init__(
        self,
        snapshot: ChunksT,
        vectors: VectorStore | None,
        embedder: Embedder,
        analyzer: Analyzer,
        settings: Settings,
    ) -> None:
        self.snapshot = snapshot
        self.vectors = vectors
        self.embedder = cache_queries(embedder, settings.query_cache_size)
        self.analyzer = analyzer
        self.settings = settings
        self.queries = QueryBuilder(
            snapshot.keyword,
            self.embedder,
            analyzer,
            load_glossary(settings.glossary, settings.vocabulary),
            load_synonyms(settings.synonyms or SYNONYMS_PATH),
        )
        self._exact: tuple[list[Chunk], np.ndarray] | None = None
        self._exact_lock = threading.Lock()
        self._sentences: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._sentences_lock = threading.Lock()

    def prepare(self, text: str, language: str | None = None) -> Query:
        """Embed and analyse a question once (see ``assistant/query.py``); ``language`` is detected when not given."""
        return self.queries.build(text, language)

    def dense(self, query: Query, top_k: int) -> list[ScoredChunk]:
        """Nearest chunks by cosine similarity; ids the index does not list are ignored."""
        return self._dense(query, check_top_k(top_k))

    def keyword(self, query: Query, top_k: int) -> list[ScoredChunk]:
        """Best BM25 matches over the chunks' lemmas."""
        return self._keyword(query, check_top_k(top_k))

    def hybrid(self, query: Query, top_k: int) -> list[ScoredChunk]:
        """Dense and keyword lists fused into one ranking (see ``fuse``), then the coverage re-rank."""
        check_top_k(top_k)
        return self._fused(query, max(self.settings.candidates, top_k))[:top_k]

    def ranking(self, query: Query, mode: str, depth: int) -> list[ScoredChunk]:
        """One retriever's ranking to ``depth`` for evaluation (``top_k`` stops at ``MAX_TOP_K``).

        ``hybrid`` ranks its head exactly as ``hybrid`` does (``candidates`` from each side, fused,
        then coverage); the ranks past the head come from fusing lists ``depth`` deep.
        """
        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be 1..{MAX_DEPTH}, got {depth}")
        if mode == "dense":
            return self._dense(query, depth)
        if mode == "keyword":
            return self._keyword(query, depth)
        if mode != "hybrid":
            raise ValueError(f"unknown retriever {mode!r}: use hybrid, dense or keyword")
        head = self._fused(query, self.settings.candidates)
        if depth <= len(head):
            return head[:depth]
        seen = {hit.chunk.id for hit in head}
        deep = fuse(self._dense(query, depth), self._keyword(query, depth), query_terms=len(query.terms),
                    settings=self.settings)
        tail = [hit for hit in deep if hit.chunk.id not in seen]
        return [replace(hit, rank=rank) for rank, hit in enumerate([*head, *tail][:depth], start=1)]

    def _fused(self, query: Query, depth: int) -> list[ScoredChunk]:
        dense = self._dense(query, depth)
        keyword = self._keyword(query, depth)
        fused = fuse(dense, keyword, query_terms=len(query.terms), settings=self.settings)
        return add_coverage(query, fused, self.snapshot.keyword, self.snapshot.row_of)

    def _dense(self, query: Query, top_k: int) -> list[ScoredChunk]:
        if self.vectors is None:
            raise ConfigError("this retriever has no vector store: keyword search only")
        weight = self.settings.dense_sentence_weight
        depth = max(top_k, SENTENCE_RESCORE) if weight > 0 else top_k
        vector = _unit(query.vector)
        if len(self.snapshot.chunks) <= self.settings.dense_exact_max:
            hits = self._exact_dense(vector, depth)
        else:
            hits = self._store_dense(query, depth)
        return (self._by_sentences(vector, hits, weight) if weight > 0 else hits)[:top_k]

    def _by_sentences(self, vector: np.ndarray, hits: Sequence[ScoredChunk], weight: float) -> list[ScoredChunk]:
        """``hits`` scored again against the question's unit ``vector``: ``weight`` of each chunk's best sentence
        similarity plus the rest of its own (a chunk without sentence vectors keeps its own); best first, ties by
        chunk id."""
        matrices = self._sentence_matrices([hit.chunk.id for hit in hits])
        scored = []
        for hit in hits:
            matrix = matrices.get(hit.chunk.id)
            best = float(np.max(matrix @ vector)) if matrix is not None else hit.score
            scored.append(((1.0 - weight) * hit.score + weight * best, hit.chunk))
        scored.sort(key=lambda pair: (-pair[0], pair[1].id))
        return [ScoredChunk(chunk, score, rank, "dense", (("dense", score),))
                for rank, (score, chunk) in enumerate(scored, start=1)]

    def _sentence_matrices(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray | None]:
        """Each chunk's sentence vectors at unit length (None: it has none), kept for the last
        ``SENTENCE_CACHE`` chunks read."""
        with self._sentences_lock:
            missing = [cid for cid in chunk_ids if cid not in self._sentences]
            if missing:
                found = self.snapshot.sentence_vectors(missing)
                for cid in missing:
                    matrix = found.get(cid)
                    self._sentences[cid] = _unit_rows(matrix) if matrix is not None else None
            result = {}
            for cid in chunk_ids:
                self._sentences.move_to_end(cid)
                result[cid] = self._sentences[cid]
            while len(self._sentences) > max(SENTENCE_CACHE, len(chunk_ids)):
                self._sentences.popitem(last=False)
            return result

    def _store_dense(self, query: Query, top_k: int) -> list[ScoredChunk]:
        """The vector store's nearest chunks (Chroma's HNSW graph: approximate)."""
        assert self.vectors is not None
        hits: list[ScoredChunk] = []
        # Ask for a few extra in case the vector store still holds vectors of an unfinished ingest.
        for chunk_id, similarity in self.vectors.query(query.vector, min(top_k + 10, self._size())):
            chunk = self.snapshot.chunk(chunk_id)
            if chunk is not None:
                hits.append(ScoredChunk(chunk, similarity, len(hits) + 1, "dense", (("dense", similarity),)))
            if len(hits) == top_k:
                break
        return hits

    def _exact_dense(self, vector: np.ndarray, top_k: int) -> list[ScoredChunk]:
        """Every chunk of the snapshot by cosine similarity with the question's unit ``vector`` (ties by chunk id),
        the best ``top_k``."""
        chunks, matrix = self._chunk_vectors()
        if not chunks:
            return []
        similarity = matrix @ vector
        if top_k < len(chunks):  # the best top_k and everything tied with the last of them
            kth = np.partition(similarity, len(chunks) - top_k)[len(chunks) - top_k]
            head = np.flatnonzero(similarity >= kth)
        else:
            head = np.arange(len(chunks))
        order = head[np.lexsort((head, -similarity[head]))][:top_k]  # the chunks are in id order
        return [ScoredChunk(chunks[i], float(similarity[i]), rank, "dense", (("dense", float(similarity[i])),))
                for rank, i in enumerate(order, start=1)]

    def _chunk_vectors(self) -> tuple[list[Chunk], np.ndarray]:
        """The snapshot's chunks that have a stored vector, in chunk-id order (for ties), and those vectors
        at unit length; read from the vector store once."""
        with self._exact_lock:
            if self._exact is None:
                assert self.vectors is not None
                by_id = {chunk.id: chunk for chunk in self.snapshot.chunks}
                ids, matrix = self.vectors.vectors(sorted(by_id))
                self._exact = ([by_id[i] for i in ids], _unit_rows(matrix))
            return self._exact

    def _keyword(self, query: Query, top_k: int) -> list[ScoredChunk]:
        hits = self.snapshot.keyword.search(query.terms, top_k) if query.terms else []
        return [
            ScoredChunk(
                self.snapshot.chunks[hit.row],
                hit.score,
                rank,
                "keyword",
                (("keyword", hit.score), ("matched", float(hit.matched))),
            )
            for rank, hit in enumerate(hits, start=1)
        ]

    def search(self, text: str, top_k: int, mode: str = "hybrid") -> list[ScoredChunk]:
        """Prepare ``text`` and run one retriever by name ("hybrid", "dense" or "keyword")."""
        query = self.prepare(text)
        if mode not in ("hybrid", "dense", "keyword"):
            raise ValueError(f"unknown retriever {mode!r}: use hybrid, dense or keyword")
        result: list[ScoredChunk] = getattr(self, mode)(query, top_k)
        return result

    def _size(self) -> int:
        return max(1, len(self.snapshot.chunks))


def _unit(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """``vector`` as float32 at unit length (a zero vector stays zero)."""
    vector = np.asarray(vector, dtype=np.float32)
    return vector / (np.linalg.norm(vector) or 1.0)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row of ``matrix`` at unit length, as float32 (a zero row stays zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def add_coverage(
    query: Query, fused: Sequence[ScoredChunk], keyword: KeywordIndex, row_of: Mapping[str, int]
) -> list[ScoredChunk]:
    """Add the idf-weighted share of the question's content lemmas each chunk holds, then re-rank.

    BM25 rewards a repeated common term as much as a rare one; the share of the question a
    chunk covers separates the chunk that holds the whole question from one repeating a part.
    ``row_of`` gives each chunk's row in ``keyword``, whose terms are the chunk's.
    """
    if not query.lemmas or COVERAGE_WEIGHT <= 0:
        return list(fused)
    weights = concept_weights(query, keyword)
    total = sum(weights.values())
    forms = sorted({form for lemma in query.lemmas for form in query.variants(lemma)})
    scored = []
    for hit in fused:
        terms = keyword.matched_terms(row_of[hit.chunk.id], forms)
        share = sum(w for lemma, w in weights.items() if holds(query, lemma, terms)) / total
        scored.append(replace(hit, score=hit.score + COVERAGE_WEIGHT * share, scores=(*hit.scores, ("coverage", share))))
    scored.sort(key=lambda hit: (-hit.score, hit.chunk.id))
    return [replace(hit, rank=rank) for rank, hit in enumerate(scored, start=1)]


def fuse(
    dense: Sequence[ScoredChunk],
    keyword: Sequence[ScoredChunk],
    *,
    query_terms: int,
    settings: Settings,
) -> list[ScoredChunk]:
    """Fuse the dense and keyword lists into one ranking (``settings.fusion``: "score" or "rrf").

    The keyword side is trusted in proportion to how much of the question its best hit covers,
    and hits matching less than half of what the best one matches are dropped: a keyword list
    with no real matches (an English question over Finnish text) then cannot push good dense
    hits down.
    """
    best_matched = max((dict(h.scores).get("matched", 0.0) for h in keyword), default=0.0)
    coverage = min(1.0, best_matched / query_terms) if query_terms else 0.0
    keyword = [h for h in keyword if dict(h.scores).get("matched", 0.0) * 2 >= best_matched]
    if settings.fusion == "rrf":
        dense_part = {h.chunk.id: 1.0 / (settings.rrf_k + h.rank) for h in dense}
        keyword_part = {h.chunk.id: 1.0 / (settings.rrf_k + h.rank) for h in keyword}
    else:
        dense_part = _min_max({h.chunk.id: h.score for h in dense})
        best = max((h.score for h in keyword), default=0.0)
        keyword_part = {h.chunk.id: h.score / best for h in keyword} if best > 0 else {}
    keyword_weight = settings.keyword_weight * coverage
    scores: dict[str, float] = {}
    parts: dict[str, dict[str, float]] = {}
    chunks = {}
    for hit in (*dense, *keyword):
        cid = hit.chunk.id
        chunks[cid] = hit.chunk
        parts.setdefault(cid, {}).update(hit.scores)
        scores[cid] = settings.dense_weight * dense_part.get(cid, 0.0) + keyword_weight * keyword_part.get(cid, 0.0)
    ordered = sorted(scores, key=lambda cid: (-scores[cid], cid))
    fused: list[ScoredChunk] = []
    for rank, cid in enumerate(ordered, start=1):
        found_by = "+".join(name for name in ("dense", "keyword") if name in parts[cid])
        fused.append(ScoredChunk(chunks[cid], scores[cid], rank, found_by, tuple(sorted(parts[cid].items()))))
    return fused


def _min_max(scores: dict[str, float]) -> dict[str, float]:
    """Scale scores to 0..1 over the candidates (all 1.0 when they are equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high - low < 1e-9:
        return dict.fromkeys(scores, 1.0)
    return {cid: (value - low) / (high - low) for cid, value in scores.items()}
