"""The Finlex scale corpus: documents written as text files, and real chunks with cached vectors.

Statutes of 2024 and Supreme Administrative Court decisions 2021-2025 (CC BY 4.0, Finlex /
Oikeusministeriö) are interleaved so every sample holds both kinds of text. Chunks are made by the
same loader and chunker as ingestion; their vectors are embedded once and kept in an embedding
cache under ``bench/cache`` (git-ignored), so later runs embed nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np

from ingest.analyze import Analyzer
from ingest.chunk import chunk_document, split_sentences
from ingest.embed import Embedder
from ingest.embed_cache import EmbeddingCache
from ingest.load import load_file
from kysy.models import Chunk, Document, Sentence
from kysy.settings import Settings

logger = logging.getLogger(__name__)

FINLEX_DIR = Path("/work/shared/scale-corpus/finlex")
FINLEX_FILES = ("statutes_2024.jsonl", "kho_decisions_2021_2025.jsonl")
CACHE_DIR = Path(__file__).resolve().parent / "cache"


@dataclass(frozen=True)
class FinlexRecord:
    """One Finlex document: a statute or a court decision."""

    id: str
    title: str
    text: str


@dataclass(frozen=True)
class BaseChunk:
    """A real chunk of Finlex text with its analysis, ready to be copied into a synthetic index."""

    chunk: Chunk
    document: Document
    terms: tuple[str, ...]
    sentences: tuple[Sentence, ...]
    sentence_terms: tuple[tuple[str, ...], ...]


def _read(path: Path) -> Iterator[FinlexRecord]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            title = str(row.get("title") or row["id"]).strip()
            text = str(row.get("text") or row.get("abstract") or "").strip()
            if text:
                yield FinlexRecord(str(row["id"]), title, text)


def finlex_records(limit: int | None = None, directory: Path = FINLEX_DIR) -> list[FinlexRecord]:
    """Statutes and decisions interleaved (statute, decision, statute, ...), the first ``limit``."""
    streams = [_read(directory / name) for name in FINLEX_FILES]
    records: list[FinlexRecord] = []
    for group in zip_longest(*streams):
        for record in group:
            if record is not None:
                records.append(record)
                if limit is not None and len(records) >= limit:
                    return records
    return records


def write_documents(records: list[FinlexRecord], dest: Path, *, max_words: int | None = None) -> list[Path]:
    """Write records as ``.txt`` files (title on the first line), optionally cut to ``max_words``."""
    dest.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for record in records:
        words = record.text.split()
        body = " ".join(words[:max_words]) if max_words else record.text
        name = re.sub(r"[^a-zA-Z0-9-]+", "-", record.id).strip("-") or "doc"
        path = dest / f"{name}.txt"
        path.write_text(f"{record.title}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def base_chunks(
    settings: Settings, analyzer: Analyzer, count: int, workdir: Path,
    progress: Callable[[str], None] | None = None,
) -> list[BaseChunk]:
    """The first ``count`` chunks of the interleaved corpus, loaded and chunked as ingestion does."""
    found: list[BaseChunk] = []
    records = iter(finlex_records())
    while len(found) < count:
        record = next(records, None)
        if record is None:
            break
        [path] = write_documents([record], workdir)
        document = load_file(path, name=path.name, info=None, settings=settings)
        chunks = chunk_document(
            document,
            target_words=settings.chunk_target_words,
            max_words=settings.chunk_max_words,
            min_words=settings.chunk_min_words,
            overlap_words=settings.chunk_overlap_words,
        )
        for chunk in chunks[: count - len(found)]:
            sentences = tuple(split_sentences(chunk))
            found.append(BaseChunk(
                chunk=chunk,
                document=document,
                terms=tuple(analyzer.terms(f"{chunk.heading}\n{chunk.text}")),
                sentences=sentences,
                sentence_terms=tuple(tuple(sorted(analyzer.content_lemmas(s.text))) for s in sentences),
            ))
        if progress and len(found) % 200 < len(chunks):
            progress(f"finlex base chunks: {len(found)}/{count}")
    return found


def base_vectors(
    chunks: list[BaseChunk], embedder: Embedder, *, cache_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Real passage vectors of the chunks, embedded once and kept in the bench's embedding cache."""
    path = cache_path or CACHE_DIR / "embeddings.sqlite"
    cache = EmbeddingCache(path, embedder)
    total = len(chunks)
    done = [0]

    def report(n: int) -> None:
        done[0] += n
        if progress and (done[0] % 64 < n or done[0] == total):
            progress(f"embedding finlex base chunks: {done[0]}/{total}")

    try:
        return cache.embed_passages([b.chunk.embed_text for b in chunks], batch_size=16, progress=report)
    finally:
        cache.close()
