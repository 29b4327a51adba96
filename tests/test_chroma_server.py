"""Client/server mode: the same ingestion and dense search against a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.retrieve import Retriever
from ingest.analyze import make_analyzer
from ingest.embed import make_embedder
from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.errors import ConfigError, StorageError
from kysy.settings import Settings

TEXTS = {
    "pilotit.txt": "Aluepilotit\n\nEtelä-Karjalan ja Lapin pilotit tukevat strategista yhteistyötä.\n",
    "hyte.txt": "Hyte\n\nHyvinvoinnin ja terveyden edistäminen on kuntien ja hyvinvointialueiden yhteinen tehtävä.\n",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma run did not start within 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_ingest_and_dense_search_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in TEXTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_url)
    report = ingest_paths(settings, [corpus])
    assert sorted(report.added) == sorted(TEXTS)
    assert not settings.chroma_path.exists(), "server mode must not create an embedded store"

    embedder = make_embedder(settings.embedder)
    vectors = VectorStore(settings, embedder)
    snapshot = Snapshot(settings.index_path)
    assert vectors.ids() == {c.id for c in snapshot.chunks}
    retriever = Retriever(snapshot, vectors, embedder, make_analyzer(settings.analyzer), settings)
    [best, *_] = retriever.dense(retriever.prepare("Miten hyvinvointia ja terveyttä edistetään?"), 2)
    assert best.chunk.file == "hyte.txt" and best.retriever == "dense"

    (corpus / "hyte.txt").unlink()
    assert ingest_paths(settings, [corpus]).removed == ("hyte.txt",)
    assert {c.file for c in Snapshot(settings.index_path).chunks} == {"pilotit.txt"}
    assert len(vectors.ids()) == len(Snapshot(settings.index_path).chunks)


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(StorageError, match="Chroma server"):
        VectorStore(settings, make_embedder(settings.embedder))


def test_a_malformed_server_url_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", chroma_url="chroma.example:8000")
    with pytest.raises(ConfigError, match="KYSY_CHROMA_URL"):
        VectorStore(settings, make_embedder(settings.embedder))
