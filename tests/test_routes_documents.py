"""Managing the corpus of a running server: upload, replace and delete documents, live and without a restart,
through the same limits as ingest; feedback as CSV."""

from __future__ import annotations

import csv
import io
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from assistant.feedback import FeedbackStore
from kysy.settings import Settings

TOKEN = "documents-admin-token-" + "d" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "Montako poroa Kuusamon yhteislaitumella on?"
NEW_DOCUMENT = (
    "Kuusamon yhteislaidun\n\n"
    "Kuusamon yhteislaitumella on talvella 4 242 poroa. Laidunta hoitaa paliskunta yhdessä kunnan kanssa.\n"
)
Serve = Callable[[FastAPI], AbstractContextManager[str]]


@pytest.fixture()
def server(corpus_index: Settings, serve_app: Serve, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_index.corpus_dir, corpus)
    shutil.copytree(corpus_index.data_dir, tmp_path / "data")
    (tmp_path / "data" / "feedback.sqlite").unlink(missing_ok=True)  # other tests' feedback is not ours
    settings = corpus_index.model_copy(update={
        "data_dir": tmp_path / "data", "corpus_dir": corpus, "admin_token": TOKEN, "rate_limit_per_minute": 0,
        "max_file_mb": 1,
    })
    with serve_app(create_app(settings)) as base:
        yield base, settings


def _ask(base: str) -> dict[str, object]:
    body: dict[str, object] = httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).json()
    return body


def _upload(base: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{base}/api/admin/documents", files={"file": (name, data)}, headers=AUTH, timeout=300)


def test_an_uploaded_document_is_answered_from_and_a_deleted_one_is_gone(server: tuple[str, Settings]) -> None:
    base, settings = server
    assert _ask(base)["not_found"] is True
    answers: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:  # questions go on being answered while the corpus changes
        while not stop.is_set():
            answers.append(httpx.post(f"{base}/api/chat", json={"question": "Mikä on Etelä-Karjalan väestöpohja?"},
                                      timeout=60).status_code)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        started = time.perf_counter()
        uploaded = _upload(base, "poro.txt", NEW_DOCUMENT.encode())
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["added"] == ["poro.txt"] and (settings.corpus_dir / "poro.txt").is_file()
        answer = _ask(base)
        assert time.perf_counter() - started < 60
        assert answer["not_found"] is False and "4 242" in str(answer["answer"]), answer
        assert [c["file"] for c in answer["citations"]] == ["poro.txt"]  # type: ignore[index]

        listed = httpx.get(f"{base}/api/admin/documents", headers=AUTH, timeout=30).json()
        row = next(r for r in listed if r["file"] == "poro.txt")
        assert row["chunks"] >= 1 and row["pages"] == 1 and row["modified"] and row["size_bytes"] > 0
        pdf = next(r for r in listed if r["file"].endswith(".pdf"))
        assert pdf["unit"] == "dia" and pdf["pages"] == 12

        deleted = httpx.delete(f"{base}/api/admin/documents/poro.txt", headers=AUTH, timeout=300)
        assert deleted.status_code == 200 and deleted.json()["removed"] == ["poro.txt"]
        assert _ask(base)["not_found"] is True
    finally:
        stop.set()
        asker.join()
    assert answers and set(answers) == {200}


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("rikki.pdf", b"%PDF-1.7 not really a pdf", 422),
        ("tyhja.txt", b"", 422),
        ("ohjelma.exe", b"MZ", 415),
        ("../ulos.txt", b"teksti", 422),
        (".piilo.txt", b"teksti", 422),
        ("iso.txt", b"a " * 700_000, 413),
    ],
)
def test_a_bad_upload_is_refused_and_changes_nothing(
    server: tuple[str, Settings], name: str, data: bytes, status: int
) -> None:
    base, settings = server
    before = sorted(p.name for p in settings.corpus_dir.iterdir())
    response = _upload(base, name, data)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "message"}
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == before


def test_deleting_what_is_not_there_is_404_and_admin_routes_need_the_token(server: tuple[str, Settings]) -> None:
    base, _ = server
    assert httpx.delete(f"{base}/api/admin/documents/puuttuu.txt", headers=AUTH, timeout=30).status_code == 404
    assert httpx.delete(f"{base}/api/admin/documents/..%2Fsalainen.txt", headers=AUTH, timeout=30).status_code in (404, 422)
    assert httpx.get(f"{base}/api/admin/documents", timeout=30).status_code == 401
    refused = httpx.post(f"{base}/api/admin/documents", files={"file": ("y.txt", b"y")}, timeout=30)
    assert refused.status_code == 401


def test_feedback_exports_as_csv_without_formulas(server: tuple[str, Settings]) -> None:
    base, settings = server
    store = FeedbackStore(settings.feedback_path)
    store.add("Mikä on väestöpohja?", "127 000 [1]", "up")
    store.add('=HYPERLINK("https://evil.example")', "vastaus", "down", "huono, sanoisin")
    response = httpx.get(f"{base}/api/admin/feedback.csv", headers=AUTH, timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0] == ["id", "created", "rating", "question", "answer", "comment"]
    assert rows[1][3].startswith("'=HYPERLINK") and rows[1][5] == "huono, sanoisin"
    assert rows[2][3] == "Mikä on väestöpohja?" and len(rows) == 3
