"""The glossary: Swedish and English question words to the Finnish words of the sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.translate import Glossary, load_glossary, one_edit, untranslated
from ingest.analyze import make_analyzer
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
    assert "kunta" in glossary.translate("Hur många kommuner finns det?", "sv").finnish


def test_a_swedish_verb_whose_forms_stem_apart_reaches_its_finnish_term_in_each_form(glossary: Glossary) -> None:
    for question in ("Hur länge pågår projektet?", "Hur länge ska projektet pågå?", "Projektet pågick i två år."):
        assert "jatkua" in glossary.translate(question, "sv").finnish, question


def test_a_swedish_verbs_present_tense_reaches_its_own_term_not_a_word_it_stems_like(glossary: Glossary) -> None:
    found = glossary.translate("Vad betyder gränsyta?", "sv").finnish
    assert "tarkoittaa" in found and "merkittävä" not in found  # "betydande" is "significant"


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


def test_swedish_endings_stacked_on_one_word_are_all_taken_off(glossary: Glossary) -> None:
    # the definite plural and its genitive ("-na", "-nas") on top of the plural ("-n")
    for word in ("välfärdsområde", "välfärdsområdena", "välfärdsområdenas"):
        assert "hyvinvointialue" in glossary.translate(f"Vad gör {word}?", "sv").finnish


def _write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join(("fi\tsv\ten", *rows)) + "\n", encoding="utf-8")
    return path


def test_the_vocabulary_only_adds_phrases_the_glossary_lacks(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "hyvinvointialue\tvälfärdsområde\twellbeing county",
                                    "johtaminen\tledning\tmanagement", "johtaja\tchef\tmanagement"),
                             _write(tmp_path / "vocabulary.tsv", "hva\tvälfärdsområde\twellbeing county",
                                    "tärkeä\tviktig\timportant"))
    assert glossary.translate("Which wellbeing county?", "en").finnish == ("hyvinvointialue",)  # not "hva"
    assert glossary.translate("Is it important?", "en").finnish == ("tärkeä",)  # a gap the vocabulary fills
    assert glossary.translate("Who is in management?", "en").finnish == ("johtaminen", "johtaja")  # one file merges
    assert {"hyvinvointialue", "johtaminen", "johtaja", "tärkeä"} == glossary.finnish_terms


def test_the_bundled_vocabulary_reaches_the_sources_everyday_words(glossary: Glossary) -> None:
    found = glossary.translate("Which examples are important?", "en")
    assert {"esimerkki", "tärkeä"} <= set(found.finnish)


def test_untranslated_lists_the_words_no_phrase_reaches_most_frequent_first(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "kunta\tkommun\tmunicipality"))
    texts = ["Kunnat tekevät yhteistyötä.", "Kunta ja yhteistyö.", "Kunnan talous."]
    missing = dict(untranslated(texts, glossary, make_analyzer("auto")))
    assert "kunta" not in missing
    assert missing["yhteistyö"] == 2 and missing["talous"] == 1
    assert list(missing)[0] == "yhteistyö"


def test_a_function_word_is_not_read_as_a_vocabulary_word_that_stems_like_it(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "ikäihminen\tför äldre\tfor older people"),
                             _write(tmp_path / "vocabulary.tsv", "viedä\tföra\tcarry", "tiivis\tnära\tclose",
                                    "kokous\tmöte\tmeeting"))
    assert glossary.translate("När hålls mötet för kommunerna?", "sv").finnish == ("kokous",)
    assert glossary.translate("Tjänster för äldre", "sv").finnish == ("ikäihminen",)  # a glossary phrase keeps it
    assert glossary.translate("Who can carry it?", "en").finnish == ("viedä",)


def test_a_modal_verb_is_a_function_word_not_the_noun_it_spells(glossary: Glossary) -> None:
    # the bundled vocabulary has "will" (the noun: "tahtotila") and "can" ("osata")
    assert glossary.translate("How much will the project cost?", "en").finnish == ("projekti", "hanke", "kustannus", "kulu")
    assert "osata" not in glossary.translate("Can municipalities join the pilot?", "en").finnish
    assert "Will" in glossary.translate("Will the forum be held?", "en").unmatched


def test_a_vocabulary_word_that_only_stems_like_a_glossary_word_adds_its_own_terms(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "yhteinen\tgemensam\tshared"),
                             _write(tmp_path / "vocabulary.tsv", "osa\tdel\tshare", "yhteinen\tgemensam\tshared"))
    # "share" stems like "shared": the very word asked reaches its own Finnish term too, as an alternative
    assert glossary.translate("What share of them?", "en").alternatives == (("yhteinen", "osa"),)
    assert glossary.translate("What is shared?", "en").finnish == ("yhteinen",)
    assert glossary.translate("Is it sharing?", "en").finnish == ("yhteinen",)  # another form: the glossary's


def test_each_matched_phrase_keeps_its_finnish_terms_together_as_alternatives(glossary: Glossary) -> None:
    found = glossary.translate("Who funds the pilot regions?", "en")
    assert found.alternatives == (("rahoittaa", "rahoittaja", "rahoitus"), ("pilotti",))  # "pilot regions" one phrase
    assert set(found.finnish) == {term for terms in found.alternatives for term in terms}


def test_a_phrase_searches_the_shortest_of_its_finnish_terms_that_the_others_contain(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "pilotti;aluepilotti;pilottialue\tpilot\tpilot",
                                    "rahoittaa;rahoittaja\tfinansiera\tfund"))
    assert glossary.translate("Which pilot?", "en").finnish == ("pilotti",)  # the index holds the compounds' parts
    assert glossary.translate("Who funds it?", "en").finnish == ("rahoittaa", "rahoittaja")  # not one in another
    assert {"aluepilotti", "pilottialue"} <= glossary.finnish_terms  # still what the glossary translates


def test_words_that_stem_alike_give_the_terms_of_the_one_spelt_most_like_the_question_word(tmp_path: Path) -> None:
    # Snowball stems "organise", "organisation" and "organisations" alike ("organis")
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "järjestää\tordna\torganise;arrange",
                                    "organisaatio\torganisation\torganisation",
                                    "luoda\tskapa\tbuild", "kiinteistö\tfastighet\tbuilding"))
    assert glossary.translate("Which organisations are shared bodies?", "en").finnish == ("organisaatio",)
    assert glossary.translate("Who organises the forum?", "en").finnish == ("järjestää",)
    assert glossary.translate("Which buildings?", "en").finnish == ("kiinteistö",)
    assert set(glossary.translate("Who builds it?", "en").finnish) == {"luoda", "kiinteistö"}  # a tie keeps both
    # the shipped glossary: the plural of a noun no longer brings the verb its stem shares
    shipped = load_glossary()
    assert "järjestää" not in shipped.translate("Which organisations are involved?", "en").finnish
    assert "järjestää" in shipped.translate("Who organised the forum?", "en").finnish


def test_a_swedish_word_with_an_ending_snowball_leaves_on_reaches_its_phrase(tmp_path: Path) -> None:
    # Snowball stems "tema" to "tem" but leaves "teman" and "temana"; "idé" stays, and so does "idén".
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "teema\ttema\ttheme", "idea\tidé\tidea",
                                    "kunta\tkommun\tmunicipality"))
    for question in ("Vilka teman nämns?", "Vilka är temana?", "Vilket tema?"):
        assert glossary.translate(question, "sv").finnish == ("teema",), question
    assert glossary.translate("När uppstod idén?", "sv").finnish == ("idea",)
    # only after a vowel: "kommunen" is Snowball's already, and "man" no base word
    assert glossary.translate("I kommunen", "sv").finnish == ("kunta",)
    assert glossary.translate("Vad gör man?", "sv").finnish == ()


def test_a_long_word_one_letter_off_a_single_phrase_reaches_it(tmp_path: Path) -> None:
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "yhdyspintakohtainen\tgränsytspecifik\tinterface-specific",
                                    "yhteistyö\tsamarbete\tcooperation", "yhteistoiminta\tsamverkan\tcollaboration",
                                    "kunta\tkommun\tmunicipality", "kunnallinen\tkommunal\tmunicipal"))
    # a Swedish compound's linking vowel, and typos
    assert glossary.translate("Vilka gränsytespecifika teman?", "sv").finnish == ("yhdyspintakohtainen",)
    assert glossary.translate("How does the cooperaton work?", "en").finnish == ("yhteistyö",)
    assert glossary.translate("Hur fungerar samarbetet?", "sv").finnish == ("yhteistyö",)
    # a short word is not matched one letter off ("kommon")
    assert glossary.translate("Vilken kommon?", "sv").finnish == ()
    # nor a word as near to two phrases
    twins = Glossary.load(_write(tmp_path / "twins.tsv", "yksi\tett\tstakeholder", "kaksi\ttvå\tstakeholper"))
    assert twins.translate("the stakeholdp", "en").finnish == ()
    assert twins.translate("the stakeholdr", "en").finnish == ("yksi",)


def test_one_edit() -> None:
    assert one_edit("gränsytespecifik", "gränsytspecifik") and one_edit("abc", "abd") and one_edit("abcd", "abc")
    assert not one_edit("abc", "abc") and not one_edit("abc", "acb") and not one_edit("abc", "abcde")


def test_a_swedish_stem_with_a_doubled_last_consonant_reaches_the_word_spelt_with_one(tmp_path: Path) -> None:
    # Snowball leaves "gemensamma" as "gemensamm" and "gemensam" as "gemensam".
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "yhteinen\tgemensam\tcommon", "kesä\tsommar\tsummer",
                                    "siirtää\tflytta\tmove", "sujua\tflyta\tflow"))
    assert glossary.translate("Vilka är gemensamma?", "sv").finnish == ("yhteinen",)
    # Only a stem no phrase has is made single, and only a long one: "flyttas" stays "flytta", "som" stays "som".
    assert glossary.translate("Vad flyttas?", "sv").finnish == ("siirtää",)
    assert glossary.translate("som", "sv").finnish == ()


def test_a_word_that_only_continues_a_phrase_still_starts_the_phrase_of_its_base_form(tmp_path: Path) -> None:
    # "gränsytan" is a word of the phrase "specifik för gränsytan", so its own stem is a phrase's; no phrase
    # starts with it, so the question's "gränsytan" is read as "gränsyta" there, and in the phrase as itself.
    glossary = Glossary.load(_write(tmp_path / "glossary.tsv", "yhdyspinta\tgränsyta\tinterface",
                                    "yhdyspintakohtainen\tspecifik för gränsytan\tinterface-specific",
                                    "kunta\tkommun\tmunicipality"))
    assert glossary.translate("Vad är gränsytan?", "sv").finnish == ("yhdyspinta",)
    assert glossary.translate("Vad är specifik för gränsytan?", "sv").finnish == ("yhdyspintakohtainen",)
    assert glossary.translate("gränsytan i kommunen", "sv").finnish == ("yhdyspinta", "kunta")
    # the shipped glossary and vocabulary hold both
    shipped = load_glossary()
    assert "yhdyspinta" in shipped.translate("Vad är gränsytan mellan kommunen och välfärdsområdet?", "sv").finnish
