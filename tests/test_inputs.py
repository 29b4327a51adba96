"""User text before anything works on it: one validation on every route, the documents' normalisation,
and a budget that keeps a legal but expensive question about as cheap as a normal one."""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.inputs import checked_text, prepare_question, within_budget
from assistant.service import Assistant
from kysy.errors import InvalidInputError
from kysy.models import Turn
from kysy.settings import Settings

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture(scope="module")
def client(corpus_index: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(corpus_index.model_copy(update={"rate_limit_per_minute": 0}))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


# --- normalisation: the question in any Unicode form meets the indexed words ---------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "Mika\u0308 on Etela\u0308-Karjalan va\u0308esto\u0308pohja?",  # decomposed ä, ö
        "Mikä on Etelä-Karjalan väes\u200btöpohja?",  # zero-width space inside a word
        "Mikä on Etelä-Karjalan väestö\u00adpohja?",  # soft hyphen
        "\ufeffMikä on Etelä-Karjalan\u2060 väestöpohja?",  # byte-order mark, word joiner
    ],
)
def test_a_question_in_another_unicode_form_is_answered_like_the_composed_one(
    client: TestClient, variant: str
) -> None:
    composed = client.post("/api/chat", json={"question": QUESTION}).json()
    body = client.post("/api/chat", json={"question": variant}).json()
    assert not body["not_found"], body["answer"]
    assert body["answer"] == composed["answer"] and body["citations"] == composed["citations"]


def test_history_is_normalised_like_the_question(client: TestClient) -> None:
    history = [{"role": "user", "content": "Mika\u0308 on Etela\u0308-Karjalan va\u0308esto\u0308pohja?"}]
    body = client.post("/api/chat", json={"question": "Entä Lapissa?", "history": history}).json()
    assert "väestöpohja" in body["meta"]["query"]


def test_checked_text_normalises_and_refuses_what_is_not_text() -> None:
    assert checked_text("va\u0308es\u200bto\u0308\u00adpohja\x00") == "väestöpohja"
    assert checked_text("a" + "\u0301" * 1999) == "\u00e1\u0301\u0301"  # NFC, then at most two marks in a row
    with pytest.raises(InvalidInputError, match="U\\+D800"):
        checked_text("v\ud800")


# --- validation: the same on every route, 422 and never 500 ------------------------------------------

_SURROGATE = b'"v\\ud800"'


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", b'{"question": ' + _SURROGATE + b"}"),
        ("/api/chat", b'{"question": "ok", "history": [{"role": "user", "content": ' + _SURROGATE + b"}]}"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": ' + _SURROGATE + b"}]}"),
        ("/v1/chat/completions", b'{"stream": true, "messages": [{"role": "user", "content": ' + _SURROGATE + b"}]}"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": [{"type": "text", "text": ' + _SURROGATE + b"}]}]}"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\u200b\\u00ad"}]}'),
        ("/api/feedback", b'{"question": ' + _SURROGATE + b', "rating": "up"}'),
        ("/api/feedback", b'{"question": "ok", "rating": "down", "comment": ' + _SURROGATE + b"}"),
        ("/api/chat", b'{"question": "\\u200b\\u2060"}'),
    ],
)
def test_text_that_is_not_valid_is_422_json_on_every_route(live_server: str, path: str, body: bytes) -> None:
    response = httpx.post(
        f"{live_server}{path}", content=body,
        headers={"content-type": "application/json", "accept": "text/event-stream, application/json"}, timeout=30,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    # Under /v1/ in OpenAI's shape (assistant/openai_errors.py), elsewhere Kysy's {error, message}.
    assert (error["code"] if path.startswith("/v1/") else error) == "invalid_request"


# --- the budget: what is analysed and embedded is bounded -------------------------------------------------


def test_within_budget_cuts_at_a_word_boundary() -> None:
    assert within_budget("yksi kaksi kolme", 100) == "yksi kaksi kolme"
    assert within_budget("yksi kaksi kolme", 12) == "yksi kaksi"
    assert within_budget("a" * 50, 20) == "a" * 20


def test_prepare_question_cuts_the_question_and_each_message_to_the_budget(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"question_budget_chars": 40})
    question, history = prepare_question(QUESTION + " sana" * 100, [Turn("user", "sana " * 100)], settings)
    assert question.startswith(QUESTION) and len(question) <= 40
    assert len(history[0].content) <= 40
    with pytest.raises(InvalidInputError, match="empty"):
        prepare_question("\u200b", [], settings)


def _misspelt_question(words: int) -> str:
    rng = random.Random(7)
    return " ".join("".join(rng.choice("aeiouklmnprstyhv") for _ in range(rng.randint(6, 10))) for _ in range(words))


def _seconds(assistant: Assistant, question: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        assistant.ask(question)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@pytest.mark.parametrize(
    "expensive",
    ["a" + "\u0301" * 1999, _misspelt_question(400)[:2000], "väestöpohja" * 180, "1,2 " * 500],
    ids=["combining marks", "400 misspelt words", "one 1980-letter word", "digits"],
)
def test_an_expensive_legal_question_costs_a_few_normal_ones(assistant: Assistant, expensive: str) -> None:
    assert len(expensive) <= 2000, "legal: within KYSY_MAX_QUESTION_CHARS"
    normal = _seconds(assistant, QUESTION)
    cost = _seconds(assistant, expensive)
    print(f"normal {normal * 1000:.0f} ms, expensive {cost * 1000:.0f} ms")
    # Before the budget these took 2.5-6.5 s against 40-150 ms for a normal question.
    assert cost < max(1.0, 8 * normal), (normal, cost)


# --- history size --------------------------------------------------------------------------------------


def test_a_history_message_or_history_over_its_limit_is_413(client: TestClient, corpus_index: Settings) -> None:
    limit = corpus_index.max_history_message_chars
    big = [{"role": "user", "content": "a " * (limit // 2 + 1)}]
    refused = client.post("/api/chat", json={"question": QUESTION, "history": big})
    assert refused.status_code == 413 and refused.json()["error"] == "history_too_long"
    assert str(limit) in refused.json()["message"]
    openai = client.post("/v1/chat/completions", json={"messages": [*big, {"role": "user", "content": QUESTION}]})
    assert openai.status_code == 413
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 0, "max_history_chars": 10_000})
    many = [{"role": "user" if i % 2 == 0 else "assistant", "content": "sana " * 500} for i in range(6)]
    with TestClient(create_app(settings)) as small:
        total = small.post("/api/chat", json={"question": QUESTION, "history": many})
        assert total.status_code == 413 and "in all" in total.json()["message"]
        assert small.post("/api/chat", json={"question": QUESTION, "history": many[:3]}).status_code == 200


def test_a_full_legal_history_is_answered_fast(client: TestClient, corpus_index: Settings) -> None:
    per_message = corpus_index.max_history_chars // 20
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": ("Etelä-Karjalan väestöpohja " * 400)[:per_message]}
        for i in range(20)
    ]
    body = json.dumps({"question": "Entä Lapissa?", "history": history})
    assert len(body) < corpus_index.max_body_bytes
    started = time.perf_counter()
    response = client.post("/api/chat", content=body, headers={"content-type": "application/json"})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert elapsed < 2.0, f"{elapsed:.1f} s (20 turns of 220 kB took 4.8-6.6 s before the limits)"


def test_a_cut_question_is_logged_by_its_lengths_never_its_words(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="assistant.inputs")
    secret = "Henkilötunnukseni 010101-123X " + "sana " * 100
    prepare_question(secret, [], Settings(question_budget_chars=50))
    logged = [record.getMessage() for record in caplog.records if record.name == "assistant.inputs"]
    assert logged and "characters searched by its first" in logged[0]
    assert not any("010101" in message or "sana" in message for message in logged)
