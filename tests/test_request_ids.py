"""Request ids and error logging on a real server: the id a client sends (or a new one) comes back and marks
the request's log lines; an unexpected failure is one JSON 500 and one log line."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from assistant.request_ids import RequestIdFilter
from kysy.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
Serve = Callable[[FastAPI], AbstractContextManager[str]]


def _failing_app(tmp_path: Path) -> FastAPI:
    app = create_app(Settings(data_dir=tmp_path / "data", corpus_dir=tmp_path))

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    return app


@pytest.mark.parametrize(("sent", "kept"), [("abc-123.x_Y:z", True), ("two words", False), ("x" * 65, False), ("", False)])
def test_a_safe_request_id_is_echoed_and_any_other_replaced(
    tmp_path: Path, serve_app: Serve, sent: str, kept: bool
) -> None:
    with serve_app(_failing_app(tmp_path)) as base:
        echoed = httpx.get(f"{base}/healthz", headers={"X-Request-ID": sent}, timeout=10).headers["x-request-id"]
        other = httpx.get(f"{base}/healthz", timeout=10).headers["x-request-id"]
    assert (echoed == sent) is kept
    assert 1 <= len(echoed) <= 64 and " " not in echoed and other != echoed


def test_an_unexpected_error_is_one_json_500_and_one_log_line_with_the_request(
    tmp_path: Path, serve_app: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                seen.append(self.format(record))

    handler = Lines()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s%(request_tag)s"))
    for name in ("", "uvicorn"):  # uvicorn's own loggers do not reach the root logger
        logging.getLogger(name).addHandler(handler)
    try:
        with serve_app(_failing_app(tmp_path)) as base:
            response = httpx.get(f"{base}/broken", headers={"X-Request-ID": "req-7"}, timeout=10)
            time.sleep(0.2)  # the server logs after it has answered
    finally:
        for name in ("", "uvicorn"):
            logging.getLogger(name).removeHandler(handler)
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert response.headers["x-request-id"] == "req-7"
    assert len(seen) == 1, seen
    first, *trace = seen[0].splitlines()
    assert first == "assistant.request_ids: unexpected error on GET /broken [request req-7]"
    assert trace[-1] == "RuntimeError: a bug"  # the traceback once, for whoever fixes it


def test_serve_logs_the_request_id_on_the_access_line(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KYSY_")}
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=ROOT, stdout=out,
            stderr=subprocess.STDOUT, env={**env, "KYSY_DATA_DIR": str(tmp_path / "data"),
                                           "KYSY_CORPUS_DIR": str(tmp_path / "ei-ole")},
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", headers={"X-Request-ID": "probe-1"}, timeout=5)
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert ready.status_code == 503 and ready.headers["x-request-id"] == "probe-1"
    assert str(tmp_path) not in ready.text  # the data directory is the operator's business ...
    access = [line for line in text.splitlines() if "GET /readyz" in line]
    assert len(access) == 1 and " 503 " in access[0] and access[0].endswith(" [request probe-1]"), text
    assert str(tmp_path / "data" / "index.sqlite") in text  # ... and the log tells the operator
    assert "KYSY_CORPUS_DIR" in text and str(tmp_path / "ei-ole") in text
    assert "Traceback" not in text
