"""Finnish-aware analysis: what a question must share with the document that answers it."""

from __future__ import annotations

import pytest

from ingest.analyze import (
    SimplemmaAnalyzer,
    VoikkoAnalyzer,
    compound_head,
    compound_parts,
    make_analyzer,
    misspelt_names,
    misspelt_words,
    voikko_available,
    word_tokens,
)
from kysy.errors import ConfigError

needs_voikko = pytest.mark.skipif(not voikko_available(), reason="libvoikko with voikko-fi not installed")


@pytest.fixture(scope="module")
def voikko() -> VoikkoAnalyzer:
    if not voikko_available():
        pytest.skip("libvoikko with voikko-fi not installed")
    return VoikkoAnalyzer()


@pytest.fixture(scope="module")
def simple() -> SimplemmaAnalyzer:
    return SimplemmaAnalyzer()


def test_tokens_keep_internal_hyphens_and_finnish_letters_and_drop_markdown() -> None:
    assert word_tokens("# Sote-uudistus **ja** hyte-yhteistyö: Åland, [linkki](x) 2024_") == [
        "sote-uudistus", "ja", "hyte-yhteistyö", "åland", "linkki", "x", "2024",
    ]


def test_raw_tokens_drop_stopwords_without_lemmatising(voikko: VoikkoAnalyzer) -> None:
    assert voikko.tokens("Kuntien ja hyvinvointialueiden yhteistyö on tärkeää") == [
        "kuntien", "hyvinvointialueiden", "yhteistyö", "tärkeää",
    ]


def test_question_meets_document_in_another_inflection(voikko: VoikkoAnalyzer) -> None:
    question = set(voikko.query_terms("Mitä hyvinvointialueiden kanssa sovittiin?"))
    document = set(voikko.terms("hyvinvointialue sopii"))
    assert {"hyvinvointialue", "sopia"} <= question & document
    assert "mikä" not in question and "mitä" not in question


@pytest.mark.parametrize(("word", "lemma"), [("kuntien", "kunta"), ("Lapissa", "lappi"), ("sovittiin", "sopia")])
def test_inflected_words_become_base_forms(voikko: VoikkoAnalyzer, word: str, lemma: str) -> None:
    assert lemma in voikko.terms(word)


def test_compound_gives_parts_and_sub_compounds(voikko: VoikkoAnalyzer) -> None:
    terms = voikko.terms("yhdyspintatyöhön")
    assert {"yhdyspintatyö", "yhdyspinta", "pintatyö", "pinta", "työ"} <= set(terms)


def test_compound_parts_handle_derivations_and_hyphens() -> None:
    assert compound_parts("+kunta(kunta)+liit(liittää)+to(+to)") == ["kunta", "liittää", "liitto", "kuntaliitto"]
    assert compound_parts("+sote(sote)+-+uudist(uudistaa)+us(+us)") == ["sote", "uudistaa", "uudistus"]
    assert compound_parts("+järjeste(järjestää)+t+ty(+ty)") == ["järjestää", "järjestetty"]
    assert "alueyhteis" not in compound_parts("+hyvinvointi(hyvin=vointi)+alue(alue)+yhteis+työ(työ)")


def test_a_compound_s_head_is_its_last_part_as_the_word_has_it() -> None:
    assert compound_head("+laulu(laulu)+perinne(perinne)") == "perinne"
    assert compound_head("+maa(maa)+kunta(kunta)+liit(liittää)+to(+to)") == "liitto"  # not "kuntaliitto"
    assert compound_head("+sote(sote)+-+uudist(uudistaa)+us(+us)") == "uudistus"
    assert compound_head("+perinne(perinne)") == ""  # one part: no head
    assert compound_head("+hyvinvointi(hyvin=vointi)+alue(alue)+yhteis") == ""  # ends in a bound form


def test_the_analysis_names_a_compound_s_head(voikko: VoikkoAnalyzer) -> None:
    assert voikko.analyze_word("lauluperinnettä").head == "perinne"
    assert voikko.analyze_word("hyvinvointialueiden").head == "alue"
    assert voikko.analyze_word("kuuluu").head == ""  # read as "kuulua" first, not as "kuu" + "luu"
    assert voikko.analyze_word("perinne").head == ""


def test_a_word_read_two_ways_gives_its_other_reading(voikko: VoikkoAnalyzer, simple: SimplemmaAnalyzer) -> None:
    # "vainosta" is the surname "Vainonen" in Voikko's first reading and the noun "vaino" in its second
    assert voikko.readings("hugenottien vainosta") == {"vainonen": {"vaino"}}
    assert "vainonen" in voikko.content_lemmas("vainosta")  # the content lemma stays the first reading
    assert voikko.readings("Milloin kunta perustettiin?") == {}  # a question word is no concept
    assert simple.readings("hugenottien vainosta") == {}  # one reading per word


def test_term_frequency_is_kept_for_repeated_words(voikko: VoikkoAnalyzer) -> None:
    assert voikko.terms("kunta kunnan kunnissa").count("kunta") == 3


def test_unknown_words_keep_raw_form_and_prefix_stem(voikko: VoikkoAnalyzer) -> None:
    assert voikko.terms("cooperation between municipalities") == [
        "cooperation", "coope*", "municipalities", "munic*",
    ]
    swedish = voikko.terms("samarbete mellan kommuner")
    assert {"samarbete", "kommuner"} <= set(swedish) and "mellan" not in swedish
    assert all(term.startswith(("samar", "kommu")) for term in swedish)  # no "corrections" into Finnish


def test_unknown_hyphenated_word_is_split_and_kept_whole(voikko: VoikkoAnalyzer) -> None:
    terms = voikko.terms("hyte-yhteistyö")
    assert {"hyte-yhteistyö", "hyte", "yhteistyö", "työ"} <= set(terms)


def test_a_code_joined_to_a_word_is_indexed_whole_and_by_its_pieces(voikko: VoikkoAnalyzer) -> None:
    terms = voikko.terms("TE24-uudistuksen valmistelussa")
    assert {"te24-uudistuksen", "te24", "uudistus"} <= set(terms)
    assert voikko.content_lemmas("TE2024-uudistuksen yhteydessä") == {"te2024", "te", "uudistus", "yhteys"}


def test_an_acronym_is_kept_and_meets_the_code_it_abbreviates(voikko: VoikkoAnalyzer) -> None:
    # "TE" of "TE-palvelujen" is no pronoun "te" (a stopword), and it meets "TE24" and "TE2024"
    question = voikko.query_terms("Miten TE-palvelujen uudistus liittyy yhdyspintoihin?")
    assert "te" in question and "te" in voikko.terms("TE24-uudistuksen valmistelussa")
    assert "te" in voikko.terms("TE2024 -uudistus")
    assert {"te", "te-palvelujen"} <= voikko.content_lemmas("TE-palvelujen uudistus")
    assert "te" not in voikko.terms("Te olette tervetulleita.")  # the pronoun stays a stopword
    assert "ja" not in voikko.terms("ETELÄ-KARJALA JA LAPPI")  # a line in capitals has no acronyms
    assert "te" in voikko.terms("TE")


def test_a_derivation_noted_twice_has_one_surface() -> None:
    # Voikko notes "valmistelu" as valmistaa + la + u: the second note has no surface of its own
    assert compound_parts("+valmistel(valmistaa)(+la)+u(+u)") == ["valmistaa", "valmistelu"]


def test_numbers_and_codes_stay_raw(voikko: VoikkoAnalyzer) -> None:
    assert voikko.terms("127 000 asukasta vuonna 2024, te2024") == ["127", "000", "asukas", "vuosi", "2024", "te2024", "te"]


def test_misspelt_finnish_word_gains_the_suggested_lemma(voikko: VoikkoAnalyzer) -> None:
    assert "yhteistyö" in voikko.terms("Tehdään yhteistyöta kunnissa")
    assert "hyvinvointialue" in voikko.query_terms("hyvinvontialue")
    assert "hyvinvointialue" not in voikko.terms("Hyvinvontialue on Niinistö")[:1]


def test_corrections_list_every_known_suggestion_in_order(voikko: VoikkoAnalyzer, simple: SimplemmaAnalyzer) -> None:
    corrections = voikko.corrections("rahottajat")
    assert corrections[0] == "rehottaja" and "rahoittaja" in corrections
    assert misspelt_words("Kuka on aluepilottien rahottaja Helsingissä?", voikko) == ["rahottaja"]
    assert simple.corrections("rahottajat") == ()


def test_a_suggestion_gives_every_reading_and_its_own_spelling(voikko: VoikkoAnalyzer, simple: SimplemmaAnalyzer) -> None:
    # "kerroin" reads as "kertoa" (I told) first, and as "kerroin" (a coefficient)
    corrections = voikko.corrections("kreroin")
    assert corrections.index("kerto" if "kerto" in corrections else "kertoa") < corrections.index("kerroin")
    assert voikko.spelling("hyvinvoinitalueiden", "hyvinvointialue") == "hyvinvointialueiden"
    assert voikko.spelling("hyvinvoinitalueiden", "kunta") is None
    assert simple.spelling("hyvinvoinitalueiden", "hyvinvointialue") is None


def test_a_lower_case_loanword_may_be_misspelt(voikko: VoikkoAnalyzer) -> None:
    text = "Millainen tapahtumasarja yhdyspintfaoorumit ovat Facebookissa?"
    assert misspelt_words(text, voikko) == []  # an f marks a foreign word by default
    assert misspelt_words(text, voikko, loanwords=True) == ["yhdyspintfaoorumit"]  # a capitalised one stays foreign


def test_misspelt_names_are_the_unknown_capitalised_and_hyphenated_words(voikko: VoikkoAnalyzer) -> None:
    text = "Montako kuntaa Etelä-Kajralassa ja Kajaanissa on, kysyi Schwarzenegger hyte-kreroista?"
    assert misspelt_names(text, voikko) == ["etelä-kajralassa", "hyte-kreroista"]


def test_query_terms_are_distinct_and_drop_question_words(voikko: VoikkoAnalyzer) -> None:
    terms = voikko.query_terms("Ketkä rahoittavat yhdyspintaprojektia ja yhdyspintaprojektia?")
    assert len(terms) == len(set(terms))
    assert "ken" not in terms and "rahoittaa" in terms and "yhdyspinta" in terms
    assert voikko.query_terms("What is hyte? Vad är hyte?") == ["hyte"]


def test_content_lemmas_have_no_parts_stems_or_stopwords(voikko: VoikkoAnalyzer) -> None:
    assert voikko.content_lemmas("Mitä kuntien yhdyspintatyöhön ja cooperation kuuluu?") == {
        "kunta", "yhdyspintatyö", "cooperation", "kuulua",
    }


def test_voikko_tells_plurals(voikko: VoikkoAnalyzer, simple: SimplemmaAnalyzer) -> None:
    assert voikko.analyze_word("tasoilla").plural and voikko.analyze_word("asiat").plural
    assert not voikko.analyze_word("alueella").plural and not voikko.analyze_word("lapissa").plural
    assert voikko.analyze_word("toiminnan").case == "omanto" and voikko.analyze_word("tavoin").case == "keinonto"
    assert not simple.analyze_word("tasoilla").plural


def test_simplemma_fallback_lemmatises_without_splitting(simple: SimplemmaAnalyzer) -> None:
    assert "kunta" in simple.terms("kuntien")
    assert "yhdyspinta" not in simple.terms("yhdyspintatyöhön")
    assert set(simple.query_terms("Mitä kuntien kanssa sovittiin?")) >= {"kunta"}
    assert "mikä" not in simple.query_terms("Mitä kuntien kanssa?")


@needs_voikko
def test_make_analyzer_picks_voikko_and_rejects_unknown_kinds() -> None:
    assert make_analyzer("auto").name == "voikko"
    assert make_analyzer("simplemma").name == "simplemma"
    with pytest.raises(ConfigError, match="analyzer must be one of"):
        make_analyzer("snowball")


def test_odd_input_never_crashes(voikko: VoikkoAnalyzer) -> None:
    for text in ["", "   ", "---", "a-", "-b", "ÅÄÖ", "x" * 500, "Ünïcödé naïve café", "東京 2024", "1.1.2023"]:
        assert isinstance(voikko.terms(text), list)
        assert isinstance(voikko.query_terms(text), list)
    assert voikko.terms("") == []
