"""The HTTP API over a real index of the bundled corpus: answers, citations, streaming, documents, pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from kysy.settings import Settings

PDF = "2024-aluepilotit-strategisen-yhteistyon-kehittaminen.pdf"
POPULATION = "Mikä on Etelä-Karjalan väestöpohja?"


@pytest.fixture(scope="module")
def client(corpus_index: Settings) -> Iterator[TestClient]:
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 0})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a Server-Sent Events body into (event, JSON data) pairs."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_chat_answers_with_the_documented_shape(client: TestClient) -> None:
    response = client.post("/api/chat", json={"question": POPULATION})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"answer", "status", "not_found", "language", "citations", "mode", "meta"}
    assert body["language"] == "fi" and body["mode"] in ("extractive", "generative") and body["not_found"] is False
    assert body["status"] == "answered"
    assert body["citations"], body
    for citation in body["citations"]:
        assert set(citation) == {"n", "file", "title", "page", "label", "year", "quote", "url", "language"}
        assert f"[{citation['n']}]" in body["answer"]


def test_golden_population_of_south_karelia(client: TestClient) -> None:
    body = client.post("/api/chat", json={"question": POPULATION}).json()
    assert "127 000" in body["answer"]
    cited = {(c["file"], c["page"]) for c in body["citations"]}
    assert (PDF, 9) in cited
    pdf_citation = next(c for c in body["citations"] if c["file"] == PDF and c["page"] == 9)
    # The PDF has no web address, so the link is this API's copy (absolute), opening at the cited slide.
    assert pdf_citation["url"].startswith("http://testserver/api/documents/")
    assert pdf_citation["url"].endswith("/file#page=9") and pdf_citation["label"] == "dia 9"


def test_golden_funders_of_the_interface_project(client: TestClient) -> None:
    body = client.post("/api/chat", json={"question": "Ketkä rahoittavat yhdyspintaprojektia?"}).json()
    assert not body["not_found"] and body["citations"]
    for funder in ("Kuntaliitto", "Hyvil", "STM"):
        assert funder in body["answer"], body["answer"]


def test_include_retrieved_returns_scored_passages(client: TestClient) -> None:
    body = client.post("/api/chat", json={"question": POPULATION, "include_retrieved": True, "top_k": 3}).json()
    retrieved = body["retrieved"]
    assert 1 <= len(retrieved) <= 3
    assert all(set(hit) == {"file", "page", "text", "score", "retriever"} for hit in retrieved)
    assert any("127 000" in hit["text"] for hit in retrieved)
    assert "retrieved" not in client.post("/api/chat", json={"question": POPULATION}).json()


def test_web_documents_are_cited_with_their_web_address(client: TestClient) -> None:
    body = client.post("/api/chat", json={"question": "Mitä yhdyspintaprojektin kunta- ja aluekartoituksessa selvitetään?"}).json()
    web = [c for c in body["citations"] if c["file"] == "kuntien-ja-hyvinvointialueiden-yhteistyo-ja-yhdyspinnat.txt"]
    # The web page itself, scrolled to the quoted passage.
    assert web and web[0]["url"].startswith("https://www.kuntaliitto.fi/yhteistyo-ja-yhdyspinnat#:~:text=")


def test_follow_up_with_history_is_answered(client: TestClient) -> None:
    history = [{"role": "user", "content": POPULATION}, {"role": "assistant", "content": "Väestöpohja on 127 000 [1]."}]
    response = client.post("/api/chat", json={"question": "Entä mikä malli siellä on?", "history": history})
    assert response.status_code == 200 and response.json()["citations"]


def test_sse_streams_tokens_then_the_full_answer(live_server: str) -> None:
    with httpx.stream(
        "POST", f"{live_server}/api/chat", json={"question": POPULATION},
        headers={"Accept": "text/event-stream"}, timeout=60,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1 and kinds.count("token") >= 2
    assert set(kinds[:-1]) == {"token"}
    done = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token") == done["answer"]
    assert (PDF, 9) in {(c["file"], c["page"]) for c in done["citations"]}


def test_sse_validation_errors_are_plain_json(live_server: str) -> None:
    response = httpx.post(
        f"{live_server}/api/chat", json={"question": "  "}, headers={"Accept": "text/event-stream"}, timeout=30
    )
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


def test_documents_list_detail_and_file(client: TestClient) -> None:
    documents = client.get("/api/documents").json()
    assert len(documents) == 5
    pdf = next(d for d in documents if d["file"] == PDF)
    assert pdf["pages"] == 12 and pdf["kind"] == "diaesitys" and pdf["year"] == 2024
    assert set(pdf) >= {"id", "file", "title", "url", "kind", "year", "pages"}

    detail = client.get(f"/api/documents/{pdf['id']}").json()
    assert detail["title"] == pdf["title"] and len(detail["page_texts"]) == 12
    assert any("127 000" in p["text"] for p in detail["page_texts"] if p["page"] == 9)

    original = client.get(f"/api/documents/{pdf['id']}/file")
    assert original.status_code == 200
    assert original.headers["content-type"] == "application/pdf"
    assert original.headers["content-disposition"].startswith("inline")
    assert original.content.startswith(b"%PDF")

    text = next(d for d in documents if d["file"].endswith(".txt"))
    served = client.get(f"/api/documents/{text['id']}/file")
    assert served.headers["content-type"] == "text/plain; charset=utf-8" and served.text.strip()


@pytest.mark.parametrize("path", ["/api/documents/nope", "/api/documents/nope/file", "/api/documents/..%2F..%2Fetc%2Fpasswd/file"])
def test_unknown_documents_are_404_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] in ("document_not_found", "not_found")


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["chunks"] > 0 and ready.json()["generation"] >= 1


def test_without_an_index_readiness_and_chat_are_503(tmp_path: Any) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "empty"))) as empty:
        assert empty.get("/healthz").status_code == 200
        ready = empty.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"] == "index_not_built"
        chat = empty.post("/api/chat", json={"question": POPULATION})
        assert chat.status_code == 503 and "kysy ingest" in chat.json()["message"]


def test_demo_page_has_security_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors *" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-cache"
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


def test_widget_files_have_their_content_types(client: TestClient) -> None:
    script = client.get("/widget.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "max-age" in script.headers["cache-control"]
    style = client.get("/widget.css")
    if style.status_code == 200:
        assert style.headers["content-type"].startswith("text/css")
    else:
        assert style.status_code == 404 and style.json()["error"] == "not_found"


def test_frame_ancestors_follow_the_setting(corpus_index: Settings) -> None:
    settings = corpus_index.model_copy(update={"frame_ancestors": "https://kunta.example"})
    with TestClient(create_app(settings)) as own:
        assert "frame-ancestors https://kunta.example;" in own.get("/").headers["content-security-policy"]


def _own_corpus(tmp_path: Any, url: str) -> Settings:
    from ingest.pipeline import ingest_paths

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ohje.txt").write_text(
        "Ohje\n\nYhdyspintatyön ohje kertoo, miten kunta ja hyvinvointialue sopivat yhteistyöstä.\n", encoding="utf-8"
    )
    (corpus / "sources.json").write_text(json.dumps([{"file": "ohje.txt", "title": "Ohje", "url": url}]))
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus, rate_limit_per_minute=0)
    ingest_paths(settings, [corpus])
    return settings


def test_no_link_but_http_leaves_the_api(tmp_path: Any) -> None:
    import sqlite3

    settings = _own_corpus(tmp_path, "https://example.fi/ohje")
    # An index built before links were checked may still hold another scheme.
    with sqlite3.connect(settings.index_path) as db:
        db.execute("UPDATE files SET url = 'javascript:alert(1)'")
    with TestClient(create_app(settings)) as own:
        [document] = own.get("/api/documents").json()
        assert document["url"] is None
        body = own.post("/api/chat", json={"question": "Miten kunta ja hyvinvointialue sopivat yhteistyöstä?"}).json()
    assert body["citations"], body
    assert all(c["url"].startswith("http://testserver/api/documents/") for c in body["citations"])


def test_a_file_replaced_by_a_link_out_of_the_corpus_is_not_served(tmp_path: Any) -> None:
    settings = _own_corpus(tmp_path, "")
    secret = tmp_path / "salainen.txt"
    secret.write_text("SALAINEN", encoding="utf-8")
    with TestClient(create_app(settings)) as own:
        [document] = own.get("/api/documents").json()
        url = f"/api/documents/{document['id']}/file"
        assert own.get(url).status_code == 200
        original = settings.corpus_dir / "ohje.txt"
        original.unlink()
        original.symlink_to(secret)
        refused = own.get(url)
        assert refused.status_code == 404 and refused.json()["error"] == "file_missing"
        assert "SALAINEN" not in refused.text
        # A link that stays inside the corpus is still served.
        inside = settings.corpus_dir / "kopio.txt"
        inside.write_text("Ohje\n\nkopio", encoding="utf-8")
        original.unlink()
        original.symlink_to(inside)
        assert own.get(url).status_code == 200


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/api/chat", "POST"), ("DELETE", "/api/feedback", "POST"), ("POST", "/readyz", "GET, HEAD"),
    ("HEAD", "/v1/chat/completions", "POST"),
])
def test_a_wrong_method_is_405_with_the_methods_the_path_takes(
    live_server: str, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, f"{live_server}{path}", timeout=30)
    assert response.status_code == 405 and response.headers["allow"] == allow
    assert method == "HEAD" or response.json()["error"] == "method_not_allowed"


def test_head_answers_as_get_does_without_the_body(live_server: str) -> None:
    documents = httpx.get(f"{live_server}/api/documents", timeout=30).json()
    files = [f"/api/documents/{d['id']}/file" for d in documents]  # the PDF (a file response) and the texts
    paths = [*files, f"/api/documents/{documents[0]['id']}", "/api/documents", "/", "/admin", "/widget.js",
             "/favicon.ico", "/api/config", "/v1/models", "/healthz", "/readyz", "/openapi.json"]
    for path in paths:
        got = httpx.get(f"{live_server}{path}", timeout=30)
        head = httpx.head(f"{live_server}{path}", timeout=30)
        assert got.status_code == head.status_code == 200, (path, head.status_code, head.headers.get("allow"))
        assert head.content == b"", path
        differ = {"date", "x-request-id"}
        assert {k: v for k, v in head.headers.items() if k not in differ} == {
            k: v for k, v in got.headers.items() if k not in differ
        }, path
        assert head.headers.get("content-length", str(len(got.content))) == str(len(got.content)), path
    missing = httpx.head(f"{live_server}/api/documents/nope/file", timeout=30)
    assert missing.status_code == 404 and missing.content == b""
