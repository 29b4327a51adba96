"""Errors that mean something to a user. Translated only at the edges (CLI exit codes, HTTP bodies)."""

from __future__ import annotations


class KysyError(Exception):
    """Base class of every error Kysy raises on purpose."""

    code = "kysy_error"


class UnsupportedFileError(KysyError):
    """The file type is not one Kysy can read."""

    code = "unsupported_file"


class CorruptDocumentError(KysyError):
    """The file claims a format but cannot be parsed (empty, truncated, encrypted, no text...)."""

    code = "corrupt_document"


class ParseLimitError(CorruptDocumentError):
    """Parsing a file ran past its time or memory limit."""

    code = "parse_limit"


class InvalidInputError(KysyError, ValueError):
    """A question or message that is not valid text (e.g. an unpaired UTF-16 surrogate)."""

    code = "invalid_request"


class IndexNotBuiltError(KysyError):
    """No index exists yet: run ``kysy ingest`` first."""

    code = "index_not_built"


class IndexMismatchError(IndexNotBuiltError):
    """The index was built with another embedder than the one configured: its vectors cannot be compared
    with the questions' (run ``kysy ingest`` again, or configure the index's embedder)."""

    code = "index_mismatch"


class VectorsMissingError(IndexNotBuiltError):
    """The vector store holds fewer vectors than the index has chunks (a backup restored without ``chroma/``, a
    Chroma server started again on an empty directory): dense search would miss passages, and questions the
    materials answer would be refused (run ``kysy ingest`` again: it embeds them again)."""

    code = "vectors_missing"


class VectorsUnreachableError(IndexNotBuiltError):
    """The vector store cannot be reached (the Chroma server is down): the index cannot be searched until it is
    back. Not a fault of the request, and not a full disk: the service is not ready, as without an index."""

    code = "vectors_unreachable"


class IndexLockedError(KysyError):
    """Another ingestion holds the writer lock."""

    code = "index_locked"


class IngestCancelledError(KysyError):
    """An ingest was stopped on request between two steps, before its commit: the index is as it was."""

    code = "reindex_cancelled"


class StorageError(KysyError):
    """The data directory cannot be written (read-only, disk full...)."""

    code = "storage_error"


class IndexDamagedError(StorageError):
    """The index database is damaged (a disk fault, a partial copy): ``kysy ingest --rebuild`` rebuilds it."""

    code = "index_damaged"


class StorageFullError(StorageError):
    """A store reached its size cap (e.g. the feedback database)."""

    code = "storage_full"


class ShuttingDownError(KysyError):
    """The server was told to stop before the answer was finished."""

    code = "shutting_down"


class ConfigError(KysyError):
    """A setting has a value Kysy cannot use."""

    code = "config_error"


class LLMError(KysyError):
    """The language-model endpoint failed or timed out."""

    code = "llm_error"
