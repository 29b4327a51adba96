"""Client/server mode: the same ingestion and dense search against a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.retrieve import Retriever
from ingest.analyze import make_analyzer
from ingest.embed import make_embedder
from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
from ingest.vectors import VectorStore
from kysy.errors import ConfigError, StorageError
from kysy.settings import Settings
from tests.conftest import ChromaServer, free_port

TEXTS = {
    "pilotit.txt": "Aluepilotit\n\nEtelä-Karjalan ja Lapin pilotit tukevat strategista yhteistyötä.\n",
    "hyte.txt": "Hyte\n\nHyvinvoinnin ja terveyden edistäminen on kuntien ja hyvinvointialueiden yhteinen tehtävä.\n",
}


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = ChromaServer()
    server.start(tmp_path_factory.mktemp("chroma-server"))
    try:
        yield server.url
    finally:
        server.stop()


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
    settings = Settings(data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="Chroma server"):
        VectorStore(settings, make_embedder(settings.embedder))


def test_a_malformed_server_url_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", chroma_url="chroma.example:8000")
    with pytest.raises(ConfigError, match="KYSY_CHROMA_URL"):
        VectorStore(settings, make_embedder(settings.embedder))
