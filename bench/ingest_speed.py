"""Ingestion speed: is ingestion embedding-bound, and how fast is a re-run over an unchanged corpus?

``ingest_throughput`` runs a full ``ingest --rebuild`` with an EMPTY embedding cache, then runs the
raw embedder alone on exactly the texts the pipeline embedded (chunk ``embed_text`` + sentences + the
sentences under their title and heading, ``ingest.pipeline.in_context``, deduplicated as the cache does,
in batches of ``embed_batch_size``; with late chunking the sentences come from their chunk's pass, so only
the chunks are embedded). Their ratio says how much of ingestion is embedding. ``reingest_unchanged`` times
the no-op run over 1,000 small documents.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.finlex import finlex_records, write_documents
from ingest.chunk import chunk_document, split_sentences
from ingest.embed import Embedder, SpanEmbedder, make_embedder
from ingest.embed_cache import EmbeddingCache
from ingest.load import load_file
from ingest.pipeline import ingest_paths, passage_texts
from ingest.store import Snapshot
from kysy.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throughput:
    """One corpus ingested from scratch next to the raw embedder on the same texts."""

    label: str
    documents: int
    pages: int
    chunks: int
    sentences: int
    texts: int
    ingest_s: float
    raw_chunks_s: float
    raw_sentences_s: float

    @property
    def raw_s(self) -> float:
        """Seconds the raw embedder needed for every text."""
        return self.raw_chunks_s + self.raw_sentences_s

    @property
    def ratio(self) -> float:
        """Ingest throughput as a share of raw embedding throughput (1.0 = purely embedding-bound)."""
        return self.raw_s / self.ingest_s if self.ingest_s else float("nan")

    def to_json(self) -> dict[str, object]:
        """Counts, seconds and rates."""
        return {
            "label": self.label, "documents": self.documents, "pages": self.pages, "chunks": self.chunks,
            "sentences": self.sentences, "texts": self.texts, "ingest_s": self.ingest_s,
            "raw_embed_s": self.raw_s, "chunks_per_s": self.chunks / self.ingest_s,
            "pages_per_s": self.pages / self.ingest_s, "texts_per_s": self.texts / self.ingest_s,
            "raw_texts_per_s": self.texts / self.raw_s,
            "raw_sentences_per_s": self.sentences / self.raw_sentences_s if self.raw_sentences_s else None,
            "raw_chunks_per_s": self.chunks / self.raw_chunks_s if self.raw_chunks_s else None,
            "ratio": self.ratio,
        }


def _embedded_texts(settings: Settings) -> tuple[list[str], list[str], int, int]:
    """Unique chunk texts and sentence texts in the index (each sentence alone and, where it has a context vector,
    under its title and heading), as the pipeline embedded them; documents, pages."""
    snapshot = Snapshot(settings.index_path)
    try:
        stored = snapshot.sentences([chunk.id for chunk in snapshot.chunks])
        items = [item for rows in stored.values() for item in rows]
        chunk_texts, sentence_texts, context = passage_texts(snapshot.chunks, [item.sentence for item in items])
        sentence_texts += [text for text, item in zip(context, items, strict=True) if item.context is not None]
        pages = sum(info.pages for info in snapshot.documents.values())
        documents = len(snapshot.documents)
    finally:
        snapshot.close()
    unique_chunks = list(dict.fromkeys(chunk_texts))
    seen = set(unique_chunks)
    unique_sentences = [t for t in dict.fromkeys(sentence_texts) if t not in seen]
    return unique_chunks, unique_sentences, documents, pages


def _raw_seconds(embedder: Embedder, texts: Sequence[str], batch_size: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        embedder.embed_passages(texts[start : start + batch_size])
    return time.perf_counter() - started


def ingest_throughput(
    label: str, paths: Sequence[Path], workdir: Path, base: Settings,
    progress: Callable[[str], None] = lambda _: None,
) -> Throughput:
    """Ingest ``paths`` from scratch (empty embedding cache), then embed the same texts raw."""
    data_dir = workdir / f"ingest-{label}"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = base.model_copy(update={"data_dir": data_dir, "embed_cache": data_dir / "empty-cache.sqlite"})
    embedder = make_embedder(settings.embedder, threads=settings.embed_thread_count)
    embedder.embed_passages(["lämmittely"])  # load and warm the model outside both timings
    late = settings.late_chunking and isinstance(embedder, SpanEmbedder)
    progress(f"{label}: ingest --rebuild with an empty embedding cache")
    report = ingest_paths(settings, list(paths), rebuild=True, embedder=embedder)
    chunk_texts, sentence_texts, documents, pages = _embedded_texts(settings)
    progress(f"{label}: raw embedder on the same {len(chunk_texts) + (0 if late else len(sentence_texts))} texts")
    raw_chunks = _raw_seconds(embedder, chunk_texts, settings.embed_batch_size)
    raw_sentences = 0.0 if late else _raw_seconds(embedder, sentence_texts, settings.embed_batch_size)
    texts = len(chunk_texts) + (0 if late else len(sentence_texts))
    return Throughput(label, documents, pages, len(chunk_texts), len(sentence_texts), texts, report.seconds,
                      raw_chunks, raw_sentences)


class _RandomEmbedder:
    """Stands in for the real model when only the cache needs filling: seeded random unit vectors."""

    def __init__(self, name: str, dim: int, version: str = "") -> None:
        self.name, self.dim, self.version = name, dim, version  # filed under the real model's key
        self._rng = np.random.default_rng(11)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Random unit vectors, one per text."""
        vectors = self._rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Same as passages."""
        return self.embed_passages(texts)


def prewarm_cache(settings: Settings, paths: Sequence[Path]) -> int:
    """Fill the embedding cache for the texts ingestion will embed, without running the model.

    Only the first ingest of the re-ingest benchmark uses these vectors; nothing answers from them.
    """
    real = make_embedder(settings.embedder, threads=settings.embed_thread_count)
    texts: list[str] = []
    for path in paths:
        document = load_file(path, name=path.name, info=None, settings=settings)
        chunks = chunk_document(
            document, target_words=settings.chunk_target_words, max_words=settings.chunk_max_words,
            min_words=settings.chunk_min_words, overlap_words=settings.chunk_overlap_words,
        )
        for part in passage_texts(chunks, [sentence for chunk in chunks for sentence in split_sentences(chunk)]):
            texts += part
    stand_in = _RandomEmbedder(real.name, real.dim, getattr(real, "version", ""))
    cache = EmbeddingCache(settings.embed_cache_path, stand_in)  # type: ignore[arg-type]
    try:
        cache.embed_passages(texts, batch_size=512)
    finally:
        cache.close()
    return len(texts)


def reingest_unchanged(
    workdir: Path, base: Settings, *, documents: int = 1000, words: int = 60,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, float]:
    """Time ``kysy ingest`` (the CLI, a fresh process) over an unchanged corpus of small documents."""
    corpus = workdir / f"reingest-{documents}"
    shutil.rmtree(corpus, ignore_errors=True)
    paths = write_documents(finlex_records(documents), corpus / "docs", max_words=words)
    settings = base.model_copy(update={"data_dir": corpus / "data", "embed_cache": None})
    progress(f"re-ingest: {len(paths)} documents of <= {words} words; pre-warming the embedding cache")
    texts = prewarm_cache(settings, paths)
    first = ingest_paths(settings, [corpus / "docs"])
    progress(f"re-ingest: first ingest {first.seconds:.1f} s ({first.chunks} chunks); timing the unchanged re-run")
    in_process = ingest_paths(settings, [corpus / "docs"])
    argv = [str(Path(sys.executable).parent / "kysy"), "--data-dir", str(settings.data_dir), "ingest",
            str(corpus / "docs"), "--json"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    cli_s = time.perf_counter() - started
    return {"documents": len(paths), "texts_prewarmed": texts, "chunks": first.chunks,
            "first_ingest_s": first.seconds, "unchanged_in_process_s": in_process.seconds,
            "unchanged_cli_s": cli_s, "unchanged_files": len(in_process.unchanged)}
