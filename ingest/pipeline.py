"""Incremental ingestion: scan -> load -> chunk -> analyse -> embed -> write, under one writer lock.

Unchanged files are skipped by size/mtime and content hash; changed files replace their chunks;
files gone from a scanned directory are removed from both indexes. The database commit is the
single point where the new index becomes visible, so an interrupted run leaves the previous
index fully usable and the next run finishes the work (embeddings already computed are cached).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ingest.analyze import Analyzer, make_analyzer
from ingest.chunk import chunk_document, split_sentences
from ingest.embed import Embedder, SpanEmbedder, embedder_key, make_embedder
from ingest.embed_cache import EmbeddingCache
from ingest.integrity import check_index, move_aside
from ingest.load import SUPPORTED_SUFFIXES, SourceInfo, load_catalog, load_file
from ingest.lock import writer_lock
from ingest.store import FileBundle, FileRecord, IndexStore
from ingest.vectors import VectorStore
from kysy.errors import IndexDamagedError, KysyError
from kysy.models import Chunk, Sentence
from kysy.settings import Settings

logger = logging.getLogger(__name__)

# Bump when a change to loading, chunking or analysis makes old index rows stale.
PIPELINE_VERSION = "7"
METADATA_FILES = {"sources.json"}


# Receives progress of a stage with a known total: (stage, advance, total); the CLI draws bars.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SourceFile:
    """A file found by the scan, with its catalog entry."""

    name: str
    root: Path
    path: Path
    info: SourceInfo | None


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be ingested, and why."""

    file: str
    error: str


@dataclass(frozen=True)
class SkippedFile:
    """A file in a scanned directory that ingest leaves out on purpose (not a failure), and why."""

    file: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """The outcome of one ingestion run."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[FailedFile, ...] = ()
    chunks: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default=())
    skipped: tuple[SkippedFile, ...] = ()
    reembedded: int = 0

    def to_json(self) -> dict[str, object]:
        """The ``kysy ingest --json`` object."""
        return {
            "added": list(self.added),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "removed": list(self.removed),
            "failed": [{"file": f.file, "error": f.error} for f in self.failed],
            "skipped": [{"file": f.file, "reason": f.reason} for f in self.skipped],
            "reembedded": self.reembedded,
            "warnings": list(self.warnings),
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
        }


def scan(paths: Sequence[Path]) -> tuple[list[SourceFile], set[Path], list[SkippedFile]]:
    """Find ingestible files under ``paths``; returns them, the directories scanned whole and the files
    in those directories that are left out with a reason a user should see."""
    found: dict[str, SourceFile] = {}
    roots: set[Path] = set()
    skipped: list[SkippedFile] = []
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            roots.add(path)
            catalog = load_catalog(path)
            for file in _walk(path):
                if _expected_extra(file, path, catalog):
                    continue
                name = file.relative_to(path).as_posix()
                reason = _skip_reason(file, path)
                if reason:
                    skipped.append(SkippedFile(name, reason))
                else:
                    found[name] = SourceFile(name, path, file, catalog.get(name))
        elif path.is_file():
            catalog = load_catalog(path.parent)
            found[path.name] = SourceFile(path.name, path.parent, path, catalog.get(path.name))
        else:
            raise KysyError(f"no such file or directory: {given}")
    return list(found.values()), roots, skipped


def _walk(root: Path) -> list[Path]:
    """The files under ``root``, in path order, found without descending into hidden folders (an upload's
    staging folder among them) and without failing on a folder that disappears meanwhile (``os.walk``
    passes over a folder it cannot list, as ``rglob`` passed over one it may not read)."""
    found: list[Path] = []
    for folder, folders, files in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found.extend(Path(folder, name) for name in files if not name.startswith("."))
    return sorted(found)


def _expected_extra(file: Path, root: Path, catalog: dict[str, SourceInfo]) -> bool:
    """Whether ``file`` is left out without a word: a directory, a hidden file, the corpus's metadata."""
    relative = file.relative_to(root)
    if any(part.startswith(".") for part in relative.parts) or not file.is_file() or file.name in METADATA_FILES:
        return True
    # A corpus described by sources.json keeps its own README as documentation, not as a document.
    is_readme = file.name.lower() == "readme.md" and len(relative.parts) == 1
    return bool(is_readme and catalog and relative.as_posix() not in catalog)


def _skip_reason(file: Path, root: Path) -> str | None:
    """Why ingest leaves ``file`` out (the report lists it as skipped, not failed), or None to ingest it."""
    if file.is_symlink() and not file.resolve().is_relative_to(root):
        logger.warning("skipping %s: a link that points outside %s", file, root)
        return f"a link that points outside {root}"
    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
        return f"unsupported file type {file.suffix.lower() or '(no suffix)'!r}"
    return None


def printable_name(name: str) -> str:
    """A file name as text: the bytes of a name that is not UTF-8 (kept by the file system's surrogate escapes)
    shown as U+FFFD, so that it can be logged, listed and sent as JSON."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _unreadable(name: str, exc: Exception) -> FailedFile:
    """The failure of a file that could not be read for a reason no loader gives on purpose (a file gone
    since the scan, a parser's own error), logged with its traceback for the operator."""
    shown = printable_name(name)
    if shown != name:  # bytes that are no UTF-8 (a name copied from an old share): nothing can quote it
        reason = f"{shown}: the file name is not UTF-8; rename the file to index it"
    else:
        reason = f"{name}: could not be read ({type(exc).__name__}: {exc})"
    logger.warning("skipping %s", reason)
    logger.debug("reading %s failed", shown, exc_info=exc)
    return FailedFile(shown, reason)


def _fingerprint(settings: Settings, analyzer: Analyzer, embedder_name: str, late: bool) -> dict[str, str]:
    chunking = (
        f"{settings.chunk_target_words}/{settings.chunk_max_words}/"
        f"{settings.chunk_min_words}/{settings.chunk_overlap_words}"
    )
    return {
        "pipeline": PIPELINE_VERSION, "embedder": embedder_name, "analyzer": analyzer.name, "chunking": chunking,
        "sentence_vectors": "late" if late else "apart",
    }


def file_hash(path: Path) -> str:
    """The hex SHA-256 of a file's bytes, read a block at a time (what the manifest compares)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Bring the index up to date with the files under ``paths``.

    ``embedder`` is ``KYSY_EMBEDDER``'s by default; a running server passes one of its own, so that
    its questions never wait for the ingest's embedding. Chunks of the index whose vectors the vector
    store lacks (a backup restored without ``chroma/``) are embedded again, also when no file changed.
    With ``rebuild``, a damaged index is moved aside and built anew.

    Raises:
        IndexLockedError: another ingest is running.
        IndexDamagedError: the index database is damaged (and ``rebuild`` is not given).
        StorageError: the data directory cannot be written.
    """
    started = time.perf_counter()
    with writer_lock(settings.lock_path):
        run = _Run(settings, progress, embedder, rebuild=rebuild)
        report = run.execute(paths, rebuild=rebuild)
    return replace(report, seconds=time.perf_counter() - started)


class _Run:
    """One ingestion run (held under the writer lock)."""

    def __init__(
        self, settings: Settings, progress: Progress | None, embedder: Embedder | None = None, *, rebuild: bool = False
    ) -> None:
        self.settings = settings
        self.progress = progress or (lambda stage, advance, total: None)
        self.notes: list[str] = []
        self.store = self._open_index(rebuild)
        self.analyzer = make_analyzer(settings.analyzer)
        self.embedder = embedder or make_embedder(settings.embedder, threads=settings.embed_thread_count)
        self.late = settings.late_chunking and isinstance(self.embedder, SpanEmbedder)

    def _open_index(self, rebuild: bool) -> IndexStore:
        """The index to write; a damaged one is refused, or with ``rebuild`` moved aside for a new one."""
        path = self.settings.index_path
        try:
            check_index(path)
        except IndexDamagedError as exc:
            if not rebuild:
                raise
            logger.warning("%s", exc)
            self.notes.append(f"the index was damaged: moved it aside to {move_aside(path).name} and built it anew")
        return IndexStore(path)

    def execute(self, paths: Sequence[Path], *, rebuild: bool) -> IngestReport:
        files, roots, skipped = scan(paths)
        manifest = self.store.files()
        meta = _fingerprint(self.settings, self.analyzer, embedder_key(self.embedder), self.late)
        stored_meta = self.store.meta()
        stale = rebuild or any(stored_meta.get(k) != v for k, v in meta.items())
        todo, unchanged, unread = self._changed(files, manifest, stale)
        removed = sorted(
            name for name, rec in manifest.items()
            if name not in {f.name for f in files} and (Path(rec.root) in roots or rebuild)
        )
        bundles, failed = self._process(todo)
        failed = [*unread, *failed]
        vectors = VectorStore(self.settings, self.embedder)
        old_ids = self.store.chunk_ids([*removed, *(b.record.file for b in bundles)])
        indexed = self.store.chunk_ids()
        reembedded = self._restore_vectors(vectors, indexed - old_ids)
        self.store.record_failures({f.file: f.error for f in failed})
        if not bundles and not removed and not stale:
            if reembedded:
                self.store.renew_generation()
            return IngestReport(
                unchanged=tuple(unchanged), failed=tuple(failed), chunks=len(indexed),
                warnings=tuple(self.notes), skipped=tuple(skipped), reembedded=reembedded,
            )
        self._embed_and_upsert(bundles, vectors)
        self.store.commit(remove=removed, add=bundles, meta=meta)
        live = self.store.chunk_ids()
        vectors.delete(sorted((old_ids | vectors.ids()) - live))
        added = tuple(b.record.file for b in bundles if b.record.file not in manifest)
        updated = tuple(b.record.file for b in bundles if b.record.file in manifest)
        return IngestReport(
            added, updated, tuple(unchanged), tuple(removed), tuple(failed), len(live), warnings=tuple(self.notes),
            skipped=tuple(skipped), reembedded=reembedded,
        )

    def _restore_vectors(self, vectors: VectorStore, kept: set[str]) -> int:
        """Embed again the ``kept`` chunks of the index whose vectors the vector store lacks (a backup restored
        without ``chroma/``, a store removed by hand): without them the dense side finds nothing. They come
        from the index's own rows, so the documents need not be read again, and mostly from the embedding
        cache. Returns how many were embedded."""
        missing = kept - vectors.ids()
        if not missing:
            return 0
        chunks = self.store.chunks(missing)
        logger.warning("the vector store %s lacks %d chunks of the index; embedding them again",
                       vectors.location, len(chunks))
        cache = EmbeddingCache(self.settings.embed_cache_path, self.embedder)
        try:
            matrix = cache.embed_passages(
                [c.embed_text for c in chunks], batch_size=self.settings.embed_batch_size,
                progress=lambda n: self.progress("embed", n, len(chunks)),
            )
        finally:
            cache.close()
        vectors.upsert(chunks, matrix)
        return len(chunks)

    def _changed(
        self, files: list[SourceFile], manifest: dict[str, FileRecord], stale: bool
    ) -> tuple[list[tuple[SourceFile, FileRecord]], list[str], list[FailedFile]]:
        """The files to (re)ingest, those unchanged, and those that could not be read (gone since the scan)."""
        todo: list[tuple[SourceFile, FileRecord]] = []
        unchanged: list[str] = []
        unread: list[FailedFile] = []
        for source in files:
            try:
                stat = source.path.stat()
                old = manifest.get(source.name)
                if old and not stale and old.same_stat(stat):
                    unchanged.append(source.name)
                    continue
                digest = file_hash(source.path)
            except OSError as exc:
                unread.append(_unreadable(source.name, exc))
                continue
            record = FileRecord(
                source.name, str(source.root), str(source.path), stat.st_size, stat.st_mtime_ns, digest, ""
            )
            if old and not stale and old.content_hash == digest:
                unchanged.append(source.name)
            else:
                todo.append((source, record))
        return todo, unchanged, unread

    def _process(
        self, todo: list[tuple[SourceFile, FileRecord]]
    ) -> tuple[list[FileBundle], list[FailedFile]]:
        bundles: list[FileBundle] = []
        failed: list[FailedFile] = []
        for source, record in todo:
            try:
                bundles.append(self._bundle(source, record))
            except KysyError as exc:
                logger.warning("skipping %s: %s", source.name, exc)
                failed.append(FailedFile(source.name, str(exc)))
            except Exception as exc:  # a loader's own failure costs this file, never the rest of the run
                failed.append(_unreadable(source.name, exc))
            self.progress("parse", 1, len(todo))
        return bundles, failed

    def _bundle(self, source: SourceFile, record: FileRecord) -> FileBundle:
        s = self.settings
        document = load_file(source.path, name=source.name, info=source.info, settings=s)
        chunks = tuple(
            chunk_document(
                document,
                target_words=s.chunk_target_words,
                max_words=s.chunk_max_words,
                min_words=s.chunk_min_words,
                overlap_words=s.chunk_overlap_words,
            )
        )
        if not chunks:
            raise KysyError(f"{source.name}: no text to index")
        sentences = tuple(sentence for chunk in chunks for sentence in split_sentences(chunk))
        return FileBundle(
            record=replace(record, doc_id=document.id),
            document=document,
            chunks=chunks,
            chunk_terms=tuple(tuple(self.analyzer.terms(f"{c.heading}\n{c.text}")) for c in chunks),
            sentences=sentences,
            sentence_terms=tuple(tuple(sorted(self.analyzer.content_lemmas(x.text))) for x in sentences),
            sentence_vectors=None,
        )

    def _embed_and_upsert(self, bundles: list[FileBundle], vectors: VectorStore) -> None:
        chunks = [c for b in bundles for c in b.chunks]
        cache = EmbeddingCache(self.settings.embed_cache_path, self.embedder)
        try:
            if self.late:
                chunk_vectors, sentence_vectors = self._embed_late(bundles, cache)
                context_vectors = None  # a pooled vector is already read in its chunk
            else:
                chunk_vectors, sentence_vectors, context_vectors = self._embed_apart(bundles, cache)
        finally:
            cache.close()
        vectors.upsert(chunks, chunk_vectors)
        offset = 0
        for i, bundle in enumerate(bundles):
            n = len(bundle.sentences)
            bundles[i] = replace(
                bundle, sentence_vectors=sentence_vectors[offset : offset + n],
                context_vectors=None if context_vectors is None else context_vectors[offset : offset + n],
            )
            offset += n

    def _embed_apart(
        self, bundles: list[FileBundle], cache: EmbeddingCache
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chunks, then every sentence again on its own and once more under its title and heading."""
        chunk_texts, own, context = passage_texts([c for b in bundles for c in b.chunks],
                                                  [x for b in bundles for x in b.sentences])
        texts = chunk_texts + own + context
        total = len(texts)
        matrix = cache.embed_passages(
            texts, batch_size=self.settings.embed_batch_size, progress=lambda n: self.progress("embed", n, total)
        )
        split = len(chunk_texts) + len(own)
        return matrix[: len(chunk_texts)], matrix[len(chunk_texts) : split], matrix[split:]

    def _embed_late(self, bundles: list[FileBundle], cache: EmbeddingCache) -> tuple[np.ndarray, np.ndarray]:
        """Chunks, each sentence's vector pooled from its chunk's token states (one pass)."""
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        for bundle in bundles:
            by_chunk: dict[str, list[tuple[int, int]]] = {c.id: [] for c in bundle.chunks}
            for sentence in bundle.sentences:
                by_chunk[sentence.chunk_id].append((sentence.start, sentence.end))
            for chunk in bundle.chunks:
                # Sentence offsets are into chunk.text, which ends the embedded text.
                shift = len(chunk.embed_text) - len(chunk.text)
                texts.append(chunk.embed_text)
                spans.append([(start + shift, end + shift) for start, end in by_chunk[chunk.id]])
        total = len(texts)
        chunk_vectors, per_chunk = cache.embed_passages_with_spans(
            texts, spans, batch_size=self.settings.embed_batch_size, progress=lambda n: self.progress("embed", n, total)
        )
        # Sentences are stored in chunk order within each file, as split_sentences made them.
        rows: list[np.ndarray] = []
        at = 0
        for bundle in bundles:
            order = {c.id: at + k for k, c in enumerate(bundle.chunks)}
            seen: dict[str, int] = {}
            for sentence in bundle.sentences:
                k = seen.get(sentence.chunk_id, 0)
                rows.append(per_chunk[order[sentence.chunk_id]][k])
                seen[sentence.chunk_id] = k + 1
            at += len(bundle.chunks)
        dim = self.embedder.dim
        return chunk_vectors, np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)


def passage_texts(chunks: Sequence[Chunk], sentences: Sequence[Sentence]) -> tuple[list[str], list[str], list[str]]:
    """What ingestion embeds as passages when sentences are embedded apart: each chunk's ``embed_text``, each
    sentence alone, and each sentence in its context (``in_context``), in the order given."""
    titles = {c.id: c.title for c in chunks}
    return ([c.embed_text for c in chunks], [x.text for x in sentences],
            [in_context(titles.get(x.chunk_id, ""), x) for x in sentences])


def in_context(title: str, sentence: Sentence) -> str:
    """A sentence as its context vector reads it: its document's title and its heading first, as a chunk's
    embedded text has them, so a slide line or a list item carries its slide's or section's subject."""
    context = " > ".join(part for part in (title, sentence.heading) if part and part != sentence.text)
    return f"{context}\n{sentence.text}" if context else sentence.text
