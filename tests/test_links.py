"""Citation links and labels: absolute, http(s) only, pointing at the page, slide or passage; one label for
every interface."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.langchain_retriever import KysyRetriever
from assistant.links import Links, chunk_headings, public_base, section_heading, source_list, text_fragment
from assistant.service import Assistant
from ingest.load_text import read_text_file
from kysy.models import Chunk, Citation, DocumentInfo
from kysy.settings import Settings

PUBLIC = "https://kysy.example.fi"
POPULATION = "Mikä on Etelä-Karjalan väestöpohja?"
WEB_QUESTION = "Mitä yhdyspintaprojektin kunta- ja aluekartoituksessa selvitetään?"
ROOT = Path(__file__).resolve().parent.parent

DOCS = {
    "pdf": DocumentInfo("pdf", "raportti.pdf", "Raportti", None, "raportti", "h", 12, 2024),
    "ppt": DocumentInfo("ppt", "esitys.pptx", "Esitys", None, "diaesitys", "h", 10, 2023),
    "web": DocumentInfo("web", "sivu.txt", "Verkkosivu", "https://www.kuntaliitto.fi/sivu", "verkkosivu", "h", 1),
    "bad": DocumentInfo("bad", "paha.txt", "Paha", "javascript:alert(1)", "verkkosivu", "h", 1),
    "txt": DocumentInfo("txt", "muistio.txt", "Muistio", None, "muistio", "h", 1),
}


def _citation(doc: str, page: int | None, quote: str = "Väestöpohja on noin 127 000 asukasta.") -> Citation:
    return Citation(1, f"{doc}-c", doc, DOCS[doc].file, DOCS[doc].title, page, quote, None)


def test_links_point_at_the_page_slide_or_passage() -> None:
    links = Links(PUBLIC, DOCS, heading_of=lambda citation: "Yhteistyön muodot")
    assert links.url(_citation("pdf", 9)) == f"{PUBLIC}/api/documents/pdf/file#page=9"
    assert links.url(_citation("ppt", 3)) == f"{PUBLIC}/api/documents/ppt/file"
    web = links.url(_citation("web", None))
    assert web is not None and web.startswith("https://www.kuntaliitto.fi/sivu#:~:text=")
    assert unquote(web.split("text=", 1)[1]) == "Väestöpohja on noin 127 000 asukasta."
    bad = links.url(_citation("bad", None))
    assert bad is not None and bad.startswith(f"{PUBLIC}/api/documents/bad/file#:~:text=")
    assert links.label(_citation("pdf", 9)) == "sivu 9" and links.label(_citation("ppt", 3)) == "dia 3"
    assert links.label(_citation("ppt", 3), "sv") == "bild 3" and links.label(_citation("pdf", 2), "en") == "page 2"
    assert links.label(_citation("txt", None)) == "kohta: Yhteistyön muodot"


def test_a_link_marks_every_line_the_answer_quotes_from_its_source() -> None:
    lines = ("Väestöpohja on noin 127 000 asukasta.", "Kunnista mukana 8/9, kompakti ja yhtenäinen alue kokeilla.")
    citation = replace(_citation("web", None, lines[0]), quotes=(*lines, lines[0]))
    web = Links(PUBLIC, DOCS).url(citation)
    assert web is not None and web.startswith("https://www.kuntaliitto.fi/sivu#:~:text=")
    directives = web.split("#:~:text=", 1)[1].split("&text=")
    assert [unquote(d) for d in directives] == list(lines)  # once each, in the order shown
    assert Links(PUBLIC, DOCS).url(replace(citation, quotes=())) == Links(PUBLIC, DOCS).url(_citation("web", None, lines[0]))
    assert text_fragment(*(f"Rivi {i}." for i in range(20))).count("&text=") == 7  # at most eight lines
    assert text_fragment("", " ") == ""


def test_a_long_quote_is_pointed_at_by_its_first_and_last_words() -> None:
    fragment = text_fragment("- Kunnat, hyvinvointialueet ja järjestöt sopivat yhdessä, miten sote-palvelut ja hyte-työ jatkuvat")
    start, end = fragment.removeprefix("#:~:text=").split(",")
    assert unquote(start) == "Kunnat, hyvinvointialueet ja järjestöt sopivat"
    assert unquote(end) == "miten sote-palvelut ja hyte-työ jatkuvat"
    assert "-" not in end and "%2C" in start, "commas and dashes inside a fragment are encoded"


def test_a_quotation_dash_the_ingest_sets_before_a_quote_is_not_looked_for_in_the_source() -> None:
    # "-Näin suuren ..." in a web text is shown as "— Näin suuren ..."; the link must find the words as written
    corpus = Path(__file__).resolve().parent.parent / "corpus"
    quotes = []
    for path in sorted(corpus.glob("*.txt")):
        source = " ".join(path.read_text(encoding="utf-8").split())
        for page in read_text_file(path, markdown=False)[1]:
            quotes += [(block, source) for block in page.text.split("\n\n") if block.startswith("— ")]
    assert len(quotes) >= 5
    for block, source in quotes:
        start = unquote(text_fragment(block).removeprefix("#:~:text=").split(",")[0])
        assert not start.startswith("—") and start in source, block


def test_public_base_is_http_only() -> None:
    assert public_base("https://kysy.example.fi/") == "https://kysy.example.fi"
    assert public_base("", "http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert public_base("javascript:alert(1)", "") == ""


def test_the_source_list_is_markdown_with_title_year_label_and_link() -> None:
    text = source_list([_citation("ppt", 9)], Links(PUBLIC, DOCS), "fi")
    assert text == f"**Lähteet**\n\n1. [Esitys]({PUBLIC}/api/documents/ppt/file), 2023, dia 9"


@pytest.fixture(scope="module")
def public_server(corpus_index: Settings, serve_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = corpus_index.model_copy(update={"rate_limit_per_minute": 0, "public_url": PUBLIC})
    with serve_app(create_app(settings)) as base:
        yield base


def _absolute(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://"))


def test_with_a_public_url_every_interface_links_absolutely(public_server: str, corpus_index: Settings) -> None:
    chat = httpx.post(f"{public_server}/api/chat", json={"question": POPULATION}, timeout=60).json()
    pdf = next(c for c in chat["citations"] if c["page"] == 9)
    assert pdf["url"] == f"{PUBLIC}/api/documents/{pdf['url'].split('/')[-2]}/file#page=9"
    assert pdf["label"] == "dia 9" and pdf["year"] == 2024
    web = httpx.post(f"{public_server}/api/chat", json={"question": WEB_QUESTION}, timeout=60).json()
    assert any("#:~:text=" in c["url"] for c in web["citations"]), web["citations"]
    documents = httpx.get(f"{public_server}/api/documents", timeout=30).json()
    assert all(d["file_url"].startswith(PUBLIC) for d in documents)

    client = openai.OpenAI(base_url=f"{public_server}/v1", api_key="x", max_retries=0, timeout=60)
    completion = client.chat.completions.create(model="kysy", messages=[{"role": "user", "content": POPULATION}])
    content = completion.choices[0].message.content or ""
    sources = (completion.model_extra or {})["sources"]
    assert sources[0]["url"] in content and all(_absolute(s["url"]) for s in sources)
    assert "**Lähteet**" in content and "dia 9" in content
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens

    stream = client.chat.completions.create(
        model="kysy", messages=[{"role": "user", "content": POPULATION}], stream=True
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert streamed == content

    retriever = KysyRetriever(assistant=Assistant(corpus_index.model_copy(update={"public_url": PUBLIC})), top_k=3)
    docs = retriever.invoke(POPULATION)
    assert all(d.metadata["url"].startswith(PUBLIC) for d in docs if not d.metadata["file"].endswith(".txt"))
    assert docs[0].metadata["label"] == "dia 9"


def test_the_cli_prints_absolute_links_and_the_same_label(corpus_index: Settings) -> None:
    env = {"KYSY_DATA_DIR": str(corpus_index.data_dir), "KYSY_EMBED_CACHE": str(corpus_index.embed_cache_path),
           "KYSY_PUBLIC_URL": PUBLIC, "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "cli.main", "ask", POPULATION, "--json"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    body = json.loads(run.stdout)
    pdf = next(c for c in body["citations"] if c["page"] == 9)
    assert pdf["url"].startswith(PUBLIC) and pdf["url"].endswith("#page=9") and pdf["label"] == "dia 9"
    text = subprocess.run([sys.executable, "-m", "cli.main", "ask", POPULATION], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120).stdout
    assert "dia 9" in text and f"{PUBLIC}/api/documents/" in text


def test_an_unknown_model_is_openais_model_not_found(live_server: str) -> None:
    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="x", max_retries=0, timeout=60)
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": POPULATION}])
    assert refused.value.code == "model_not_found"


def test_scoring_details_only_with_debug(corpus_index: Settings) -> None:
    with TestClient(create_app(corpus_index.model_copy(update={"rate_limit_per_minute": 0}))) as client:
        plain = client.post("/api/chat", json={"question": POPULATION}).json()["meta"]
        debug = client.post("/api/chat", json={"question": POPULATION, "debug": True}).json()["meta"]
    assert not {"signals", "items", "answerable"} & set(plain) and "ms" in plain and plain["query"]
    assert {"signals", "items", "answerable"} <= set(debug)


def _chunk(text: str, heading: str) -> Chunk:
    return Chunk("c", "txt", "muistio.txt", "Muistio", text, None, heading, 0, len(text), "h")


def test_a_quote_is_labelled_with_the_heading_of_its_own_section_of_the_chunk() -> None:
    # a chunk may hold several short sections; its own heading is its first section's
    two = _chunk("## Käytännön työ voi sujua\n\nMonilla alueilla on hyvää yhteistyötä.\n\n"
                 "## Yhdyspintatyö vaatii resurssia\n\nTämä näkyy myös yhteistyön etenemisessä.", "Tausta > Käytännön työ voi sujua")
    assert section_heading(two, "Tämä näkyy myös yhteistyön etenemisessä.") == "Yhdyspintatyö vaatii resurssia"
    assert section_heading(two, "Monilla alueilla on hyvää yhteistyötä.") == "Tausta > Käytännön työ voi sujua"
    assert section_heading(two, "Ei tässä kappaleessa.") == "Tausta > Käytännön työ voi sujua"
    opening = _chunk("Johdanto ilman otsikkoa.\n\n## Yhdyspintafoorumit\n\nJärjestämme foorumeita.", "")
    assert section_heading(opening, "Järjestämme foorumeita.") == "Yhdyspintafoorumit"
    assert section_heading(opening, "Johdanto ilman otsikkoa.") == ""
    assert section_heading(None, "mitä tahansa") == ""
    citation = Citation(1, "c", "txt", "muistio.txt", "Muistio", None, "Järjestämme foorumeita.", None)
    links = Links(PUBLIC, DOCS, heading_of=chunk_headings(lambda chunk_id: opening if chunk_id == "c" else None))
    assert links.label(citation) == "kohta: Yhdyspintafoorumit"
