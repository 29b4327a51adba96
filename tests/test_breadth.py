"""The breadth model: whether a question needs several documents, learnt from lemmas and intent signals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.breadth import BREADTH_MODEL, SIGNALS, Breadth, breadth_signals
from assistant.intent import Intent
from assistant.query import Query
from eval.fit import BREADTH_THRESHOLD, fit_breadth
from kysy.errors import ConfigError

PLAIN = Intent("fi", frozenset(), False, frozenset())
TWO_PARTS = Intent("fi", frozenset({"how"}), False, frozenset(), parts=("Mitä vuonna 2022 ehdotettiin", "mitä 2023?"))


def _query(*terms: str) -> Query:
    return Query(" ".join(terms), np.zeros(3, dtype=np.float32), terms, frozenset(terms))


def test_the_probability_is_the_logistic_of_the_lemmas_and_signals_present() -> None:
    # "vertailu" adds 2, two parts add 2 * 0.5, one term each -0.25 (two terms), asks how 0, asks list 0
    model = Breadth(["uutinen", "vertailu"], [0.7, 2.0, 0.5, -0.25, 0.0, 0.0], -1.0, 0.5)
    value = -1.0 + 2.0 + 2 * 0.5 - 0.25 * 2
    assert model.probability(_query("vertailu", "kunta"), TWO_PARTS) == pytest.approx(1 / (1 + np.exp(-value)))
    assert model.probability(_query("kunta"), PLAIN) == pytest.approx(1 / (1 + np.exp(1.25)))
    assert breadth_signals(_query("vertailu", "kunta"), TWO_PARTS) == [2.0, 2.0, 0.0, 1.0]


def test_applied_makes_the_intent_broad_at_the_threshold_and_leaves_a_broad_one_broad() -> None:
    model = Breadth([], [0.0] * len(SIGNALS), 0.0, 0.5)
    assert model.applied(PLAIN, 0.5).broad
    assert model.applied(PLAIN, 0.49) is PLAIN
    broad = Intent("fi", frozenset({"how"}), True, frozenset())
    assert model.applied(broad, 0.0) is broad


def test_a_model_file_round_trips_and_a_missing_one_is_no_model(tmp_path: Path) -> None:
    model = Breadth(["b", "a"], [1.0, -1.0, 0.1, 0.2, 0.3, 0.4], 0.25, 0.6)
    path = tmp_path / "breadth.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    loaded = Breadth.load(path)
    assert loaded is not None and loaded.to_json() == model.to_json()
    assert loaded.probability(_query("b"), PLAIN) == model.probability(_query("b"), PLAIN)
    assert Breadth.load(tmp_path / "none.json") is None


@pytest.mark.parametrize("text", ["{", '{"vocabulary": ["a"], "coefficients": [1.0], "intercept": 0, "threshold": 0.5}',
                                  '{"vocabulary": []}'])
def test_a_broken_model_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "breadth.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="breadth model"):
        Breadth.load(path)


def test_fitting_learns_the_lemmas_of_questions_that_need_several_documents() -> None:
    several = [(_query("vertailu", f"aihe{i % 4}"), PLAIN) for i in range(12)]
    single = [(_query("määrä", f"aihe{i % 4}"), PLAIN) for i in range(12)]
    model = fit_breadth(several + single, [True] * 12 + [False] * 12)
    assert model.threshold == BREADTH_THRESHOLD
    assert "vertailu" in model.index and "määrä" in model.index
    assert model.probability(_query("vertailu", "aihe9"), PLAIN) > 0.5 > model.probability(_query("määrä"), PLAIN)
    rare = fit_breadth(several + single + [(_query("harvinainen"), PLAIN)], [True] * 12 + [False] * 13)
    assert "harvinainen" not in rare.index  # a lemma of fewer than three questions is no feature


def test_fitting_one_kind_of_question_only_gives_the_same_answer_for_every_question() -> None:
    questions = [(_query("kunta"), PLAIN)] * 4
    assert fit_breadth(questions, [False] * 4).probability(_query("kunta"), TWO_PARTS) < 0.01
    assert fit_breadth(questions, [True] * 4).probability(_query("kunta"), PLAIN) > 0.99


def test_the_shipped_model_loads_and_reads_the_signals_it_was_fitted_on() -> None:
    model = Breadth.load(BREADTH_MODEL)
    assert model is not None
    data = json.loads(BREADTH_MODEL.read_text(encoding="utf-8"))
    assert data["signals"] == list(SIGNALS) and len(data["coefficients"]) == len(data["vocabulary"]) + len(SIGNALS)
