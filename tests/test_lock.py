"""The data directory's locks: one ingest at a time, and with the embedded vector store one owner at a time (a
server for its lifetime, or a CLI ingest), refused at once in one line and never left behind by a killed process."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import httpx
import pytest

from ingest.lock import INGEST, SERVE, store_owner_lock
from kysy.errors import IndexLockedError
from kysy.settings import Settings
from tests.conftest import free_port
from tests.kysy_process import kysy, kysy_serve

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture()
def settings(corpus_index: Settings, tmp_path: Path) -> Settings:
    """A copy of the bundled corpus's index, for this test alone."""
    shutil.copytree(corpus_index.data_dir, tmp_path / "data", ignore=shutil.ignore_patterns("*.lock"))
    return corpus_index.model_copy(update={"data_dir": tmp_path / "data"})


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_while_a_server_serves_a_second_server_and_a_cli_ingest_are_refused(settings: Settings) -> None:
    with kysy_serve(settings) as served:
        assert httpx.get(f"{served.base}/readyz", timeout=30).status_code == 200
        second = kysy(settings, "serve", "--port", str(free_port()))
        assert second.returncode == 1
        line = _one_line(second.stderr)
        assert f"kysy serve (pid {served.process.pid})" in line and "KYSY_CHROMA_URL" in line
        ingest = kysy(settings, "ingest", str(settings.corpus_dir), "--json")
        assert ingest.returncode == 1, ingest.stdout
        error = json.loads(ingest.stdout)
        assert error["error"] == "index_locked" and "POST /api/admin/reindex" in error["message"]
        assert str(served.process.pid) in error["message"]
        plain = kysy(settings, "ingest", str(settings.corpus_dir))  # as README says: one line, the code with --json
        assert plain.returncode == 1 and not plain.stdout.strip()
        line = _one_line(plain.stderr)
        assert line.startswith(f"kysy: kysy serve (pid {served.process.pid}) is using") and "/api/admin/reindex" in line
        answer = httpx.post(f"{served.base}/api/chat", json={"question": QUESTION}, timeout=60)
        assert answer.status_code == 200 and answer.json()["not_found"] is False
        served.stop()
    assert kysy(settings, "ingest", str(settings.corpus_dir), "--json").returncode == 0


def test_a_killed_server_leaves_no_lock_behind(settings: Settings) -> None:
    with kysy_serve(settings) as served:
        served.stop(signal.SIGKILL)
    result = kysy(settings, "ingest", str(settings.corpus_dir), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["failed"] == []


def test_an_ingest_owns_the_embedded_store_and_a_chroma_server_needs_no_owner(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path / "data")
    with (
        store_owner_lock(embedded, INGEST),
        pytest.raises(IndexLockedError, match="kysy ingest .* wait for it"),
        store_owner_lock(embedded, SERVE),
    ):
        pass
    with store_owner_lock(embedded, SERVE):  # released with the block
        pass
    shared = Settings(data_dir=tmp_path / "shared", chroma_url="http://127.0.0.1:8001")
    with store_owner_lock(shared, SERVE), store_owner_lock(shared, INGEST):
        assert not shared.store_lock_path.exists()
