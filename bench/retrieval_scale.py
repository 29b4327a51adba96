"""Query cost of hybrid retrieval (query embedding + dense + keyword + fusion) as the index grows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
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
            "dense_p50_ms": median(self.dense_ms),
            "keyword_p50_ms": median(self.keyword_ms),
            "snapshot_load_s": self.load_s,
        }


def _timed(func: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = func()
    return result, (time.perf_counter() - started) * 1000


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
    total, prepare, dense, keyword = [], [], [], []
    try:
        for _ in range(rounds):
            for question in questions:
                began = time.perf_counter()
                query, prepare_ms = _timed(lambda q=question: retriever.prepare(q))
                retriever.hybrid(query, depth)  # type: ignore[arg-type]
                total.append((time.perf_counter() - began) * 1000)
                prepare.append(prepare_ms)
                _, dense_ms = _timed(lambda q=query: retriever.dense(q, depth))  # type: ignore[arg-type]
                _, keyword_ms = _timed(lambda q=query: retriever.keyword(q, depth))  # type: ignore[arg-type]
                dense.append(dense_ms)
                keyword.append(keyword_ms)
    finally:
        snapshot.close()
    return RetrievalTiming(len(snapshot.chunks), total, prepare, dense, keyword, load_s)
