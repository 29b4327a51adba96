"""Shared fixtures: the bundled corpus indexed once per test session, and a real HTTP server."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from kysy.settings import Settings

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of an index of the bundled corpus, built once per session (shared embedding cache)."""
    from ingest.pipeline import ingest_paths

    root = tmp_path_factory.mktemp("corpus-index")
    settings = Settings(
        data_dir=root / "data",
        corpus_dir=CORPUS,
        embed_cache=tmp_path_factory.getbasetemp() / "emb.sqlite",
    )
    report = ingest_paths(settings, [CORPUS])
    assert not report.failed, report.failed
    return settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` as ``kysy serve`` does (transport limits and proxy trust from the app's settings) on
    127.0.0.1 in a thread; yields its base URL."""
    from assistant.server import server_config

    state = getattr(app.state, "kysy", None)  # another app (a fake language model) gets the defaults
    settings = (state.settings if state else Settings()).model_copy(update={"host": "127.0.0.1", "port": free_port()})
    server = uvicorn.Server(server_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def serve_app() -> Callable[[FastAPI], AbstractContextManager[str]]:
    """``serve_app(app)``: a context manager running ``app`` on a real server, yielding its base URL."""
    return serve


@pytest.fixture(scope="session")
def live_server(corpus_index: Settings) -> Iterator[str]:
    """Base URL of a real server over ``corpus_index`` (no rate limit), shared by the session."""
    from assistant.api import create_app

    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 0})
    with serve(create_app(settings)) as base:
        yield base


@pytest.fixture(scope="session")
def embed_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache file for the whole session, so tests never embed the same text twice."""
    return tmp_path_factory.getbasetemp() / "emb.sqlite"


def cached_embeddings(path: Path) -> int:
    """How many vectors the embedding cache at ``path`` holds (0 before it exists or while it is being created),
    read without taking a writer's lock: how far an ingest running in another process has come."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


class ChromaServer:
    """A real ``chroma run`` on one port of 127.0.0.1, stopped and started again at will (on another directory)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, path: Path) -> None:
        chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
        self.process = subprocess.Popen(
            [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "chroma run ended at start"
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail("chroma run did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
