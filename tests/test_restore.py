"""Restoring a backup as docs/deploy.md says: ``index.sqlite`` and ``feedback.sqlite`` copied with SQLite's online
backup, ``chroma/`` left out. The server says it is not ready until the vectors are back, and ``kysy ingest`` (or the
admin reindex) embeds the chunks again although no document changed."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from kysy.settings import Settings
from tests.kysy_process import kysy, kysy_serve

QUESTION = "Mikä on Etelä-Karjalan väestöpohja?"
TOKEN = "restore-admin-token-" + "r" * 20
Serve = Callable[[FastAPI], AbstractContextManager[str]]


def _backup(source: Path, target: Path) -> None:
    """``sqlite3 source ".backup target"``."""
    with sqlite3.connect(source) as db, sqlite3.connect(target) as copy:
        db.backup(copy)


@pytest.fixture()
def restored(corpus_index: Settings, tmp_path: Path) -> Settings:
    """The bundled corpus's data directory backed up, removed and restored from the backup."""
    data, backup = tmp_path / "data", tmp_path / "backup"
    shutil.copytree(corpus_index.data_dir, data, ignore=shutil.ignore_patterns("*.lock"))
    backup.mkdir()
    for name in ("index.sqlite", "feedback.sqlite"):
        if (data / name).exists():
            _backup(data / name, backup / name)
    shutil.rmtree(data)
    shutil.copytree(backup, data)
    return corpus_index.model_copy(update={
        "data_dir": data, "rate_limit_per_minute": 0, "admin_token": TOKEN,
    })


def _ready_and_answer(base: str) -> tuple[httpx.Response, dict[str, object]]:
    ready = httpx.get(f"{base}/readyz", timeout=30)
    answer: dict[str, object] = httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).json()
    return ready, answer


def test_a_restore_without_vectors_is_not_ready_and_ingest_embeds_them_again(restored: Settings) -> None:
    # Servers of their own: a process that has opened the embedded store keeps its own view of it.
    with kysy_serve(restored) as served:
        ready, _ = _ready_and_answer(served.base)
    assert ready.status_code == 503
    assert ready.json()["error"] == "vectors_missing" and "kysy ingest" in ready.json()["message"]
    result = kysy(restored, "ingest", str(restored.corpus_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == report["updated"] == [] and report["unchanged"]
    assert report["reembedded"] == report["chunks"] > 0
    with kysy_serve(restored) as served:
        ready, answer = _ready_and_answer(served.base)
    assert ready.status_code == 200 and answer["not_found"] is False
    again = json.loads(kysy(restored, "ingest", str(restored.corpus_dir), "--json").stdout)
    assert again["reembedded"] == 0


def test_the_admin_reindex_brings_the_vectors_back_without_a_restart(restored: Settings, serve_app: Serve) -> None:
    with serve_app(create_app(restored)) as base:
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 503
        reindex = httpx.post(
            f"{base}/api/admin/reindex", params={"wait": "true"}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
        )
        assert reindex.status_code == 200, reindex.text
        assert reindex.json()["reembedded"] > 0
        ready, answer = _ready_and_answer(base)
    assert ready.status_code == 200 and answer["not_found"] is False
