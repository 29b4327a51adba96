"""The selection stage, step by step, on small hand-made evidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.evidence import FEATURES, Candidate, Evidence
from assistant.intent import Intent
from assistant.layout import Place
from assistant.select import SelectionSettings, select
from ingest.store import StoredSentence
from kysy.models import Sentence

NUMBERS = SelectionSettings(support_ratio=0.6, support_floor=0.2, broad_ratio=0.3, max_items=3, list_items=12,
                            cover_floor=1.01, other_ratio=0.6)
PLAIN = Intent("fi", frozenset(), False, frozenset())
LIST = Intent("fi", frozenset({"list"}), False, frozenset())
BROAD = Intent("fi", frozenset({"how"}), True, frozenset())


def item(rank: int, ord_: int, text: str, *, run: int = -1, introduces: bool = False, heading: str = "H",
         vector: float | None = None, section: int = 0, is_heading: bool = False, document: str = "") -> Candidate:
    sentence = Sentence(f"c{rank}", ord_, text, 0, len(text), is_list_item=run >= 0, heading=heading,
                        is_heading=is_heading)
    stored = StoredSentence(sentence, (), None if vector is None else np.array([vector, 1 - vector]))
    return Candidate(rank, stored, Place(section, run, heading, introduces), frozenset(), (0.0,) * len(FEATURES),
                     document=document)


def chosen(candidates: list[Candidate], scores: list[float], intent: Intent = PLAIN) -> list[tuple[str, str]]:
    evidence = Evidence(tuple(candidates), {})
    return [(c.candidate.text, c.reason) for c in select(evidence, np.array(scores), intent, NUMBERS)]


def test_the_lead_is_the_best_item_that_is_not_a_lead_in() -> None:
    items = [item(0, 0, "Periaatteet:", introduces=True), item(0, 1, "Yksi", run=1), item(0, 2, "Toinen", run=1)]
    assert chosen(items, [0.9, 0.5, 0.1])[0] == ("Yksi", "lead")


def test_a_list_question_brings_the_leads_whole_list_in_order() -> None:
    items = [item(0, 0, "Periaatteet:", introduces=True), item(0, 1, "Yksi", run=1), item(0, 2, "Kaksi", run=1),
             item(0, 3, "Kolme", run=1), item(0, 4, "Muuta proosaa.")]
    assert chosen(items, [0.1, 0.2, 0.9, 0.1, 0.05], LIST) == [("Kaksi", "lead"), ("Yksi", "list"), ("Kolme", "list")]


def test_without_a_list_question_a_list_item_brings_its_nearest_siblings_only() -> None:
    items = [item(0, i, f"Rivi {i}", run=1) for i in range(6)]
    picked = chosen(items, [0.1, 0.1, 0.9, 0.1, 0.1, 0.1])
    assert [text for text, reason in picked if reason == "list"] == ["Rivi 0", "Rivi 1"]


def test_a_prose_lead_of_a_list_question_brings_the_list_after_it() -> None:
    items = [item(0, 0, "Projektissa tuotetaan seuraavaa."), item(0, 1, "Työvälineitä", run=1),
             item(0, 2, "Suosituksia", run=1)]
    assert chosen(items, [0.9, 0.1, 0.1], LIST) == [
        ("Projektissa tuotetaan seuraavaa.", "lead"), ("Työvälineitä", "list"), ("Suosituksia", "list")]


def test_a_prose_lead_brings_the_list_after_it_unless_one_fact_is_asked() -> None:
    items = [item(0, 0, "Projektilla on neljä tavoitetta."), item(0, 1, "Rakenteet", run=1),
             item(0, 2, "Toimintakulttuuri", run=1), item(0, 3, "Tilannekuva", run=1)]
    assert [text for text, reason in chosen(items, [0.9, 0.05, 0.05, 0.05]) if reason == "list"] == [
        "Rakenteet", "Toimintakulttuuri", "Tilannekuva"]
    count = Intent("fi", frozenset({"count"}), False, frozenset())
    assert [reason for _, reason in chosen(items, [0.9, 0.05, 0.05, 0.05], count)] == ["lead"]


def test_a_line_over_sub_sections_brings_each_sections_list_up_to_the_next_line() -> None:
    items = [item(0, 0, "Vuorovaikutus eri tasoilla"),
             item(0, 1, "Valtuustojen vuorovaikutus", run=1, heading="Poliittiset päättäjät", section=1),
             item(0, 2, "Johdon foorumit", run=2, heading="Viranhaltijajohto", section=2),
             item(0, 3, "Työryhmät", run=2, heading="Viranhaltijajohto", section=2),
             item(0, 4, "Yhteinen käytännön työ", run=3, heading="Asiakastyö", section=3),
             item(0, 5, "Muuta proosaa."), item(0, 6, "Irrallinen rivi", run=4, section=3)]
    picked = chosen(items, [0.9, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01], LIST)
    assert [text for text, reason in picked if reason == "list"] == [
        "Valtuustojen vuorovaikutus", "Johdon foorumit", "Työryhmät", "Yhteinen käytännön työ"]
    same_section = [*items[:2], item(0, 2, "Toinen lista", run=2, section=1)]
    assert [text for text, reason in chosen(same_section, [0.9, 0.02, 0.02], LIST) if reason == "list"] == [
        "Valtuustojen vuorovaikutus"]


def test_support_needs_both_the_ratio_and_the_floor() -> None:
    items = [item(0, 0, "Paras."), item(1, 0, "Lähes yhtä hyvä."), item(2, 0, "Heikko."), item(3, 0, "Kohtuullinen.")]
    assert chosen(items, [0.9, 0.6, 0.1, 0.5]) == [("Paras.", "lead"), ("Lähes yhtä hyvä.", "support")]
    low = [item(0, 0, "Paras."), item(1, 0, "Toinen.")]
    assert chosen(low, [0.25, 0.19]) == [("Paras.", "lead")]  # 0.19 is below the floor


def test_support_needs_its_score_for_each_of_its_words() -> None:
    per_word = replace(NUMBERS, word_rate=0.1)
    long = "Pitkä lause, jossa on monta sanaa ja vähän sanottavaa."  # 10 words: needs 1.0
    items = [item(0, 0, "Paras."), item(0, 1, long), item(0, 2, "Lyhyt kolmen sanan lause.")]  # the last: 4 words
    evidence = Evidence(tuple(items), {})
    picked = [(c.candidate.text, c.reason) for c in select(evidence, np.array([0.9, 0.7, 0.6]), PLAIN, per_word)]
    assert picked == [("Paras.", "lead"), ("Lyhyt kolmen sanan lause.", "support")]
    assert chosen(items, [0.9, 0.7, 0.6])[:2] == [("Paras.", "lead"), (long, "support")]  # rate 0: any length


def test_another_passage_needs_a_score_closer_to_the_lead() -> None:
    strict = replace(NUMBERS, other_ratio=0.9)
    items = [item(0, 0, "Paras."), item(0, 1, "Saman kohdan toinen."), item(1, 0, "Toisen kohdan.")]
    evidence = Evidence(tuple(items), {})
    picked = [(c.candidate.text, c.reason) for c in select(evidence, np.array([0.9, 0.6, 0.7]), PLAIN, strict)]
    assert picked == [("Paras.", "lead"), ("Saman kohdan toinen.", "support")]


def test_a_concept_nothing_quoted_shows_brings_the_best_item_showing_it() -> None:
    covering = replace(NUMBERS, cover_floor=0.1)
    items = [replace(item(0, 0, "Mukana ovat kunnat."), covers=frozenset({"mukana"})),
             replace(item(1, 0, "Rahoittajina STM."), covers=frozenset({"rahoittaa"})),
             replace(item(2, 0, "Muuta."), covers=frozenset())]
    evidence = Evidence(tuple(items), {"mukana": 1.0, "rahoittaa": 2.0})
    scores = np.array([0.8, 0.15, 0.05])
    picked = [(c.candidate.text, c.reason) for c in select(evidence, scores, PLAIN, covering)]
    assert picked == [("Mukana ovat kunnat.", "lead"), ("Rahoittajina STM.", "covers rahoittaa")]
    assert len(select(evidence, scores, PLAIN, replace(covering, cover_floor=0.2))) == 1


def test_each_document_the_question_names_by_year_or_kind_speaks() -> None:
    named = replace(NUMBERS, source_floor=0.05)
    items = [replace(item(0, 0, "Diassa tavoite."), source=frozenset({"diaesitys"})),
             replace(item(0, 1, "Diassa toinen tavoite."), source=frozenset({"diaesitys"})),
             replace(item(1, 0, "Uutisessa tavoite."), source=frozenset({"uutinen"})),
             replace(item(2, 0, "Muualla."), source=frozenset({"verkkosivu"}))]
    evidence = Evidence(tuple(items), {"tavoite": 1.0, "uutinen": 3.0, "diaesitys": 3.0})
    scores = np.array([0.9, 0.3, 0.08, 0.07])
    picked = [(c.candidate.text, c.reason) for c in select(evidence, scores, PLAIN, named)]
    assert picked == [("Diassa tavoite.", "lead"), ("Uutisessa tavoite.", "from the source uutinen names")]
    # below its floor, or when the quoted items' documents are the named ones, nothing is added
    assert len(select(evidence, scores, PLAIN, replace(named, source_floor=0.1))) == 1
    only_slides = Evidence(tuple(items), {"tavoite": 1.0, "diaesitys": 3.0})
    assert len(select(only_slides, scores, PLAIN, named)) == 1


def test_each_part_of_a_question_brings_its_own_best_item() -> None:
    two = Intent("fi", frozenset(), False, frozenset(), parts=("Milloin uudistus alkaa", "miten se liittyy?"))
    items = [item(0, 0, "Uudistus alkaa 2024."), item(1, 0, "Se liittyy yhdyspintoihin."), item(2, 0, "Muuta.")]
    evidence = Evidence(tuple(items), {})
    scores = np.array([0.9, 0.05, 0.1])
    parts = [(PLAIN, np.array([0.9, 0.1, 0.1])), (PLAIN, np.array([0.1, 0.6, 0.3]))]
    picked = [(c.candidate.text, c.reason) for c in select(evidence, scores, two, replace(NUMBERS, part_floor=0.3), parts)]
    assert picked == [("Uudistus alkaa 2024.", "lead"), ("Se liittyy yhdyspintoihin.", 'answers the part "miten se liittyy?"')]
    assert len(select(evidence, scores, two, replace(NUMBERS, part_floor=0.7), parts)) == 1  # below its floor
    assert len(select(evidence, scores, two, replace(NUMBERS, part_floor=0.3))) == 1  # no part scores, no parts


def test_a_part_asking_for_a_list_brings_its_items_list() -> None:
    two = Intent("fi", frozenset(), False, frozenset(), parts=("Mikä on Etelä-Karjalan malli", "mitkä ovat Lapin painopisteet?"))
    items = [item(0, 0, "Etelä-Karjalan malli on hyte-kärki."), item(1, 0, "Lapin painopisteet:", introduces=True),
             item(1, 1, "Hyte", run=1), item(1, 2, "Turvallisuus", run=1), item(1, 3, "Roolit", run=1)]
    scores = np.array([0.9, 0.0, 0.05, 0.05, 0.05])
    parts = [(PLAIN, np.array([0.9, 0.0, 0.1, 0.1, 0.1])), (LIST, np.array([0.0, 0.1, 0.2, 0.5, 0.1]))]
    picked = [(c.candidate.text, c.reason) for c in select(Evidence(tuple(items), {}), scores, two,
                                                            replace(NUMBERS, part_floor=0.3), parts)]
    assert picked == [("Etelä-Karjalan malli on hyte-kärki.", "lead"),
                      ("Turvallisuus", 'answers the part "mitkä ovat Lapin painopisteet?"'),
                      ("Hyte", "list"), ("Roolit", "list")]


def test_a_part_whose_best_item_is_quoted_already_still_brings_its_list() -> None:
    two = Intent("fi", frozenset(), False, frozenset(), parts=("Mikä on Etelä-Karjalan malli", "mitkä ovat Lapin painopisteet?"))
    items = [item(0, 0, "Etelä-Karjalan malli on hyte-kärki."), item(1, 0, "Lapin painopisteet:", introduces=True),
             item(1, 1, "Hyte", run=1), item(1, 2, "Turvallisuus", run=1), item(1, 3, "Roolit", run=1)]
    scores = np.array([0.9, 0.0, 0.05, 0.6, 0.05])  # "Turvallisuus" joins the lead as support from another passage
    parts = [(PLAIN, np.array([0.9, 0.0, 0.1, 0.1, 0.1])), (LIST, np.array([0.0, 0.1, 0.2, 0.5, 0.1]))]
    picked = [(c.candidate.text, c.reason) for c in select(Evidence(tuple(items), {}), scores, two,
                                                            replace(NUMBERS, part_floor=0.3), parts)]
    assert picked == [("Etelä-Karjalan malli on hyte-kärki.", "lead"), ("Turvallisuus", "support"),
                      ("Hyte", "list"), ("Roolit", "list")]


def test_a_broad_question_hears_another_source() -> None:
    items = [item(0, 0, "Etelä-Karjalassa näin."), item(0, 1, "Etelä-Karjalassa myös näin."), item(1, 0, "Lapissa toisin.")]
    assert ("Lapissa toisin.", "another source") in chosen(items, [0.9, 0.7, 0.35], BROAD)
    assert ("Lapissa toisin.", "another source") not in chosen(items, [0.9, 0.7, 0.35])


def test_a_broad_question_hears_each_further_document_whose_best_item_scores_enough() -> None:
    items = [item(0, 0, "Etelä-Karjalassa näin.", document="a"), item(1, 0, "Etelä-Karjalassa myös näin.", document="a"),
             item(2, 0, "Lapissa toisin.", document="b"), item(3, 0, "Lapissa vielä.", document="b"),
             item(4, 0, "Kainuussa ei juuri.", document="c")]
    numbers = replace(NUMBERS, broad_ratio=1.01, document_ratio=0.1)

    def picked(intent: Intent) -> list[tuple[str, str]]:
        evidence = Evidence(tuple(items), {})
        return [(c.candidate.text, c.reason) for c in select(evidence, np.array([0.9, 0.5, 0.1, 0.095, 0.05]), intent,
                                                             numbers)]

    # document b's best item (0.1 >= 0.1 x 0.9) speaks, once; a's is quoted already, c's scores too little
    assert picked(BROAD) == [("Etelä-Karjalassa näin.", "lead"), ("Lapissa toisin.", "another document")]
    assert picked(PLAIN) == [("Etelä-Karjalassa näin.", "lead")]


def test_a_broad_question_hears_at_most_max_items_further_documents() -> None:
    items = [item(i, 0, f"Alue {i}.", document=f"d{i}") for i in range(6)]
    evidence = Evidence(tuple(items), {})
    picked = select(evidence, np.array([0.9, 0.5, 0.4, 0.3, 0.2, 0.15]), BROAD,
                    replace(NUMBERS, broad_ratio=1.01, document_ratio=0.1, max_items=3))
    assert [(c.candidate.text, c.reason) for c in picked] == [
        ("Alue 0.", "lead"), ("Alue 1.", "another document"), ("Alue 2.", "another document"),
        ("Alue 3.", "another document")]


def test_a_sentence_that_goes_on_from_a_quoted_one_comes_with_it() -> None:
    items = [item(0, 0, "Kunnat tekevät yhteistyötä."), item(0, 1, "Lisäksi alue tukee niitä."), item(0, 2, "Muuta.")]
    assert chosen(items, [0.9, 0.01, 0.02])[1] == ("Lisäksi alue tukee niitä.", "continues")
    before = chosen(items, [0.01, 0.9, 0.02])
    assert before[0] == ("Lisäksi alue tukee niitä.", "lead") and ("Kunnat tekevät yhteistyötä.", "continues") in before


def test_a_sentence_that_points_back_comes_with_the_one_it_points_to() -> None:
    items = [item(0, 0, "Asiantuntijoiden yhteistyö sujuu monilla alueilla."),
             item(0, 1, "Tästä esimerkkinä ovat hyte-koordinaattorien verkostot."), item(0, 2, "Muuta.")]
    assert ("Tästä esimerkkinä ovat hyte-koordinaattorien verkostot.", "continues") in chosen(items, [0.9, 0.01, 0.02])
    other = [items[0], item(0, 1, "Tästäkin huolimatta asia on kesken."), items[2]]
    assert [reason for _, reason in chosen(other, [0.9, 0.01, 0.02])] == ["lead"]


def test_a_quoted_heading_brings_the_first_sentences_of_its_section() -> None:
    title = "Käytännön työ voi sujua, vaikka strategiatason yhteistyö on alkuvaiheessa"
    items = [item(0, 0, title, is_heading=True), item(0, 1, "Asiantuntijat tekevät yhteistyötä käytännössä."),
             item(0, 2, "Esimerkkinä ovat hyte-verkostot."), item(0, 3, "Kolmas lause."),
             item(0, 4, "Seuraava otsikko", is_heading=True)]
    scores = [0.9, 0.01, 0.01, 0.01, 0.02]
    two = replace(NUMBERS, section_sentences=2)
    found = [(c.candidate.text, c.reason) for c in select(Evidence(tuple(items), {}), np.array(scores), PLAIN, two)]
    assert found == [(title, "lead"), ("Asiantuntijat tekevät yhteistyötä käytännössä.", "the section of a quoted heading"),
                     ("Esimerkkinä ovat hyte-verkostot.", "the section of a quoted heading")]
    assert chosen(items, scores) == [(title, "lead")]  # section_sentences 0: the heading alone
    short = [items[0], items[1], items[4], item(0, 5, "Toisen osion lause.")]
    found = [c.reason for c in select(Evidence(tuple(short), {}), np.array([0.9, 0.01, 0.02, 0.01]), PLAIN, two)]
    assert found == ["lead", "the section of a quoted heading"]  # up to the next heading
    prose = [item(0, 0, "Kunnat tekevät yhteistyötä."), item(0, 1, "Alue tukee niitä."), item(0, 2, "Muuta.")]
    found = [c.reason for c in select(Evidence(tuple(prose), {}), np.array([0.9, 0.01, 0.02]), PLAIN, two)]
    assert found == ["lead"]  # a sentence is no heading


def test_near_duplicates_are_quoted_once() -> None:
    items = [item(0, 0, "Sama asia.", vector=1.0), item(1, 0, "Sama asia toisin.", vector=1.0)]
    assert chosen(items, [0.9, 0.8]) == [("Sama asia.", "lead")]


def test_a_list_two_of_whose_items_are_quoted_is_quoted_whole() -> None:
    items = [item(0, 0, "Projektissa tuotetaan välineitä."), item(0, 1, "Priorisoidut teemat:", introduces=True),
             item(0, 2, "Toimintamallit", run=1), item(0, 3, "Sivistys", run=1), item(0, 4, "Varautuminen", run=1),
             item(0, 5, "Työllisyys", run=1)]
    scores = [0.9, 0.1, 0.55, 0.1, 0.1, 0.6]
    assert chosen(items, scores, LIST) == [
        ("Projektissa tuotetaan välineitä.", "lead"), ("Työllisyys", "support"), ("Toimintamallit", "support"),
        ("Sivistys", "the rest of a quoted list"), ("Varautuminen", "the rest of a quoted list")]
    # one quoted item is no list yet, and a question asking one thing does not get the rest
    assert [reason for _, reason in chosen(items, [0.9, 0.1, 0.1, 0.1, 0.1, 0.6], LIST)] == ["lead", "support"]
    assert [reason for _, reason in chosen(items, scores)] == ["lead", "support", "support"]


def test_a_line_that_asks_leads_only_when_nothing_else_scores() -> None:
    items = [item(0, 0, "Mihin teemoihin halutaan keskittyä?"), item(1, 0, "Painopisteinä tiedolla johtaminen.")]
    assert chosen(items, [0.9, 0.3])[0] == ("Painopisteinä tiedolla johtaminen.", "lead")
    assert ("Mihin teemoihin halutaan keskittyä?", "support") not in chosen(items, [0.9, 0.8])
    finding = [item(0, 0, "Haaste: kuka johtaa yhteistyötä?", run=1), item(1, 0, "Muuta.")]
    assert chosen(finding, [0.9, 0.3])[0] == ("Haaste: kuka johtaa yhteistyötä?", "lead")  # a list item states it


def test_a_lists_signature_is_quoted_only_when_a_person_or_a_contact_is_asked() -> None:
    items = [item(0, 0, "Painopisteet:", introduces=True), item(0, 1, "Turvallisuus", run=1),
             item(0, 2, "Hyte-roolit", run=1), item(0, 3, "Sami Niemi", run=1),
             item(0, 4, "Erityisasiantuntija p. 358 50 5899 187", run=1)]
    scores = [0.1, 0.9, 0.2, 0.1, 0.1]
    assert [text for text, _ in chosen(items, scores, LIST)] == ["Turvallisuus", "Hyte-roolit"]
    contact = Intent("fi", frozenset({"list", "contact"}), False, frozenset())
    assert [text for text, _ in chosen(items, scores, contact)] == [
        "Turvallisuus", "Hyte-roolit", "Sami Niemi", "Erityisasiantuntija p. 358 50 5899 187"]


def test_sources_are_ordered_by_their_best_item_and_the_rest_keep_the_fused_order() -> None:
    from assistant.engine import order_by_items
    from kysy.models import Chunk, ScoredChunk

    def hit(rank: int) -> ScoredChunk:
        chunk = Chunk(f"c{rank}", "d", "f.txt", "T", f"text {rank}", None, "", 0, 6, "h")
        return ScoredChunk(chunk, 1.0 / rank, rank, "dense+keyword", (("dense", 0.5),))

    retrieved = [hit(rank) for rank in range(1, 6)]
    # chunks 0 and 4 have no items; chunk 3's best item outscores chunk 1's and chunk 2's, which tie
    candidates = [item(1, 0, "a"), item(1, 1, "b"), item(2, 0, "c"), item(3, 0, "d")]
    ordered = order_by_items(retrieved, Evidence(tuple(candidates), {}), np.array([0.2, 0.5, 0.5, 0.9]))
    assert [h.chunk.id for h in ordered] == ["c4", "c2", "c3", "c1", "c5"]
    assert [h.rank for h in ordered] == [1, 2, 3, 4, 5]
    assert dict(ordered[0].scores) == {"dense": 0.5, "item": 0.9} and dict(ordered[3].scores) == {"dense": 0.5}
    assert order_by_items(retrieved, Evidence((), {}), np.zeros(0)) == retrieved


def test_a_line_of_the_sites_template_is_never_quoted() -> None:
    navigation = replace(item(0, 2, "Löydä lisää sisältöä samoista teemoista", run=1), template=True)
    items = [item(0, 0, "Tausta:", introduces=True), item(0, 1, "Yksi", run=1), navigation]
    assert chosen(items, [0.1, 0.5, 0.9], LIST) == [("Yksi", "lead")]
    assert chosen([navigation], [0.9]) == []


def test_a_how_or_why_question_brings_the_sentence_after_each_quoted_one() -> None:
    items = [item(0, 0, "Yhteistyö käynnistetään kartoituksella."), item(0, 1, "Kartoitus tehdään haastatteluin."),
             item(0, 2, "Sitten sovitaan tavoitteista."), item(0, 3, "Seuraava osio", is_heading=True),
             item(0, 4, "Toisen osion lause.")]
    scores = [0.9, 0.01, 0.01, 0.01, 0.01]
    how = Intent("fi", frozenset({"how"}), False, frozenset())
    one = replace(NUMBERS, next_sentences=1)
    picked = [(c.candidate.text, c.reason) for c in select(Evidence(tuple(items), {}), np.array(scores), how, one)]
    assert picked == [("Yhteistyö käynnistetään kartoituksella.", "lead"),
                      ("Kartoitus tehdään haastatteluin.", "the sentence after a quoted one")]
    two = replace(NUMBERS, next_sentences=2)
    picked = [c.candidate.text for c in select(Evidence(tuple(items), {}), np.array(scores), how, two)]
    assert picked == ["Yhteistyö käynnistetään kartoituksella.", "Kartoitus tehdään haastatteluin.",
                      "Sitten sovitaan tavoitteista."]
    # not past the section, not for a question asking no explanation, not with next_sentences 0
    last = [(c.candidate.text, c.reason) for c in select(Evidence(tuple(items), {}), np.array([0.01, 0.01, 0.9, 0.01, 0.01]), how, one)]
    assert last == [("Sitten sovitaan tavoitteista.", "lead")]
    assert [c.reason for c in select(Evidence(tuple(items), {}), np.array(scores), PLAIN, one)] == ["lead"]
    assert [c.reason for c in select(Evidence(tuple(items), {}), np.array(scores), BROAD, one)][1:] == [
        "the sentence after a quoted one"]
    assert [c.reason for c in select(Evidence(tuple(items), {}), np.array(scores), how, NUMBERS)] == ["lead"]
    # a list item brings none, and the answer stops at max_items
    listed = [item(0, 0, "Kohta", run=0), item(0, 1, "Lause listan jälkeen.")]
    assert [c.reason for c in select(Evidence(tuple(listed), {}), np.array([0.9, 0.01]), how, one)] == ["lead"]
    full = replace(one, max_items=1)
    assert [c.reason for c in select(Evidence(tuple(items), {}), np.array(scores), how, full)] == ["lead"]


def test_a_numbered_entry_is_quoted_whole_whichever_of_its_lines_was_quoted() -> None:
    items = [item(0, 0, "Teemaryhmät:", introduces=True), item(0, 1, "1. Yhteistyön rakenteet", run=1),
             item(0, 2, "Sis. Palveluverkko", run=1), item(0, 3, "2. Hyvinvointi", run=1),
             item(0, 4, "3. Työllisyys", run=1), item(0, 5, "sis. maahanmuutto ja kotoutuminen", run=1),
             item(0, 6, "Muuta proosaa.")]
    entry = ("sis. maahanmuutto ja kotoutuminen", "the rest of a numbered entry")
    picked = chosen(items, [0.0, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0])
    assert picked[0] == ("3. Työllisyys", "lead") and entry in picked
    assert ("Sis. Palveluverkko", "the rest of a numbered entry") not in picked  # another entry's line
    back = chosen(items, [0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0])
    assert back[0] == ("sis. maahanmuutto ja kotoutuminen", "lead") and ("3. Työllisyys", "the rest of a numbered entry") in back


def test_an_unnumbered_list_has_no_entries() -> None:
    items = [item(0, i, text, run=1) for i, text in enumerate(["Etelä-Karjala", "Kunnat", "Lappi", "Kunnat"])]
    assert [reason for _, reason in chosen(items, [0.0, 0.0, 0.9, 0.0])] == ["lead", "list", "list"]
