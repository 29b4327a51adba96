"""The dense side of the index: a Chroma collection (embedded or server) with cosine distance.

We always compute vectors ourselves and give Chroma our own embedding function, so Chroma's
downloading default is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ingest.embed import ChromaEmbeddingFunction, Embedder
from kysy.errors import ConfigError, StorageError
from kysy.models import Chunk
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# Chroma rejects very large single writes; stay well under its batch limit.
_WRITE_BATCH = 2000


# Chroma takes 3 to 512 characters of [a-zA-Z0-9._-] that start and end with a letter or digit; names are kept
# to 60 (as they always were), so a long embedder name (a model's path) is cut.
_NAME_LENGTH = 60


def collection_name(settings: Settings, embedder: Embedder) -> str:
    """One collection per embedder, so vectors of different models never mix. A name past ``_NAME_LENGTH`` (a
    sentence-transformers model named by a long path) is cut and ends in a hash of the whole embedder name: cut
    alone it could end in "-", which Chroma refuses, and two models in one deep directory would share it."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", embedder.name).strip("-").lower()
    name = f"{settings.collection}-{slug}"
    if len(name) <= _NAME_LENGTH:
        return name
    digest = hashlib.sha256(embedder.name.encode("utf-8")).hexdigest()[:8]
    return f"{name[: _NAME_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"


def make_client(settings: Settings) -> Any:
    """A PersistentClient under the data dir, or an HttpClient when ``KYSY_CHROMA_URL`` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"KYSY_CHROMA_URL must be http(s)://host:port, got {settings.chroma_url!r}")
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            return chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises plain exceptions for connection failures
            raise StorageError(f"cannot reach the Chroma server at {settings.chroma_url}: {exc}") from exc
    try:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as exc:
        raise StorageError(f"cannot open the vector store at {settings.chroma_path}: {exc}") from exc


class VectorStore:
    """Chunk vectors in one Chroma collection."""

    def __init__(self, settings: Settings, embedder: Embedder, client: Any | None = None) -> None:
        self._client = client if client is not None else make_client(settings)
        self.name = collection_name(settings, embedder)
        # where a write failed, for the user: the Chroma server or the directory on a disk that may be full
        self.location = settings.chroma_url or str(settings.chroma_path)
        self._collection = self._client.get_or_create_collection(
            name=self.name,
            embedding_function=ChromaEmbeddingFunction(embedder),
            metadata={"hnsw:space": "cosine", "embedder": embedder.name},
        )

    def ids(self) -> set[str]:
        """Every chunk id stored in the collection."""
        return set(self._collection.get(include=[])["ids"])

    def count(self) -> int:
        """How many vectors the collection holds."""
        return int(self._collection.count())

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks with their vectors (idempotent: ids are deterministic).

        Raises:
            StorageError: the store cannot be written (a full disk, a read-only directory).
        """
        for start in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[start : start + _WRITE_BATCH]
            with _writing(self.name, self.location):
                self._collection.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[start : start + len(part)],
                    documents=[c.text for c in part],
                    metadatas=[_metadata(c) for c in part],
                )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove vectors by chunk id (raises StorageError as ``upsert``)."""
        ids = list(ids)
        for start in range(0, len(ids), _WRITE_BATCH):
            with _writing(self.name, self.location):
                self._collection.delete(ids=ids[start : start + _WRITE_BATCH])

    def vectors(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of ``ids`` (those the collection holds, in ``ids`` order) as float32 rows."""
        wanted = list(ids)
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), _WRITE_BATCH):
            result = self._collection.get(ids=wanted[start : start + _WRITE_BATCH], include=["embeddings"])
            found.update(zip(result["ids"], result["embeddings"], strict=True))
        kept = [chunk_id for chunk_id in wanted if chunk_id in found]
        if not kept:
            return [], np.zeros((0, 0), dtype=np.float32)
        return kept, np.array([found[chunk_id] for chunk_id in kept], dtype=np.float32)

    def query(self, vector: np.ndarray, top_k: int) -> list[tuple[str, float]]:
        """Nearest chunks to ``vector`` as (chunk id, cosine similarity), best first."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        result = self._collection.query(
            query_embeddings=[vector], n_results=top_k, include=["distances"]
        )
        ids = result["ids"][0]
        distances = result["distances"][0] if result.get("distances") else [1.0] * len(ids)
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(ids, distances, strict=False)]


@contextlib.contextmanager
def _writing(name: str, location: str) -> Iterator[None]:
    """Chroma's own errors (a full disk comes as an InternalError) as a StorageError for the user, naming the
    store's directory (or server) so that a full disk says which one."""
    from chromadb.errors import ChromaError

    try:
        yield
    except ChromaError as exc:
        raise StorageError(f"cannot write the vector store {location} ({name}): {exc}") from exc


def _metadata(chunk: Chunk) -> dict[str, str | int]:
    meta: dict[str, str | int] = {
        "doc_id": chunk.doc_id,
        "file": chunk.file,
        "title": chunk.title,
        "heading": chunk.heading,
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    return meta
