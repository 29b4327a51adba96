"""The index database: file manifest, pages, chunks, sentences and the keyword index, in one SQLite file.

Every ingestion writes its changes in ONE transaction, so a crash or kill at any point leaves
either the previous index or the new one, never a mix. Chroma (the dense side) is written before
that commit and cleaned after it; readers only trust chunk ids that this database lists.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, ValuesView
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.integrity import damaged, is_damage
from ingest.keyword import KeywordIndex
from kysy.errors import IndexNotBuiltError, StorageError
from kysy.models import Chunk, Document, DocumentInfo, Page, Sentence

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
# The meta key holding the files the last ingest could not index, with the reasons (JSON).
FAILED_KEY = "failed_files"
# A line that ends no sentence, word for word in this many documents of one format and in this share of them, is
# the site's template (``Snapshot.template_lines``).
TEMPLATE_DOCUMENTS = 3
TEMPLATE_SHARE = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    file TEXT PRIMARY KEY, root TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, content_hash TEXT NOT NULL, doc_id TEXT NOT NULL, title TEXT NOT NULL,
    url TEXT, kind TEXT NOT NULL, year INTEGER, publisher TEXT, pages INTEGER NOT NULL,
    warnings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL, ord INTEGER NOT NULL, number INTEGER, text TEXT NOT NULL, flags TEXT NOT NULL,
    PRIMARY KEY (doc_id, ord)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, file TEXT NOT NULL, ord INTEGER NOT NULL, title TEXT NOT NULL,
    text TEXT NOT NULL, page INTEGER, heading TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    content_hash TEXT NOT NULL, terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks (file, ord);
CREATE TABLE IF NOT EXISTS sentences (
    chunk_id TEXT NOT NULL, ord INTEGER NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, is_list_item INTEGER NOT NULL, heading TEXT NOT NULL, terms TEXT NOT NULL,
    vector BLOB, context BLOB, PRIMARY KEY (chunk_id, ord)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    """What the manifest remembers of one ingested file."""

    file: str
    root: str
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    doc_id: str

    def same_stat(self, stat: os.stat_result) -> bool:
        """Whether a file's size and modification time are the remembered ones: unchanged without reading it
        (when they differ, its hash decides)."""
        return (self.size, self.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class FileBundle:
    """Everything one (re)ingested file contributes to the index."""

    record: FileRecord
    document: Document
    chunks: tuple[Chunk, ...]
    chunk_terms: tuple[tuple[str, ...], ...]
    sentences: tuple[Sentence, ...]
    sentence_terms: tuple[tuple[str, ...], ...]
    sentence_vectors: np.ndarray | None
    context_vectors: np.ndarray | None = None  # each sentence read under its title and heading (``in_context``)


@dataclass(frozen=True)
class StoredSentence:
    """A sentence with its precomputed analysis and (optional) vectors: its own, and read in its context."""

    sentence: Sentence
    terms: tuple[str, ...]
    vector: np.ndarray | None
    context: np.ndarray | None = None


# The sentences table's is_list_item column says what kind of unit a sentence is.
_PROSE, _LIST_ITEM, _HEADING = 0, 1, 2


def _kind_code(sentence: Sentence) -> int:
    if sentence.is_heading:
        return _HEADING
    return _LIST_ITEM if sentence.is_list_item else _PROSE


def _blob(vectors: np.ndarray | None, row: int) -> bytes | None:
    return None if vectors is None else vectors[row].astype(np.float16).tobytes()


def _vector(blob: bytes | None) -> np.ndarray | None:
    return None if blob is None else np.frombuffer(blob, dtype=np.float16).astype(np.float32)


def _has_context(db: sqlite3.Connection) -> bool:
    """Whether the index's sentences table has the context vector column."""
    return "context" in {row[1] for row in db.execute("PRAGMA table_info(sentences)")}


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class IndexStore:
    """Read/write access to the index database (the writer side is used under the ingest lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = _connect(path)
            self._db.executescript(_SCHEMA)
            if not _has_context(self._db):  # an index written before sentences had a context vector
                self._db.execute("ALTER TABLE sentences ADD COLUMN context BLOB")
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the index {path}: {exc}") from exc

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def meta(self) -> dict[str, str]:
        """All meta keys (embedder, analyzer, chunking fingerprint, generation...)."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def files(self) -> dict[str, FileRecord]:
        """The manifest: file name -> record."""
        rows = self._db.execute(
            "SELECT file, root, path, size, mtime_ns, content_hash, doc_id FROM files"
        ).fetchall()
        return {row[0]: FileRecord(*row) for row in rows}

    def chunk_ids(self, files: Iterable[str] | None = None) -> set[str]:
        """Ids of the live chunks (of the given files, or all)."""
        if files is None:
            return {row[0] for row in self._db.execute("SELECT id FROM chunks")}
        ids: set[str] = set()
        for name in files:
            ids.update(row[0] for row in self._db.execute("SELECT id FROM chunks WHERE file = ?", (name,)))
        return ids

    def chunks(self, ids: Iterable[str]) -> list[Chunk]:
        """The stored chunks with these ids (those the index holds), in file and position order."""
        wanted = set(ids)
        rows = self._db.execute(
            'SELECT id, doc_id, file, title, text, page, heading, start, "end", content_hash, ord FROM chunks '
            "ORDER BY file, ord"
        )
        return [Chunk(*row) for row in rows if row[0] in wanted]

    def renew_generation(self) -> int:
        """Commit a new generation number and nothing else, so that servers open the index again (their
        retrievers read the chunk vectors once per generation).

        Raises:
            StorageError: the database could not be written.
        """
        with self._transaction():
            generation = int(self.meta().get("generation", "0")) + 1
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (str(generation),))
        return generation

    def record_failures(self, failed: Mapping[str, str]) -> None:
        """Keep the files the last ingest could not index, with each reason (``FAILED_KEY`` of the meta), so
        that the admin list can say why after a restart too; no new generation.

        Raises:
            StorageError: the database could not be written.
        """
        value = json.dumps(dict(sorted(failed.items())), ensure_ascii=False)
        if self.meta().get(FAILED_KEY, "{}") == value:
            return
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (FAILED_KEY, value))

    def commit(self, *, remove: Sequence[str], add: Sequence[FileBundle], meta: dict[str, str]) -> int:
        """Replace the given files' rows and rebuild the keyword index, atomically.

        Returns:
            The new generation number.
        Raises:
            StorageError: the database could not be written (disk full, read-only...).
        """
        with self._transaction():
            for name in {*remove, *(bundle.record.file for bundle in add)}:
                self._delete_file(name)
            for bundle in add:
                self._insert(bundle)
            self._write_keyword_index()
            generation = int(self.meta().get("generation", "0")) + 1
            for key, value in {**meta, "generation": str(generation), "schema": SCHEMA_VERSION}.items():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        return generation

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed when the block ends, rolled back when it fails.

        Raises:
            StorageError: the database could not be written (disk full, read-only...).
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise StorageError(f"cannot write the index {self.path}: {exc}") from exc

    def _delete_file(self, name: str) -> None:
        row = self._db.execute("SELECT doc_id FROM files WHERE file = ?", (name,)).fetchone()
        self._db.execute(
            "DELETE FROM sentences WHERE chunk_id IN (SELECT id FROM chunks WHERE file = ?)", (name,)
        )
        self._db.execute("DELETE FROM chunks WHERE file = ?", (name,))
        if row:
            self._db.execute("DELETE FROM pages WHERE doc_id = ?", (row[0],))
        self._db.execute("DELETE FROM files WHERE file = ?", (name,))

    def _insert(self, bundle: FileBundle) -> None:
        rec, doc = bundle.record, bundle.document
        self._db.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (rec.file, rec.root, rec.path, rec.size, rec.mtime_ns, rec.content_hash, doc.id, doc.title,
             doc.url, doc.kind, doc.year, doc.publisher, len(doc.pages), json.dumps(list(doc.warnings))),
        )
        self._db.executemany(
            "INSERT INTO pages VALUES (?,?,?,?,?)",
            [(doc.id, i, p.number, p.text, json.dumps(list(p.flags))) for i, p in enumerate(doc.pages)],
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(c.id, c.doc_id, c.file, c.ord, c.title, c.text, c.page, c.heading, c.start, c.end,
              c.content_hash, " ".join(terms)) for c, terms in zip(bundle.chunks, bundle.chunk_terms, strict=True)],
        )
        vectors, contexts = bundle.sentence_vectors, bundle.context_vectors
        self._db.executemany(
            "INSERT OR REPLACE INTO sentences VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(s.chunk_id, s.ord, s.text, s.start, s.end, _kind_code(s), s.heading, " ".join(terms),
              _blob(vectors, i), _blob(contexts, i))
             for i, (s, terms) in enumerate(zip(bundle.sentences, bundle.sentence_terms, strict=True))],
        )

    def _write_keyword_index(self) -> None:
        rows = self._db.execute("SELECT id, terms FROM chunks ORDER BY file, ord").fetchall()
        index = KeywordIndex.build([terms.split() for _, terms in rows])
        self._db.execute("INSERT OR REPLACE INTO blobs VALUES ('keyword', ?)", (index.to_bytes(),))
        ids = json.dumps([cid for cid, _ in rows]).encode()
        self._db.execute("INSERT OR REPLACE INTO blobs VALUES ('keyword_ids', ?)", (ids,))


class ChunkTerms(Mapping[str, tuple[str, ...]]):
    """Chunk id -> index terms of the snapshot's chunks, read from the database when asked for."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, live: Mapping[str, int]) -> None:
        self._db = db
        self._lock = lock
        self._live = live

    def __getitem__(self, chunk_id: str) -> tuple[str, ...]:
        if chunk_id not in self._live:
            raise KeyError(chunk_id)
        with self._lock:
            row = self._db.execute("SELECT terms FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            raise KeyError(chunk_id)
        return tuple(row[0].split())

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[str]:
        return iter(self._live)

    def values(self) -> ValuesView[tuple[str, ...]]:
        """Every chunk's terms, streamed from the database in one pass."""
        return _StreamedTerms(self)

    def stream(self, batch: int = 2000) -> Iterator[tuple[str, ...]]:
        """(chunk terms) for every live chunk, a batch of rows at a time."""
        cursor = self._db.cursor()
        with self._lock:
            cursor.execute("SELECT id, terms FROM chunks")
        while True:
            with self._lock:
                rows = cursor.fetchmany(batch)
            if not rows:
                return
            for chunk_id, terms in rows:
                if chunk_id in self._live:
                    yield tuple(terms.split())


class _StreamedTerms(ValuesView[tuple[str, ...]]):
    """``ChunkTerms.values()`` without one query per chunk."""

    _mapping: ChunkTerms

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return self._mapping.stream()


class Snapshot:
    """A consistent, read-only view of the index as the assistant uses it.

    Chunks and the keyword index live in memory; sentences and page texts are read on demand.
    """

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise IndexNotBuiltError(f"no index at {path}: run `kysy ingest corpus` first")
        self.path = path
        self._db = _connect(path)
        self._lock = threading.Lock()
        try:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._load()
                finally:
                    self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if is_damage(exc):
                raise damaged(path, exc) from None
            raise

    def _load(self) -> None:
        self.meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if "generation" not in self.meta:
            raise IndexNotBuiltError(f"the index at {self.path} is empty: run `kysy ingest corpus` first")
        self.generation = int(self.meta["generation"])
        self._context = "context" if _has_context(self._db) else "NULL"  # an index written before context vectors
        blobs = dict(self._db.execute("SELECT name, data FROM blobs").fetchall())
        self.keyword = KeywordIndex.from_bytes(blobs["keyword"])
        order: list[str] = json.loads(blobs["keyword_ids"])
        rows = self._db.execute(
            'SELECT id, doc_id, file, title, text, page, heading, start, "end", content_hash, ord FROM chunks'
        ).fetchall()
        by_id = {row[0]: Chunk(*row) for row in rows}
        self.chunks: tuple[Chunk, ...] = tuple(by_id[cid] for cid in order)
        self.row_of: dict[str, int] = {cid: i for i, cid in enumerate(order)}
        # Read on demand: held in memory they took 1.9 GB of the 2.3 GB of a 100,000-chunk snapshot.
        self.chunk_terms: Mapping[str, tuple[str, ...]] = ChunkTerms(self._db, self._lock, self.row_of)
        self.documents: dict[str, DocumentInfo] = {}
        self._records: dict[str, FileRecord] = {}
        for row in self._db.execute(
            "SELECT doc_id, file, title, url, kind, content_hash, pages, year, publisher, path, root, size, mtime_ns "
            "FROM files"
        ):
            self.documents[row[0]] = DocumentInfo(*row[:9])
            self._records[row[0]] = FileRecord(row[1], row[10], row[9], row[11], row[12], row[5], row[0])
        self.template_lines = self._template_lines()

    @property
    def failed_files(self) -> dict[str, str]:
        """The files the last ingest of this index could not index, with the reasons (as this generation saw
        them)."""
        try:
            found = json.loads(self.meta.get(FAILED_KEY, "{}"))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def _template_lines(self) -> frozenset[str]:
        """The lines of the site's template: an item (a line, a list item, a heading) that ends in no full stop,
        question or exclamation mark, word for word in at least ``TEMPLATE_DOCUMENTS`` documents of one format
        (".txt", ".pdf", ...) and in at least ``TEMPLATE_SHARE`` of that format's documents. A web page's
        navigation ("Löydä lisää sisältöä samoista teemoista", "Kuntaliiton asiantuntijat, jotka voivat kertoa
        lisää") repeats on every page of its site; a sentence two texts share ("Tämä laki tulee voimaan ...")
        ends as a sentence does and stays; a line a few of many documents share (three slide decks of forty
        listing the same theme, "Hyvinvoinnin ja terveyden edistäminen") is their content and stays."""
        format_of = {doc_id: Path(info.file).suffix.lower() for doc_id, info in self.documents.items()}
        size = Counter(format_of.values())
        rows = self._db.execute(  # one pass over the lines that end no sentence, each with its documents
            "SELECT DISTINCT s.text, c.doc_id FROM sentences s JOIN chunks c ON c.id = s.chunk_id "
            "WHERE substr(rtrim(s.text), -1) NOT IN ('.', '?', '!')"
        ).fetchall()
        shared = Counter((text, format_of.get(doc_id, "")) for text, doc_id in rows)
        return frozenset(text for (text, suffix), count in shared.items()
                         if count >= max(TEMPLATE_DOCUMENTS, TEMPLATE_SHARE * size[suffix]))

    def chunk(self, chunk_id: str) -> Chunk | None:
        """The live chunk with this id, or None."""
        row = self.row_of.get(chunk_id)
        return None if row is None else self.chunks[row]

    def sentences(self, chunk_ids: Sequence[str]) -> dict[str, list[StoredSentence]]:
        """Precomputed sentences of the given chunks, in order."""
        result: dict[str, list[StoredSentence]] = {cid: [] for cid in chunk_ids}
        if not chunk_ids:
            return result
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._db.execute(
                f'SELECT chunk_id, ord, text, start, "end", is_list_item, heading, terms, vector, {self._context} '
                f"FROM sentences WHERE chunk_id IN ({marks}) ORDER BY chunk_id, ord",
                list(chunk_ids),
            ).fetchall()
        for cid, ord_, text, start, end, kind, heading, terms, blob, context in rows:
            sentence = Sentence(cid, ord_, text, start, end, kind == _LIST_ITEM, heading, kind == _HEADING)
            result[cid].append(StoredSentence(sentence, tuple(terms.split()), _vector(blob), _vector(context)))
        return result

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each chunk's sentence vectors for dense search, in order, as an (n, d) float32 array: a sentence's
        context vector (read under its title and heading) where the index has one, else its own vector. A chunk
        none of whose sentences has a vector is left out."""
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT chunk_id, vector, {self._context} FROM sentences WHERE chunk_id IN ({marks}) "
                "ORDER BY chunk_id, ord",
                list(chunk_ids),
            ).fetchall()
        found: dict[str, list[np.ndarray]] = {}
        for cid, blob, context in rows:
            vector = _vector(context if context is not None else blob)
            if vector is not None:
                found.setdefault(cid, []).append(vector)
        return {cid: np.vstack(vectors) for cid, vectors in found.items()}

    def pages(self, doc_id: str) -> list[Page]:
        """The normalised page texts of a document."""
        with self._lock:
            rows = self._db.execute(
                "SELECT number, text, flags FROM pages WHERE doc_id = ? ORDER BY ord", (doc_id,)
            ).fetchall()
        return [Page(number, text, tuple(json.loads(flags))) for number, text, flags in rows]

    def document_path(self, doc_id: str) -> Path | None:
        """Where the original file was ingested from."""
        record = self._records.get(doc_id)
        return Path(record.path) if record else None

    def file_record(self, doc_id: str) -> FileRecord | None:
        """What the index remembers of the file a document was ingested from (where, its size, time and hash)."""
        return self._records.get(doc_id)

    def document_file(self, doc_id: str) -> Path | None:
        """The original file as it resolves now, or None when it is gone or now resolves outside the
        directory it was ingested from (a file replaced by a link to somewhere else)."""
        record = self._records.get(doc_id)
        if record is None:
            return None
        path, root = Path(record.path), Path(record.root)
        try:
            resolved = path.resolve(strict=True)
            inside = resolved.is_relative_to(root.resolve(strict=True))
        except (OSError, RuntimeError):  # gone, unreadable, or a loop of links
            return None
        return resolved if inside and resolved.is_file() else None

    def current_generation(self) -> int:
        """The generation on disk now (differs from ``generation`` after a newer ingest)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
