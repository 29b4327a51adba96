"""chunk_document and split_sentences: structure, limits, overlap, offsets, sentence units."""

from __future__ import annotations

from pathlib import Path

from ingest.chunk import chunk_document, count_words, sentence_spans, split_sentences
from ingest.load import load_catalog, load_file
from kysy.models import Chunk, Document, Page
from kysy.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SIZES = {"target_words": 160, "max_words": 250, "min_words": 80, "overlap_words": 20}


def doc_document(*pages: Page, title: str = "Asiakirja") -> Document:
    return Document(
        id="d1",
        file="a.txt",
        title=title,
        url=None,
        kind="text",
        text="\n\n".join(p.text for p in pages),
        pages=pages,
        content_hash="h",
    )


def _sentences(n: int, prefix: str) -> str:
    return " ".join(f"{prefix} lause numero {i} kertoo kuntien ja alueiden yhteistyöstä." for i in range(n))


def _page_of(doc: Document, chunk: Chunk) -> Page:
    return next(page for page in doc.pages if page.number == chunk.page)


def test_offsets_pages_and_limits() -> None:
    pages = (Page(1, "# Dia yksi\n\n" + _sentences(60, "A")), Page(2, "# Dia kaksi\n\n- kohta\n- toinen"))
    doc = doc_document(*pages)
    chunks = chunk_document(doc, **SIZES)
    assert {c.page for c in chunks} == {1, 2}
    for chunk in chunks:
        assert chunk.text == _page_of(doc, chunk).text[chunk.start : chunk.end]
        assert 1 <= count_words(chunk.text) <= 250
        if chunk.text.startswith("#"):  # a section's first chunk carries its heading line
            assert chunk.text.splitlines()[0].lstrip("# ") == chunk.heading.split(" > ")[-1]
    assert [c.ord for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].heading == "Dia kaksi" and chunks[-1].text == "# Dia kaksi\n\n- kohta\n- toinen"
    assert chunk_document(doc, **SIZES) == chunks  # deterministic ids


def test_heading_path_without_document_title_line() -> None:
    text = (
        "# Asiakirjan otsikko\n\n## Osa\n\n### Alaosa\n\n"
        + _sentences(3, "B")
        + "\n\n## Toinen osa\n\nLyhyt."
    )
    chunks = chunk_document(doc_document(Page(None, text)), **{**SIZES, "min_words": 5})
    assert [c.heading for c in chunks] == ["Osa > Alaosa", "Toinen osa"]
    assert chunks[1].text == "## Toinen osa\n\nLyhyt."


def test_overlap_within_section_and_sentence_split() -> None:
    text = "# T\n\n## Osa\n\n" + _sentences(40, "C")
    chunks = chunk_document(doc_document(Page(None, text)), **SIZES)
    assert len(chunks) >= 2
    last_sentence = split_sentences(chunks[0])[-1].text
    assert chunks[1].start < chunks[0].end
    assert (
        last_sentence in chunks[1].text
        and count_words(chunks[1].text[: chunks[0].end - chunks[1].start]) <= 20
    )
    assert all(count_words(c.text) <= 250 for c in chunks)


def test_lead_in_stays_with_list() -> None:
    text = (
        "# T\n\n"
        + _sentences(14, "D")
        + "\n\nSeuraavat teemat:\n\n"
        + "\n".join(f"- teema {i} on tärkeä" for i in range(5))
    )
    chunks = chunk_document(doc_document(Page(None, text)), **SIZES)
    holder = next(c for c in chunks if "Seuraavat teemat:" in c.text)
    assert "- teema 0 on tärkeä" in holder.text


def test_heading_only_slide() -> None:
    chunks = chunk_document(doc_document(Page(3, "# Kiitos")), **SIZES)
    assert [(c.text, c.heading, c.page) for c in chunks] == [("Kiitos", "Kiitos", 3)]


def test_split_sentences_abbreviations_dates_numbers() -> None:
    text = (
        "Yhteistyötä on mm. hytessä ja esim. klo 9 alkavissa kokouksissa. Foorumi on 29.9. ja "
        "toinen 1.1.2023 alkaen. Väestöpohja on 127 000 ja kasvu 5,5 prosenttia. Vuonna 2023. Uusi alkaa.\n"
        "- Lista kohta. Kaksi lausetta.\n## Väliotsikko"
    )
    chunk = Chunk(
        id="c",
        doc_id="d",
        file="f",
        title="t",
        text=text,
        page=1,
        heading="H",
        start=0,
        end=len(text),
        content_hash="x",
    )
    sentences = split_sentences(chunk)
    assert [s.text for s in sentences] == [
        "Yhteistyötä on mm. hytessä ja esim. klo 9 alkavissa kokouksissa.",
        "Foorumi on 29.9. ja toinen 1.1.2023 alkaen.",
        "Väestöpohja on 127 000 ja kasvu 5,5 prosenttia.",
        "Vuonna 2023.",
        "Uusi alkaa.",
        "Lista kohta. Kaksi lausetta.",
    ]
    assert [s.is_list_item for s in sentences] == [False] * 5 + [True]
    assert all(text[s.start : s.end] == s.text and s.heading == "H" and s.chunk_id == "c" for s in sentences)


def test_an_initial_or_a_hyphenated_abbreviation_does_not_end_a_sentence() -> None:
    text = ("Nixon nimitti William E. Simonin. Kirkko oli Trinity-St. Paul's Church. "
            "Puhujana oli Liisa K. Jurmu. Kaavio näytti kirjaimen A. Sitten B.")
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Nixon nimitti William E. Simonin.",
        "Kirkko oli Trinity-St. Paul's Church.",
        "Puhujana oli Liisa K. Jurmu.",
        "Kaavio näytti kirjaimen A.",
        "Sitten B.",
    ]


def test_a_heading_that_makes_a_statement_is_quotable_and_a_label_is_not() -> None:
    text = "# Tausta\n\nIdea syntyi keväällä.\n\n## Yhteistyö ei ole vielä strategisella tasolla\n\nTyö jatkuu."
    chunk = Chunk("c", "d", "f", "t", text, None, "Tausta", 0, len(text), "x")
    sentences = split_sentences(chunk)
    assert [(s.text, s.is_heading) for s in sentences] == [
        ("Idea syntyi keväällä.", False),
        ("Yhteistyö ei ole vielä strategisella tasolla", True),
        ("Työ jatkuu.", False),
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_real_corpus_chunks() -> None:
    settings = Settings()
    catalog = load_catalog(CORPUS)
    counts = {}
    for path in sorted(CORPUS.iterdir()):
        if path.suffix not in (".txt", ".pdf"):
            continue
        doc = load_file(path, name=path.name, info=catalog.get(path.name), settings=settings)
        chunks = chunk_document(
            doc,
            target_words=settings.chunk_target_words,
            max_words=settings.chunk_max_words,
            min_words=settings.chunk_min_words,
            overlap_words=settings.chunk_overlap_words,
        )
        counts[path.suffix] = counts.get(path.suffix, 0) + len(chunks)
        for chunk in chunks:
            assert 1 <= count_words(chunk.text) <= settings.chunk_max_words
            assert chunk.text == _page_of(doc, chunk).text[chunk.start : chunk.end]
            assert split_sentences(chunk)
        if path.suffix == ".pdf":
            assert len(chunks) <= 2 * len(doc.pages)
            page9 = [c for c in chunks if c.page == 9]
            assert any("Väestöpohja 127 000" in c.text and c.heading == "Etelä-Karjala" for c in page9)
    assert counts[".pdf"] >= 12 and counts[".txt"] >= 4
