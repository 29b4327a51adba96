"""Questions prepared for retrieval: corrections, translations, synonyms and the names they mention."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.query import Query, concept_weights, held_frequency, load_synonyms, question_names
from assistant.service import Assistant
from assistant.translate import one_edit
from kysy.errors import ConfigError
from kysy.settings import Settings


@pytest.fixture(scope="module")
def assistant(corpus_index: Settings) -> Assistant:
    return Assistant(corpus_index)


def test_the_synonym_file_gives_each_word_the_others_of_its_line(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.txt"
    path.write_text("# a comment\nhanke projekti  # trailing comment\nkulu kustannus meno\n\n", encoding="utf-8")
    table = load_synonyms(path)
    assert table["hanke"] == {"projekti"} and table["meno"] == {"kulu", "kustannus"}
    with pytest.raises(ConfigError, match="cannot read"):
        load_synonyms(tmp_path / "missing.txt")


def test_a_joint_authority_is_not_the_county_it_joins() -> None:
    # a hyvinvointiyhtymä is a joint authority of wellbeing services counties, not one of them: asking about it
    # must not quote what the materials say of the counties as if it answered
    table = load_synonyms()
    assert "hyvinvointiyhtymä" not in table.get("hyvinvointialue", set()) and "hyvinvointialueyhtymä" not in table


def test_a_wellbeing_services_county_asked_as_a_sote_area_is_the_county(assistant: Assistant) -> None:
    # "sote-alue" is what officials and the press often call a hyvinvointialue
    query = assistant.retriever.prepare("Millä tavoin kunnat ja sote-alueet tekevät yhteistyötä?")
    assert "hyvinvointialue" in query.variants("sote-alue") and "hyvinvointialue" in query.terms


def test_a_word_the_sources_never_use_is_searched_by_its_synonym(assistant: Assistant) -> None:
    query = assistant.retriever.prepare("Minkä hankkeen jatkoa nykyinen yhdyspintaprojekti on?")
    assert "projekti" in query.variants("hanke") and "projekti" in query.terms
    answer = assistant.ask("Minkä hankkeen jatkoa nykyinen yhdyspintaprojekti on?")
    assert "muutostukiprojektille" in answer.text.splitlines()[1]


def test_synonyms_of_one_another_are_one_concept_weighed_once(assistant: Assistant) -> None:
    query = assistant.retriever.prepare("hanke projekti")
    assert len(query.lemmas) == 1
    [weight] = concept_weights(query, assistant.snapshot.keyword).values()
    assert weight == pytest.approx(assistant.snapshot.keyword.idf("projekti"))  # "hanke" itself is in no chunk


def test_the_finnish_alternatives_for_one_english_word_are_one_concept(assistant: Assistant) -> None:
    # "continue" -> "jatkua" or "jatko": an item using either holds what was asked
    query = assistant.retriever.prepare("How long will the interface project continue?")
    assert sorted(query.lemmas) == ["jatko", "pitkä", "yhdyspintaprojekti"]
    assert query.variants("jatko") == {"jatko", "jatkua"}
    # the terms of one phrase that name several things stay several concepts
    health = assistant.retriever.prepare("How is health promotion organised?")
    assert {"hyvinvointi", "terveys"} <= health.lemmas


def test_a_word_read_two_ways_is_its_concept_in_either_reading(assistant: Assistant) -> None:
    # "vainosta": Voikko reads the surname "Vainonen" first, the noun "vaino" second; an item that says
    # "vainon" holds what was asked
    query = assistant.retriever.prepare("Mikä oli pahin esimerkki vainosta?")
    assert "vainonen" in query.lemmas and "vaino" in query.variants("vainonen")
    assert len(query.lemmas) == 3  # one concept, not two


def test_names_are_the_capitalised_words_inside_the_question(assistant: Assistant) -> None:
    analyzer = assistant.analyzer
    assert question_names("Mikä on Etelä-Karjalan väestöpohja?", analyzer) == {"etelä-karjala"}
    assert question_names("Kuntaliitto rahoittaa vuonna 2024", analyzer) == set()
    # a lower-case word sharing a name's first letters is no name; a code is none either
    assert question_names("Mitä Kuntaliiton kuntayhteistyö ja TE2024-uudistus ovat?", analyzer) == {"kuntaliitto"}
    assert question_names("Mikä on väestöpohja? Lopuksi kerro kaikki.", analyzer) == set()


def test_a_place_typed_in_lower_case_is_a_name_when_it_can_be_nothing_else(assistant: Assistant) -> None:
    analyzer = assistant.analyzer
    if analyzer.name != "voikko":
        pytest.skip("word classes come from Voikko")
    assert question_names("mikä on lapin väestöpohja?", analyzer) == {"lappi"}
    assert question_names("paljonko oulussa on kuntia?", analyzer) == {"oulu"}
    # "lahden" is a bay as well as a town, and "iin" of "Gbit/s:iin" is no place asked of
    assert question_names("mikä on lahden väkiluku?", analyzer) == set()
    assert "ii" not in question_names("Kuinka nopea yhteys oli 100 Gbit/s:iin?", analyzer)


def test_a_place_typed_in_lower_case_is_not_answered_with_another_places_figures(assistant: Assistant) -> None:
    answer = assistant.ask("mikä on lapin väestöpohja?")
    assert answer.status == "not_found" and "127 000" not in answer.text
    assert assistant.ask("mikä on etelä-karjalan väestöpohja?").status == "answered"


def test_a_query_without_synonyms_has_only_its_own_forms() -> None:
    import numpy as np

    query = Query("kunta", np.zeros(3, dtype=np.float32), ("kunta",), frozenset({"kunta"}))
    assert query.variants("kunta") == {"kunta"}


def test_an_inflected_name_the_analyzer_does_not_know_meets_its_indexed_base_form(assistant: Assistant) -> None:
    query = assistant.retriever.prepare("Mikä on Liisa Jurmun rooli yhdyspintatyössä?")
    assert "jurmu" in query.lemmas and "jurmu" in query.names and "jurmun" not in query.lemmas


def test_a_swedish_genitive_of_a_name_meets_the_indexed_name(assistant: Assistant) -> None:
    query = assistant.retriever.prepare("Vad gör Hyvils projekt tillsammans med Kuntaliittos experter?", "sv")
    assert {"hyvil", "kuntaliitto"} <= set(query.terms)
    assert "hyvils" not in query.terms and "kuntaliittos" not in query.terms
    assert {"hyvil", "kuntaliitto"} <= query.names


# Each question's evidence and answer, printed by a separate interpreter (its own string hashing).
_EVIDENCE_SCRIPT = """
import hashlib, sys
from assistant.service import Assistant
from kysy.settings import Settings
assistant = Assistant(Settings())
for question in sys.argv[1:]:
    looked = assistant.look(question)
    answer = assistant.ask(question)
    print(list(looked.evidence.weights), hashlib.sha256(looked.evidence.matrix().tobytes()).hexdigest(),
          answer.text, [(c.file, c.page) for c in answer.citations])
"""


def test_evidence_and_answers_do_not_depend_on_the_process_string_hashing(corpus_index: Settings) -> None:
    # A set's order follows PYTHONHASHSEED; sums over the question's concepts must not, to the last bit,
    # or the learned ranker's thresholds send an item the other way after a restart.
    import os
    import subprocess
    import sys

    questions = ["Ketkä rahoittavat kuntien ja hyvinvointialueiden yhdyspintaprojektia?",
                 "Miten hyvinvoinnin ja terveyden edistämisen yhteistyö on järjestetty Etelä-Karjalassa?",
                 "Mitkä ovat yhdyspintaprojektin tavoitteet?"]
    runs = []
    for seed in ("0", "8", "25"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "KYSY_DATA_DIR": str(corpus_index.data_dir),
               "KYSY_CORPUS_DIR": str(corpus_index.corpus_dir)}
        done = subprocess.run([sys.executable, "-c", _EVIDENCE_SCRIPT, *questions], env=env, capture_output=True,
                              text=True, timeout=300, check=True)
        runs.append(done.stdout)
    assert runs[0] and runs[0] == runs[1] == runs[2]


def test_the_concept_weights_are_in_the_lemmas_sorted_order(assistant: Assistant) -> None:
    query = assistant.retriever.prepare("Ketkä rahoittavat kuntien ja hyvinvointialueiden yhdyspintaprojektia?")
    weights = concept_weights(query, assistant.snapshot.keyword)
    assert list(weights) == sorted(query.lemmas) and len(weights) > 2


def test_a_word_the_index_keeps_as_written_is_held_as_the_matcher_reads_it(assistant: Assistant) -> None:
    # Voikko does not know "hyte-koordinaattorien": the index keeps it as written, and the matcher's stem rule
    # reads it as the question's "hyte-koordinaattori"; the concept's weight and the unseen signal read it so too
    keyword = assistant.retriever.snapshot.keyword
    assert keyword.document_frequency("hyte-koordinaattori") == 0 < held_frequency("hyte-koordinaattori", keyword)
    assert held_frequency("valtionosuus", keyword) == 0
    question = "Minkä kokoisissa kunnissa hyte-koordinaattori on useimmiten nimetty?"
    weights = concept_weights(assistant.retriever.prepare(question), keyword)
    assert weights["hyte-koordinaattori"] == keyword.idf_of(held_frequency("hyte-koordinaattori", keyword))
    assert weights["kokoinen"] == keyword.idf_of(1)  # a word no chunk holds weighs as a one-chunk word
    signals = assistant.ask(question, debug=True).meta["signals"]
    assert signals["unseen"] == pytest.approx(weights["kokoinen"] / sum(weights.values()), abs=1e-4)


@pytest.mark.parametrize(("typed", "meant", "slip"), [
    ("yksely", "kysely", True),  # two neighbouring letters swapped
    ("kysly", "kysely", True),  # a letter left out
    ("kysyely", "kysely", True),  # a letter added
    ("kyzely", "kysely", True),  # a letter changed
    ("kysely", "kysely", False),  # the same word
    ("kreroista", "kertoista", False),  # two slips
    ("abc", "bca", False),  # letters moved further
    ("yhdyspnitojen", "yhdyspintojen", True),
])
def test_one_edit_is_one_slip_of_the_keyboard(typed: str, meant: str, slip: bool) -> None:
    assert one_edit(typed, meant, swaps=True) is slip
    assert one_edit(meant, typed, swaps=True) is slip
