"""The transport of ``kysy serve`` against raw sockets: header size, header and body timeouts, the connection
limit, and slow clients that must not hold the server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from bench.probe import closed_by_server
from kysy.settings import Settings

Serve = Callable[[FastAPI], AbstractContextManager[str]]
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture(scope="module")
def server(corpus_index: Settings, serve_app: Serve) -> Iterator[str]:
    settings = corpus_index.model_copy(update={
        "rate_limit_per_minute": 0, "header_timeout_s": 1.0, "body_timeout_s": 1.0, "max_connections": 40,
    })
    with serve_app(create_app(settings)) as base:
        yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _reply(sock: socket.socket) -> tuple[int, dict[str, str]]:
    """The status and JSON body of the response on ``sock`` (0 and {} when the server just closed)."""
    data = b""
    with suppress(OSError):
        while chunk := sock.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 "):
        return 0, {}
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body) if body else {}


def test_headers_over_the_limit_are_431_json(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        status, body = _reply(sock)
    assert status == 431 and body["error"] == "headers_too_large"
    # Headers under the limit are fine, on a kept-alive connection too.
    with httpx.Client() as client:
        for _ in range(3):
            assert client.get(f"{server}/healthz", headers={"X-Fine": "a" * 8000}).status_code == 200


def test_a_32_mb_header_is_refused_without_reading_it(server: str) -> None:
    started = time.perf_counter()
    with _connect(server) as sock:
        with suppress(OSError):  # the server closes long before 32 MB are sent
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 32_000_000)
        status, _ = _reply(sock)
    assert status in (431, 0) and time.perf_counter() - started < 10


def test_malformed_http_is_a_400_json_error(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
        status, body = _reply(sock)
    assert status == 400 and body["error"] == "bad_request"


def test_headers_that_never_finish_are_cut_off(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.perf_counter()
        status, body = _reply(sock)
    assert status == 408 and body["error"] == "header_timeout"
    assert time.perf_counter() - started < 5


def test_a_connection_that_sends_nothing_is_closed(server: str) -> None:
    with _connect(server) as sock:
        started = time.perf_counter()
        assert sock.recv(10) == b""
    assert time.perf_counter() - started < 5


def test_a_body_that_never_finishes_is_408(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        started = time.perf_counter()
        status, body = _reply(sock)
    assert status == 408 and body["error"] == "body_timeout"
    assert time.perf_counter() - started < 5


def test_connections_beyond_the_limit_are_503_at_once(corpus_index: Settings, serve_app: Serve) -> None:
    settings = corpus_index.model_copy(update={"max_connections": 5, "header_timeout_s": 30.0})
    with serve_app(create_app(settings)) as base:
        held = [_connect(base) for _ in range(5)]
        try:
            time.sleep(0.2)
            with _connect(base) as extra:
                status, body = _reply(extra)
            assert status == 503 and body["error"] == "busy"
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the server did not take connections again")


@pytest.mark.timeout(120)
def test_slow_clients_cannot_hold_the_server(server: str) -> None:
    """30 clients trickling their headers a byte at a time: each is cut off after the header timeout,
    and a normal client is answered at its usual speed meanwhile."""
    slow = [_connect(server) for _ in range(30)]
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            for sock in slow:
                with suppress(OSError):
                    sock.sendall(b"G")
            time.sleep(0.1)

    feeder = threading.Thread(target=trickle)
    feeder.start()
    latencies = []
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert client.post(f"{server}/api/chat", json={"question": QUESTION}).status_code == 200
                latencies.append(time.perf_counter() - started)
    finally:
        stop.set()
        feeder.join()
    closed = closed_by_server(slow, 2)
    assert closed == len(slow), f"{len(slow) - closed} slow connections still open"
    assert max(latencies) < 5.0, latencies
