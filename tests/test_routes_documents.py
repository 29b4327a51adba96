"""Managing the corpus of a running server: upload, replace and delete documents, live and without a restart,
through the same limits as ingest; feedback as CSV."""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from assistant.api import create_app
from assistant.feedback import FeedbackStore
from ingest.pipeline import ingest_paths
from ingest.store import Snapshot
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


def test_several_server_processes_on_the_embedded_store_change_no_document(
        corpus_index: Settings, serve_app: Serve, tmp_path: Path) -> None:
    # each process keeps the embedded store's state of its own; a change one made would break the others
    shutil.copytree(corpus_index.corpus_dir, tmp_path / "corpus")
    shutil.copytree(corpus_index.data_dir, tmp_path / "data")
    settings = corpus_index.model_copy(update={
        "data_dir": tmp_path / "data", "corpus_dir": tmp_path / "corpus", "admin_token": TOKEN,
        "rate_limit_per_minute": 0, "workers": 2,
    })
    with serve_app(create_app(settings)) as base:
        for response in (_upload(base, "poro.txt", NEW_DOCUMENT.encode()),
                         httpx.post(f"{base}/api/admin/reindex", headers=AUTH, timeout=60)):
            assert response.status_code == 409 and response.json()["error"] == "several_workers", response.text
        assert not (tmp_path / "corpus" / "poro.txt").exists()
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200


def _ask(base: str) -> dict[str, object]:
    body: dict[str, object] = httpx.post(f"{base}/api/chat", json={"question": QUESTION}, timeout=60).json()
    return body


def _upload(base: str, name: str, data: bytes, *, wait: bool = True) -> httpx.Response:
    params = {"wait": "true"} if wait else {}
    return httpx.post(f"{base}/api/admin/documents", files={"file": (name, data)}, params=params, headers=AUTH,
                      timeout=300)


def _delete(base: str, name: str) -> httpx.Response:
    return httpx.delete(f"{base}/api/admin/documents/{name}", params={"wait": "true"}, headers=AUTH, timeout=300)


def _reindex(base: str) -> httpx.Response:
    return httpx.post(f"{base}/api/admin/reindex", params={"wait": "true"}, headers=AUTH, timeout=300)


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
        assert [c["file"] for c in answer["citations"]] == ["poro.txt"]  # type: ignore[attr-defined]

        listed = httpx.get(f"{base}/api/admin/documents", headers=AUTH, timeout=30).json()
        row = next(r for r in listed if r["file"] == "poro.txt")
        assert row["chunks"] >= 1 and row["pages"] == 1 and row["modified"] and row["size_bytes"] > 0
        pdf = next(r for r in listed if r["file"].endswith(".pdf"))
        assert pdf["unit"] == "dia" and pdf["pages"] == 12

        deleted = _delete(base, "poro.txt")
        assert deleted.status_code == 200 and deleted.json()["removed"] == ["poro.txt"]
        assert _ask(base)["not_found"] is True
    finally:
        stop.set()
        asker.join()
    assert answers and set(answers) == {200}


@pytest.mark.parametrize(
    ("name", "data", "status", "code", "message"),
    [
        ("rikki.pdf", b"%PDF-1.7 not really a pdf", 422, "unreadable_pdf", "rikki.pdf: not a readable PDF: "),
        ("feikki.pdf", b"tavallista tekstia eika PDF", 422, "unreadable_pdf", "feikki.pdf: not a readable PDF: "),
        ("tyhja.txt", b"", 422, "empty_file", "tyhja.txt: empty file"),
        ("utf16.txt", "Yhteistyösopimus on voimassa.".encode("utf-16-le"), 422, "not_text",
         "utf16.txt: not a text file (binary data)"),
        ("ohjelma.exe", b"MZ", 415, "unsupported_file", "'ohjelma.exe' is not one of the supported types"),
        ("../ulos.txt", b"teksti", 422, "invalid_request", "'../ulos.txt' is not a document name"),
        (".piilo.txt", b"teksti", 422, "invalid_request", "'.piilo.txt' is not a document name"),
        ("alikansio/uusi.txt", b"teksti", 422, "invalid_request", "'alikansio/uusi.txt' is not a document name"),
        ("iso.txt", b"a " * 524_800, 413, "too_large", "iso.txt: 1.0 MiB is more than max_file_mb=1"),
        ("iso.txt", b"a " * 700_000, 413, "too_large", "the request body is larger than"),  # refused before it is read
    ],
)
def test_a_bad_upload_is_refused_by_kind_and_changes_nothing(
    server: tuple[str, Settings], name: str, data: bytes, status: int, code: str, message: str
) -> None:
    base, settings = server
    before = sorted(p.name for p in settings.corpus_dir.iterdir())
    response = _upload(base, name, data)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"} and body["error"] == code
    # The name as uploaded, at most once; never the name of the file it was checked in.
    assert body["message"].startswith(message) and body["message"].count(name) <= 1
    assert ".upload" not in body["message"]
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == before


def test_a_cp1252_text_is_served_as_the_utf8_text_that_was_indexed(server: tuple[str, Settings]) -> None:
    base, settings = server
    sentence = "Yhteistyösopimus solmittiin Kuusamon ja Sallan kesken vuonna 2021."
    uploaded = _upload(base, "sopimus.txt", f"Yhteistyösopimus\n\n{sentence}\n".encode("cp1252"))
    assert uploaded.status_code == 201, uploaded.text
    documents = httpx.get(f"{base}/api/documents", timeout=30).json()
    document = next(d for d in documents if d["file"] == "sopimus.txt")
    served = httpx.get(document["file_url"], timeout=30)
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    text = served.content.decode("utf-8")  # strict: every byte is UTF-8
    indexed = httpx.get(f"{base}/api/documents/{document['id']}", timeout=30).json()["page_texts"][0]["text"]
    assert text.startswith("Yhteistyösopimus") and sentence in text and sentence in indexed  # `#:~:text=` finds it

    pdf = next(d for d in documents if d["file"].endswith(".pdf"))
    served_pdf = httpx.get(pdf["file_url"], timeout=30)
    assert served_pdf.headers["content-type"] == "application/pdf"
    assert served_pdf.content == (settings.corpus_dir / pdf["file"]).read_bytes()


def test_a_cp1252_text_put_in_the_corpus_by_hand_is_served_as_utf8_too(server: tuple[str, Settings]) -> None:
    base, settings = server
    sentence = "Sallan ja Kuusamon yhteistyöryhmä kokoontuu neljästi vuodessa."
    (settings.corpus_dir / "kasin.txt").write_bytes(f"Yhteistyöryhmä\n\n{sentence}\n".encode("cp1252"))
    assert _reindex(base).status_code == 200
    document = next(d for d in httpx.get(f"{base}/api/documents", timeout=30).json() if d["file"] == "kasin.txt")
    served = httpx.get(document["file_url"], timeout=30)
    assert served.status_code == 200 and served.headers["content-type"] == "text/plain; charset=utf-8"
    assert sentence in served.content.decode("utf-8") and "kasin.txt" in served.headers["content-disposition"]


def test_only_a_document_of_the_index_can_be_deleted(server: tuple[str, Settings]) -> None:
    base, settings = server
    readme = settings.corpus_dir / "README.md"  # the corpus's documentation, on disk but not indexed
    content = readme.read_bytes()
    listed = [row["file"] for row in httpx.get(f"{base}/api/admin/documents", headers=AUTH, timeout=30).json()]
    assert "README.md" not in listed
    response = httpx.delete(f"{base}/api/admin/documents/README.md", headers=AUTH, timeout=300)
    assert response.status_code == 404 and response.json()["error"] == "document_not_found"
    assert readme.read_bytes() == content
    after = [row["file"] for row in httpx.get(f"{base}/api/admin/documents", headers=AUTH, timeout=30).json()]
    assert after == listed


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


def test_every_admin_change_leaves_one_audit_line_without_the_token(
    server: tuple[str, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    base, _ = server
    caplog.set_level(logging.INFO, logger="assistant.audit")
    assert _upload(base, "poro.txt", NEW_DOCUMENT.encode()).status_code == 201
    assert _upload(base, "../ulos.txt", b"teksti").status_code == 422
    assert _delete(base, "poro.txt").status_code == 200
    assert _reindex(base).status_code == 200
    audit = [r.getMessage() for r in caplog.records if r.name == "assistant.audit"]
    assert audit == [  # the request starts a job, and the job says how it ended
        "admin upload poro.txt: accepted, job 1 (client 127.0.0.1)",
        "admin upload poro.txt: done, job 1 (client 127.0.0.1)",
        "admin upload ../ulos.txt: refused 422 invalid_request (client 127.0.0.1)",
        "admin delete poro.txt: accepted, job 2 (client 127.0.0.1)",
        "admin delete poro.txt: done, job 2 (client 127.0.0.1)",
        "admin reindex -: accepted, job 3 (client 127.0.0.1)",
        "admin reindex -: done, job 3 (client 127.0.0.1)",
    ]
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


def test_a_missing_corpus_directory_is_reported_and_never_created(
    corpus_index: Settings, serve_app: Serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "ei-ole"
    settings = corpus_index.model_copy(update={
        "corpus_dir": missing, "admin_token": TOKEN, "rate_limit_per_minute": 0,
    })
    app = create_app(settings)
    assert any("KYSY_CORPUS_DIR" in r.getMessage() and str(missing) in r.getMessage() for r in caplog.records)
    with serve_app(app) as base:
        reindexed = httpx.post(f"{base}/api/admin/reindex", headers=AUTH, timeout=60)
        uploaded = _upload(base, "poro.txt", NEW_DOCUMENT.encode())
    for response in (reindexed, uploaded):
        assert response.status_code == 500 and response.json()["error"] == "corpus_missing"
        assert "KYSY_CORPUS_DIR" in response.json()["message"]
    assert not missing.exists()


def _big_document(seed: str, sentences: int = 400) -> bytes:
    """A text whose sentences are its own (never in the session's embedding cache), so that its job takes a few
    seconds to embed, with the fact the question asks about at its end."""
    lines = [f"{seed} {i}: hankkeen {i} talousarvio on {i * 37 % 1000} tuhatta euroa ja sen vastuutaho on ryhmä "
             f"{i % 23}." for i in range(sentences)]
    return ("Kuusamon laidunraportti\n\n" + " ".join(lines) + "\n\n" + NEW_DOCUMENT).encode()


def _job(base: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/admin/reindex", headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def _follow(base: str, until: Callable[[dict[str, Any]], bool], limit_s: float = 240) -> list[dict[str, Any]]:
    """The job's states, polled, up to the first that ``until`` accepts."""
    seen = [_job(base)]
    deadline = time.monotonic() + limit_s
    while not until(seen[-1]):
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.1)
        seen.append(_job(base))
    return seen


def _listed(base: str) -> dict[str, dict[str, Any]]:
    rows = httpx.get(f"{base}/api/admin/documents", headers=AUTH, timeout=30).json()
    return {row["file"]: row for row in rows}


def test_a_big_upload_is_accepted_at_once_and_its_job_shows_progress_then_the_outcome(
    server: tuple[str, Settings],
) -> None:
    base, settings = server
    assert httpx.get(f"{base}/api/admin/reindex", headers=AUTH, timeout=30).status_code == 204  # no job yet
    started = time.perf_counter()
    accepted = _upload(base, "laidunraportti.txt", _big_document("Raportti"), wait=False)
    assert time.perf_counter() - started < 1.0
    assert accepted.status_code == 202 and accepted.headers["location"] == "/api/admin/reindex"
    job = accepted.json()
    assert (job["action"], job["file"], job["state"], job["result"]) == ("upload", "laidunraportti.txt", "running", None)

    # While the job runs: the list is readable and shows the file waiting; other changes are refused.
    assert _listed(base)["laidunraportti.txt"]["state"] == "waiting"
    again = _upload(base, "poro.txt", NEW_DOCUMENT.encode(), wait=False)
    assert again.status_code == 409 and again.json()["error"] == "index_locked"
    refused = httpx.post(f"{base}/api/admin/reindex", headers=AUTH, timeout=30)
    assert refused.status_code == 409 and refused.json()["error"] == "index_locked"
    assert not (settings.corpus_dir / "poro.txt").exists()

    seen = _follow(base, lambda job: job["state"] != "running")
    embedding = [s["progress"]["embed"] for s in seen if s["stage"] == "embed"]
    assert any(0 < step["done"] < step["total"] for step in embedding), seen  # progress seen on its way
    ended = seen[-1]
    assert ended["id"] == job["id"] and ended["state"] == "done" and ended["error"] is None, ended
    assert ended["result"]["added"] == ["laidunraportti.txt"] and ended["finished_at"] >= ended["started_at"]
    assert ended["progress"]["embed"]["done"] == ended["progress"]["embed"]["total"]
    assert _listed(base)["laidunraportti.txt"]["state"] == "indexed"
    answer = _ask(base)
    assert "4 242" in str(answer["answer"]) and answer["citations"][0]["file"] == "laidunraportti.txt"  # type: ignore[index]


def test_a_cancelled_job_leaves_the_index_as_it_was_and_the_file_waiting_and_deletable(
    server: tuple[str, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    base, settings = server
    caplog.set_level(logging.INFO, logger="assistant.audit")
    nothing = httpx.delete(f"{base}/api/admin/reindex", headers=AUTH, timeout=30)
    assert nothing.status_code == 404 and nothing.json()["error"] == "job_not_running"
    before = httpx.get(f"{base}/readyz", timeout=30).json()
    assert _upload(base, "peruttu.txt", _big_document("Peruttu"), wait=False).status_code == 202
    _follow(base, lambda job: job["stage"] == "embed" and job["progress"]["embed"]["done"] > 0)
    cancelling = httpx.delete(f"{base}/api/admin/reindex", headers=AUTH, timeout=30)
    assert cancelling.status_code == 202 and cancelling.json()["state"] == "cancelling"
    ended = _follow(base, lambda job: job["state"] not in ("running", "cancelling"), limit_s=30)[-1]
    assert ended["state"] == "cancelled" and ended["error"]["error"] == "reindex_cancelled" and ended["result"] is None

    assert httpx.get(f"{base}/readyz", timeout=30).json() == before  # same generation, same chunks
    assert _ask(base)["not_found"] is True
    row = _listed(base)["peruttu.txt"]
    assert row["state"] == "waiting" and row["chunks"] == 0 and row["size_bytes"] > 0
    deleted = httpx.delete(f"{base}/api/admin/documents/peruttu.txt", headers=AUTH, timeout=30)
    assert deleted.status_code == 200 and deleted.json() == {"file": "peruttu.txt", "indexed": False}
    assert not (settings.corpus_dir / "peruttu.txt").exists() and "peruttu.txt" not in _listed(base)
    audit = [r.getMessage() for r in caplog.records if r.name == "assistant.audit"]
    assert audit == [
        "admin cancel -: refused 404 job_not_running (client 127.0.0.1)",
        "admin upload peruttu.txt: accepted, job 1 (client 127.0.0.1)",
        "admin cancel -: accepted, job 1 (client 127.0.0.1)",
        "admin upload peruttu.txt: cancelled, job 1 (client 127.0.0.1)",
        "admin delete peruttu.txt: done (client 127.0.0.1)",
    ]


def test_a_document_left_unindexed_is_listed_waiting_or_failed_and_deletable_but_the_readme_is_not(
    server: tuple[str, Settings],
) -> None:
    base, settings = server
    corpus = settings.corpus_dir
    (corpus / "kesken.txt").write_text("Keskeneräinen\n\nTämä tiedosto ei ehtinyt indeksiin.\n", encoding="utf-8")
    (corpus / "muistio.xyz").write_text("ei asiakirja", encoding="utf-8")  # a type ingest skips
    listed = _listed(base)
    assert listed["kesken.txt"]["state"] == "waiting" and listed["kesken.txt"]["reason"] is None
    assert "README.md" not in listed and "muistio.xyz" not in listed and "sources.json" not in listed
    for name, code in (("README.md", "document_not_found"), ("muistio.xyz", "unsupported_file")):
        refused = httpx.delete(f"{base}/api/admin/documents/{name}", headers=AUTH, timeout=30)
        assert refused.json()["error"] == code and (corpus / name).is_file()

    (corpus / "rikki.pdf").write_bytes(b"%PDF-1.7 not really a pdf")  # put there by hand: ingest cannot read it
    report = _reindex(base).json()
    assert report["added"] == ["kesken.txt"] and [f["file"] for f in report["failed"]] == ["rikki.pdf"]
    listed = _listed(base)
    assert listed["kesken.txt"]["state"] == "indexed"
    assert listed["rikki.pdf"]["state"] == "failed" and "not a readable PDF" in listed["rikki.pdf"]["reason"]
    assert httpx.delete(f"{base}/api/admin/documents/rikki.pdf", headers=AUTH, timeout=30).status_code == 200
    assert not (corpus / "rikki.pdf").exists() and (corpus / "README.md").is_file()


def test_a_file_whose_name_is_not_utf8_is_listed_and_fails_alone_with_a_reason_to_rename_it(
    server: tuple[str, Settings],
) -> None:
    base, settings = server
    odd = os.fsdecode(b"\xe4iti.txt")  # Latin-1 bytes, copied from an old share
    (settings.corpus_dir / odd).write_text("Äiti\n\nTeksti äideistä ja kunnista.\n", encoding="utf-8")
    listed = _listed(base)
    assert listed["\ufffditi.txt"]["state"] == "waiting"
    report = _reindex(base).json()
    assert report["added"] == [] and len(report["failed"]) == 1
    listed = _listed(base)
    assert listed["\ufffditi.txt"]["state"] == "failed"
    assert listed["\ufffditi.txt"]["reason"] == "\ufffditi.txt: the file name is not UTF-8; rename the file to index it"
    assert all(row["state"] == "indexed" for name, row in listed.items() if name != "\ufffditi.txt")


def test_why_a_file_failed_is_listed_after_a_restart_and_gone_once_it_is_fixed(
    corpus_index: Settings, serve_app: Serve, tmp_path: Path,
) -> None:
    # `make serve` ingests with the command line, then starts the server: the reason must reach its list
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_index.corpus_dir, corpus)
    shutil.copytree(corpus_index.data_dir, tmp_path / "data")
    settings = corpus_index.model_copy(update={
        "data_dir": tmp_path / "data", "corpus_dir": corpus, "admin_token": TOKEN, "rate_limit_per_minute": 0,
    })
    (corpus / "rikki.pdf").write_bytes(b"%PDF-1.7 not really a pdf")
    report = ingest_paths(settings, [corpus])
    assert [f.file for f in report.failed] == ["rikki.pdf"]
    assert "not a readable PDF" in Snapshot(settings.index_path).failed_files["rikki.pdf"]
    with serve_app(create_app(settings)) as base:
        listed = _listed(base)
    assert listed["rikki.pdf"]["state"] == "failed" and "not a readable PDF" in listed["rikki.pdf"]["reason"]

    (corpus / "rikki.pdf").unlink()
    assert ingest_paths(settings, [corpus]).failed == ()
    assert Snapshot(settings.index_path).failed_files == {}


def _cancel_during_embedding(base: str) -> dict[str, Any]:
    """Cancel the running job once it embeds; the job as it ended."""
    _follow(base, lambda job: job["stage"] == "embed" and job["progress"]["embed"]["done"] > 0)
    assert httpx.delete(f"{base}/api/admin/reindex", headers=AUTH, timeout=30).status_code == 202
    ended = _follow(base, lambda job: job["state"] not in ("running", "cancelling"), limit_s=30)[-1]
    assert ended["state"] == "cancelled", ended
    return ended


def test_a_cancelled_delete_leaves_the_document_listed_changed_and_deletable(server: tuple[str, Settings]) -> None:
    base, settings = server
    assert _upload(base, "poro.txt", NEW_DOCUMENT.encode()).status_code == 201
    # A file put in by hand gives the delete's job something to embed, and so a step to be cancelled at.
    (settings.corpus_dir / "kasin.txt").write_bytes(_big_document("Käsin"))
    deleting = httpx.delete(f"{base}/api/admin/documents/poro.txt", headers=AUTH, timeout=30)
    assert deleting.status_code == 202, deleting.text
    ended = _cancel_during_embedding(base)
    assert not (settings.corpus_dir / "poro.txt").exists()
    message = ended["error"]["message"]
    assert "still has poro.txt" in message and "the next reindex, or deleting it again, removes it" in message

    row = _listed(base)["poro.txt"]
    assert row["state"] == "changed" and "gone from the corpus directory" in row["reason"]
    assert row["chunks"] >= 1 and row["size_bytes"] is None
    again = _delete(base, "poro.txt")  # the file is gone already: the job alone takes it out of the index
    assert again.status_code == 200 and again.json()["removed"] == ["poro.txt"], again.text
    assert "poro.txt" not in _listed(base)
    assert "poro.txt" not in {c["file"] for c in _ask(base)["citations"]}  # type: ignore[attr-defined]


def test_a_cancelled_replace_is_listed_changed_and_the_cancel_says_the_change_is_pending(
    server: tuple[str, Settings],
) -> None:
    base, settings = server
    assert _upload(base, "poro.txt", NEW_DOCUMENT.encode()).status_code == 201
    replacing = _upload(base, "poro.txt", _big_document("Korvaava"), wait=False)
    assert replacing.status_code == 202, replacing.text
    ended = _cancel_during_embedding(base)
    message = ended["error"]["message"]
    assert "poro.txt is in the corpus directory already" in message and "the next reindex indexes it" in message

    row = _listed(base)["poro.txt"]
    assert row["state"] == "changed" and "differs from the indexed one" in row["reason"]
    assert row["size_bytes"] == (settings.corpus_dir / "poro.txt").stat().st_size
    report = _reindex(base).json()
    assert report["updated"] == ["poro.txt"] and _listed(base)["poro.txt"]["state"] == "indexed"


def test_a_client_that_stops_waiting_for_its_job_is_let_go_and_the_job_goes_on(
    server: tuple[str, Settings], caplog: pytest.LogCaptureFixture,
) -> None:
    base, _ = server
    caplog.set_level(logging.INFO, logger="assistant.routes_admin")
    with pytest.raises(httpx.ReadTimeout):
        _upload_with_timeout(base, "lahtija.txt", _big_document("Lähtijä"), timeout=1.0)
    deadline = time.monotonic() + 10
    while not any("left; the job goes on" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the request went on waiting for a client that had left"
        time.sleep(0.1)
    ended = _follow(base, lambda job: job["state"] != "running")[-1]
    assert ended["state"] == "done" and ended["result"]["added"] == ["lahtija.txt"]


def _upload_with_timeout(base: str, name: str, data: bytes, *, timeout: float) -> httpx.Response:
    return httpx.post(f"{base}/api/admin/documents", files={"file": (name, data)}, params={"wait": "true"},
                      headers=AUTH, timeout=httpx.Timeout(60, read=timeout))
