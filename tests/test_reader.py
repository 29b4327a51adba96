"""The reader: pairs as the model reads them, the same numbers at answer time as in training, the blend,
the refusal gate, and the shipped reader in the answer engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.answerability import Verdict
from assistant.reader import Limits, Reader, ReaderShape, Reading, blend, encode_pair, gate
from eval.reader_fit import FrozenStates, build_module, export, initial_tensors, logits, rounded, write_npz
from ingest.embed import make_embedder
from ingest.embed_onnx import OnnxE5Embedder
from kysy.errors import ConfigError
from kysy.settings import Settings


@pytest.fixture(scope="module")
def embedder() -> OnnxE5Embedder:
    made = make_embedder("e5-onnx", threads=1)
    assert isinstance(made, OnnxE5Embedder)
    return made


def _write_reader(embedder: OnnxE5Embedder, out: Path, shape: ReaderShape, *, weights: str | None = None) -> object:
    """A reader of e5's own layers with a random head, written as ``make train-reader`` writes one."""
    rng = np.random.default_rng(3)
    head = (rng.normal(size=2 * embedder.dim).astype(np.float32) * 0.2, 0.1)
    module = build_module(initial_tensors(embedder.e5, shape), shape, embedder.e5.heads, float(embedder.e5.eps), 0.0, head)
    write_npz(out / "reader.npz", export(module, shape))
    config = {"weights": weights or embedder.e5.digest[:16], "shape": shape.to_json(), "threshold": 0.5, "weight": 1.0}
    (out / "reader.json").write_text(json.dumps(config), encoding="utf-8")
    return rounded(module, shape, embedder.e5.heads, float(embedder.e5.eps))


def test_a_pair_is_the_question_then_the_context_and_item_each_cut_to_its_limit(embedder: OnnxE5Embedder) -> None:
    tokenizer = embedder.tokenizer
    bos, eos = tokenizer.vocabulary.bos, tokenizer.vocabulary.eos
    ids = encode_pair(tokenizer, "Mikä on Suomen suurin järvi?", "Saimaa", "Saimaa on Suomen suurin järvi.", Limits())
    question = tokenizer.encode("query: Mikä on Suomen suurin järvi?").ids
    assert ids[0] == bos and ids[-1] == eos and ids[1 : 1 + len(question)] == question
    assert ids[1 + len(question)] == eos
    long = encode_pair(tokenizer, "kysymys " * 100, "otsikko " * 100, "lause " * 200, Limits(10, 5, 20))
    assert len(long) == 1 + 10 + 1 + 5 + 20 + 1


def test_the_reader_at_answer_time_gives_the_training_modules_numbers(embedder: OnnxE5Embedder, tmp_path: Path) -> None:
    shape = ReaderShape(cut=3, layers=2)
    module = _write_reader(embedder, tmp_path, shape)
    reader = Reader(embedder, tmp_path / "reader.npz", tmp_path / "reader.json")
    pairs = [("Saimaa", "Saimaa on Suomen suurin järvi."), ("", "Turku on Suomen vanhin kaupunki, ja sen halki virtaa Aurajoki.")]
    sequences = [reader.encode("Mikä on Suomen suurin järvi?", context, text) for context, text in pairs]
    frozen = embedder.states_of_ids(sequences, layer=shape.cut)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in frozen])])
    cached = FrozenStates(np.concatenate(frozen).astype(np.float16), offsets)
    assert np.allclose(reader.logits(sequences), logits(module, cached), atol=2e-3)


def test_a_reader_of_other_weights_is_refused(embedder: OnnxE5Embedder, tmp_path: Path) -> None:
    _write_reader(embedder, tmp_path, ReaderShape(cut=1, layers=1), weights="0" * 16)
    with pytest.raises(ConfigError, match="other e5 weights"):
        Reader(embedder, tmp_path / "reader.npz", tmp_path / "reader.json")


def test_the_blend_keeps_the_items_share_and_follows_the_reader() -> None:
    scores = np.array([0.5, 0.3, 0.15, 0.05])
    assert np.array_equal(blend(scores, [0, 1], np.array([0.1, 0.9]), 0.0), scores)
    blended = blend(scores, [0, 1, 2], np.array([0.05, 0.95, 0.5]), 1.0)
    assert blended[:3].sum() == pytest.approx(0.95) and blended[3] == 0.05
    assert int(np.argmax(blended)) == 1  # the item the reader says answers leads


def test_the_gate_refuses_when_no_item_read_answers_and_otherwise_keeps_partial() -> None:
    verdict = Verdict("not_found", 0.3, {})  # the answerability model alone would refuse
    answering = Reading((0,), (0.9,), np.array([1.0]))
    assert gate(verdict, answering, 0.5, 0.2, frozenset()).status == "answered"
    assert gate(verdict, answering, 0.5, 0.2, frozenset({"count"})).status == "partial"
    assert gate(verdict, answering, 0.5, 0.4, frozenset()).status == "not_found"
    missing = Reading((0, 1), (0.2, 0.4), np.array([0.6, 0.4]))
    assert gate(Verdict("answered", 0.9, {}), missing, 0.5, 0.2, frozenset()).status == "not_found"


def test_the_shipped_reader_reads_the_answer_above_its_neighbours(embedder: OnnxE5Embedder) -> None:
    reader = Reader.of(Settings(reader=True))
    probabilities = reader.probabilities("Kuinka monta kuntaa Etelä-Karjalassa on?", [
        ("Etelä-Karjalan malli", "Etelä-Karjalassa on 9 kuntaa."),
        ("Etelä-Karjalan malli", "Etelä-Karjalan väestöpohja on noin 127 000 asukasta."),
        ("Lapin hyvinvointialue", "Lapin pilotissa painopisteinä ovat turvallisuus ja varautuminen."),
    ])
    assert int(np.argmax(probabilities)) == 0


def test_with_the_reader_on_an_answer_carries_its_reading_and_the_eval_reports_it(corpus_index: Settings) -> None:
    from assistant.service import Assistant
    from eval.questionset import Question
    from eval.runner import answer_metrics, answered

    assistant = Assistant(corpus_index.model_copy(update={"reader": True}))
    answer = assistant.ask("Ketkä rahoittavat yhdyspintaprojektia?", debug=True)
    assert isinstance(answer.meta["reader"], float) and 0.0 < answer.meta["reader"] < 1.0
    assert not answer.not_found and any(c.page == 3 for c in answer.citations)
    plain = Assistant(corpus_index).ask("Ketkä rahoittavat yhdyspintaprojektia?")
    assert "reader" not in plain.meta  # off by default
    english = assistant.ask("Who funds the interface project?", debug=True)
    assert "reader" not in english.meta  # trained on Finnish pairs only, it reads Finnish questions only
    assert not english.not_found and any(c.page == 3 for c in english.citations)

    questions = [
        Question(id="a", question="Ketkä rahoittavat yhdyspintaprojektia?", answerable=True, sources=(),
                 evidence=(), answer_keywords=("Hyvil",), type="fact"),
        Question(id="u", question="Paljonko Tampereen raitiotie maksoi?", answerable=False, sources=(), evidence=(),
                 answer_keywords=(), type="unanswerable"),
    ]
    metrics = answer_metrics([answered(assistant, q) for q in questions])
    # Two questions, one pair compared: the funders' slide reads as an answer, the tram's cost as none.
    assert metrics["reader_question_auc"] == 1.0
    assert metrics["answerable_auc"] == 1.0  # the answerability model's probability, reported beside it
