"""The rendering stage: layout only, pinned exactly on a small fixture."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from assistant.evidence import FEATURES, Candidate
from assistant.layout import Place
from assistant.render import citation_url, render
from assistant.select import Chosen
from ingest.store import StoredSentence
from kysy.models import Chunk, DocumentInfo, ScoredChunk, Sentence


@dataclass
class Documents:
    """The part of a snapshot rendering reads: the documents' metadata."""

    documents: dict[str, DocumentInfo] = field(default_factory=dict)


def _chunk(rank: int, page: int | None = None) -> ScoredChunk:
    chunk = Chunk(f"c{rank}", f"d{rank}", f"doc{rank}.pdf", f"Asiakirja {rank}", "", page, "", 0, 0, "h")
    return ScoredChunk(chunk, 1.0, rank + 1, "hybrid")


def _chosen(rank: int, ord_: int, text: str, reason: str, *, run: int = -1, heading: str = "Otsikko") -> Chosen:
    sentence = Sentence(f"c{rank}", ord_, text, 0, len(text), is_list_item=run >= 0)
    candidate = Candidate(rank, StoredSentence(sentence, (), None), Place(0, run, heading), frozenset(),
                          (0.0,) * len(FEATURES))
    return Chosen(candidate, 0.5, reason)


def test_a_list_is_shown_in_source_order_under_its_heading_with_one_citation() -> None:
    chosen = [_chosen(0, 2, "Kaksi", "lead", run=1, heading="Periaatteet:"),
              _chosen(0, 1, "Yksi", "list", run=1, heading="Periaatteet:"),
              _chosen(1, 0, "Toisen lähteen lause.", "support")]
    text, citations = render(chosen, [_chunk(0, 5), _chunk(1)], Documents(), "fi")  # type: ignore[arg-type]
    assert text.splitlines() == ["Aineiston mukaan:", "Periaatteet:", "- Yksi [1]", "- Kaksi [1]",
                                 "Toisen lähteen lause. [2]"]
    assert [(c.n, c.page, c.quote) for c in citations] == [(1, 5, "Kaksi"), (2, None, "Toisen lähteen lause.")]
    assert citations[0].url == "/api/documents/d0/file#page=5"


def test_two_lists_of_one_section_in_a_row_are_shown_under_its_heading_once() -> None:
    def item(ord_: int, text: str, reason: str, run: int, section: int = 2, heading: str = "Tausta") -> Chosen:
        chosen = _chosen(0, ord_, text, reason, run=run)
        return Chosen(replace(chosen.candidate, place=Place(section, run, heading)), chosen.score, reason)

    chosen = [item(4, "Kokemuksia hyödynnetään.", "lead", 3), item(0, "Idea syntyi.", "support", 2),
              item(1, "Kriteerit määriteltiin.", "support", 2), item(3, "Pilotit osa projektia.", "support", -1),
              item(8, "Kustannuksina oma henkilöstö.", "support", 5, 3, "Periaatteet"),
              item(9, "Sitoutuminen keskeistä.", "support", 5, 3, "Periaatteet")]
    text, _ = render(chosen, [_chunk(0, 5)], Documents(), "fi")  # type: ignore[arg-type]
    assert text.splitlines() == ["Aineiston mukaan:", "Tausta:", "- Kokemuksia hyödynnetään. [1]", "- Idea syntyi. [1]",
                                 "- Kriteerit määriteltiin. [1]", "Pilotit osa projektia. [1]", "Periaatteet:",
                                 "- Kustannuksina oma henkilöstö. [1]", "- Sitoutuminen keskeistä. [1]"]


def test_a_lone_list_item_after_another_passages_list_is_not_shown_as_one_of_its_items() -> None:
    chosen = [_chosen(0, 1, "Turvallisuus ja varautuminen", "lead", run=0, heading="Painopisteet Lapin pilotissa:"),
              _chosen(0, 2, "Hyte-roolit", "list", run=0, heading="Painopisteet Lapin pilotissa:"),
              _chosen(1, 3, "Väestöpohja 127 000", "support", run=0, heading="Etelä-Karjalan pilotti")]
    text, citations = render(chosen, [_chunk(0, 12), _chunk(1, 9)], Documents(), "fi")  # type: ignore[arg-type]
    # each citation keeps every line quoted from its passage, as shown (its link marks them all)
    assert [c.quotes for c in citations] == [("Turvallisuus ja varautuminen", "Hyte-roolit"), ("Väestöpohja 127 000",)]
    assert text.splitlines() == ["Aineiston mukaan:", "Painopisteet Lapin pilotissa:",
                                 "- Turvallisuus ja varautuminen [1]", "- Hyte-roolit [1]", "Etelä-Karjalan pilotti:",
                                 "- Väestöpohja 127 000 [2]"]
    headless = [*chosen[:2], _chosen(1, 3, "Väestöpohja 127 000", "support", run=0, heading="")]
    text, _ = render(headless, [_chunk(0, 12), _chunk(1, 9)], Documents(), "fi")  # type: ignore[arg-type]
    assert text.splitlines()[-1] == "Väestöpohja 127 000 [2]"
    # after prose, a lone list item stays a list item without a heading of its own
    text, _ = render([_chosen(0, 0, "Lause.", "lead"), chosen[2]], [_chunk(0), _chunk(1)], Documents(), "fi")  # type: ignore[arg-type]
    assert text.splitlines()[1:] == ["Lause. [1]", "- Väestöpohja 127 000 [2]"]


def test_a_quoted_heading_over_the_sentence_after_it_is_its_label() -> None:
    def heading(rank: int, ord_: int, text: str) -> Chosen:
        chosen = _chosen(rank, ord_, text, "lead")
        sentence = replace(chosen.candidate.stored.sentence, is_heading=True)
        return replace(chosen, candidate=replace(chosen.candidate, stored=StoredSentence(sentence, (), None)))

    chosen = [heading(0, 3, "Yhteistyön muodot"), _chosen(0, 4, "Kunnat ja alue sopivat foorumeista.", "the section"),
              heading(1, 0, "Mitä yhdyspinnat ovat?"), _chosen(1, 1, "Yhdyspinnat ovat yhteisiä tehtäviä.", "support"),
              heading(2, 5, "Lopuksi"), _chosen(2, 7, "Kaukana otsikosta.", "support")]
    text, citations = render(chosen, [_chunk(0), _chunk(1), _chunk(2)], Documents(), "fi")  # type: ignore[arg-type]
    assert text.splitlines() == ["Aineiston mukaan:", "Yhteistyön muodot:", "Kunnat ja alue sopivat foorumeista. [1]",
                                 "Mitä yhdyspinnat ovat?", "Yhdyspinnat ovat yhteisiä tehtäviä. [2]",
                                 "Lopuksi [3]", "Kaukana otsikosta. [3]"]  # not right over it: quoted as it is
    # a card quotes what the source states, not its heading
    assert [c.quote for c in citations] == ["Kunnat ja alue sopivat foorumeista.", "Yhdyspinnat ovat yhteisiä tehtäviä.",
                                            "Kaukana otsikosta."]


def test_a_sentence_a_lead_goes_on_from_comes_before_it() -> None:
    chosen = [_chosen(0, 1, "Lisäksi näin.", "lead"), _chosen(0, 0, "Ensin näin.", "continues")]
    text, _ = render(chosen, [_chunk(0)], Documents(), "en")  # type: ignore[arg-type]
    assert text.splitlines() == ["According to the materials:", "Ensin näin. [1]", "Lisäksi näin. [1]",
                                 "The quotes are in Finnish, as in the sources."]


def test_the_quotes_note_names_the_languages_the_cited_passages_are_in() -> None:
    swedish = "Samarbetsavtalet i Testby undertecknades 1.4.2025 och gäller tills vidare."
    finnish = "Yhteistyösopimus allekirjoitettiin huhtikuussa, ja se on voimassa toistaiseksi."
    retrieved = [replace(_chunk(0), chunk=replace(_chunk(0).chunk, text=swedish)),
                 replace(_chunk(1), chunk=replace(_chunk(1).chunk, text=finnish))]
    alone = [_chosen(0, 0, swedish, "lead")]
    both = [*alone, _chosen(1, 0, finnish, "support")]
    notes = {(language, len(chosen)): render(chosen, retrieved, Documents(), language)[0].splitlines()[-1]  # type: ignore[arg-type]
             for language in ("fi", "sv", "en") for chosen in (alone, both)}
    assert notes == {("fi", 1): "Lainaukset ovat ruotsiksi, kuten lähteissä.",
                     ("fi", 2): "Lainaukset ovat ruotsiksi ja suomeksi, kuten lähteissä.",
                     ("sv", 1): f"{swedish} [1]",  # a Swedish answer quoting Swedish says nothing of it
                     ("sv", 2): "Citaten är på svenska och finska, som källorna.",
                     ("en", 1): "The quotes are in Swedish, as in the sources.",
                     ("en", 2): "The quotes are in Swedish and Finnish, as in the sources."}
    _, citations = render(both, retrieved, Documents(), "en")  # type: ignore[arg-type]
    assert [c.language for c in citations] == ["sv", "fi"]


def test_a_partial_answer_says_which_fact_is_missing() -> None:
    text, _ = render([_chosen(0, 0, "Lapin pilotissa on mukana kuntia.", "lead")], [_chunk(0)], Documents(), "fi",
                     ("count",))  # type: ignore[arg-type]
    assert text.splitlines()[0] == "Aineistosta ei löydy kysyttyä lukumäärää. Lähimmät kohdat:"


def test_a_partial_answer_whose_later_quote_holds_the_fact_says_so() -> None:
    chosen = [_chosen(0, 0, "Kutsu esitettiin.", "lead"), _chosen(0, 1, "Kutsun esitti Minna Karhunen.", "support")]
    for language, opening in (("fi", "Aineistosta ei löydy varmaa vastausta: lähin kohta ei kerro kysytyn henkilön "
                                     "nimeä, mutta alempana oleva kohta mainitsee sellaisen. Lähimmät kohdat:"),
                              ("en", "The materials give no certain answer: the closest passage does not give the name "
                                     "of the person asked for, but a passage further down mentions one. The closest "
                                     "passages:")):
        text, _ = render(chosen, [_chunk(0)], Documents(), language, ("holder",),  # type: ignore[arg-type]
                         missing_shown_below=True)
        assert text.splitlines()[0] == opening


def test_citation_url_prefers_the_documents_address() -> None:
    chunk = _chunk(0, 3).chunk
    assert citation_url("https://www.kuntaliitto.fi/x", chunk) == "https://www.kuntaliitto.fi/x"
    assert citation_url(None, chunk) == "/api/documents/d0/file#page=3"
