"""Follow-up questions rewritten from the conversation without an LLM."""

from __future__ import annotations

import pytest

from assistant.followup import is_name, rewrite_followup, standalone_question
from ingest.analyze import make_analyzer
from kysy.models import Turn

ANALYZER = make_analyzer()


def test_a_new_place_replaces_the_previous_one() -> None:
    rewritten = rewrite_followup("Entä Lapissa?", "Mitkä ovat Etelä-Karjalan pilotin painopisteet?", ANALYZER)
    assert "Lapissa" in rewritten and "pilotin painopisteet" in rewritten and "Etelä-Karjala" not in rewritten


@pytest.mark.parametrize(
    ("question", "previous", "carried"),
    [
        ("Kuka sitä rahoittaa?", "Mitä yhdyspintaprojektissa tuotetaan?", "yhdyspintaprojektissa"),
        ("Mitä muuta siinä tehdään?", "Mitä Lapin pilotissa tehdään?", "Lapin"),
        ("And in Lapland?", "What are the priorities of the South Karelia pilot?", "priorities"),
    ],
)
def test_pronoun_follow_ups_carry_the_topic(question: str, previous: str, carried: str) -> None:
    assert carried in rewrite_followup(question, previous, ANALYZER)


def test_a_self_contained_question_is_left_alone() -> None:
    question = "Mitkä tekijät hidastavat kuntien ja hyvinvointialueiden yhteistyötä tilannekuvan mukaan?"
    history = [Turn("user", "Mikä on Etelä-Karjalan väestöpohja?"), Turn("assistant", "127 000 [1]")]
    assert standalone_question(question, history, ANALYZER) == question
    assert standalone_question("Entä Lapissa?", [], ANALYZER) == "Entä Lapissa?"


def test_names_come_from_voikko_classes_or_capitals() -> None:
    assert is_name("Lapissa", ANALYZER) and is_name("Etelä-Karjalan", ANALYZER)
    assert not is_name("pilotin", ANALYZER) and not is_name("Mitkä", ANALYZER, sentence_initial=True)
