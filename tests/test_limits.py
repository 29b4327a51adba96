"""Rate limiting by cost: a client pays for the work its answers take, so its expensive questions use up
its own budget and leave the service to the others."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from assistant.http_errors import ApiError
from assistant.limits import RateLimiter
from kysy.settings import Settings

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
Serve = Callable[[FastAPI], AbstractContextManager[str]]


def test_an_answer_is_charged_by_its_work() -> None:
    limiter = RateLimiter(6, cost_ms=500)
    limiter.check("a")
    limiter.charge("a", 0.1)  # a normal answer: its first token only
    limiter.check("a")
    limiter.charge("a", 1.9)  # four tokens' worth of work: three more
    limiter.check("a")
    with pytest.raises(ApiError) as refused:
        limiter.check("a")
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    limiter.check("b")  # another client keeps its own budget


def test_debt_is_bounded_and_repaid_over_time() -> None:
    limiter = RateLimiter(60, cost_ms=1)
    limiter.check("a")
    limiter.charge("a", 3600.0)  # an hour of work cannot lock a client out for an hour
    with pytest.raises(ApiError) as refused:
        limiter.check("a")
    assert int(refused.value.headers["Retry-After"]) <= 121


def test_require_refuses_without_taking_a_token() -> None:
    limiter = RateLimiter(2)
    limiter.require("a")
    limiter.require("a")
    limiter.spend("a", 2)
    with pytest.raises(ApiError):
        limiter.require("a")


def test_the_api_charges_by_cost(corpus_index: Settings, serve_app: Serve) -> None:
    # One token per millisecond of work: one answer empties a bucket of 10.
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 10, "rate_limit_cost_ms": 1})
    with serve_app(create_app(settings)) as base:
        assert httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).status_code == 200
        refused = httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60)
        assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"


def _expensive(rng: random.Random) -> str:
    return " ".join("".join(rng.choice("aeiouklmnprstyhv") for _ in range(8)) for _ in range(220))[:2000]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_one_client_sending_expensive_questions_at_its_limit_leaves_the_others_fast(
    corpus_index: Settings, serve_app: Serve
) -> None:
    # Two clients behind the test's own proxy (X-Forwarded-For from 127.0.0.1, trusted explicitly).
    # A small budget, charged a token per 100 ms of work, so the expensive client reaches its limit in the run.
    settings = corpus_index.model_copy(update={
        "proxy_headers": True, "forwarded_allow_ips": "127.0.0.1", "rate_limit_per_minute": 20,
        "rate_limit_cost_ms": 100,
    })
    stop = threading.Event()
    sent = {"answered": 0, "limited": 0}

    def heavy(base: str, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=60, headers={"X-Forwarded-For": "10.0.0.66"}) as http:
            while not stop.is_set():
                status = http.post(f"{base}/api/chat", json={"question": _expensive(rng)}).status_code
                sent["answered" if status == 200 else "limited"] += 1
                if status == 429:
                    time.sleep(0.2)

    with serve_app(create_app(settings)) as base:
        heavies = [threading.Thread(target=heavy, args=(base, 1))]  # one question after another, as fast as let
        for thread in heavies:
            thread.start()
        latencies = []
        with httpx.Client(timeout=60, headers={"X-Forwarded-For": "10.0.0.7"}) as http:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                started = time.perf_counter()
                assert http.post(f"{base}/api/chat", json={"question": QUESTION}).status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(1.0)  # within its own budget
        stop.set()
        for thread in heavies:
            thread.join()
    p95 = sorted(latencies)[int(0.95 * len(latencies))]
    print(f"other client: p50 {statistics.median(latencies):.3f} s, p95 {p95:.3f} s over {len(latencies)}; {sent}")
    assert sent["answered"] >= 3 and sent["limited"] >= 1, sent
    assert p95 < 1.0, f"p95 {p95:.2f} s (24 s before the budget and the cost-charging limit)"
