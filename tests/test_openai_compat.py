"""The OpenAI-compatible endpoint, driven by the official ``openai`` client against a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html import escape as html_escape
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from assistant.api import create_app
from ingest.pipeline import ingest_paths
from kysy.settings import Settings

PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture(scope="module")
def client(live_server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_server}/v1", api_key="not-needed", max_retries=0, timeout=60)


def test_models_lists_kysy(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["kysy"]


def test_completion_answers_with_markers_and_sources(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="kysy",
        messages=[
            {"role": "system", "content": "SALAINEN-JÄRJESTELMÄOHJE"},
            {"role": "user", "content": QUESTION},
        ],
    )
    content = completion.choices[0].message.content or ""
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert "127 000" in content and "[1]" in content
    assert "SALAINEN" not in completion.model_dump_json()
    sources = (completion.model_extra or {})["sources"]
    assert (PDF, 9) in {(s["file"], s["page"]) for s in sources}
    assert all(f"[{s['n']}]" in content for s in sources)


def test_streaming_gives_chunks_that_add_up_to_the_answer(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="kysy", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert len(chunks) >= 3 and "127 000" in text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["sources"][0]["n"] == 1
    plain = client.chat.completions.create(model="kysy", messages=[{"role": "user", "content": QUESTION}])
    assert text == plain.choices[0].message.content


def test_stream_ends_with_done_line(live_server: str) -> None:
    body = {"model": "kysy", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{live_server}/v1/chat/completions", json=body, timeout=60) as response:
        lines = [line for line in response.iter_lines() if line.strip()]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_earlier_messages_are_the_history(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="kysy",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "Väestöpohja on 127 000 [1]."},
            {"role": "user", "content": [{"type": "text", "text": "Entä mikä malli siellä on?"}]},
        ],
    )
    assert completion.choices[0].message.content


def test_a_conversation_that_does_not_end_with_a_question_is_refused(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(model="kysy", messages=[{"role": "system", "content": "Olet apuri."}])
    assert (refused.value.code, refused.value.type) == ("invalid_request", "invalid_request_error")


def test_every_error_under_v1_is_in_openais_shape_and_the_own_routes_keep_theirs(live_server: str) -> None:
    too_long = {"role": "user", "content": "Kuka rahoittaa projektia? " * 200}
    for method, path, body, status, code in [
        ("POST", "/v1/chat/completions", {"model": "kysy", "messages": [too_long]}, 413, "question_too_long"),
        ("POST", "/v1/chat/completions", {"model": "kysy"}, 422, "invalid_request"),
        ("GET", "/v1/completions", None, 404, "not_found"),
        ("DELETE", "/v1/models", None, 405, "method_not_allowed"),
    ]:
        response = httpx.request(method, f"{live_server}{path}", json=body, timeout=30)
        error = response.json()["error"]
        assert response.status_code == status and set(error) == {"message", "type", "param", "code"}, response.text
        assert error["code"] == code and error["message"] and error["type"] == "invalid_request_error"
        assert int(response.headers["content-length"]) == len(response.content)
    own = httpx.post(f"{live_server}/api/chat", json={"question": too_long["content"]}, timeout=30)
    assert own.status_code == 413 and own.json() == {"error": "question_too_long", "message": own.json()["message"]}


def test_a_conversation_longer_than_the_history_limit_keeps_its_latest_turns(
    client: openai.OpenAI, live_server: str
) -> None:
    # OpenAI clients send the whole conversation each time; the product's own route keeps its 413.
    earlier: list[dict[str, str]] = []
    for n in range(12):  # 24 earlier messages, over KYSY_MAX_HISTORY_TURNS (20)
        earlier += [{"role": "user", "content": f"Kysymys {n} kuntien yhteistyöstä?"},
                    {"role": "assistant", "content": f"Vastaus {n} [1]."}]
    completion = client.chat.completions.create(
        model="kysy", messages=[*earlier, {"role": "user", "content": QUESTION}]  # type: ignore[list-item]
    )
    assert "127 000" in (completion.choices[0].message.content or "")
    own = httpx.post(f"{live_server}/api/chat", json={"question": QUESTION, "history": earlier}, timeout=60)
    assert own.status_code == 413 and own.json()["error"] == "history_too_long"


HOSTILE = "<img src=x onerror=alert(3)>"
HOSTILE_LINK = "[klikkaa](javascript:alert(2))"


@pytest.fixture(scope="module")
def hostile_text_app(tmp_path_factory: pytest.TempPathFactory, embed_cache: Path) -> Iterator[TestClient]:
    """An app over one document whose text holds raw HTML and a Markdown link to a script."""
    root = tmp_path_factory.mktemp("markdown")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "ohje.txt").write_text(
        f"Yhteistyöohje\n\nKunnan ja hyvinvointialueen yhteistyöstä kerrotaan kuvassa {HOSTILE} ja linkissä "
        f"{HOSTILE_LINK}.\n\nYhteistyöryhmä kokoontuu neljästi vuodessa.\n", encoding="utf-8")
    settings = Settings(data_dir=root / "data", corpus_dir=corpus, rate_limit_per_minute=0, embed_cache=embed_cache)
    ingest_paths(settings, [corpus])
    with TestClient(create_app(settings)) as own:
        yield own


def test_quoted_html_and_links_show_as_the_text_they_are_in_the_markdown_message(
    hostile_text_app: TestClient,
) -> None:
    question = "Missä kunnan ja hyvinvointialueen yhteistyöstä kerrotaan?"
    body = {"model": "kysy", "messages": [{"role": "user", "content": question}]}
    completion = hostile_text_app.post("/v1/chat/completions", json=body).json()
    content = completion["choices"][0]["message"]["content"]
    assert HOSTILE in completion["kysy"]["answer"] and "[1]" in content  # quoted, and its marker kept
    html = MarkdownIt("commonmark").render(content)  # as a chat client renders the message
    assert "<img" not in html and 'href="javascript' not in html
    assert html_escape(HOSTILE, quote=False) in html and HOSTILE_LINK in html  # shown as written
    streamed = hostile_text_app.post("/v1/chat/completions", json={**body, "stream": True}).text
    chunks = [json.loads(line[6:]) for line in streamed.splitlines() if line.startswith("data: {")]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")) == content
    # sent back as history, the earlier answer is what was said: asking on finds nothing new rather than it again
    again = hostile_text_app.post("/v1/chat/completions", json={"model": "kysy", "messages": [
        *body["messages"], {"role": "assistant", "content": content}, {"role": "user", "content": "Kerro lisää"},
    ]}).json()
    assert HOSTILE not in again["kysy"]["answer"]
