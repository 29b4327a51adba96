"""The question-vector cache: repeated and re-spaced questions cost no embedding, memory stays bounded."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from assistant.query_cache import QueryCache, cache_queries, normalize_question
from ingest.embed import Embedder, make_embedder


class Counting:
    """The real embedder, counting the questions that reach it."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.name, self.dim = embedder, embedder.name, embedder.dim
        self.queries: list[str] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.queries += list(texts)
        return self.embedder.embed_queries(texts)


@pytest.fixture()
def counting() -> Counting:
    return Counting(make_embedder("e5-onnx"))


def test_a_repeated_question_is_embedded_once(counting) -> None:
    cache = QueryCache(counting, size=8)
    first = cache.embed_queries(["Mikä on väestöpohja?"])
    again = cache.embed_queries(["  Mikä on\tväestöpohja? "])
    assert counting.queries == ["Mikä on väestöpohja?"]
    assert np.array_equal(first, again) and cache.hits == 1 and cache.misses == 1


def test_a_cached_vector_equals_a_fresh_one(counting) -> None:
    cache = QueryCache(counting, size=8)
    cache.embed_queries(["Kuka rahoittaa hanketta?"])
    hit = cache.embed_queries(["Kuka rahoittaa hanketta?", "Mitä yhdyspinta tarkoittaa?"])
    fresh = counting.embedder.embed_queries(["Kuka rahoittaa hanketta?", "Mitä yhdyspinta tarkoittaa?"])
    assert np.allclose(hit, fresh, atol=1e-5)


def test_the_least_recently_used_question_is_dropped(counting) -> None:
    cache = QueryCache(counting, size=2)
    cache.embed_queries(["yksi"])
    cache.embed_queries(["kaksi"])
    cache.embed_queries(["yksi"])
    cache.embed_queries(["kolme"])
    cache.embed_queries(["yksi", "kaksi"])
    assert counting.queries == ["yksi", "kaksi", "kolme", "kaksi"]


def test_normalisation_and_off_switch() -> None:
    assert normalize_question(" A\u0308iti  \n kysyy ") == "Äiti kysyy"
    embedder = make_embedder("e5-onnx")
    assert cache_queries(embedder, 0) is embedder
    cached = cache_queries(embedder, 4)
    assert isinstance(cached, QueryCache) and cache_queries(cached, 4) is cached
    assert cached.embed_queries([]).shape == (0, 384)
    with pytest.raises(ValueError, match="query cache size must be >= 1, got 0"):
        QueryCache(embedder, 0)
