"""Synthetic large indexes made of real Finlex chunks, written without embedding anything new.

An index of N chunks holds the B base chunks (real text, real analysis, real vectors) and then
copies of them: copy r of chunk b keeps b's text, drops about 10 % of its index terms at random
and takes b's vector plus a small Gaussian perturbation (sigma 0.01 per dimension, renormalised;
cosine to the original about 0.98). Copies have their own ids, documents and files, so both the
keyword index and the vector index really hold N entries. Files are written through
``IndexStore.commit`` and ``VectorStore.upsert`` exactly as ingestion writes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from bench.finlex import BaseChunk
from ingest.embed import Embedder, embedder_key
from ingest.pipeline import PIPELINE_VERSION
from ingest.store import SCHEMA_VERSION, FileBundle, FileRecord, IndexStore
from ingest.vectors import VectorStore
from kysy.settings import Settings

logger = logging.getLogger(__name__)

NOISE_SIGMA = 0.01
TERM_KEEP = 0.9
_MARKER = "scale-index.json"


@dataclass(frozen=True)
class ScaleIndex:
    """A built index: its settings (data dir), size and how long building took (0 when reused)."""

    settings: Settings
    chunks: int
    base: int
    build_s: float
    reused: bool


def _copy_id(kind: str, original: str, replica: int) -> str:
    return hashlib.sha256(f"{kind}\x00{original}\x00{replica}".encode()).hexdigest()[:24]


def perturbed(vectors: np.ndarray, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> np.ndarray:
    """``vectors`` plus Gaussian noise, each row renormalised to unit length."""
    noisy = vectors + rng.normal(0.0, sigma, vectors.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def _bundles(base: list[BaseChunk], replica: int, rng: np.random.Generator) -> list[FileBundle]:
    """One FileBundle per base document for copy ``replica`` (copy 0 is the original)."""
    by_doc: dict[str, list[BaseChunk]] = {}
    for item in base:
        by_doc.setdefault(item.document.id, []).append(item)
    bundles = []
    for doc_id, items in by_doc.items():
        doc = items[0].document
        new_doc = doc if replica == 0 else replace(
            doc, id=_copy_id("doc", doc_id, replica), file=f"copy{replica}/{doc.file}"
        )
        chunks, terms, sentences, sentence_terms = [], [], [], []
        for item in items:
            chunk = item.chunk if replica == 0 else replace(
                item.chunk, id=_copy_id("chunk", item.chunk.id, replica), doc_id=new_doc.id, file=new_doc.file
            )
            chunks.append(chunk)
            kept = item.terms if replica == 0 else tuple(
                t for t, keep in zip(item.terms, rng.random(len(item.terms)) < TERM_KEEP, strict=True) if keep
            )
            terms.append(kept)
            sentences += [replace(s, chunk_id=chunk.id) for s in item.sentences]
            sentence_terms += list(item.sentence_terms)
        record = FileRecord(new_doc.file, "/scale", f"/scale/{new_doc.file}", len(doc.text), 0,
                            doc.content_hash, new_doc.id)
        bundles.append(FileBundle(record, new_doc, tuple(chunks), tuple(terms), tuple(sentences),
                                  tuple(sentence_terms), None))
    return bundles


def _marker(settings: Settings, size: int, base: int) -> dict[str, object]:
    return {"chunks": size, "base": base, "sigma": NOISE_SIGMA, "keep": TERM_KEEP,
            "schema": SCHEMA_VERSION, "pipeline": PIPELINE_VERSION, "chroma_url": settings.chroma_url}


def build_scale_index(
    settings: Settings, base: list[BaseChunk], vectors: np.ndarray, size: int, *,
    embedder: Embedder, analyzer_name: str, seed: int = 7, reuse: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ScaleIndex:
    """Write an index of ``size`` chunks into ``settings.data_dir`` (reused when already built alike)."""
    marker_path = settings.data_dir / _MARKER
    wanted = _marker(settings, size, len(base))
    if reuse and marker_path.exists() and json.loads(marker_path.read_text()) == wanted:
        return ScaleIndex(settings, size, len(base), 0.0, True)
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    replicas = -(-size // len(base))
    all_bundles: list[FileBundle] = []
    store_vectors = VectorStore(settings, embedder)
    for replica in range(replicas):
        need = min(len(base), size - replica * len(base))
        bundles = _bundles(base[:need], replica, rng)
        block = vectors[:need] if replica == 0 else perturbed(vectors[:need], rng)
        store_vectors.upsert([c for b in bundles for c in b.chunks], block)
        all_bundles += bundles
        if progress:
            progress(f"scale index {size}: vectors {min(size, (replica + 1) * len(base))}/{size}")
    meta = {"pipeline": PIPELINE_VERSION, "embedder": embedder_key(embedder), "analyzer": analyzer_name, "chunking": (
        f"{settings.chunk_target_words}/{settings.chunk_max_words}/"
        f"{settings.chunk_min_words}/{settings.chunk_overlap_words}")}
    store = IndexStore(settings.index_path)
    try:
        store.commit(remove=[], add=all_bundles, meta=meta)
    finally:
        store.close()
    marker_path.write_text(json.dumps(wanted))
    return ScaleIndex(settings, size, len(base), time.perf_counter() - started, False)

