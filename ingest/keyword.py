"""The keyword index: Okapi BM25 over analysed terms, as a sparse terms x documents matrix.

Each stored value is the full BM25 contribution of one term to one document, so a query is the
sum of a few matrix rows: no loop over documents at query time. Rows of the result are the
positions of the documents given to ``build`` (the store maps them to chunk ids).
"""

from __future__ import annotations

import bisect
import functools
import io
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from kysy.errors import IndexNotBuiltError

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class KeywordHit:
    """One document matched by a keyword search, with its BM25 score and matched-term count."""

    row: int
    score: float
    matched: int


def _validate_params(k1: float, b: float) -> None:
    if not k1 >= 0:
        raise ValueError(f"bm25 k1 must be >= 0, got {k1}")
    if not 0 <= b <= 1:
        raise ValueError(f"bm25 b must be in 0..1, got {b}")


class KeywordIndex:
    """BM25 (Okapi, idf = ln(1 + (N - df + 0.5) / (df + 0.5))) over documents given as term lists."""

    def __init__(self, weights: sparse.csr_matrix, vocabulary: Sequence[str], *, k1: float, b: float) -> None:
        self._weights = weights
        self._vocabulary = list(vocabulary)
        self._term_ids = {term: i for i, term in enumerate(self._vocabulary)}
        self.k1 = k1
        self.b = b

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> KeywordIndex:
        """Index ``docs`` (each a list of terms, repeated per occurrence); row i is ``docs[i]``."""
        _validate_params(k1, b)
        term_ids: dict[str, int] = {}
        ids: list[int] = []
        lengths = np.zeros(len(docs), dtype=np.float64)
        for row, doc in enumerate(docs):
            lengths[row] = len(doc)
            ids.extend(term_ids.setdefault(term, len(term_ids)) for term in doc)
        doc_of = np.repeat(np.arange(len(docs), dtype=np.int64), lengths.astype(np.int64))
        counts = sparse.csr_matrix(
            (np.ones(len(ids), dtype=np.float64), (np.asarray(ids, dtype=np.int64), doc_of)),
            shape=(len(term_ids), len(docs)),
        )
        counts.sum_duplicates()  # tf per (term, doc)
        weights = _bm25_weights(counts, lengths, k1=k1, b=b)
        logger.debug("keyword index: %d docs, %d terms, %d postings", len(docs), len(term_ids), weights.nnz)
        return cls(weights, list(term_ids), k1=k1, b=b)

    def __len__(self) -> int:
        """Number of documents."""
        return int(self._weights.shape[1])

    @property
    def vocabulary_size(self) -> int:
        """Number of distinct terms."""
        return len(self._vocabulary)

    def _ids(self, terms: Sequence[str]) -> list[int]:
        found = (self._term_ids.get(term) for term in dict.fromkeys(terms))
        return [term_id for term_id in found if term_id is not None]

    def search(self, terms: Sequence[str], top_k: int) -> list[KeywordHit]:
        """The ``top_k`` best documents for ``terms``, by BM25 score (desc) then row.

        Duplicate terms count once; unknown terms are ignored; only documents with a score above
        zero are returned.

        Raises:
            ValueError: ``top_k`` is not a positive integer.
        """
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        ids = self._ids(terms)
        if not ids or len(self) == 0:
            return []
        rows = self._weights[ids]
        scores = np.asarray(rows.sum(axis=0, dtype=np.float64)).ravel()
        matched = np.bincount(rows.indices, minlength=len(self))
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > top_k:
            # keep every candidate scoring at least the k-th best, so ties are broken by row
            kth = np.partition(scores[candidates], len(candidates) - top_k)[len(candidates) - top_k]
            candidates = candidates[scores[candidates] >= kth]
        order = np.lexsort((candidates, -scores[candidates]))[:top_k]
        return [
            KeywordHit(row=int(row), score=float(scores[row]), matched=int(matched[row]))
            for row in candidates[order]
        ]

    def document_frequency(self, term: str) -> int:
        """How many documents contain ``term`` (0 for a term the index does not know)."""
        term_id = self._term_ids.get(term)
        if term_id is None:
            return 0
        return int(self._weights.indptr[term_id + 1] - self._weights.indptr[term_id])

    def idf(self, term: str) -> float:
        """Inverse document frequency: ln(1 + N / df); a term no document holds weighs as a one-document term."""
        return self.idf_of(self.document_frequency(term))

    def idf_of(self, frequency: int) -> float:
        """The inverse document frequency of a term ``frequency`` documents hold (as ``idf``)."""
        return math.log(1 + max(1, len(self)) / max(1, frequency))

    @functools.cached_property
    def _sorted_terms(self) -> tuple[list[str], list[int]]:
        order = sorted(range(len(self._vocabulary)), key=self._vocabulary.__getitem__)
        return [self._vocabulary[i] for i in order], order

    def prefix_frequency(self, prefix: str) -> int:
        """How many documents contain a term starting with ``prefix`` (0 for an empty prefix)."""
        if not prefix:
            return 0
        terms, ids = self._sorted_terms
        start = bisect.bisect_left(terms, prefix)
        end = start
        while end < len(terms) and terms[end].startswith(prefix):
            end += 1
        docs = [self._postings(term_id) for term_id in ids[start:end]]
        return int(np.unique(np.concatenate(docs)).size) if docs else 0

    def _postings(self, term_id: int) -> np.ndarray:
        """The sorted rows of the documents holding term ``term_id``."""
        return self._weights.indices[self._weights.indptr[term_id] : self._weights.indptr[term_id + 1]]

    def matched_terms(self, row: int, terms: Sequence[str]) -> set[str]:
        """The distinct ``terms`` that occur in document ``row``.

        Raises:
            IndexError: ``row`` is not a document of this index.
        """
        if not 0 <= row < len(self):
            raise IndexError(f"row must be 0..{len(self) - 1}, got {row}")
        found: set[str] = set()
        for term in dict.fromkeys(terms):
            term_id = self._term_ids.get(term)
            if term_id is None:
                continue
            docs = self._postings(term_id)
            position = np.searchsorted(docs, row)
            if position < len(docs) and docs[position] == row:
                found.add(term)
        return found

    def to_bytes(self) -> bytes:
        """Serialise the index (numpy ``.npz``, no pickle; vocabulary as a JSON array)."""
        buffer = io.BytesIO()
        vocabulary = json.dumps(self._vocabulary, ensure_ascii=False).encode("utf-8")
        np.savez(
            buffer,
            version=np.array([_FORMAT_VERSION], dtype=np.int64),
            params=np.array([self.k1, self.b], dtype=np.float64),
            shape=np.array(self._weights.shape, dtype=np.int64),
            data=self._weights.data,
            indices=self._weights.indices,
            indptr=self._weights.indptr,
            vocabulary=np.frombuffer(vocabulary, dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeywordIndex:
        """Load an index written by ``to_bytes``.

        Raises:
            IndexNotBuiltError: the bytes are not a keyword index of this version.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                version = int(arrays["version"][0])
                if version != _FORMAT_VERSION:
                    raise ValueError(f"format version {version}, expected {_FORMAT_VERSION}")
                k1, b = (float(x) for x in arrays["params"])
                shape = tuple(int(x) for x in arrays["shape"])
                weights = sparse.csr_matrix(
                    (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape
                )
                vocabulary = json.loads(arrays["vocabulary"].tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexNotBuiltError(f"the keyword index is unreadable ({exc}); run `kysy ingest` again") from exc
        if len(vocabulary) != shape[0]:
            raise IndexNotBuiltError("the keyword index is inconsistent; run `kysy ingest` again")
        return cls(weights, vocabulary, k1=k1, b=b)


def _bm25_weights(counts: sparse.csr_matrix, lengths: np.ndarray, *, k1: float, b: float) -> sparse.csr_matrix:
    """Turn a term-frequency matrix (terms x docs) into per-posting BM25 contributions."""
    n_docs = counts.shape[1]
    average = float(lengths.mean()) if n_docs and lengths.sum() else 1.0
    df = np.diff(counts.indptr).astype(np.float64)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    tf = counts.data
    norm = k1 * (1.0 - b + b * lengths[counts.indices] / average)
    term_of = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    data = idf[term_of] * tf * (k1 + 1.0) / (tf + norm)
    weights = sparse.csr_matrix((data.astype(np.float32), counts.indices.astype(np.int32), counts.indptr.astype(np.int32)),
                                shape=counts.shape)
    weights.sort_indices()
    return weights
