"""BEIR-style retrieval evaluation: passages, queries and qrels from files, no answering.

The passages get their own Chroma collection under ``<data_dir>/beir/<dataset-hash>/`` and two
in-memory BM25 indexes (lemmas and raw tokens). Passage embeddings go through the on-disk
``EmbeddingCache`` at ``<data_dir>/beir/embeddings.sqlite``, committed per batch, so an interrupted
run resumes where it stopped and a second run embeds nothing. ``bm25-lemma``, ``dense`` and
``hybrid`` are the product's own ``Retriever`` (``assistant/retrieve.py``) built over the passages:
questions are prepared as the product prepares them, and ``hybrid`` ranks as the product's fusion does (the
answer engine, which orders an answer's first sources by their best item, needs stored items: not here).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.query import Query
from assistant.retrieve import ChunkIndex, Retriever
from eval.metrics import mrr_at_k, ndcg_at_k, recall_at_k
from ingest.analyze import Analyzer, make_analyzer
from ingest.embed import Embedder, make_embedder
from ingest.embed_cache import EmbeddingCache
from ingest.keyword import KeywordIndex
from ingest.vectors import VectorStore
from kysy.errors import KysyError
from kysy.models import Chunk, ScoredChunk, content_hash
from kysy.settings import Settings

logger = logging.getLogger(__name__)

BEIR_RETRIEVERS = ("bm25-raw", "bm25-lemma", "dense", "hybrid")
RECALL_KS = (1, 3, 5, 10, 20, 100)
RANKED_DEPTH = 100
# With --limit, the corpus keeps the limited queries' gold passages plus this many others.
LIMIT_DISTRACTORS = 2000

Progress = Callable[[str, int, int], None]


class BeirDataError(KysyError):
    """A BEIR file is missing or malformed; the message names the file and line."""

    code = "beir_data_error"


@dataclass(frozen=True)
class BeirDataset:
    """Passages, queries and graded relevance judgements of one retrieval benchmark."""

    passage_ids: tuple[str, ...]
    passage_texts: tuple[str, ...]
    query_ids: tuple[str, ...]
    query_texts: tuple[str, ...]
    qrels: dict[str, dict[str, int]]
    note: str = ""

    @property
    def fingerprint(self) -> str:
        """A short hash of the passage ids and texts: names the dataset's Chroma directory."""
        digest = hashlib.sha256()
        for pid, text in zip(self.passage_ids, self.passage_texts, strict=True):
            digest.update(pid.encode("utf-8") + b"\0" + text.encode("utf-8") + b"\0")
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class BeirResult:
    """Metrics per retriever, the ranked passage ids per (retriever, query) and dataset sizes."""

    metrics: dict[str, dict[str, float]]
    ranked: dict[str, dict[str, list[str]]]
    queries: int
    passages: int
    note: str


def _read_jsonl(path: Path) -> list[tuple[str, str]]:
    """Read ``{"id", "text"}`` lines (extra keys ignored)."""
    if not path.is_file():
        raise BeirDataError(f"file not found: {path}")
    records: list[tuple[str, str]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                pid, text = str(record["id"]), str(record["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BeirDataError(f"{path}, line {number}: expected {{\"id\", \"text\"}}: {exc}") from None
            records.append((pid, text))
    return records


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read ``query_id<TAB>passage_id<TAB>relevance`` lines after a header line."""
    if not path.is_file():
        raise BeirDataError(f"file not found: {path}")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows, None)
        for number, row in enumerate(rows, start=2):
            if not row:
                continue
            try:
                qid, pid, relevance = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise BeirDataError(f"{path}, line {number}: expected query_id, passage_id, relevance") from None
            qrels.setdefault(qid, {})[pid] = relevance
    return qrels


def load_beir(
    corpus: Path, queries: Path, qrels: Path, limit: int | None = None, distractors: int = LIMIT_DISTRACTORS
) -> BeirDataset:
    """Load a BEIR dataset; queries without a relevant passage in the qrels are left out.

    With ``limit`` only the first ``limit`` queries are kept and the corpus shrinks to their
    relevant passages plus the first ``distractors`` others.
    """
    if limit is not None and limit < 1:
        raise BeirDataError(f"--limit must be >= 1, got {limit}")
    judged = read_qrels(qrels)
    passages = _read_jsonl(corpus)
    known = {pid for pid, _ in passages}
    asked = [
        (qid, text) for qid, text in _read_jsonl(queries)
        if any(rel > 0 and pid in known for pid, rel in judged.get(qid, {}).items())
    ]
    note = ""
    if limit is not None:
        asked = asked[:limit]
        gold = {pid for qid, _ in asked for pid, rel in judged[qid].items() if rel > 0}
        others = [pid for pid, _ in passages if pid not in gold][:distractors]
        keep = gold | set(others)
        passages = [(pid, text) for pid, text in passages if pid in keep]
        note = (f"--limit {limit}: {len(asked)} queries over their {len(gold)} relevant passages "
                f"plus the first {len(others)} others ({len(passages)} passages)")
    if not asked:
        raise BeirDataError(f"no query in {queries} has a relevant passage in {qrels}")
    return BeirDataset(
        passage_ids=tuple(pid for pid, _ in passages),
        passage_texts=tuple(text for _, text in passages),
        query_ids=tuple(qid for qid, _ in asked),
        query_texts=tuple(text for _, text in asked),
        qrels={qid: judged[qid] for qid, _ in asked},
        note=note,
    )


class BeirIndex:
    """The dataset indexed three ways: Chroma vectors, BM25 over lemmas, BM25 over raw tokens."""

    def __init__(
        self,
        dataset: BeirDataset,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        analyzer: Analyzer | None = None,
        progress: Progress | None = None,
        dense: bool = True,
    ) -> None:
        """Index ``dataset``; with ``dense=False`` (keyword retrievers only) nothing is embedded."""
        self.dataset = dataset
        self.settings = settings
        self.embedder = embedder or make_embedder(settings.embedder, threads=settings.embed_thread_count)
        self.analyzer = analyzer or make_analyzer(settings.analyzer)
        self.chunks = tuple(_as_chunk(pid, text) for pid, text in zip(
            dataset.passage_ids, dataset.passage_texts, strict=True))
        self.embedded = 0
        report = progress or (lambda stage, advance, total: None)
        self.lemma_index = self._keyword_index(self.analyzer.terms, "analyse", report)
        self._queries: dict[str, Query] = {}
        self.raw_index = KeywordIndex.build(
            [self.analyzer.tokens(text) for text in dataset.passage_texts],
            k1=settings.bm25_k1, b=settings.bm25_b,
        )
        self.vectors = self._vector_store(report) if dense else None
        self.retriever = Retriever(
            ChunkIndex(self.chunks, self.lemma_index), self.vectors, self.embedder, self.analyzer, settings
        )

    def _keyword_index(self, terms: Callable[[str], list[str]], stage: str, report: Progress) -> KeywordIndex:
        total = len(self.dataset.passage_texts)
        docs: list[list[str]] = []
        for text in self.dataset.passage_texts:
            docs.append(terms(text))
            if len(docs) % 500 == 0 or len(docs) == total:
                report(stage, 500 if len(docs) % 500 == 0 else len(docs) % 500, total)
        return KeywordIndex.build(docs, k1=self.settings.bm25_k1, b=self.settings.bm25_b)

    def _vector_store(self, report: Progress) -> VectorStore:
        total = len(self.chunks)
        counting = CountingEmbedder(self.embedder)
        cache = EmbeddingCache(self.settings.data_dir / "beir" / "embeddings.sqlite", counting)
        try:
            vectors = cache.embed_passages(
                [chunk.text for chunk in self.chunks],
                batch_size=self.settings.embed_batch_size,
                progress=lambda done: report("embed", done, total),
            )
        finally:
            cache.close()
        self.embedded = counting.passages
        store_settings = self.settings.model_copy(update={
            "data_dir": self.settings.data_dir / "beir" / self.dataset.fingerprint,
            "chroma_url": "",
            "collection": "beir",
        })
        store = VectorStore(store_settings, self.embedder)
        if store.count() != total:
            store.upsert(list(self.chunks), vectors)
        return store

    def rank(self, retriever: str, query_text: str, depth: int = RANKED_DEPTH) -> list[str]:
        """The ``depth`` best passage ids for a query by one retriever."""
        return [hit.chunk.id for hit in self.search(retriever, query_text, depth)[:depth]]

    def search(self, retriever: str, query_text: str, depth: int) -> list[ScoredChunk]:
        """Run one retriever by name; raises ValueError for an unknown name."""
        if retriever == "bm25-raw":
            tokens = self.analyzer.tokens(query_text)
            hits = self.raw_index.search(tokens, depth) if tokens else []
            return [
                ScoredChunk(self.chunks[hit.row], hit.score, rank, "bm25-raw",
                            (("bm25-raw", hit.score), ("matched", float(hit.matched))))
                for rank, hit in enumerate(hits, start=1)
            ]
        modes = {"bm25-lemma": "keyword", "dense": "dense", "hybrid": "hybrid"}
        if retriever not in modes:
            raise ValueError(f"unknown retriever {retriever!r}: use {', '.join(BEIR_RETRIEVERS)}")
        return self.retriever.ranking(self._query(query_text), modes[retriever], depth)

    def _query(self, text: str) -> Query:
        """The question prepared as the product prepares it (embedded only when vectors are indexed)."""
        query = self._queries.get(text)
        if query is None:
            query = self._queries[text] = self.retriever.queries.build(text, embed=self.vectors is not None)
        return query


class CountingEmbedder:
    """Delegates to an embedder and counts the passages it really embedded (cache misses)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.name = embedder.name
        self.version = getattr(embedder, "version", "")
        self.dim = embedder.dim
        self.passages = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document texts and count them."""
        self.passages += len(texts)
        return self._embedder.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (not counted)."""
        return self._embedder.embed_queries(texts)


def _as_chunk(pid: str, text: str) -> Chunk:
    """A passage as a Chunk, so the product's fusion works on it unchanged."""
    return Chunk(pid, pid, pid, "", text, None, "", 0, len(text), content_hash(text))


def score_ranking(ranked: Sequence[str], judged: dict[str, int]) -> dict[str, float]:
    """Recall@k, MRR@10 and nDCG@10 of one ranked id list against one query's judgements."""
    relevant = {pid for pid, rel in judged.items() if rel > 0}
    hits = [pid in relevant for pid in ranked]
    scores = {f"recall@{k}": recall_at_k(hits, k) for k in RECALL_KS}
    scores["mrr@10"] = mrr_at_k(hits, 10)
    scores["ndcg@10"] = ndcg_at_k(hits, 10, n_relevant=len(relevant))
    return scores


def evaluate(
    index: BeirIndex,
    retrievers: Sequence[str],
    *,
    progress: Progress | None = None,
) -> BeirResult:
    """Rank every query with every retriever and average the metrics over queries."""
    report = progress or (lambda stage, advance, total: None)
    dataset = index.dataset
    metrics: dict[str, dict[str, float]] = {}
    ranked: dict[str, dict[str, list[str]]] = {}
    total = len(dataset.query_ids) * len(retrievers)
    for name in retrievers:
        ranked[name] = {}
        sums: dict[str, float] = {}
        for qid, text in zip(dataset.query_ids, dataset.query_texts, strict=True):
            ids = index.rank(name, text)
            ranked[name][qid] = ids
            for key, value in score_ranking(ids, dataset.qrels[qid]).items():
                sums[key] = sums.get(key, 0.0) + value
            report("search", 1, total)
        metrics[name] = {key: round(value / len(dataset.query_ids), 4) for key, value in sums.items()}
    return BeirResult(metrics, ranked, len(dataset.query_ids), len(dataset.passage_ids), dataset.note)
