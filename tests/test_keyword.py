"""BM25 keyword index: exact scores on a toy corpus, ordering, matching and persistence."""

from __future__ import annotations

import math

import pytest

from ingest.keyword import KeywordHit, KeywordIndex
from kysy.errors import IndexNotBuiltError

DOCS = [
    ["kunta", "alue", "kunta"],  # len 3
    ["alue", "sote"],  # len 2
    ["hyte", "kunta", "sote", "työ"],  # len 4
]


def _bm25(tf: int, df: int, length: int, *, n: int = 3, avgdl: float = 3.0, k1: float = 1.2, b: float = 0.75) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))


@pytest.fixture
def index() -> KeywordIndex:
    return KeywordIndex.build(DOCS)


def test_scores_equal_hand_computed_okapi_bm25(index: KeywordIndex) -> None:
    hits = index.search(["kunta"], top_k=3)
    assert [hit.row for hit in hits] == [0, 2]
    assert hits[0].score == pytest.approx(_bm25(tf=2, df=2, length=3), rel=1e-6)
    assert hits[1].score == pytest.approx(_bm25(tf=1, df=2, length=4), rel=1e-6)
    both = {hit.row: hit.score for hit in index.search(["hyte", "sote"], top_k=3)}
    assert both[2] == pytest.approx(_bm25(1, 1, 4) + _bm25(1, 2, 4), rel=1e-6)
    assert both[1] == pytest.approx(_bm25(1, 2, 2), rel=1e-6)


def test_k1_and_b_change_the_scores() -> None:
    flat = KeywordIndex.build(DOCS, k1=2.0, b=0.0)
    assert flat.search(["kunta"], top_k=1)[0].score == pytest.approx(_bm25(2, 2, 3, k1=2.0, b=0.0), rel=1e-6)


def test_matched_counts_distinct_query_terms_and_duplicates_count_once(index: KeywordIndex) -> None:
    hits = index.search(["sote", "hyte", "sote", "kunta"], top_k=3)
    assert hits[0] == KeywordHit(row=2, score=hits[0].score, matched=3)
    assert {hit.row: hit.matched for hit in hits} == {2: 3, 0: 1, 1: 1}
    once = index.search(["sote", "hyte", "kunta"], top_k=3)
    assert [hit.score for hit in hits] == [hit.score for hit in once]


def test_ties_are_broken_by_row() -> None:
    tied = KeywordIndex.build([["a", "x"], ["b"], ["a", "x"], ["a", "x"]])
    assert [hit.row for hit in tied.search(["a"], top_k=2)] == [0, 2]
    assert [hit.row for hit in tied.search(["a"], top_k=10)] == [0, 2, 3]


def test_empty_query_and_unknown_terms_find_nothing(index: KeywordIndex) -> None:
    assert index.search([], top_k=5) == []
    assert index.search(["tuntematon"], top_k=5) == []
    assert [hit.row for hit in index.search(["tuntematon", "hyte"], top_k=5)] == [2]


@pytest.mark.parametrize("top_k", [0, -1, 1.5, True])
def test_top_k_is_validated(index: KeywordIndex, top_k: object) -> None:
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        index.search(["kunta"], top_k=top_k)  # type: ignore[arg-type]


def test_matched_terms_names_the_terms_in_a_document(index: KeywordIndex) -> None:
    assert index.matched_terms(2, ["kunta", "alue", "sote", "zzz"]) == {"kunta", "sote"}
    assert index.matched_terms(1, []) == set()
    with pytest.raises(IndexError):
        index.matched_terms(3, ["kunta"])


def test_bytes_round_trip_gives_the_same_results(index: KeywordIndex) -> None:
    loaded = KeywordIndex.from_bytes(index.to_bytes())
    assert len(loaded) == 3 and loaded.vocabulary_size == index.vocabulary_size
    assert (loaded.k1, loaded.b) == (1.2, 0.75)
    for query in (["kunta"], ["hyte", "sote"], ["alue", "työ", "kunta"]):
        assert loaded.search(query, top_k=3) == index.search(query, top_k=3)


def test_unreadable_bytes_raise_a_clear_error() -> None:
    with pytest.raises(IndexNotBuiltError, match="kysy ingest"):
        KeywordIndex.from_bytes(b"not an index")


def test_empty_corpus_and_empty_documents() -> None:
    empty = KeywordIndex.build([])
    assert len(empty) == 0 and empty.search(["kunta"], top_k=3) == []
    assert len(KeywordIndex.from_bytes(empty.to_bytes())) == 0
    sparse_docs = KeywordIndex.build([[], ["kunta"], []])
    assert len(sparse_docs) == 3
    assert [hit.row for hit in sparse_docs.search(["kunta"], top_k=3)] == [1]
    all_empty = KeywordIndex.build([[], []])
    assert all_empty.search(["kunta"], top_k=1) == []


def test_document_frequency_counts_documents_not_occurrences() -> None:
    index = KeywordIndex.build([["kunta", "kunta", "alue"], ["kunta"], ["muu"]])
    assert index.document_frequency("kunta") == 2
    assert index.document_frequency("alue") == 1
    assert index.document_frequency("tuntematon") == 0


def test_prefix_frequency_counts_the_documents_of_every_term_the_prefix_starts() -> None:
    index = KeywordIndex.build([["hyte-koordinaattorien", "kunta"], ["hyte-koordinaattorit", "hyte-koordinaattorien"],
                                ["hyte"], ["koordinaattori"]])
    assert index.prefix_frequency("hyte-koordinaatto") == 2  # two terms, two documents, one of them holding both
    assert index.prefix_frequency("hyte-koordinaattorien") == 2
    assert index.prefix_frequency("hyte") == 3
    assert index.prefix_frequency("kunta") == 1 and index.prefix_frequency("kuntaliitto") == 0
    assert index.prefix_frequency("") == 0
    assert index.idf_of(2) == index.idf("hyte-koordinaattorien")
    restored = KeywordIndex.from_bytes(index.to_bytes())
    assert restored.prefix_frequency("hyte-koordinaatto") == 2
