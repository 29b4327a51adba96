"""The OpenAI-compatible endpoint, driven by the official ``openai`` client against a real server."""

from __future__ import annotations

import httpx
import openai
import pytest

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
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="kysy", messages=[{"role": "system", "content": "Olet apuri."}])
