"""The glossary: Swedish and English question words to the Finnish words of the sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.translate import Glossary, load_glossary
from kysy.errors import ConfigError


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return load_glossary()


def test_english_words_in_any_inflection_reach_finnish_terms(glossary: Glossary) -> None:
    found = glossary.translate("Who funds the project on cooperation between municipalities?", "en")
    assert {"rahoittaa", "rahoittaja", "projekti", "yhteistyö", "kunta"} <= set(found.finnish)
    assert "Who" in found.unmatched and "municipalities" in found.matched


def test_the_longest_phrase_wins(glossary: Glossary) -> None:
    found = glossary.translate("How many employees does the wellbeing services county have?", "en")
    assert "hyvinvointialue" in found.finnish
    assert "palvelu" not in found.finnish  # "services" is part of the phrase, not a word of its own here


def test_swedish_inflections_and_compounds(glossary: Glossary) -> None:
    found = glossary.translate("Vem är projektchef för samarbetsprojektet på Kommunförbundet?", "sv")
    assert {"projektipäällikkö", "yhteistyö", "projekti", "Kuntaliitto"} <= set(found.finnish)
    assert glossary.translate("Hur många kommuner finns det?", "sv").finnish == ("kunta",)


def test_places_and_organisations_are_names(glossary: Glossary) -> None:
    found = glossary.translate("What is the population of South Karelia?", "en")
    assert "Etelä-Karjala" in found.names and "väestö" not in found.names
    assert glossary.translate("Vad säger materialet om Åland?", "sv").names == ("Ahvenanmaa",)


def test_finnish_questions_are_not_translated(glossary: Glossary) -> None:
    assert glossary.translate("Kuka rahoittaa projektia?", "fi").finnish == ()


def test_a_broken_glossary_file_is_named_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "glossary.tsv"
    path.write_text("fi\tsv\ten\nkunta\tkommun\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 2"):
        Glossary.load(path)
    with pytest.raises(ConfigError, match="cannot read"):
        Glossary.load(tmp_path / "missing.tsv")
