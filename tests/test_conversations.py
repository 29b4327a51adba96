"""Conversations over the whole question set: properties of the answers, and the fitted thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.service import Assistant
from eval.followup_fit import SETTINGS, accuracy, collect_sets, cross_validate, fit
from eval.invariance import conversation_invariance, first_citation, standalone_questions, unrelated
from eval.questionset import TRAINING_SETS, Question, load_questions
from eval.runner import history_turns
from kysy.settings import Settings

QUESTIONS = Path(__file__).resolve().parent.parent / "eval" / "questions.fi.jsonl"


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    return load_questions(QUESTIONS)


def test_the_question_set_holds_conversation_cases(questions: list[Question]) -> None:
    switches = [q for q in questions if q.type == "topic_switch"]
    assert len(switches) >= 20 and len([q for q in questions if q.type == "followup"]) >= 15 + 13
    after_refusal = [q for q in switches if "Aineistosta ei löydy vastausta" in q.history[1]]
    after_followup = [q for q in switches if len(q.history) >= 4]
    assert len(after_refusal) >= 3 and len(after_followup) >= 3


def test_unrelated_turns_share_no_source_and_are_drawn_the_same_each_time(questions: list[Question]) -> None:
    pool = [q for q in questions if not q.history]
    for question in standalone_questions(pool)[:20]:
        earlier = unrelated(question, pool)
        assert len(earlier) == 3 and earlier == unrelated(question, pool)
        assert all(not set(question.sources) & set(other.sources) for other in earlier)
        assert earlier != unrelated(question, pool, seed="fit") or len(pool) < 10


@pytest.mark.slow
def test_a_standalone_question_keeps_its_first_citation_after_unrelated_turns(
    assistant: Assistant, questions: list[Question]
) -> None:
    report = conversation_invariance(assistant, questions)
    assert len(report.variants) >= 3 * 100
    assert report.share >= 0.98, report.summary()["failures"]


def test_follow_ups_get_their_intended_source(assistant: Assistant, questions: list[Question]) -> None:
    cases = [q for q in questions if q.type == "followup" and q.answerable]
    right = []
    for question in cases:
        cited = first_citation(assistant.ask(question.question, history_turns(question.history)))
        pages = question.pages.get(cited[0], ()) if cited else ()
        right.append(cited is not None and cited[0] in question.sources and (not pages or cited[1] in pages))
    assert sum(right) / len(right) >= 0.85, [q.id for q, ok in zip(cases, right, strict=True) if not ok]


def test_the_shipped_thresholds_are_those_fitted_on_the_fitted_sets(assistant: Assistant) -> None:
    root = QUESTIONS.parent.parent
    cases = collect_sets(assistant, [root / path for path in TRAINING_SETS])
    point = fit(cases)
    shipped = tuple(getattr(Settings(), name) for name in SETTINGS)
    assert point == shipped
    assert accuracy(cases, point) >= 0.9 and cross_validate(cases) >= 0.85
