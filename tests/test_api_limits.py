"""Limits, CORS and admin access of the HTTP API, against a real index and a real server."""

from __future__ import annotations

import http.client
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api import create_app
from ingest.lock import writer_lock
from kysy.settings import Settings

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"


def _app_client(settings: Settings, **update: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"rate_limit_per_minute": 0, **update})))


@pytest.fixture(scope="module")
def client(corpus_index: Settings) -> Iterator[TestClient]:
    with _app_client(corpus_index) as test_client:
        yield test_client


def _assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    if code:
        assert body["error"] == code
    return body


def test_question_over_the_limit_is_413(client: TestClient) -> None:
    body = _assert_error(client.post("/api/chat", json={"question": "a" * 2001}), 413, "question_too_long")
    assert "2001" in body["message"] and "2000" in body["message"]
    assert client.post("/api/chat", json={"question": "väestöpohja " + "a" * 1988}).status_code == 200


def test_history_over_the_limit_is_413(client: TestClient) -> None:
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": "hei"} for i in range(21)]
    _assert_error(client.post("/api/chat", json={"question": QUESTION, "history": history}), 413, "history_too_long")
    assert client.post("/api/chat", json={"question": QUESTION, "history": history[:20]}).status_code == 200


@pytest.mark.parametrize(("body", "content_type", "says"), [
    (b'{"question": "Mik', "application/json", "the request body is not valid JSON"),
    ('{"question": "Mitä hyvinvointialue tekee?"}'.encode("latin-1"), "application/json", "it must be UTF-8"),
    (b"question=Mit%C3%A4", "application/x-www-form-urlencoded", "send a JSON object"),
    (json.dumps({"question": QUESTION}).encode(), "text/plain", "Content-Type: application/json"),
    ('["Mikä on hyte?"]'.encode(), "application/json", "send a JSON object"),
    (b"", "application/json", "the request body is empty"),
], ids=["broken", "latin-1", "form", "text-plain", "array", "empty"])
def test_a_body_that_is_no_json_object_says_what_to_send(live_server: str, body: bytes, content_type: str,
                                                          says: str) -> None:
    response = httpx.post(f"{live_server}/api/chat", content=body, headers={"content-type": content_type}, timeout=30)
    assert says in _assert_error(response, 422, "invalid_request")["message"]


def test_body_over_the_limit_is_refused_before_it_is_read(live_server: str) -> None:
    payload = json.dumps({"question": "a" * 300_000}).encode()
    _assert_error(httpx.post(f"{live_server}/api/chat", content=payload,
                             headers={"content-type": "application/json"}, timeout=30), 413, "too_large")
    # A client that declares a huge body gets the 413 without sending any of it.
    url = urlsplit(live_server)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    connection.putrequest("POST", "/api/chat")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(50_000_000))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and json.loads(response.read())["error"] == "too_large"
    connection.close()


def test_chunked_body_over_the_limit_is_counted(live_server: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'"}'

    response = httpx.post(f"{live_server}/api/chat", content=chunks(), headers={"content-type": "application/json"})
    _assert_error(response, 413, "too_large")


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (b'{"question": "puuttuva lainausmerkki}', "not valid JSON"),
        (b'{"question": 42}', "question"),
        (b'{"question": "ok", "history": "ei lista"}', "history"),
        (b'{"question": "ok", "top_k": 21}', "top_k"),
        (b'{"question": "ok", "history": [{"role": "system", "content": "x"}]}', "role"),
        (b'{"question": ""}', "question"),
        (b'{"question": "   "}', "question"),
        (b'{}', "question"),
    ],
)
def test_malformed_requests_are_422_json(client: TestClient, payload: bytes, what: str) -> None:
    response = client.post("/api/chat", content=payload, headers={"content-type": "application/json"})
    assert what in _assert_error(response, 422, "invalid_request")["message"]


def test_rate_limit_answers_429_with_retry_after(corpus_index: Settings) -> None:
    with _app_client(corpus_index, rate_limit_per_minute=2) as limited:
        assert limited.post("/api/chat", json={"question": QUESTION}).status_code == 200
        assert limited.post("/api/chat", json={"question": QUESTION}).status_code == 200
        refused = limited.post("/api/chat", json={"question": QUESTION})
        _assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        # Health checks are never limited.
        assert all(limited.get("/healthz").status_code == 200 for _ in range(5))
        openai = limited.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert openai.status_code == 429 and 1 <= int(openai.headers["retry-after"]) <= 30
        assert openai.json()["error"] | {"message": ""} == {  # OpenAI's shape under /v1/
            "message": "", "type": "rate_limit_error", "param": None, "code": "rate_limited"}


def test_concurrency_cap_refuses_at_once_with_503(corpus_index: Settings) -> None:
    app = create_app(corpus_index.model_copy(update={"rate_limit_per_minute": 0, "max_concurrency": 1}))
    with TestClient(app) as capped:
        slot = app.state.kysy.gate.enter()  # one answer in progress
        try:
            started = time.perf_counter()
            busy = capped.post("/api/chat", json={"question": QUESTION})
            elapsed = time.perf_counter() - started
            _assert_error(busy, 503, "busy")
            assert busy.headers["retry-after"] == "1" and elapsed < 1.0
            openai = capped.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]})
            assert openai.status_code == 503 and openai.headers["retry-after"] == "1"
            assert (openai.json()["error"]["type"], openai.json()["error"]["code"]) == ("server_error", "busy")
            assert capped.get("/healthz").status_code == 200
        finally:
            slot.release()
        assert capped.post("/api/chat", json={"question": QUESTION}).status_code == 200
        assert capped.post("/api/chat", json={"question": QUESTION}).status_code == 200


def test_a_client_that_leaves_a_stream_frees_its_place(
    corpus_index: Settings, serve_app: Callable[[FastAPI], AbstractContextManager[str]]
) -> None:
    app = create_app(corpus_index.model_copy(update={"rate_limit_per_minute": 0, "max_concurrency": 1}))
    with serve_app(app) as base:
        for _ in range(3):
            with httpx.stream("POST", f"{base}/api/chat", json={"question": QUESTION},
                              headers={"Accept": "text/event-stream"}, timeout=30) as response:
                assert response.status_code == 200
                next(response.iter_lines())
        deadline = time.monotonic() + 5
        while app.state.kysy.gate.active and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.kysy.gate.active == 0
        assert httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=30).status_code == 200


def test_cors_only_for_configured_origins(corpus_index: Settings) -> None:
    with _app_client(corpus_index, cors_origins=["https://kunta.example"]) as cors:
        allowed = cors.post("/api/chat", json={"question": QUESTION}, headers={"Origin": "https://kunta.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://kunta.example"
        assert "access-control-allow-credentials" not in allowed.headers
        assert "retry-after" in allowed.headers["access-control-expose-headers"].lower()
        other = cors.post("/api/chat", json={"question": QUESTION}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = cors.options("/api/chat", headers={
            "Origin": "https://kunta.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        })
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://kunta.example"
        refused = cors.options("/api/chat", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        })
        assert "access-control-allow-origin" not in refused.headers


def test_cors_wildcard_never_allows_credentials(corpus_index: Settings) -> None:
    with _app_client(corpus_index, cors_origins=["*"]) as cors:
        response = cors.post("/api/chat", json={"question": QUESTION},
                             headers={"Origin": "https://any.example", "Cookie": "session=1"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers


def test_no_cors_headers_without_configured_origins(client: TestClient) -> None:
    response = client.post("/api/chat", json={"question": QUESTION}, headers={"Origin": "https://kunta.example"})
    assert "access-control-allow-origin" not in response.headers


def test_admin_routes_do_not_exist_without_a_token(client: TestClient) -> None:
    _assert_error(client.post("/api/admin/reindex", headers={"Authorization": "Bearer x"}), 404)
    _assert_error(client.get("/api/admin/feedback", headers={"Authorization": "Bearer "}), 404)


ADMIN_TOKEN = "s3cret-token-of-forty-characters-000000"


def test_admin_routes_need_the_right_token(corpus_index: Settings) -> None:
    with _app_client(corpus_index, admin_token=ADMIN_TOKEN) as admin:
        _assert_error(admin.get("/api/admin/feedback"), 401, "unauthorized")
        wrong = admin.get("/api/admin/feedback", headers={"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"})
        _assert_error(wrong, 401, "unauthorized")
        assert wrong.headers["www-authenticate"] == "Bearer"
        admin.post("/api/feedback", json={"question": QUESTION, "answer": "127 000", "rating": "up"})
        right = admin.get("/api/admin/feedback", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert right.status_code == 200 and right.json()["items"][0]["question"] == QUESTION


def test_admin_reindex_reloads_and_refuses_while_an_ingest_runs(
    corpus_index: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("reindex") / "data"
    shutil.copytree(corpus_index.data_dir, data)
    with _app_client(corpus_index, data_dir=data, admin_token=ADMIN_TOKEN) as admin:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        generation = admin.get("/readyz").json()["generation"]
        done = admin.post("/api/admin/reindex", params={"wait": "true"}, headers=auth)
        assert done.status_code == 200, done.text
        report = done.json()
        assert len(report["unchanged"]) + len(report["updated"]) == 5 and report["failed"] == []
        assert report["generation"] >= generation
        with writer_lock(data / "ingest.lock"):
            # `kysy ingest` beside the server: the job fails as the synchronous reindex did
            _assert_error(admin.post("/api/admin/reindex", params={"wait": "true"}, headers=auth), 409, "index_locked")
        assert admin.post("/api/chat", json={"question": QUESTION}).status_code == 200
