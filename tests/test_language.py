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
