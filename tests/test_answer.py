"""The extractive answerer: coverage of what the question asks, verbatim quotes, list structure."""

from __future__ import annotations

import re

import pytest

from assistant.answer import citation_url, matches, question_kinds
from assistant.service import Assistant
from ingest.analyze import VoikkoAnalyzer
from kysy.settings import Settings


def test_question_kinds_and_derivation_matching() -> None:
    assert question_kinds("Mitkä ovat aluepilottien periaatteet?") == {"list"}
    assert question_kinds("Montako kuntaa Etelä-Karjalassa on?") == {"number", "count"}
    assert question_kinds("Milloin idea syntyi?") == {"number"}
    assert question_kinds("Mikä on Sami Niemen puhelinnumero?") == {"contact"}
    assert "name" in question_kinds("Kuka on projektipäällikkö?")
    assert matches("rahoittaa", {"rahoittaja"}) and not matches("kunta", {"kuntaliitto"})


def test_a_question_word_before_a_plural_asks_for_a_list() -> None:
    analyzer = VoikkoAnalyzer()
    assert "list" in question_kinds("Millä toiminnan tasoilla tarvitaan vuorovaikutusta?", analyzer)
    assert "list" in question_kinds("Missä asioissa Kuntaliitto voi auttaa?", analyzer)
    assert "list" not in question_kinds("Millä tavoin kunnat tekevät yhteistyötä?", analyzer)
    assert "list" not in question_kinds("Missä vaiheessa yhteistyö on?", analyzer)
    assert "list" not in question_kinds("Millä toiminnan tasoilla tarvitaan vuorovaikutusta?")  # no analyzer, no morphology


def test_a_heading_over_sections_of_lists_brings_every_section(assistant: Assistant) -> None:
    answer = assistant.ask("Millä toiminnan tasoilla kunnan ja hyvinvointialueen pitää olla vuorovaikutuksessa?")
    lines = answer.text.splitlines()
    for heading in ("Poliittiset päättäjät:", "Viranhaltijajohto:", "Asiantuntijat:", "Asiakastyötä tekevät:"):
        assert heading in lines
    assert "- Toimiala- ja palvelualuejohdon yhteistyöryhmät [1]" in lines and answer.citations[0].page == 4


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def test_a_list_question_gets_the_whole_list_under_its_heading(assistant: Assistant) -> None:
    answer = assistant.ask("Mitkä ovat aluepilottien periaatteet?")
    lines = answer.text.splitlines()
    assert "Periaatteet:" in lines
    after = lines[lines.index("Periaatteet:") + 1 :]
    for start in ("- Mukana alueen", "- Luottamushenkilöiden", "- Pilottialueille omat", "- ”Kustannuksina”"):
        assert any(line.startswith(start) and line.endswith("[1]") for line in after[:4])


def test_quotes_are_verbatim_and_every_marker_is_cited(assistant: Assistant) -> None:
    answer = assistant.ask("Mitkä toimijat ovat jo lain nojalla sekä kuntien että hyvinvointialueiden yhteisiä?")
    assert "Keva, Kuntarahoitus, Kuntien takauskeskus" in answer.text
    for line in answer.text.splitlines():
        marker = re.search(r"\[(\d+)\]$", line)
        if marker:
            citation = answer.citations[int(marker.group(1)) - 1]
            quote = line[2:] if line.startswith("- ") else line
            assert quote[: -len(marker.group(0))].strip() in assistant.snapshot.chunk(citation.chunk_id).text
    assert answer.citations[0].url.startswith("https://www.kuntaliitto.fi/")


def test_a_number_question_quotes_the_number(assistant: Assistant) -> None:
    answer = assistant.ask("Paljonko henkilöstöä Etelä-Karjalan hyvinvointialueella on?")
    assert "5500" in answer.text and answer.citations[0].page == 9


def test_citation_url_prefers_the_documents_address() -> None:
    from kysy.models import Chunk

    chunk = Chunk("c", "d", "f.pdf", "T", "x", 4, "", 0, 1, "h")
    assert citation_url(None, chunk) == "/api/documents/d/file#page=4"
    assert citation_url("https://example.org/a", chunk) == "https://example.org/a"


def test_a_sentence_that_goes_on_from_a_quoted_one_is_quoted_after_it(assistant: Assistant) -> None:
    answer = assistant.ask("Missä asioissa Kuntaliitolla on osaamista hyvinvointialueiden avuksi?")
    lines = answer.text.splitlines()
    first = lines.index("— Meillä on valmis osaaminen hyvinvointialueiden tueksi muun muassa neuvonnassa ja kehittämisessä. [1]")
    assert lines[first + 1] == "Lisäksi voimme tarjota tukea hyvinvointialueiden tekemään omaan edunvalvontaan. [1]"


def test_a_quoted_sentence_that_goes_on_from_another_comes_after_it(assistant: Assistant) -> None:
    answer = assistant.ask("Mitkä asiat hidastavat yhteistyötä kuntien ja hyvinvointialueiden välillä?")
    lines = answer.text.splitlines()
    first = lines.index("Haasteena on mm. ajantasaisen tiedon puute ja tiedon hyödyntäminen yhteistyössä. [1]")
    assert lines[first + 1].startswith("Myös vuorovaikutuksen vähäisyys")
