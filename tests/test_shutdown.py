"""SIGTERM to ``kysy serve`` (a restart, a deploy): the process ends within ``KYSY_SHUTDOWN_TIMEOUT_S`` also while
a reindex runs, which leaves the stored index as it was; a streamed answer cut short ends with an ``error`` event
``shutting_down``, never without a last event."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from ingest.store import Snapshot
from kysy.settings import Settings
from tests.conftest import CORPUS, serve
from tests.kysy_process import kysy, kysy_serve
from tests.llm_server import ScriptedLLM, create_llm_app
from tests.test_crash_recovery import heavy_pdf

TOKEN = "shutdown-admin-token-" + "s" * 20
QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
SHUTDOWN_S = 2.0
# Beyond the shutdown timeout: the event loop's last rounds, the lifespan's end and the process's exit.
SLACK_S = 5.0


@pytest.fixture()
def settings(corpus_index: Settings, tmp_path: Path) -> Settings:
    """A copy of the bundled corpus and its index, for this test alone."""
    shutil.copytree(corpus_index.data_dir, tmp_path / "data", ignore=shutil.ignore_patterns("*.lock"))
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return corpus_index.model_copy(update={"data_dir": tmp_path / "data", "corpus_dir": tmp_path / "corpus"})


def _index(settings: Settings) -> tuple[int, set[str]]:
    snapshot = Snapshot(settings.index_path)
    try:
        return snapshot.generation, {chunk.id for chunk in snapshot.chunks}
    finally:
        snapshot.close()


def _children(pid: int) -> list[int]:
    return [int(child) for task in Path(f"/proc/{pid}/task").glob("*")
            for child in (task / "children").read_text().split()]


def test_sigterm_during_a_reindex_ends_the_server_in_time_and_keeps_the_index(settings: Settings) -> None:
    (settings.corpus_dir / "0-raportti.pdf").write_bytes(heavy_pdf())  # parsed first, and slowly
    before = _index(settings)
    env = {"KYSY_ADMIN_TOKEN": TOKEN, "KYSY_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_S)}
    answers: list[httpx.Response] = []
    with kysy_serve(settings, **env) as served:
        def reindex() -> None:  # the server ends before the reindex does
            answers.append(httpx.post(f"{served.base}/api/admin/reindex?wait=true",
                                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120))

        client = threading.Thread(target=reindex)
        client.start()
        deadline = time.monotonic() + 60
        while not _children(served.process.pid):  # the parse worker: the reindex is reading the PDF
            assert time.monotonic() < deadline, "the reindex did not start parsing"
            time.sleep(0.01)
        took = served.stop(timeout=60)
        client.join(timeout=60)
        stderr = served.process.stderr.read() if served.process.stderr else ""
    assert took < SHUTDOWN_S + SLACK_S, f"the server took {took:.1f} s to stop"
    # The request waiting for the job is told why it ends, rather than waited out and then cancelled.
    [answer] = answers
    assert answer.status_code == 503 and answer.json()["error"] == "shutting_down", answer.text
    assert "timeout graceful shutdown exceeded" not in stderr, stderr
    assert _index(settings) == before
    result = kysy(settings, "ingest", str(settings.corpus_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == ["0-raportti.pdf"]


# The product's own events, and the OpenAI-compatible route's chunks (its error is a chunk of its own)
ROUTES = {
    "api-chat": ("/api/chat", {"question": QUESTION}),
    "openai": ("/v1/chat/completions", {"model": "kysy", "stream": True,
                                         "messages": [{"role": "user", "content": QUESTION}]}),
}


def _events(base: str, route: str, into: list[tuple[str, str]], failures: list[Exception]) -> None:
    event = ""
    path, body = ROUTES[route]
    try:
        with httpx.stream("POST", f"{base}{path}", json=body,
                          headers={"Accept": "text/event-stream"}, timeout=60) as response:
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    into.append((event, line.split(":", 1)[1].strip()))
    except httpx.HTTPError as exc:
        failures.append(exc)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_sigterm_while_an_answer_streams_ends_the_stream_with_a_shutting_down_error(settings: Settings,
                                                                                    route: str) -> None:
    script = ScriptedLLM(reply="Etelä-Karjalan väestöpohja on noin 127 000 asukasta [1].", delay_s=60)
    events: list[tuple[str, str]] = []
    failures: list[Exception] = []
    with serve(create_llm_app(script)) as llm:
        env = {"KYSY_LLM_BASE_URL": f"{llm}/v1", "KYSY_LLM_MODEL": "scripted", "KYSY_LLM_TIMEOUT_S": "120",
               "KYSY_SHUTDOWN_TIMEOUT_S": str(SHUTDOWN_S)}
        with kysy_serve(settings, **env) as served:
            client = threading.Thread(target=_events, args=(served.base, route, events, failures))
            client.start()
            deadline = time.monotonic() + 60
            while not script.requests:  # the answer is being written by the (slow) language model
                assert time.monotonic() < deadline, "the language model was not asked"
                time.sleep(0.01)
            took = served.stop(timeout=60)
            client.join(timeout=30)
            stderr = served.process.stderr.read() if served.process.stderr else ""
    assert not failures, failures
    assert events, events
    last = json.loads(events[-1][1])
    if route == "openai":
        assert last["error"]["code"] == "shutting_down", events
    else:
        assert events[-1][0] == "error" and last["error"] == "shutting_down", events
    assert took < SHUTDOWN_S + SLACK_S, f"the server took {took:.1f} s to stop"
    assert "without completing response" not in stderr, stderr
