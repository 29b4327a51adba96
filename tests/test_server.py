"""``kysy serve``: proxy trust made explicit, and settings the server refuses to start with."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.server import server_config
from cli.main import _parser, _settings, main
from kysy.errors import ConfigError
from kysy.settings import Settings

Serve = Callable[[FastAPI], AbstractContextManager[str]]
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
TOKEN = "t" * 40


def _ask(base: str, forwarded_for: str) -> int:
    return httpx.post(
        f"{base}/api/chat", json={"question": QUESTION}, headers={"X-Forwarded-For": forwarded_for}, timeout=60
    ).status_code


def test_forwarded_for_is_ignored_by_default(corpus_index: Settings, serve_app: Serve) -> None:
    # A local process rotating X-Forwarded-For must not get a new budget for each value.
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 2})
    with serve_app(create_app(settings)) as base:
        statuses = [_ask(base, f"10.1.0.{n}") for n in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_forwarded_for_counts_only_from_the_allowed_proxies(corpus_index: Settings, serve_app: Serve) -> None:
    trusted = corpus_index.model_copy(update={
        "rate_limit_per_minute": 1, "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1",
    })
    with serve_app(create_app(trusted)) as base:
        assert [_ask(base, "10.2.0.1"), _ask(base, "10.2.0.1"), _ask(base, "10.2.0.2")] == [200, 429, 200]
    elsewhere = trusted.model_copy(update={"forwarded_allow_ips": "10.9.9.9"})
    with serve_app(create_app(elsewhere)) as base:
        assert [_ask(base, "10.3.0.1"), _ask(base, "10.3.0.2")] == [200, 429]


def test_server_config_takes_the_limits_and_the_proxy_trust_from_settings() -> None:
    settings = Settings(proxy_headers=True, forwarded_allow_ips="10.0.0.5,10.0.0.6", max_connections=7,
                        keep_alive_s=3.0, max_header_bytes=8192)
    config = server_config(FastAPI(), settings)
    assert config.proxy_headers is True and config.forwarded_allow_ips == "10.0.0.5,10.0.0.6"
    assert config.max_connections == 7 and config.timeout_keep_alive == 3.0 and config.max_header_bytes == 8192
    assert server_config(FastAPI(), Settings()).proxy_headers is False


def test_serve_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSY_FORWARDED_ALLOW_IPS", "10.0.0.1")
    plain = _settings(_parser().parse_args(["serve"]))
    assert plain.proxy_headers is False and plain.forwarded_allow_ips == "10.0.0.1"
    flagged = _settings(_parser().parse_args(["serve", "--proxy-headers", "--forwarded-allow-ips", "192.0.2.1"]))
    assert flagged.proxy_headers is True and flagged.forwarded_allow_ips == "192.0.2.1"


def test_a_short_admin_token_stops_the_server_from_starting(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(Settings(admin_token="s3cret"))
    monkeypatch.setenv("KYSY_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("KYSY_DATA_DIR", str(tmp_path))
    assert main(["serve", "--port", "1"]) == 1
    message = capsys.readouterr().err
    assert "KYSY_ADMIN_TOKEN has 6 characters" in message and "at least 32" in message


def test_wrong_admin_tokens_are_throttled_per_client(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"admin_token": TOKEN, "admin_failures_per_minute": 5})
    with TestClient(create_app(settings)) as client:
        wrong = [client.get("/api/admin/feedback", headers={"Authorization": f"Bearer guess{n}"}) for n in range(5)]
        assert [r.status_code for r in wrong] == [401] * 5
        throttled = client.get("/api/admin/feedback", headers={"Authorization": f"Bearer {TOKEN}"})
        assert throttled.status_code == 429 and throttled.json()["error"] == "rate_limited"
        assert int(throttled.headers["retry-after"]) >= 1
        # Questions are not affected.
        assert client.post("/api/chat", json={"question": QUESTION}).status_code == 200
