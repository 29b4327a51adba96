"""Query cost of hybrid retrieval (query embedding + dense + keyword + fusion) as the index grows."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from assistant.retrieve import Retriever
from bench.report import median, percentile
from ingest.analyze import Analyzer
from ingest.embed import Embedder
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalTiming:
    """Latencies (ms) of one index: the whole hybrid query and its parts, plus snapshot load time."""

    chunks: int
    total_ms: list[float]
    prepare_ms: list[float]
    search_ms: list[float]
    dense_ms: list[float]
    keyword_ms: list[float]
    load_s: float

    def summary(self) -> dict[str, float]:
        """p50/p95 of the total and p50 of each part."""
        return {
            "chunks": self.chunks,
            "p50_ms": median(self.total_ms),
            "p95_ms": percentile(self.total_ms, 95),
            "prepare_p50_ms": median(self.prepare_ms),
            "search_p50_ms": median(self.search_ms),
            "search_p95_ms": percentile(self.search_ms, 95),
            "dense_p50_ms": median(self.dense_ms),
            "keyword_p50_ms": median(self.keyword_ms),
            "snapshot_load_s": self.load_s,
        }


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def time_retrieval(
    settings: Settings, embedder: Embedder, analyzer: Analyzer, questions: list[str], *,
    rounds: int = 3, warmup: int = 5,
) -> RetrievalTiming:
    """Time ``Retriever.hybrid`` (including ``prepare``, i.e. the query embedding) over the questions.

    Each round asks every question once; the first ``warmup`` queries are not counted.
    """
    started = time.perf_counter()
    snapshot = Snapshot(settings.index_path)
    load_s = time.perf_counter() - started
    retriever = Retriever(snapshot, VectorStore(settings, embedder), embedder, analyzer, settings)
    depth = max(settings.candidates, settings.top_k)
    for question in questions[:warmup]:
        retriever.hybrid(retriever.prepare(question), depth)
    total: list[float] = []
    prepare: list[float] = []
    search: list[float] = []
    dense: list[float] = []
    keyword: list[float] = []
    try:
        for _ in range(rounds):
            for question in questions:
                began = time.perf_counter()
                query = retriever.prepare(question)
                prepare.append(_ms(began))
                searched = time.perf_counter()
                retriever.hybrid(query, depth)
                search.append(_ms(searched))
                total.append(_ms(began))
                started = time.perf_counter()
                retriever.dense(query, depth)
                dense.append(_ms(started))
                started = time.perf_counter()
                retriever.keyword(query, depth)
                keyword.append(_ms(started))
    finally:
        snapshot.close()
    return RetrievalTiming(len(snapshot.chunks), total, prepare, search, dense, keyword, load_s)
