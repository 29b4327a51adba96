"""The OpenAPI schema documents every error and limit, and the running server keeps to it: a bounded
schemathesis run against a real server fails on any 5xx, undocumented status or schema violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from assistant.api import create_app
from kysy.settings import Settings

Serve = Callable[[FastAPI], AbstractContextManager[str]]
TOKEN = "openapi-admin-token-" + "o" * 30

# 413 rejects a body or text over its limit; 415 an upload that is not one of the six formats; 422 what
# no JSON schema can say (a question of only invisible characters, a conversation that does not end with
# the user's question, an upload that does not parse).
SCHEMATHESIS_CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 413, 415, 422, 429]

[checks.positive_data_acceptance]
expected-statuses = ["2XX", 401, 404, 409, 413, 415, 422, 429]
"""


DESCRIBED = {"400", "401", "404", "408", "409", "413", "415", "422", "429", "431", "500", "503", "507"}


def _schema(settings: Settings) -> dict[str, Any]:
    schema: dict[str, Any] = create_app(settings).openapi()
    return schema


def test_every_operation_documents_its_errors_as_json(corpus_index: Settings) -> None:
    schema = _schema(corpus_index.model_copy(update={"admin_token": TOKEN}))
    operations = {(method, path): op for path, methods in schema["paths"].items() for method, op in methods.items()}
    assert ("post", "/api/admin/reindex") in operations and ("get", "/api/admin/feedback") in operations
    for (method, path), operation in operations.items():
        responses = operation["responses"]
        expected = {"400", "431", "503"} | ({"408", "413"} if method == "post" else set())
        if path.startswith(("/api/chat", "/v1/chat", "/api/feedback")):
            expected |= {"413", "422", "429"}
        if path.startswith("/api/admin/"):
            expected |= {"401", "429"}
            assert operation["security"] == [{"adminToken": []}]
        if "{doc_id}" in path:
            expected |= {"404"}
        assert expected <= set(responses), (method, path, sorted(responses))
        shape = "/OpenAIError" if path.startswith("/v1/") else "/ErrorBody"  # OpenAI clients read OpenAI's
        for status, response in responses.items():
            if int(status) < 400:
                continue
            assert response["content"]["application/json"]["schema"]["$ref"].endswith(shape), (path, status)
            if (path, status) != ("/v1/chat/completions", "404"):  # model_not_found, described by its route
                assert status in DESCRIBED, (path, status)
                assert response["description"] != "Error", (path, status, response)
        for status in ("429", "503"):
            if status in responses:
                assert "Retry-After" in responses[status]["headers"]
    assert operations[("post", "/api/feedback")]["responses"]["507"]


def test_the_limits_are_in_the_schema_with_their_configured_values(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"max_question_chars": 1234, "max_history_turns": 7})
    schema = _schema(settings)
    chat = schema["components"]["schemas"]["ChatRequest"]["properties"]
    assert chat["question"]["maxLength"] == 1234 and chat["history"]["maxItems"] == 7
    turn = schema["components"]["schemas"]["HistoryTurn"]["properties"]["content"]
    assert turn["maxLength"] == settings.max_history_message_chars
    too_large = schema["paths"]["/api/chat"]["post"]["responses"]["413"]["description"]
    assert "1234" in too_large and str(settings.max_body_bytes) in too_large
    assert str(settings.max_history_chars) in too_large
    limited = schema["paths"]["/api/chat"]["post"]["responses"]["429"]["description"]
    assert str(settings.rate_limit_per_minute) in limited
    assert str(settings.max_header_bytes) in schema["paths"]["/healthz"]["get"]["responses"]["431"]["description"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    corpus_index: Settings, serve_app: Serve, tmp_path: Path
) -> None:
    # A copy of the corpus too: the run uploads and deletes documents with the admin token.
    shutil.copytree(corpus_index.data_dir, tmp_path / "data")
    shutil.copytree(corpus_index.corpus_dir, tmp_path / "corpus")
    settings = corpus_index.model_copy(update={
        "data_dir": tmp_path / "data", "corpus_dir": tmp_path / "corpus", "rate_limit_per_minute": 0,
        "admin_token": TOKEN,
        "admin_failures_per_minute": 10_000,
    })
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG, encoding="utf-8")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    with serve_app(create_app(settings)) as base:
        run = subprocess.run(
            [
                str(schemathesis), "--config-file", str(config), "--no-color", "run", f"{base}/openapi.json",
                "--checks", "all", "--max-examples", "20", "--workers", "2", "--seed", "20240601",
                "--request-timeout", "60", "--generation-database", "none", "--output-truncate", "true",
                "--header", f"Authorization: Bearer {TOKEN}", "--max-time", "60",
            ],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )
    summary = run.stdout[-6000:]
    print(summary)
    assert run.returncode == 0, summary
    operations = sum(len(methods) for methods in create_app(settings).openapi()["paths"].values())
    assert f"Tested: {operations}" in summary, summary
