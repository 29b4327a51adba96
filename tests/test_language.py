"""Language of short questions: Finnish by default, Swedish and English when they read so."""

from __future__ import annotations

import pytest

from ingest.analyze import SimplemmaAnalyzer
from ingest.language import detect_language

FINNISH = [
    "Ketkä rahoittavat projektia?", "Entä Lapissa?", "hyte", "Mikä on yhdyspinta?",
    "Miten kunnat ja hyvinvointialueet tekevät yhteistyötä?", "Kuka vastaa hyte-työstä?",
    "Milloin suositukset päivitettiin?", "Mitä Kuntaliitto ehdottaa?", "Etelä-Karjalan väestöpohja",
    "sote-uudistus 2023", "Onko Tampere mukana?", "",
]
SWEDISH = [
    "Vilka finansierar projektet?", "Vad är en gränsyta?", "Hur samarbetar kommunerna med välfärdsområdena?",
    "Vem ansvarar för samarbetet?", "Vilka kommuner deltar i pilotprojektet?", "Vad gör Kommunförbundet?",
    "När startade projektet?", "samarbete mellan kommuner", "Och i Lappland?",
    "Finns det rekommendationer för strategisk ledning?",
]
ENGLISH = [
    "Who funds the project?", "What is an interface?", "How do municipalities cooperate with wellbeing services counties?",
    "Which regions are in the pilot?", "When were the recommendations updated?", "cooperation between municipalities",
    "What does Kuntaliitto propose?", "Is Tampere involved?", "Tell me about the regional pilots", "What about Lapland?",
]


@pytest.mark.parametrize(("text", "language"), [(t, "fi") for t in FINNISH] + [(t, "sv") for t in SWEDISH]
                         + [(t, "en") for t in ENGLISH])
def test_detects_language_of_short_questions(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(("text", "language"), [
    ("Ketkä rahoittavat projektia?", "fi"), ("Vilka finansierar projektet?", "sv"), ("Who funds the project?", "en"),
    ("Miten kunnat tekevät yhteistyötä?", "fi"),
])
def test_detects_language_without_voikko(text: str, language: str) -> None:
    assert detect_language(text, analyzer=SimplemmaAnalyzer()) == language


@pytest.mark.parametrize(("text", "language"), [
    ("South Karelia population", "en"), ("South Karelia pilot focus areas?", "en"), ("project funders", "en"),
    ("Vad föreslog Kuntaliitto 2022?", "sv"), ("befolkningsunderlag Södra Karelen", "sv"),
    ("Etelä-Karjalan väestöpohja", "fi"), ("hyte-koordinaattorit kunnissa", "fi"), ("pilottialueet?", "fi"),
    ("Lapin pilotin painopisteet", "fi"), ("kuka on kuntaliiton toimitusjohtja", "fi"),
])
def test_a_question_without_function_words_reads_by_its_glossary_words(text: str, language: str) -> None:
    from assistant.translate import load_glossary

    assert detect_language(text, glossed=load_glossary().languages_of) == language


def test_a_lower_case_keyword_query_needs_the_glossary() -> None:
    # "karelia" is a word Voikko knows, "south" and "population" are not: only the glossary tells them English
    from assistant.translate import load_glossary

    assert detect_language("south karelia population") == "fi"
    assert detect_language("south karelia population", glossed=load_glossary().languages_of) == "en"
    assert detect_language("samarbetsforum södra karelen", glossed=load_glossary().languages_of) == "sv"


def test_names_are_no_evidence_of_a_language() -> None:
    assert detect_language("Vad föreslog Kuntaliitto 2022?") == "sv"  # "Kuntaliitto" is a Finnish word to Voikko
    assert detect_language("Kuntaliitto") == "fi"  # a question of names only still reads by them
