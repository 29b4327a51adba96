"""Uploads at the edges: names a file system or a log cannot take, the corpus's own README, a name typed in
decomposed form, staging folders left by a stopped server, and a page nested deeper than Python recurses."""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from kysy.settings import Settings
from tests.test_routes_documents import AUTH, _listed, _upload, server  # noqa: F401  (server is a fixture)

Serve = Callable[[FastAPI], AbstractContextManager[str]]
TEXT = "Äitiysneuvola\n\nÄitiysneuvola on kunnan ja hyvinvointialueen yhteinen palvelu.\n"


def _leftovers(corpus: Path) -> list[str]:
    return sorted(path.name for path in corpus.iterdir() if path.name.startswith(".upload"))


def _upload_raw(base: str, name: str, data: bytes) -> httpx.Response:
    """An upload whose multipart body carries the name's bytes as they are (httpx would write a NUL as %00)."""
    boundary = "kysy-raja"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return httpx.post(f"{base}/api/admin/documents", content=body, params={"wait": "true"}, timeout=300,
                      headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a" * 296 + ".txt", "300 bytes in UTF-8, and the limit is 255"),
        ("ä" * 127 + ".txt", "258 bytes in UTF-8, and the limit is 255"),
        ("nolla\x00.txt", "control characters are not allowed"),
        ("pako\x1b[31m.txt", "control characters are not allowed"),  # a terminal escape in the log
    ],
)
def test_a_name_too_long_or_with_a_control_character_is_refused_and_leaves_nothing(
    server: tuple[str, Settings], caplog: pytest.LogCaptureFixture, name: str, says: str,  # noqa: F811
) -> None:
    base, settings = server
    caplog.set_level(logging.INFO, logger="assistant.audit")
    before = sorted(os.listdir(settings.corpus_dir))
    response = _upload_raw(base, name, TEXT.encode())
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request" and says in response.json()["message"]
    assert sorted(os.listdir(settings.corpus_dir)) == before and not _leftovers(settings.corpus_dir)
    [line] = [r.getMessage() for r in caplog.records if r.name == "assistant.audit"]
    assert line.isprintable() and "refused 422 invalid_request" in line  # the name escaped, never raw


@pytest.mark.parametrize("name", ["README.md", "Readme.md", "readme.MD"])
def test_the_corpus_readme_is_never_overwritten_by_an_upload(server: tuple[str, Settings], name: str) -> None:  # noqa: F811
    base, settings = server
    readme = settings.corpus_dir / "README.md"
    content = readme.read_bytes()
    before = sorted(os.listdir(settings.corpus_dir))
    response = _upload(base, name, b"# Uusi ohje\n\nTama korvaisi korpuksen oman ohjeen.\n")
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request" and "README" in response.json()["message"]
    assert readme.read_bytes() == content and sorted(os.listdir(settings.corpus_dir)) == before


def test_a_name_typed_in_decomposed_form_is_the_same_document(server: tuple[str, Settings]) -> None:  # noqa: F811
    base, settings = server
    composed, decomposed = (unicodedata.normalize(form, "äiti.txt") for form in ("NFC", "NFD"))
    assert composed != decomposed
    first = _upload(base, composed, TEXT.encode())
    assert first.status_code == 201 and first.json()["added"] == [composed], first.text
    second = _upload(base, decomposed, TEXT.replace("yhteinen", "yhteisesti järjestämä").encode())
    assert second.status_code == 201 and second.json()["updated"] == [composed], second.text
    assert [name for name in os.listdir(settings.corpus_dir) if name.endswith("iti.txt")] == [composed]
    assert [file for file in _listed(base) if file.endswith("iti.txt")] == [composed]


def test_staging_folders_a_stopped_server_left_are_removed_at_start(
    corpus_index: Settings, serve_app: Serve, tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ohje.txt").write_text(TEXT, encoding="utf-8")
    gone = corpus / ".upload-999999999-k2j4"  # no such process: a server that crashed mid-upload
    older = corpus / ".upload-x8f3k1"  # named as before staging folders carried their process
    alive = corpus / f".upload-{os.getppid()}-a1b2"  # another process still running (a second worker)
    for folder in (gone, older, alive):
        folder.mkdir()
        (folder / "kesken.txt").write_text(TEXT, encoding="utf-8")
    settings = corpus_index.model_copy(update={
        "corpus_dir": corpus, "admin_token": AUTH["Authorization"].removeprefix("Bearer "),
    })
    with serve_app(create_app(settings)) as base:
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        assert _leftovers(corpus) == [alive.name]


def test_a_page_nested_deeper_than_python_recurses_is_uploaded_and_answered(server: tuple[str, Settings]) -> None:  # noqa: F811
    base, _ = server
    depth = 5000
    page = ("<html><body>" + "<div>" * depth + "<p>Syvä sivu: Kuusamon yhteislaitumella on talvella 4 242 poroa.</p>"
            + "</div>" * depth + "</body></html>")
    uploaded = _upload(base, "syva.html", page.encode())
    assert uploaded.status_code == 201 and uploaded.json()["added"] == ["syva.html"], uploaded.text
    assert _listed(base)["syva.html"]["state"] == "indexed"
    answer = httpx.post(f"{base}/api/chat", json={"question": "Montako poroa Kuusamon yhteislaitumella on?"},
                        timeout=60).json()
    assert "4 242" in answer["answer"] and answer["citations"][0]["file"] == "syva.html"
