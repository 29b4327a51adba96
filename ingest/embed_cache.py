"""An on-disk cache of embeddings keyed by model and text hash.

Re-ingesting, resuming an interrupted run and re-running a benchmark re-embed nothing that
was embedded before. Vectors are stored as float32 blobs in SQLite, committed per batch so
work done before a crash is kept.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ingest.embed import Embedder, SpanEmbedder
from kysy.errors import StorageError
from kysy.models import content_hash

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
"""


class EmbeddingCache:
    """Embeds through ``embedder``, remembering every vector in a SQLite file."""

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the embedding cache {path}: {exc}") from exc

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _lookup(self, hashes: Sequence[str], model: str | None = None) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            batch = unique[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                [model or self.embedder.name, *batch],
            )
            for text_hash, blob in rows:
                found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def embed_passages(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Return an (n, dim) matrix for ``texts``, embedding only what the cache lacks.

        ``progress`` is called with the number of texts finished after every batch.
        """
        hashes = [content_hash(text) for text in texts]
        found = self._lookup(hashes)
        missing = [i for i, h in enumerate(hashes) if h not in found]
        missing = list({hashes[i]: i for i in missing}.values())
        if progress and len(texts) - len(missing):
            progress(len(texts) - len(missing))
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            vectors = self.embedder.embed_passages([texts[i] for i in batch])
            self._write([(self.embedder.name, hashes[i], vectors[j].tobytes()) for j, i in enumerate(batch)])
            for j, i in enumerate(batch):
                found[hashes[i]] = vectors[j]
            if progress:
                progress(len(batch))
        matrix = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        for i, text_hash in enumerate(hashes):
            matrix[i] = found[text_hash]
        return matrix

    def embed_passages_with_spans(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and their span vectors (late chunking), embedding only passages whose
        vector or span vectors the cache lacks.

        A span's vector depends on the whole passage, so it is keyed by the passage and the span
        (under ``<model>+span``); the passage vector is the plain one (same key as
        ``embed_passages``).
        """
        embedder = self.embedder
        if not isinstance(embedder, SpanEmbedder):
            raise TypeError(f"embedder {embedder.name} cannot pool span vectors")
        span_model = f"{embedder.name}+span"
        hashes = [content_hash(text) for text in texts]
        span_hashes = [[_span_hash(text, span) for span in text_spans] for text, text_spans in zip(texts, spans, strict=True)]
        found = self._lookup(hashes)
        found_spans = self._lookup([h for row in span_hashes for h in row], span_model)
        missing = [i for i in range(len(texts))
                   if hashes[i] not in found or any(h not in found_spans for h in span_hashes[i])]
        if progress and len(texts) - len(missing):
            progress(len(texts) - len(missing))
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            vectors, span_vectors = embedder.embed_passages_with_spans([texts[i] for i in batch], [spans[i] for i in batch])
            rows = [(embedder.name, hashes[i], vectors[j].tobytes()) for j, i in enumerate(batch)]
            rows += [(span_model, h, span_vectors[j][k].tobytes())
                     for j, i in enumerate(batch) for k, h in enumerate(span_hashes[i])]
            self._write(rows)
            for j, i in enumerate(batch):
                found[hashes[i]] = vectors[j]
                found_spans.update(zip(span_hashes[i], span_vectors[j], strict=True))
            if progress:
                progress(len(batch))
        matrix = np.stack([found[h] for h in hashes]) if texts else np.zeros((0, embedder.dim), np.float32)
        per_text = [np.stack([found_spans[h] for h in row]) if row else np.zeros((0, embedder.dim), np.float32)
                    for row in span_hashes]
        return matrix.astype(np.float32), per_text

    def _write(self, rows: list[tuple[str, str, bytes]]) -> None:
        try:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
            self._db.commit()
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write the embedding cache {self.path}: {exc}") from exc


def _span_hash(text: str, span: tuple[int, int]) -> str:
    return content_hash(f"{span[0]}:{span[1]}\0{text}")
